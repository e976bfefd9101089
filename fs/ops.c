/*
 * ops.c - the FUSE operations of regionfs.
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
 * exactly one place, rfs_errno().
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
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#include "regionfs.h"

/* ---- errors -------------------------------------------------------------- */

/*
 * The one place where library codes become errno values for the kernel.
 * RGN_* codes have no errno of their own: "not there" codes read as
 * ENOENT, a full table as ENOSPC, a foreign segment as EPERM, and damaged
 * or unreadable state as EIO.  -ENOSYS is never passed on: the kernel
 * would take it to mean that the operation is not implemented and never
 * ask again.
 */
static int rfs_errno(int rc)
{
	if (rc >= 0)
		return 0;
	switch (rc) {
	case RGN_ENOTENV:
	case RGN_EPRIVATE:
		return ENOENT;
	case RGN_EFULL:
		return ENOSPC;
	case RGN_EFOREIGN:
		return EPERM;
	case RGN_ENOKEY:
		return EINVAL;
	case -ENOSYS:
		return EIO;
	}
	if (rc <= RGN_EBASE && rc >= RGN_ELAST)
		return EIO; /* bad magic, version, corrupt, panic, ... */
	if (rc > -4096)
		return -rc;
	return EIO;
}

static void reply_err(fuse_req_t req, int rc)
{
	fuse_reply_err(req, rfs_errno(rc));
}

static struct regionfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* What a write gets: the mount's read-only-ness, or that this name is not
 * ours to change. */
static int refusal(const struct regionfs *fs)
{
	return fs->readwrite ? -EACCES : -EROFS;
}

/* ---- permissions ---------------------------------------------------------- */

/*
 * Permissions are checked here, not only by the kernel: without
 * default_permissions the kernel checks nothing, and the mounting user may
 * not be the owner of every region even without allow_other.  The rules
 * are the kernel's (rfs_perm), applied to the attributes we show.
 */

/* Check NODE (with attributes ST) for MASK; segment data also by its
 * creator. */
static int node_perm(struct rfs_ctx *c, const struct rfs_node *n,
		     const struct stat *st, int mask)
{
	uid_t cuid = st->st_uid;
	gid_t cgid = st->st_gid;

	if (n->kind == RFS_PSEUDO &&
	    (rfs_entries[n->entry].flags & RFS_E_SEGDATA)) {
		const struct rfs_seg *g =
			rfs_segs_find(rfs_ctx_segs(c), (int32_t)n->arg);

		if (g) {
			cuid = g->cuid;
			cgid = g->cgid;
		}
	}
	return rfs_perm(c, st->st_uid, st->st_gid, cuid, cgid, st->st_mode,
			mask);
}

/* The directory N appears in; 0, or -1 for the root. */
static int node_parent(const struct rfs_node *n, struct rfs_node *p)
{
	memset(p, 0, sizeof(*p));
	switch (n->kind) {
	case RFS_ROOT:
		return -1;
	case RFS_REGION_DIR:
		p->kind = RFS_REGIONS;
		return 0;
	case RFS_SEGMENT_DIR:
	case RFS_LEAKED:
		p->kind = RFS_SYSV;
		return 0;
	case RFS_LEAK_LINK:
		p->kind = RFS_LEAKED;
		return 0;
	case RFS_PSEUDO:
		p->kind = rfs_entries[n->entry].parent;
		p->arg = n->arg;
		return 0;
	default:
		p->kind = RFS_ROOT;
		return 0;
	}
}

/*
 * May the requester reach N: search permission on every directory above
 * it, as path resolution would demand?  Checked by every operation on an
 * inode, not only at lookup: the kernel keeps names another user looked
 * up, and hands them to the next user without asking us.
 */
static int reach_perm(struct rfs_ctx *c, const struct rfs_node *n)
{
	struct rfs_node cur = *n, up;
	struct stat st;
	double timeout;
	int rc = 0;

	while (rc == 0 && node_parent(&cur, &up) == 0) {
		rc = rfs_node_stat(c, &up, &st, &timeout);
		if (rc == 0)
			rc = node_perm(c, &up, &st, X_OK);
		cur = up;
	}
	return rc;
}

