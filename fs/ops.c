/*
 * ops.c - the FUSE operations of regionfs on names and directories
 * (lookup, getattr, access, readdir) and the one table of operations;
 * opened files are in open.c, writes and xattrs in write.c.
 *
 * Why the low-level API: inode numbers are ours to choose, so they encode
 * what they name and need no inode table (forget has nothing to do);
 * readdirplus hands `ls -l` names and attributes in the same replies; and a
 * read is answered straight from the region file's descriptor
 * (fuse_reply_data, spliced when the kernel allows) or straight from an
 * attached segment, with no path strings or tree lock in between.  The
 * high-level API would give none of these directly.
 *
 * Every handler ends in exactly one reply.  Library codes become errno in
 * exactly one place, rfs_errno() (base.c).
 *
 * Opened files carry their state in fi->fh (struct rfs_open): a pseudo-file
 * is rendered once, at open, into a buffer that every read of that open
 * slices, so one open sees one consistent snapshot (as lxcfs does); a
 * region keeps its file descriptor or its segment's identity.  All are
 * opened with direct_io: contents change under us all the time, the page
 * cache would serve stale bytes and double the memory of a large region,
 * and direct reads reach us in requests as large as the reader's buffer
 * (up to just under 1 MiB, see regionfs_init).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regionfs.h"

static struct regionfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* ---- names and attributes ------------------------------------------------ */

/* The largest request whose reply libfuse can still splice: the pipe
 * size limit less four pages; 0 if unknown. */
static unsigned splice_max_request(void)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long max = 0;
	FILE *f = fopen("/proc/sys/fs/pipe-max-size", "re");

	if (f) {
		if (fscanf(f, "%lu", &max) != 1)
			max = 0;
		fclose(f);
	}
	if (page <= 0 || max < 16 * (unsigned long)page)
		return 0;
	max -= 4 * (unsigned long)page;
	max -= max % (unsigned long)page;
	return max > UINT_MAX ? UINT_MAX : (unsigned)max;
}

static void regionfs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Always readdirplus: `ls -l` of 1000 regions then needs no lookup
	 * or getattr per name, and our attributes cost nothing to give. */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	/*
	 * Region file pages go to the device by splice, so the only copy is
	 * the kernel's into the reader's buffer.  libfuse splices a reply
	 * only if header, data and three spare pages fit in one pipe, and an
	 * unprivileged pipe holds at most pipe-max-size (1 MiB): requests
	 * are capped just below that (252 pages of 256).  Otherwise every
	 * 1 MiB reply takes libfuse's fallback, a fresh 1 MiB buffer per
	 * request and two copies: 1.5 GB/s against 6 to 8 GB/s, measured
	 * reading a 256 MiB region file on tmpfs.
	 */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE) {
		unsigned fit = splice_max_request();

		conn->want |= FUSE_CAP_SPLICE_WRITE;
		if (fit && fit < conn->max_write)
			conn->max_write = fit;
	}
}

/*
 * Is N, missing from a cached snapshot, worth a fresh one, and of what?
 * Regions: a fresh table, which costs one small read.  Segments: a fresh
 * index is a whole leak scan, so only if the segment exists at all (the
 * kernel's index says so without any permission on it): `ls sysv/12345`
 * for a made-up id must not cost a scan.  0 when not worth it.
 */
static int may_be_new(const struct rfs_node *n, struct rfs_ctx *c)
{
	struct rgn_fsview_segment seg;
	int rc;

	if (n->kind == RFS_SEGMENT_DIR || n->kind == RFS_LEAK_LINK ||
	    (n->kind == RFS_PSEUDO &&
	     rfs_entries[n->entry].parent == RFS_SEGMENT_DIR)) {
		rc = rgn_fsview_segment_stat((int32_t)n->arg, &seg);
		c->fresh_segs = rc == 0 || rc == -EACCES;
		return c->fresh_segs;
	}
	c->fresh_view = 1;
	return 1;
}

static void regionfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct rfs_ctx c = {.fs = fs_of(req), .req = req};
	struct fuse_entry_param e;
	struct rfs_node dir, child;
	double timeout = 0;
	int rc;

	memset(&e, 0, sizeof(e));
	if (rfs_node_of(parent, &dir) < 0) {
		rfs_reply_err(req, -ENOENT);
		return;
	}
	rc = rfs_lookup_name(&c, &dir, name, &child);
	if (rc == 0) {
		rc = rfs_node_stat(&c, &child, &e.attr, &timeout);
		/* Missing from a cached snapshot: it may be brand new. */
		if (rc == -ENOENT) {
			rfs_ctx_drop(&c);
			if (may_be_new(&child, &c))
				rc = rfs_node_stat(&c, &child, &e.attr,
						   &timeout);
		}
	}
	if (rc == 0)
		rc = rfs_reach_perm(&c, &child);
	rfs_ctx_done(&c);
	if (rc < 0) {
		rfs_reply_err(req, rc);
		return;
	}
	e.ino = e.attr.st_ino;
	e.attr_timeout = timeout;
	e.entry_timeout = timeout;
	fuse_reply_entry(req, &e);
}

