/*
 * write.c - the writes regionfs knows: `rm sysv/leaked/SHMID` in an rw
 * mount, and the refusal of every other (EROFS read-only, EACCES
 * read-write); and the extended attributes of region files, read from the
 * cached table (user.region.*), one row per name.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regionfs.h"

/* ---- removing a leaked segment ------------------------------------------- */

/*
 * rm sysv/leaked/<shmid>: the one write regionfs knows.  The index tells
 * which segment the name meant (key and creation time), and
 * rgn_leak_remove re-checks everything right before IPC_RMID, with the
 * requester's uid: exactly `regionctl leaks --remove` run by that user.
 */
void rfs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct rfs_ctx c = {.fs = fuse_req_userdata(req), .req = req};
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct rgn_leak_removal *res = NULL;
	struct rgn_leak *seen = NULL;
	const struct rfs_seg *g = NULL;
	struct rfs_node dir, link;
	int rc = 0;

	if (!c.fs->readwrite)
		rc = -EROFS;
	else if (rfs_node_of(parent, &dir) < 0)
		rc = -ENOENT;
	else if (dir.kind != RFS_LEAKED)
		rc = -EACCES;
	else if (rfs_lookup_name(&c, &dir, name, &link) < 0)
		rc = -ENOENT;
	else
		rc = rfs_reach_perm(&c, &link);
	for (int fresh = 0; rc == 0 && fresh < 2 && !g; fresh++) {
		/* Only the segment index: removing under sysv/ has nothing
		 * to do with the region table. */
		rfs_ctx_done(&c);
		c.fresh_segs = fresh;
		g = rfs_segs_find(rfs_ctx_segs(&c), (int32_t)link.arg);
		if (g && !rfs_seg_leaked(&c, g))
			g = NULL;
	}
	if (rc == 0 && !g)
		rc = -ENOENT;
	if (rc == 0) {
		seen = calloc(1, sizeof(*seen));
		res = calloc(1, sizeof(*res));
		if (!seen || !res)
			rc = -ENOMEM;
	}
	if (rc == 0) {
		seen->shmid = g->shmid;
		seen->key = g->key;
		seen->ctime = g->ctime;
		rc = rgn_leak_remove(g->shmid, seen, ctx->uid, 0, res);
		if (c.fs->debug)
			fuse_log(FUSE_LOG_DEBUG,
				 "regionfs: rm sysv/leaked/%s by uid %u: %s: "
				 "%s\n",
				 name, (unsigned)ctx->uid,
				 rgn_leak_verdict_name(res->verdict),
				 res->reason);
		rfs_segs_invalidate(c.fs);
	}
	rfs_ctx_done(&c);
	free(seen);
	free(res);
	rfs_reply_err(req, rc);
}

/* Everything else that would write. */
void rfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		    int to_set, struct fuse_file_info *fi)
{
	(void)ino;
	(void)attr;
	(void)to_set;
	(void)fi;
	rfs_reply_err(req, rfs_refusal(fuse_req_userdata(req)));
}

void rfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	rfs_reply_err(req, rfs_refusal(fuse_req_userdata(req)));
}

void rfs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode)
{
	(void)parent;
	(void)name;
	(void)mode;
	rfs_reply_err(req, rfs_refusal(fuse_req_userdata(req)));
}

void rfs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	rfs_reply_err(req, rfs_refusal(fuse_req_userdata(req)));
}

void rfs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		    const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	rfs_reply_err(req, rfs_refusal(fuse_req_userdata(req)));
}

void rfs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		   fuse_ino_t newparent, const char *newname,
		   unsigned int flags)
{
	(void)parent;
	(void)name;
	(void)newparent;
	(void)newname;
	(void)flags;
	rfs_reply_err(req, rfs_refusal(fuse_req_userdata(req)));
}

void rfs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		 const char *newname)
{
	(void)ino;
	(void)newparent;
	(void)newname;
	rfs_reply_err(req, rfs_refusal(fuse_req_userdata(req)));
}

void rfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		   mode_t mode, struct fuse_file_info *fi)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)fi;
	rfs_reply_err(req, rfs_refusal(fuse_req_userdata(req)));
}

void rfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		  off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	(void)buf;
	(void)size;
	(void)off;
	(void)fi;
	rfs_reply_err(req, rfs_refusal(fuse_req_userdata(req)));
}

void rfs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		     const char *value, size_t size, int flags)
{
	(void)ino;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	rfs_reply_err(req, rfs_refusal(fuse_req_userdata(req)));
}

void rfs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino;
	(void)name;
	rfs_reply_err(req, rfs_refusal(fuse_req_userdata(req)));
}

/* ---- extended attributes of region files --------------------------------- */

static int x_name(const struct rgn_fsview *v,
		  const struct rgn_fsview_region *rg, char *buf, size_t len)
{
	(void)v;
	return snprintf(buf, len, "%s", rg->name);
}

static int x_type(const struct rgn_fsview *v,
		  const struct rgn_fsview_region *rg, char *buf, size_t len)
{
	const char *t = rgn_type_name((enum rgn_region_type)rg->type);

	(void)v;
	return snprintf(buf, len, "%s", t ? t : "unknown");
}

static int x_backing(const struct rgn_fsview *v,
		     const struct rgn_fsview_region *rg, char *buf, size_t len)
{
	/* The names the renderers use for the environment's backing. */
	static const char *const names[] = {
		[RGN_BACKING_FILES] = "files",
		[RGN_BACKING_SYSV] = "sysv",
		[RGN_BACKING_PRIVATE] = "private",
	};
	unsigned b = (unsigned)v->backing;

	(void)rg;
	return snprintf(buf, len, "%s",
			b < sizeof(names) / sizeof(names[0]) && names[b]
				? names[b]
				: "unknown");
}