/* Attributes of inode INO if the requester may reach it. */
static int ino_stat(struct rfs_ctx *c, fuse_ino_t ino, struct rfs_node *n,
		    struct stat *st, double *timeout)
{
	int rc;

	if (rfs_node_of(ino, n) < 0)
		return -ENOENT;
	rc = rfs_node_stat(c, n, st, timeout);
	if (rc == 0)
		rc = reach_perm(c, n);
	return rc;
}

/* ---- names and attributes ------------------------------------------------- */

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
 * Is N, missing from a cached snapshot, worth a fresh one?  Regions: yes,
 * a fresh table costs one small read.  Segments: a fresh index is a whole
 * leak scan, so only if the segment exists at all (IPC_STAT fails with
 * EINVAL or EIDRM for an id nobody holds, and needs no permission to say
 * so): `ls sysv/12345` for a made-up id must not cost a scan.
 */
static int may_be_new(const struct rfs_node *n)
{
	struct shmid_ds ds;
	int segment = n->kind == RFS_SEGMENT_DIR || n->kind == RFS_LEAK_LINK ||
		      (n->kind == RFS_PSEUDO &&
		       rfs_entries[n->entry].parent == RFS_SEGMENT_DIR);

	if (!segment)
		return 1;
	return shmctl((int)n->arg, IPC_STAT, &ds) == 0 || errno == EACCES;
}