static void regionfs_getattr(fuse_req_t req, fuse_ino_t ino,
			     struct fuse_file_info *fi)
{
	struct rfs_ctx c = {.fs = fs_of(req), .req = req};
	struct rfs_node n;
	struct stat st;
	double timeout = 0;
	int rc;

	(void)fi;
	rc = rfs_ino_stat(&c, ino, &n, &st, &timeout);
	rfs_ctx_done(&c);
	if (rc < 0)
		rfs_reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

static void regionfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct rfs_ctx c = {.fs = fs_of(req), .req = req};
	char target[RFS_NAME_MAX];
	struct rfs_node n;
	struct stat st;
	double timeout;
	int rc = -EINVAL;

	if (rfs_node_of(ino, &n) == 0 && n.kind == RFS_LEAK_LINK)
		rc = rfs_ino_stat(&c, ino, &n, &st, &timeout);
	rfs_ctx_done(&c);
	if (rc < 0) {
		rfs_reply_err(req, rc);
		return;
	}
	rfs_readlink(&n, target, sizeof(target));
	fuse_reply_readlink(req, target);
}

static void regionfs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct rfs_ctx c = {.fs = fs_of(req), .req = req};
	struct rfs_node n;
	struct stat st;
	double timeout;
	int rc;

	rc = rfs_ino_stat(&c, ino, &n, &st, &timeout);
	/* Only leaked/ is ever written to (by unlinking), in an rw mount. */
	if (rc == 0 && (mask & W_OK) &&
	    !(c.fs->readwrite && n.kind == RFS_LEAKED))
		rc = rfs_refusal(c.fs);
	if (rc == 0 && mask != F_OK)
		rc = rfs_node_perm(&c, &n, &st, mask & ~W_OK);
	rfs_ctx_done(&c);
	rfs_reply_err(req, rc);
}

/* ---- directories --------------------------------------------------------- */

/* A directory listing, made at opendir so that offsets stay meaningful
 * across readdir calls and one `ls` sees one snapshot. */
struct rfs_dirent {
	char name[RFS_NAME_MAX];
	struct stat st;
	double timeout;
};

struct rfs_dir {
	size_t n;
	size_t cap;
	struct rfs_dirent *v;
};

struct dir_builder {
	struct rfs_ctx *c;
	struct rfs_dir *d;
};

static struct rfs_dirent *dir_push(struct rfs_dir *d)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct rfs_dirent *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		d->v = v;
		d->cap = cap;
	}
	return &d->v[d->n];
}

static int dir_add(void *arg, const char *name, const struct rfs_node *n)
{
	struct dir_builder *b = arg;
	struct rfs_dirent *de = dir_push(b->d);

	if (!de)
		return -ENOMEM;
	/* Gone between listing and stat (a region removed meanwhile). */
	if (rfs_node_stat(b->c, n, &de->st, &de->timeout) < 0)
		return 0;
	snprintf(de->name, sizeof(de->name), "%s", name);
	b->d->n++;
	return 0;
}

static enum rfs_kind parent_kind(enum rfs_kind k)
{
	switch (k) {
	case RFS_REGION_DIR:
		return RFS_REGIONS;
	case RFS_SEGMENT_DIR:
	case RFS_LEAKED:
		return RFS_SYSV;
	default:
		return RFS_ROOT;
	}
}

static void regionfs_opendir(fuse_req_t req, fuse_ino_t ino,
			     struct fuse_file_info *fi)
{
	struct rfs_ctx c = {.fs = fs_of(req), .req = req};
	struct rfs_dir *d = calloc(1, sizeof(*d));
	struct dir_builder b = {&c, d};
	struct rfs_dirent *de;
	struct rfs_node n;
	int rc = d ? 0 : -ENOMEM;

