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
	struct regionfs *fs = userdata;

	/* Always readdirplus: `ls -l` of 1000 regions then needs no lookup
	 * or getattr per name, and our attributes cost nothing to give. */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	/*
	 * Let the kernel keep listings, and send no opendir or releasedir,
	 * when every requester is the user who mounted (the kernel lets no
	 * one else in): a listing kept for one of them is right for all.  A
	 * mount shared with other users keeps opendir, where each
	 * requester's right to read a directory is checked.
	 */
	if (!fs->shared && (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT))
		fs->kernel_lists = 1;
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
			if (may_be_new(&child, &c)) {
				rfs_node_settle(&c, &child);
				rc = rfs_node_stat(&c, &child, &e.attr,
						   &timeout);
			}
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

/*
 * Two ways to list, chosen once at init (see regionfs_init):
 *
 * - The kernel keeps listings (fs->kernel_lists): no opendir or releasedir
 *   ever reaches us, and the kernel keeps what a directory listed and
 *   answers the next getdents itself.  Right for a region's or a
 *   segment's own directory, whose names never change; the listings of
 *   the directories whose names come and go are dropped as soon as they
 *   are complete (see any_readdir), so those are listed afresh each time
 *   and show a new region or segment at once.  Each readdir is answered
 *   alone, from the snapshots of its moment, past the cookie it names.
 *   A `find` of 1000 regions and 4000 segments then costs a few dozen
 *   requests instead of two per directory (one of them blocking the
 *   walk).
 * - Otherwise, as a mount that other users share must be: each opendir
 *   checks the requester and makes the listing that the readdirs of that
 *   open slice, and the kernel keeps only the listings of a region's or a
 *   segment's own directory.
 */
struct rfs_dirent {
	char name[RFS_NAME_MAX];
	struct stat st;
	double timeout;
	off_t cookie;
};

struct rfs_dir {
	size_t n;
	size_t cap;
	struct rfs_dirent *v;
	char *buf; /* the reply, kept for the next one */
	size_t bufcap;
};

/*
 * The listing and reply buffers of a readdir with no open, kept for the
 * next one: `ls -l` of 1000 regions would otherwise fault in and free
 * some 300 KiB of fresh memory per reply.  One set; a readdir that finds
 * it in use makes its own.
 */
static struct rfs_dir spare_dir;
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;

struct dir_builder {
	struct rfs_ctx *c;
	struct rfs_dir *d;
	fuse_req_t req;
	off_t after;  /* only names with a later cookie */
	size_t room;  /* stop once a reply of this many bytes is full; 0:
			 never */
	size_t bytes; /* what the names so far take in a reply */
	int plus;
};

/* The bytes entry DE takes in a reply. */
static size_t dirent_size(fuse_req_t req, const struct rfs_dirent *de, int plus)
{
	struct fuse_entry_param e;

	/* With no room, the add functions only say what they would need. */
	if (!plus)
		return fuse_add_direntry(req, NULL, 0, de->name, &de->st,
					 de->cookie);
	memset(&e, 0, sizeof(e));
	return fuse_add_direntry_plus(req, NULL, 0, de->name, &e, de->cookie);
}

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

/* Stop listing: the reply is full. */
#define DIR_FULL 1

/* Add a copy of DE as NAME with COOKIE, if past the builder's cookie and
 * while its reply has room. */
static int dir_put(struct dir_builder *b, const char *name,
		   const struct rfs_dirent *de, off_t cookie)
{
	struct rfs_dirent *to;

	if (cookie <= b->after)
		return 0;
	if (b->room && b->bytes >= b->room)
		return DIR_FULL;
	to = dir_push(b->d);
	if (!to)
		return -ENOMEM;
	*to = *de;
	to->cookie = cookie;
	snprintf(to->name, sizeof(to->name), "%s", name);
	b->d->n++;
	if (b->room)
		b->bytes += dirent_size(b->req, to, b->plus);
	return 0;
}