static void regionfs_lookup(fuse_req_t req, fuse_ino_t parent,
			    const char *name)
{
	struct rfs_ctx c = {.fs = fs_of(req), .req = req};
	struct fuse_entry_param e;
	struct rfs_node dir, child;
	double timeout = 0;
	int rc;

	memset(&e, 0, sizeof(e));
	if (rfs_node_of(parent, &dir) < 0) {
		reply_err(req, -ENOENT);
		return;
	}
	rc = rfs_lookup_name(&c, &dir, name, &child);
	if (rc == 0) {
		rc = rfs_node_stat(&c, &child, &e.attr, &timeout);
		/* Missing from a cached snapshot: it may be brand new. */
		if (rc == -ENOENT && may_be_new(&child)) {
			rfs_ctx_done(&c);
			c.fresh = 1;
			rc = rfs_node_stat(&c, &child, &e.attr, &timeout);
		}
	}
	if (rc == 0)
		rc = reach_perm(&c, &child);
	rfs_ctx_done(&c);
	if (rc < 0) {
		reply_err(req, rc);
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
	rc = ino_stat(&c, ino, &n, &st, &timeout);
	rfs_ctx_done(&c);
	if (rc < 0)
		reply_err(req, rc);
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
		rc = ino_stat(&c, ino, &n, &st, &timeout);
	rfs_ctx_done(&c);
	if (rc < 0) {
		reply_err(req, rc);
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

	rc = ino_stat(&c, ino, &n, &st, &timeout);
	/* Only leaked/ is ever written to (by unlinking), in an rw mount. */
	if (rc == 0 && (mask & W_OK) &&
	    !(c.fs->readwrite && n.kind == RFS_LEAKED))
		rc = refusal(c.fs);
	if (rc == 0 && mask != F_OK)
		rc = node_perm(&c, &n, &st, mask & ~W_OK);
	rfs_ctx_done(&c);
	reply_err(req, rc);
}

static void regionfs_setattr(fuse_req_t req, fuse_ino_t ino,
			     struct stat *attr, int to_set,
			     struct fuse_file_info *fi)
{
	(void)ino;
	(void)attr;
	(void)to_set;
	(void)fi;
	reply_err(req, refusal(fs_of(req)));
}

/* ---- opened files ----------------------------------------------------------- */

enum rfs_open_kind {
	RFS_OPEN_BUF = 1,	/* a rendering */
	RFS_OPEN_REGION,	/* a region: file descriptor or segment */
	RFS_OPEN_SEGMENT	/* sysv/<shmid>/data */
};

/*
 * Refcounted: a read holds its open file until its reply is sent.  The
 * kernel wakes the reader as soon as it has copied the reply, so the reader
 * may close and a release run on another worker while the read handler is
 * still returning from fuse_reply_buf().
 */
struct rfs_open {
	unsigned refs;				/* atomic */
	enum rfs_open_kind kind;
	char *buf;				/* RFS_OPEN_BUF: the rendering */
	size_t len;				/* its bytes */
	struct rgn_fsview_reader reader;	/* the others */
};

static void open_free(struct rfs_open *h)
{
	if (!h)
		return;
	if (h->kind != RFS_OPEN_BUF)
		rgn_fsview_reader_close(&h->reader);
	free(h->buf);
	free(h);
}

static void open_put(struct rfs_open *h)
{
	if (__atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) == 0)
		open_free(h);
}

/* A region, its permissions checked again on what was opened: the file's
 * or the segment's own, as they are now, not as a snapshot saw them. */
static int open_region(struct rfs_ctx *c, uint32_t id, struct rfs_open *h)
{
	struct rfs_env *e = rfs_env_get(c->fs);
	struct shmid_ds ds;
	struct stat st;
	int rc;

	h->kind = RFS_OPEN_REGION;
	rc = rgn_fsview_reader_open(e->env, id, &h->reader);
	rfs_env_put(e);
	if (rc < 0)
		return rc;
	if (h->reader.fd >= 0) {
		if (fstat(h->reader.fd, &st) < 0)
			return -errno;
		return rfs_perm(c, st.st_uid, st.st_gid, st.st_uid, st.st_gid,
				st.st_mode, R_OK);
	}
	if (shmctl(h->reader.shmid, IPC_STAT, &ds) < 0)
		return errno == EACCES ? -EACCES : -ENOENT;
	return rfs_perm(c, ds.shm_perm.uid, ds.shm_perm.gid, ds.shm_perm.cuid,
			ds.shm_perm.cgid, ds.shm_perm.mode & 0777, R_OK);
}

/* sysv/<shmid>/data: the segment's permissions, read afresh, decide. */
static int open_segdata(struct rfs_ctx *c, int32_t shmid, struct rfs_open *h)
{
	struct shmid_ds ds;
	int rc;

	h->kind = RFS_OPEN_SEGMENT;
	if (shmctl(shmid, IPC_STAT, &ds) < 0)
		return errno == EACCES ? -EACCES : -ENOENT;
	rc = rfs_perm(c, ds.shm_perm.uid, ds.shm_perm.gid, ds.shm_perm.cuid,
		      ds.shm_perm.cgid, ds.shm_perm.mode & 0777, R_OK);
	if (rc < 0)
		return rc;
	h->reader.shmid = shmid;
	h->reader.key = ds.shm_perm.__key;
	h->reader.seg_ctime = ds.shm_ctime;
	h->reader.size = ds.shm_segsz;
	return 0;
}

static void regionfs_open(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct rfs_ctx c = {.fs = fs_of(req), .req = req};
	struct rfs_open *h = NULL;
	struct rfs_node n;
	struct stat st;
	double timeout;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		rc = refusal(c.fs);
	else
		rc = ino_stat(&c, ino, &n, &st, &timeout);
	if (rc == 0)
		rc = node_perm(&c, &n, &st, R_OK);
	/* Renderers take snapshots of their own; the requester stays. */
	rfs_view_put(c.view);
	rfs_segs_put(c.segs);
	c.view = NULL;
	c.segs = NULL;
	if (rc == 0 && !(h = calloc(1, sizeof(*h))))
		rc = -ENOMEM;
	if (h) {
		h->refs = 1; /* the kernel's, dropped by release */
		/* Nothing open yet: open_free must close nothing (0 is a
		 * descriptor). */
		h->reader.fd = -1;
		h->reader.shmid = -1;
	}
	if (rc == 0) {
		const struct rfs_entry *e = &rfs_entries[n.entry];

		if (n.kind == RFS_REGION) {
			rc = open_region(&c, n.arg, h);
		} else if (n.kind != RFS_PSEUDO) {
			rc = -EISDIR;
		} else if (e->flags & RFS_E_SEGDATA) {
			rc = open_segdata(&c, (int32_t)n.arg, h);
		} else {
			h->kind = RFS_OPEN_BUF;
			rc = e->render(&c, n.arg, &h->buf, &h->len);
		}
	}
	rfs_ctx_done(&c);
	if (rc < 0) {
		open_free(h);
		reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	/* -ENOENT: the open was interrupted and no release will follow. */
	if (fuse_reply_open(req, fi) == -ENOENT)
		open_free(h);
}

static void read_buf(fuse_req_t req, const struct rfs_open *h, size_t size,
		     off_t off)
{
	if ((uint64_t)off >= h->len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > h->len - (size_t)off)
		size = h->len - (size_t)off;
	fuse_reply_buf(req, h->buf + off, size);
}

static void read_file(fuse_req_t req, const struct rfs_open *h, size_t size,
		      off_t off)
{
	const struct rgn_fsview_reader *r = &h->reader;
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(0);
	ssize_t avail;

	if ((uint64_t)off >= r->size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > r->size - (uint64_t)off)
		size = (size_t)(r->size - (uint64_t)off);
	avail = rgn_fsview_file_avail(r, size, (uint64_t)off);
	if (avail <= 0) {
		/* The region is larger than its file now: truncated under
		 * us.  Say so rather than pretend the region ends here. */
		reply_err(req, avail < 0 ? (int)avail : -EIO);
		return;
	}
	bv.buf[0].size = (size_t)avail;
	bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	bv.buf[0].fd = r->fd;
	bv.buf[0].pos = off;
	fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14; older kernels say EINVAL */
#endif

static size_t page_size(void)
{
	static size_t page;

	if (!page)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

/* Attach the data segment of H read-only, for one read: a recycled id or
 * a removed segment reads as gone. */
static int attach_segdata(const struct rfs_open *h, const void **base,
			  uint64_t *segsz)
{
	struct shmid_ds ds;
	void *p;

	if (shmctl(h->reader.shmid, IPC_STAT, &ds) < 0)
		return errno == EACCES ? -EACCES : -ENOENT;
	/* Removal turns the key private; a recycled id has a new ctime. */
	if ((int64_t)ds.shm_ctime != h->reader.seg_ctime ||
	    (ds.shm_perm.__key != h->reader.key && ds.shm_perm.__key != 0))
		return -ENOENT;
	p = shmat(h->reader.shmid, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		return errno == EACCES ? -EACCES : -ENOENT;
	*base = p;
	*segsz = ds.shm_segsz;
	return 0;
}

static void read_segment(fuse_req_t req, const struct rfs_open *h,
			 size_t size, off_t off)
{
	const void *base = NULL;
	uint64_t segsz = 0, end;
	int rc;

	rc = h->kind == RFS_OPEN_SEGMENT
		     ? attach_segdata(h, &base, &segsz)
		     : rgn_fsview_segment_attach(&h->reader, &base, &segsz);
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	end = h->reader.size < segsz ? h->reader.size : segsz;
	if ((uint64_t)off >= end)
		size = 0;
	else if (size > end - (uint64_t)off)
		size = (size_t)(end - (uint64_t)off);
	/*
	 * Straight from the attachment to the device: no copy of ours.  A
	 * fresh attachment has no page tables yet; populating them in one
	 * call beats a fault per page inside the kernel's copy (2.4 against
	 * 2.0 GB/s reading a 256 MiB segment).  Attaching per request is the
	 * price of never counting as an attached process between reads.
	 */
	if (size)
		madvise((char *)base + (off & ~(off_t)(page_size() - 1)),
			size + (size_t)(off & (off_t)(page_size() - 1)),
			MADV_POPULATE_READ);
	fuse_reply_buf(req, size ? (const char *)base + off : NULL, size);
	shmdt(base);
}

static void regionfs_read(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	struct rfs_open *h = (struct rfs_open *)(uintptr_t)fi->fh;

	(void)ino;
	__atomic_add_fetch(&h->refs, 1, __ATOMIC_RELAXED);
	if (h->kind == RFS_OPEN_BUF)
		read_buf(req, h, size, off);
	else if (h->kind == RFS_OPEN_REGION && h->reader.fd >= 0)
		read_file(req, h, size, off);
	else
		read_segment(req, h, size, off);
	open_put(h);
}

static void regionfs_release(fuse_req_t req, fuse_ino_t ino,
			     struct fuse_file_info *fi)
{
	(void)ino;
	open_put((struct rfs_open *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* ---- directories ------------------------------------------------------------ */

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
	 * snapshots taken now, so a new region shows at once.  Not a
	 * segment's own directory: listing each of 4000 would mean 4000
	 * scans. */
	if (rc == 0)
		c.fresh = n.kind == RFS_ROOT || n.kind == RFS_REGIONS ||
			  n.kind == RFS_SYSV || n.kind == RFS_LEAKED;
	if (rc == 0 && (de = dir_push(d)) != NULL) {
		rc = ino_stat(&c, ino, &n, &de->st, &de->timeout);
		if (rc == 0)
			rc = node_perm(&c, &n, &de->st, R_OK);
		snprintf(de->name, sizeof(de->name), ".");
		d->n += rc == 0;
	}
	if (rc == 0 && (de = dir_push(d)) != NULL) {
		memset(de, 0, sizeof(*de));
		de->st.st_mode = S_IFDIR | 0555;
		de->st.st_ino = rfs_ino((struct rfs_node){.kind = parent_kind(n.kind)});
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
		reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		free(d->v);
		free(d);
	}
}

static void reply_dir(fuse_req_t req, size_t size, off_t off,
		      struct fuse_file_info *fi, int plus)
{
	const struct rfs_dir *d = (const void *)(uintptr_t)fi->fh;
	char *buf = malloc(size ? size : 1);
	size_t used = 0;

	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	for (size_t i = off > 0 ? (size_t)off : 0; i < d->n; i++) {
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
						      size - used, de->name,
						      &e, (off_t)(i + 1));
		} else {
			need = fuse_add_direntry(req, buf + used, size - used,
						 de->name, &de->st,
						 (off_t)(i + 1));
		}
		if (need > size - used)
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

/* ---- removing a leaked segment ---------------------------------------------- */

/*
 * rm sysv/leaked/<shmid>: the one write regionfs knows.  The index tells
 * which segment the name meant (key and creation time), and
 * rgn_leak_remove re-checks everything right before IPC_RMID, with the
 * requester's uid: exactly `regionctl leaks --remove` run by that user.
 */
static void regionfs_unlink(fuse_req_t req, fuse_ino_t parent,
			    const char *name)
{
	struct rfs_ctx c = {.fs = fs_of(req), .req = req};
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
		rc = reach_perm(&c, &link);
	for (int fresh = 0; rc == 0 && fresh < 2 && !g; fresh++) {
		rfs_ctx_done(&c);
		c.fresh = fresh;
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
	reply_err(req, rc);
}

/* Everything else that would write. */
static void regionfs_mknod(fuse_req_t req, fuse_ino_t parent,
			   const char *name, mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	reply_err(req, refusal(fs_of(req)));
}

static void regionfs_mkdir(fuse_req_t req, fuse_ino_t parent,
			   const char *name, mode_t mode)
{
	(void)parent;
	(void)name;
	(void)mode;
	reply_err(req, refusal(fs_of(req)));
}

static void regionfs_rmdir(fuse_req_t req, fuse_ino_t parent,
			   const char *name)
{
	(void)parent;
	(void)name;
	reply_err(req, refusal(fs_of(req)));
}

static void regionfs_symlink(fuse_req_t req, const char *link,
			     fuse_ino_t parent, const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	reply_err(req, refusal(fs_of(req)));
}

static void regionfs_rename(fuse_req_t req, fuse_ino_t parent,
			    const char *name, fuse_ino_t newparent,
			    const char *newname, unsigned int flags)
{
	(void)parent;
	(void)name;
	(void)newparent;
	(void)newname;
	(void)flags;
	reply_err(req, refusal(fs_of(req)));
}

static void regionfs_link(fuse_req_t req, fuse_ino_t ino,
			  fuse_ino_t newparent, const char *newname)
{
	(void)ino;
	(void)newparent;
	(void)newname;
	reply_err(req, refusal(fs_of(req)));
}

static void regionfs_create(fuse_req_t req, fuse_ino_t parent,
			    const char *name, mode_t mode,
			    struct fuse_file_info *fi)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)fi;
	reply_err(req, refusal(fs_of(req)));
}

static void regionfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			   size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	(void)buf;
	(void)size;
	(void)off;
	(void)fi;
	reply_err(req, refusal(fs_of(req)));
}

static void regionfs_setxattr(fuse_req_t req, fuse_ino_t ino,
			      const char *name, const char *value,
			      size_t size, int flags)
{
	(void)ino;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	reply_err(req, refusal(fs_of(req)));
}

static void regionfs_removexattr(fuse_req_t req, fuse_ino_t ino,
				 const char *name)
{
	(void)ino;
	(void)name;
	reply_err(req, refusal(fs_of(req)));
}

/* ---- extended attributes ------------------------------------------------------ */

#define XATTR_USER_PREFIX "user."
#define XATTR_PREFIX "user.region."

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

	*err = ino_stat(c, ino, &n, &st, &timeout);
	if (*err == 0 && n.kind != RFS_REGION)
		return NULL;
	if (*err == 0)
		*err = node_perm(c, &n, &st, R_OK);
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

static void regionfs_getxattr(fuse_req_t req, fuse_ino_t ino,
			      const char *name, size_t size)
{
	struct rfs_ctx c = {.fs = fs_of(req), .req = req};
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
		len = rfs_xattr_get(c.view->v, rg, name, val, sizeof(val));
	rfs_ctx_done(&c);
	if (len < 0)
		reply_err(req, len);
	else if ((size_t)len >= sizeof(val))
		reply_err(req, -E2BIG); /* cannot happen: names are short */
	else
		reply_xattr(req, val, (size_t)len, size);
}

static void regionfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct rfs_ctx c = {.fs = fs_of(req), .req = req};
	const struct rgn_fsview_region *rg;
	char names[256];
	size_t len;
	int err;

	rg = xattr_region(&c, ino, &err);
	len = rg ? rfs_xattr_list(rg, names, sizeof(names)) : 0;
	rfs_ctx_done(&c);
	if (err < 0)
		reply_err(req, err);
	else
		reply_xattr(req, names, len, size);
}

const struct fuse_lowlevel_ops regionfs_ops = {
	.init = regionfs_init,
	.lookup = regionfs_lookup,
	.getattr = regionfs_getattr,
	.setattr = regionfs_setattr,
	.readlink = regionfs_readlink,
	.access = regionfs_access,
	.mknod = regionfs_mknod,
	.mkdir = regionfs_mkdir,
	.unlink = regionfs_unlink,
	.rmdir = regionfs_rmdir,
	.symlink = regionfs_symlink,
	.rename = regionfs_rename,
	.link = regionfs_link,
	.create = regionfs_create,
	.open = regionfs_open,
	.read = regionfs_read,
	.write = regionfs_write,
	.release = regionfs_release,
	.opendir = regionfs_opendir,
	.readdir = regionfs_readdir,
	.readdirplus = regionfs_readdirplus,
	.releasedir = regionfs_releasedir,
	.setxattr = regionfs_setxattr,
	.getxattr = regionfs_getxattr,
	.listxattr = regionfs_listxattr,
	.removexattr = regionfs_removexattr,
};