	if (rc == 0 && rfs_node_of(ino, &n) < 0)
		rc = -ENOENT;
	/* The directories whose members come and go are listed from
	 * snapshots taken now, so a new region shows at once: the table for
	 * the environment's, the segment index for sysv/ (which never
	 * refreshes the table).  Not a segment's own directory: listing each
	 * of 4000 would mean 4000 scans. */
	if (rc == 0) {
		c.fresh_view = n.kind == RFS_ROOT || n.kind == RFS_REGIONS;
		c.fresh_segs = n.kind == RFS_SYSV || n.kind == RFS_LEAKED;
	}
	if (rc == 0 && (de = dir_push(d)) != NULL) {
		rc = rfs_ino_stat(&c, ino, &n, &de->st, &de->timeout);
		if (rc == 0)
			rc = rfs_node_perm(&c, &n, &de->st, R_OK);
		snprintf(de->name, sizeof(de->name), ".");
		d->n += rc == 0;
	}
	if (rc == 0 && (de = dir_push(d)) != NULL) {
		memset(de, 0, sizeof(*de));
		de->st.st_mode = S_IFDIR | 0555;
		de->st.st_ino =
			rfs_ino((struct rfs_node){.kind = parent_kind(n.kind)});
		snprintf(de->name, sizeof(de->name), "..");
		d->n++;
	}
	if (rc == 0 && d->n < 2)
		rc = -ENOMEM;
	if (rc == 0)
		rc = rfs_list(&c, &n, dir_add, &b);
	rfs_ctx_done(&c);
	if (rc < 0) {
		if (d)
			free(d->v);
		free(d);
		rfs_reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)d;
	/*
	 * A region's or a segment's own directory lists the same names for
	 * every caller for as long as it exists: the kernel may keep the
	 * listing and answer the next getdents itself (it drops it when the
	 * directory's mtime moves).  `find` then costs an opendir per
	 * directory instead of three requests.  Not the others: their
	 * members come and go, and leaked/ depends on who asks.
	 */
	if (n.kind == RFS_REGION_DIR || n.kind == RFS_SEGMENT_DIR) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	}
	if (fuse_reply_open(req, fi) == -ENOENT) {
		free(d->v);
		free(d);
	}
}

/* The bytes entry I of D takes in a reply. */
static size_t dirent_size(fuse_req_t req, const struct rfs_dirent *de, size_t i,
			  int plus)
{
	struct fuse_entry_param e;

	/* With no room, the add functions only say what they would need. */
	if (!plus)
		return fuse_add_direntry(req, NULL, 0, de->name, &de->st,
					 (off_t)(i + 1));
	memset(&e, 0, sizeof(e));
	return fuse_add_direntry_plus(req, NULL, 0, de->name, &e,
				      (off_t)(i + 1));
}

/*
 * One reply, in a buffer of what the entries need rather than of what the
 * kernel offers: the kernel offers far more than a segment's three names
 * take, and a buffer past glibc's mmap threshold (see rfs_init) cost an
 * mmap and a munmap per reply, 10000 of them in one `find`.
 */
static void reply_dir(fuse_req_t req, size_t size, off_t off,
		      struct fuse_file_info *fi, int plus)
{
	const struct rfs_dir *d = (const void *)(uintptr_t)fi->fh;
	size_t first = off > 0 ? (size_t)off : 0, want = 0;
	size_t used = 0;
	char *buf;

	for (size_t i = first; i < d->n && want < size; i++)
		want += dirent_size(req, &d->v[i], i, plus);
	if (want > size)
		want = size;
	buf = malloc(want ? want : 1);
	if (!buf) {
		rfs_reply_err(req, -ENOMEM);
		return;
	}
	for (size_t i = first; i < d->n; i++) {
		const struct rfs_dirent *de = &d->v[i];
		size_t need;

		if (plus) {
			struct fuse_entry_param e;

			memset(&e, 0, sizeof(e));
			e.ino = de->st.st_ino;
			e.attr = de->st;
			e.attr_timeout = de->timeout;
			e.entry_timeout = de->timeout;
			need = fuse_add_direntry_plus(req, buf + used,
						      want - used, de->name, &e,
						      (off_t)(i + 1));
		} else {
			need = fuse_add_direntry(req, buf + used, want - used,
						 de->name, &de->st,
						 (off_t)(i + 1));
		}
		if (need > want - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void regionfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			     off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	reply_dir(req, size, off, fi, 0);
}

static void regionfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
				 off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	reply_dir(req, size, off, fi, 1);
}

static void regionfs_releasedir(fuse_req_t req, fuse_ino_t ino,
				struct fuse_file_info *fi)
{
	struct rfs_dir *d = (struct rfs_dir *)(uintptr_t)fi->fh;

	(void)ino;
	free(d->v);
	free(d);
	fuse_reply_err(req, 0);
}

const struct fuse_lowlevel_ops regionfs_ops = {
	.init = regionfs_init,
	.lookup = regionfs_lookup,
	.getattr = regionfs_getattr,
	.setattr = rfs_op_setattr,
	.readlink = regionfs_readlink,
	.access = regionfs_access,
	.mknod = rfs_op_mknod,
	.mkdir = rfs_op_mkdir,
	.unlink = rfs_op_unlink,
	.rmdir = rfs_op_rmdir,
	.symlink = rfs_op_symlink,
	.rename = rfs_op_rename,
	.link = rfs_op_link,
	.create = rfs_op_create,
	.open = rfs_op_open,
	.read = rfs_op_read,
	.write = rfs_op_write,
	.release = rfs_op_release,
	.opendir = regionfs_opendir,
	.readdir = regionfs_readdir,
	.readdirplus = regionfs_readdirplus,
	.releasedir = regionfs_releasedir,
	.setxattr = rfs_op_setxattr,
	.getxattr = rfs_op_getxattr,
	.listxattr = rfs_op_listxattr,
	.removexattr = rfs_op_removexattr,
};