static int dir_add(void *arg, const char *name, const struct rfs_node *n,
		   off_t cookie)
{
	struct dir_builder *b = arg;
	struct rfs_dirent de;

	if (cookie <= b->after)
		return 0;
	if (b->room && b->bytes >= b->room)
		return DIR_FULL;
	/* Gone between listing and stat (a region removed meanwhile). */
	if (rfs_node_stat(b->c, n, &de.st, &de.timeout) < 0)
		return 0;
	return dir_put(b, name, &de, cookie);
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

static void dir_free(struct rfs_dir *d)
{
	if (d) {
		free(d->v);
		free(d->buf);
	}
	free(d);
}

/*
 * The listing of directory INO past cookie AFTER, as far as a reply of
 * ROOM bytes holds it (0: all of it), for a requester who may read the
 * directory; "." and ".." first.  FRESH takes the snapshots anew (see
 * regionfs_opendir).
 */
static int dir_make(fuse_req_t req, fuse_ino_t ino, off_t after, size_t room,
		    int plus, int fresh, struct rfs_dir *d)
{
	struct rfs_ctx c = {.fs = fs_of(req), .req = req};
	struct dir_builder b = {&c, d, req, after, room, 0, plus};
	struct rfs_dirent dot, dotdot;
	struct rfs_node n;
	int rc = 0;

	d->n = 0;

	if (rc == 0 && rfs_node_of(ino, &n) < 0)
		rc = -ENOENT;
	if (rc == 0 && fresh) {
		c.fresh_view = n.kind == RFS_ROOT || n.kind == RFS_REGIONS;
		c.fresh_segs = n.kind == RFS_SYSV || n.kind == RFS_LEAKED;
	}
	if (rc == 0) {
		rc = rfs_ino_stat(&c, ino, &n, &dot.st, &dot.timeout);
		if (rc == 0)
			rc = rfs_node_perm(&c, &n, &dot.st, R_OK);
	}
	/* ".." is never looked up through a listing: its attributes are a
	 * directory's and nothing more. */
	if (rc == 0) {
		memset(&dotdot, 0, sizeof(dotdot));
		dotdot.st.st_mode = S_IFDIR | 0555;
		dotdot.st.st_ino =
			rfs_ino((struct rfs_node){.kind = parent_kind(n.kind)});
		rc = dir_put(&b, ".", &dot, 1);
	}
	if (rc == 0)
		rc = dir_put(&b, "..", &dotdot, 2);
	if (rc == 0) {
		rc = rfs_list(&c, &n, dir_add, &b);
		if (rc == DIR_FULL)
			rc = 0;
	}
	rfs_ctx_done(&c);
	return rc < 0 ? rc : 0;
}

static void regionfs_opendir(fuse_req_t req, fuse_ino_t ino,
			     struct fuse_file_info *fi)
{
	struct rfs_dir *d = calloc(1, sizeof(*d));
	struct rfs_node n;
	int rc;

	/* ENOSYS is success here, and the last opendir we see. */
	if (fs_of(req)->kernel_lists) {
		free(d);
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (!d) {
		rfs_reply_err(req, -ENOMEM);
		return;
	}
	/* The directories whose members come and go are listed from
	 * snapshots taken now, so a new region shows at once: the table for
	 * the environment's, the segment index for sysv/ (which never
	 * refreshes the table).  Not a segment's own directory: listing each
	 * of 4000 would mean 4000 scans. */
	rc = dir_make(req, ino, 0, 0, 0, 1, d);
	if (rc < 0) {
		dir_free(d);
		rfs_reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)d;
	/*
	 * A region's or a segment's own directory lists the same names for
	 * every caller for as long as it exists: the kernel may keep the
	 * listing and answer the next getdents itself (it drops it when the
	 * directory's mtime moves).  Not the others: their members come and
	 * go, and leaked/ depends on who asks.
	 */
	if (rfs_node_of(ino, &n) == 0 &&
	    (n.kind == RFS_REGION_DIR || n.kind == RFS_SEGMENT_DIR)) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	}
	if (fuse_reply_open(req, fi) == -ENOENT)
		dir_free(d);
}

/*
 * One reply of the entries of D past cookie OFF, in a buffer of what the
 * entries need rather than of what the kernel offers: the kernel offers
 * far more than a segment's three names take, and a buffer past glibc's
 * mmap threshold (see rfs_init) cost an mmap and a munmap per reply,
 * 10000 of them in one `find`.
 */
static void reply_dir(fuse_req_t req, size_t size, off_t off, struct rfs_dir *d,
		      int plus)
{
	size_t first = 0, want = 0, used = 0;
	char *buf;

	while (first < d->n && d->v[first].cookie <= off)
		first++;
	for (size_t i = first; i < d->n && want < size; i++)
		want += dirent_size(req, &d->v[i], plus);
	if (want > size)
		want = size;
	if (want > d->bufcap || !d->buf) {
		buf = realloc(d->buf, want ? want : 1);
		if (!buf) {
			rfs_reply_err(req, -ENOMEM);
			return;
		}
		d->buf = buf;
		d->bufcap = want ? want : 1;
	}
	buf = d->buf;
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
						      de->cookie);
		} else {
			need = fuse_add_direntry(req, buf + used, want - used,
						 de->name, &de->st, de->cookie);
		}
		if (need > want - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
}

/* Does directory kind K list names that come and go? */
static int names_change(enum rfs_kind k)
{
	return k == RFS_ROOT || k == RFS_REGIONS || k == RFS_SYSV ||
	       k == RFS_LEAKED;
}

/*
 * With the kernel keeping listings there is no open to slice: the listing
 * is made for this reply (see the top of this section), from snapshots
 * taken now when it starts, as opendir would.  The end of a listing whose
 * names come and go (the reply with no names) is followed by an
 * invalidation of the directory's pages: the kernel's copy, complete only
 * once that empty reply reached it, is then found missing at the next
 * getdents and read from us again.
 */
static void any_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi, int plus)
{
	struct regionfs *fs = fs_of(req);
	struct rfs_dir own = {0}, *d = &own;
	int spare = pthread_mutex_trylock(&spare_lock) == 0;
	struct rfs_node n;
	int rc, end;

	if (fi->fh) {
		reply_dir(req, size, off, (struct rfs_dir *)(uintptr_t)fi->fh,
			  plus);
		return;
	}
	if (spare)
		d = &spare_dir;
	rc = dir_make(req, ino, off, size, plus, off == 0, d);
	if (rc < 0)
		rfs_reply_err(req, rc);
	else
		reply_dir(req, size, off, d, plus);
	end = rc == 0 && d->n == 0;
	if (spare)
		pthread_mutex_unlock(&spare_lock);
	else {
		free(own.v);
		free(own.buf);
	}
	if (end && fs->se && rfs_node_of(ino, &n) == 0 && names_change(n.kind))
		fuse_lowlevel_notify_inval_inode(fs->se, ino, 0, 0);
}

static void regionfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			     off_t off, struct fuse_file_info *fi)
{
	any_readdir(req, ino, size, off, fi, 0);
}

static void regionfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
				 off_t off, struct fuse_file_info *fi)
{
	any_readdir(req, ino, size, off, fi, 1);
}

static void regionfs_releasedir(fuse_req_t req, fuse_ino_t ino,
				struct fuse_file_info *fi)
{
	(void)ino;
	dir_free((struct rfs_dir *)(uintptr_t)fi->fh);
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