static int x_id(const struct rgn_fsview *v, const struct rgn_fsview_region *rg,
		char *buf, size_t len)
{
	(void)v;
	return snprintf(buf, len, "%" PRIu32, rg->id);
}

static int x_key(const struct rgn_fsview *v, const struct rgn_fsview_region *rg,
		 char *buf, size_t len)
{
	(void)v;
	return snprintf(buf, len, "0x%08" PRIx32, (uint32_t)rg->key);
}

static int x_shmid(const struct rgn_fsview *v,
		   const struct rgn_fsview_region *rg, char *buf, size_t len)
{
	(void)v;
	return snprintf(buf, len, "%" PRId32, rg->shmid);
}

static const struct rfs_xattr {
	const char *name;
	int segment_only; /* only for regions stored in a segment */
	int (*get)(const struct rgn_fsview *v,
		   const struct rgn_fsview_region *rg, char *buf, size_t len);
} rfs_xattrs[] = {
	/* NULL: the program that made the environment, which the mount
	 * knows, not the view (see xattr_get). */
	{"user.region.program", 0, NULL},
	{"user.region.name", 0, x_name},
	{"user.region.type", 0, x_type},
	{"user.region.backing", 0, x_backing},
	{"user.region.id", 0, x_id},
	{"user.region.key", 1, x_key},
	{"user.region.shmid", 1, x_shmid},
};

static int xattr_get(const struct regionfs *fs, const struct rgn_fsview *v,
		     const struct rgn_fsview_region *rg, const char *name,
		     char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(rfs_xattrs) / sizeof(rfs_xattrs[0]);
	     i++) {
		const struct rfs_xattr *x = &rfs_xattrs[i];

		if (strcmp(x->name, name) != 0)
			continue;
		if (x->segment_only && rg->shmid < 0)
			return -ENODATA;
		if (!x->get)
			return snprintf(buf, len, "%s",
					fs->bdb ? "berkeley-db" : "regionfs");
		return x->get(v, rg, buf, len);
	}
	return -ENODATA;
}

static size_t xattr_list(const struct rgn_fsview_region *rg, char *buf,
			 size_t len)
{
	size_t used = 0;

	for (size_t i = 0; i < sizeof(rfs_xattrs) / sizeof(rfs_xattrs[0]);
	     i++) {
		const struct rfs_xattr *x = &rfs_xattrs[i];
		size_t n = strlen(x->name) + 1;

		if (x->segment_only && rg->shmid < 0)
			continue;
		if (used + n <= len)
			memcpy(buf + used, x->name, n);
		used += n;
	}
	return used;
}

/* ---- extended attributes ------------------------------------------------- */

#define XATTR_USER_PREFIX "user."
#define XATTR_PREFIX	  "user.region."

/*
 * The region an inode names, from the cached view, if the requester may
 * read it (its attributes say what it holds, as its bytes do): NULL with
 * *ERR 0 for an inode that is no region, or -EACCES, -ENOENT.
 */
static const struct rgn_fsview_region *xattr_region(struct rfs_ctx *c,
						    fuse_ino_t ino, int *err)
{
	struct rfs_node n;
	struct stat st;
	double timeout;

	*err = rfs_ino_stat(c, ino, &n, &st, &timeout);
	if (*err == 0 && n.kind != RFS_REGION)
		return NULL;
	if (*err == 0)
		*err = rfs_node_perm(c, &n, &st, R_OK);
	return *err == 0 ? rgn_fsview_find(rfs_ctx_view(c), n.arg) : NULL;
}

static void reply_xattr(fuse_req_t req, const char *val, size_t len,
			size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, val, len);
}

void rfs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		     size_t size)
{
	struct rfs_ctx c = {.fs = fuse_req_userdata(req), .req = req};
	const struct rgn_fsview_region *rg;
	char val[128];
	int len = -ENODATA, err;

	/*
	 * Only user.* is ours.  Other namespaces (security.*, system.*,
	 * trusted.*) are not supported, and saying so with EOPNOTSUPP, as the
	 * VFS does for a file system with no handler for a prefix, matters:
	 * `ls -l` asks every file for security.selinux and
	 * system.posix_acl_access, and GNU ls stops asking a device that
	 * answered EOPNOTSUPP, where ENODATA costs one round trip per file
	 * and name (2000 for 1000 regions, most of the time of `ls -l`).
	 * The kernel remembers nothing from it: only ENOSYS would make it
	 * stop forwarding getxattr, user.region.* included.
	 */
	if (strncmp(name, XATTR_USER_PREFIX, strlen(XATTR_USER_PREFIX)) != 0)
		len = -EOPNOTSUPP;
	else if ((rg = xattr_region(&c, ino, &err)) == NULL)
		len = err ? err : -ENODATA;
	else if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) == 0)
		len = xattr_get(c.fs, c.view->v, rg, name, val, sizeof(val));
	rfs_ctx_done(&c);
	if (len < 0)
		rfs_reply_err(req, len);
	else if ((size_t)len >= sizeof(val))
		rfs_reply_err(req, -E2BIG); /* cannot happen: names are short */
	else
		reply_xattr(req, val, (size_t)len, size);
}

void rfs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct rfs_ctx c = {.fs = fuse_req_userdata(req), .req = req};
	const struct rgn_fsview_region *rg;
	char names[256];
	size_t len;
	int err;

	rg = xattr_region(&c, ino, &err);
	len = rg ? xattr_list(rg, names, sizeof(names)) : 0;
	rfs_ctx_done(&c);
	if (err < 0)
		rfs_reply_err(req, err);
	else
		reply_xattr(req, names, len, size);
}
