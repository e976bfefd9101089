/*
 * attr.c - who may do what in the mount, and the attributes every node
 * shows.
 *
 * Permissions are checked here, not only by the kernel: without
 * default_permissions the kernel checks nothing, and the mounting user may
 * not be the owner of every region even without allow_other.  The rules
 * are the kernel's (rfs_perm), applied to the attributes we show.
 *
 * Attributes come from the cached snapshots (state.c): the region table
 * for the environment's names, the segment index for sysv/.  This file
 * knows the kinds of thing (a directory, a region, a segment, a link, a
 * rendering by the source of its attributes) but not the table of
 * entries: tree.c, a layer higher, says which node is which, and a
 * rendering's row hands its mode and attribute source down to
 * rfs_stat_rendering.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regionfs.h"

/* ---- the requester's permissions ----------------------------------------- */

/* The requester's supplementary groups, however many (libfuse reads them
 * from /proc and says how many there are when the buffer is short). */
static void ctx_groups(struct rfs_ctx *c)
{
	gid_t small[64], *v = small;
	int n, cap = 64;

	if (c->groups_read)
		return;
	c->groups_read = 1;
	n = fuse_req_getgroups(c->req, cap, v);
	while (n > cap) {
		gid_t *w =
			realloc(v == small ? NULL : v, (size_t)n * sizeof(*w));

		if (!w) {
			n = 0;
			break;
		}
		v = w;
		cap = n;
		n = fuse_req_getgroups(c->req, cap, v);
	}
	if (n <= 0) {
		if (v != small)
			free(v);
		return;
	}
	if (v == small) {
		v = malloc((size_t)n * sizeof(*v));
		if (!v)
			return;
		memcpy(v, small, (size_t)n * sizeof(*v));
	}
	c->groups = v;
	c->ngroups = n;
}

static int in_group(struct rfs_ctx *c, gid_t gid)
{
	if (fuse_req_ctx(c->req)->gid == gid)
		return 1;
	ctx_groups(c);
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return 1;
	return 0;
}

int rfs_perm(struct rfs_ctx *c, uid_t uid, gid_t gid, uid_t cuid, gid_t cgid,
	     mode_t mode, int mask)
{
	const struct fuse_ctx *ctx;
	mode_t bits;

	mask &= R_OK | W_OK | X_OK;
	if (!c->req)
		return 0; /* the daemon itself */
	ctx = fuse_req_ctx(c->req);
	if (ctx->uid == 0)
		return (mask & X_OK) && !S_ISDIR(mode) && !(mode & 0111)
			       ? -EACCES
			       : 0;
	if (ctx->uid == uid || ctx->uid == cuid)
		bits = mode >> 6;
	else if (in_group(c, gid) || in_group(c, cgid))
		bits = mode >> 3;
	else
		bits = mode;
	return ((int)bits & mask) == mask ? 0 : -EACCES;
}

int rfs_seg_readable(struct rfs_ctx *c, const struct rfs_seg *g)
{
	return rfs_perm(c, g->uid, g->gid, g->cuid, g->cgid, g->mode & 0777,
			R_OK) == 0;
}

int rfs_leak_readable(struct rfs_ctx *c, const struct rgn_leak *seg)
{
	return rfs_perm(c, seg->uid, seg->gid, seg->cuid, seg->cgid,
			seg->mode & 0777, R_OK) == 0;
}

int rfs_seg_leaked(struct rfs_ctx *c, const struct rfs_seg *g)
{
	return g->leaked && (!g->blind || rfs_seg_readable(c, g));
}

/* Why the view is missing, as a code for the caller. */
static int view_err(struct rfs_ctx *c)
{
	return c->view && c->view->s.err ? c->view->s.err : -ENOENT;
}

/* ---- attributes ---------------------------------------------------------- */

static void set_times(struct stat *st, int64_t mtime, int64_t ctime)
{
	st->st_mtime = (time_t)mtime;
	st->st_atime = (time_t)mtime;
	st->st_ctime = (time_t)(ctime > mtime ? ctime : mtime);
}

static void stat_dir(struct stat *st, uid_t uid, gid_t gid, mode_t perm)
{
	st->st_mode = S_IFDIR | perm;
	st->st_nlink = 2;
	st->st_uid = uid;
	st->st_gid = gid;
}

/*
 * The root is the home directory as the mount shows it: its owner, group
 * and read and search bits, so a 0700 home keeps others out of the mount
 * too.  When the home cannot be read (removed under the mount), the root
 * stays a sane directory of the daemon's, dated from the mount, and the
 * environment's names are gone (see stat_pseudo and RFS_REGIONS).
 */
static void home_owner(struct rfs_ctx *c, struct stat *st)
{
	const struct rgn_fsview *v = rfs_ctx_view(c);

	if (!v) {
		stat_dir(st, c->fs->uid, c->fs->gid, 0500);
		set_times(st, c->fs->start, c->fs->start);
		return;
	}
	stat_dir(st, v->home_uid, v->home_gid, v->home_mode & 0555);
	set_times(st, v->mtime, v->mtime);
}

/* A region file (its family's file ops' stat), or its directory under
 * regions/: the region's own file or segment decides who reads it; its
 * directory is searchable by whoever may read the region. */
static int stat_region(struct rfs_ctx *c, const struct rfs_node *n,
		       struct stat *st)
{
	const struct rgn_fsview *v = rfs_ctx_view(c);
	const struct rgn_fsview_region *rg;

	if (!v)
		return view_err(c);
	rg = rgn_fsview_find(v, n->arg);
	if (!rg)
		return -ENOENT;
	/* The inode of a file the region no longer has (see
	 * rfs_node_settle): not the attributes of the one it has now.  An
	 * open is retried by the kernel after it walks the path again, and
	 * rfs_region_stale knows the retry.  A getattr records nothing:
	 * stat(2) and fstat(2) of a descriptor of the old file look alike
	 * to us, and an fstat must not turn the thread's next open into
	 * ENOENT. */
	if (n->kind == RFS_REGION && n->tag != RFS_TAG(rg->file_ino))
		return c->opening ? rfs_region_stale(c, n->arg) : -ESTALE;
	if (n->kind == RFS_REGION) {
		st->st_mode = S_IFREG | (rg->mode & 0666);
		st->st_nlink = 1;
		st->st_size = (off_t)rg->size;
		st->st_blocks = (blkcnt_t)((rg->size + 511) / 512);
	} else {
		stat_dir(st, rg->uid, rg->gid,
			 (rg->mode & 0444) | ((rg->mode & 0444) >> 2));
	}
	st->st_uid = rg->uid;
	st->st_gid = rg->gid;
	set_times(st, rg->mtime, rg->mtime);
	return 0;
}

/* The requesting thread (fuse_ctx's pid is the thread's); 0 without a
 * request. */
static pid_t req_tid(const struct rfs_ctx *c)
{
	return c->req ? fuse_req_ctx(c->req)->pid : 0;
}

int rfs_region_stale(struct rfs_ctx *c, uint32_t id)
{
	struct regionfs *fs = c->fs;
	pid_t tid = req_tid(c);
	struct rfs_stale *r;
	int retry = 0;

	if (id > RGN_MAX_REGIONS)
		return -ENOENT;
	if (!tid) /* no thread to know the retry by */
		return -ESTALE;
	r = &fs->stale[id];
	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < RFS_STALE_WAITERS && !retry; i++) {
		if (r->tid[i] == tid) {
			r->tid[i] = 0;
			__atomic_sub_fetch(&fs->stale_pending, 1,
					   __ATOMIC_RELAXED);
			retry = 1;
		}
	}
	if (!retry) {
		size_t i = 0;

		while (i < RFS_STALE_WAITERS && r->tid[i])
			i++;
		if (i == RFS_STALE_WAITERS) {
			/* All taken, most likely by retries that never came
			 * (their lookup found the region gone): each in
			 * turn makes room. */
			i = r->next++ % RFS_STALE_WAITERS;
		} else {
			__atomic_add_fetch(&fs->stale_pending, 1,
					   __ATOMIC_RELAXED);
		}
		r->tid[i] = tid;
	}
	pthread_mutex_unlock(&fs->lock);
	return retry ? -ENOENT : -ESTALE;
}

void rfs_region_fresh(struct rfs_ctx *c, uint32_t id)
{
	struct regionfs *fs = c->fs;
	pid_t tid = req_tid(c);
	struct rfs_stale *r;

	/* Nearly always nobody waits for a retry: no lock then. */
	if (id > RGN_MAX_REGIONS || !tid ||
	    !__atomic_load_n(&fs->stale_pending, __ATOMIC_RELAXED))
		return;
	r = &fs->stale[id];
	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < RFS_STALE_WAITERS; i++) {
		if (r->tid[i] == tid) {
			r->tid[i] = 0;
			__atomic_sub_fetch(&fs->stale_pending, 1,
					   __ATOMIC_RELAXED);
		}
	}
	pthread_mutex_unlock(&fs->lock);
}

int rfs_stat_region_file(struct rfs_ctx *c, const struct rfs_node *n,
			 struct stat *st)
{
	return stat_region(c, n, st);
}

int rfs_readlink(const struct rfs_node *n, char *buf, size_t len)
{
	/* leaked/<shmid> -> ../<shmid>: the segment's own directory. */
	return snprintf(buf, len, "../%" PRIu32, n->arg);
}

/* A segment's directory under sysv/, or its link under leaked/. */
static int stat_segment(struct rfs_ctx *c, const struct rfs_node *n,
			struct stat *st)
{
	const struct rfs_segs *s = rfs_ctx_segs(c);
	const struct rfs_seg *g = rfs_segs_find(s, (int32_t)n->arg);
	char target[RFS_NAME_MAX];

	if (!g)
		return s->s.err ? s->s.err : -ENOENT;
	if (n->kind == RFS_LEAK_LINK) {
		if (!rfs_seg_leaked(c, g))
			return -ENOENT;
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		st->st_size = rfs_readlink(n, target, sizeof(target));
	} else {
		stat_dir(st, g->uid, g->gid, 0555);
	}
	/* The owner: so that with default_permissions the sticky leaked/
	 * lets exactly the owner unlink the link (the daemon re-checks). */
	st->st_uid = g->uid;
	st->st_gid = g->gid;
	set_times(st, g->mtime, g->ctime);
	return 0;
}

int rfs_stat_link(struct rfs_ctx *c, const struct rfs_node *n, struct stat *st)
{
	return stat_segment(c, n, st);
}

/* sysv/SHMID/data: the segment's bytes, its owner and its read bits. */
int rfs_stat_segment_data(struct rfs_ctx *c, const struct rfs_node *n,
			  struct stat *st)
{
	const struct rfs_seg *g =
		rfs_segs_find(rfs_ctx_segs(c), (int32_t)n->arg);

	if (!g)
		return -ENOENT;
	st->st_mode = S_IFREG | (g->mode & 0444);
	st->st_nlink = 1;
	st->st_size = (off_t)g->size;
	st->st_blocks = (blkcnt_t)((g->size + 511) / 512);
	st->st_uid = g->uid;
	st->st_gid = g->gid;
	set_times(st, g->mtime, g->ctime);
	return 0;
}

/*
 * A rendering: its row's MODE bits, masked by its attribute source ATTRS
 * for node argument ARG (a region id under regions/).  Renderings are
 * read with direct_io from a per-open buffer, so their size is 0 as for
 * /proc files: every reader reads to EOF (cat, cp, python), and tail,
 * seeing 0, reads to EOF too rather than seeking to an end that a fresh
 * rendering could move.
 */
int rfs_stat_rendering(struct rfs_ctx *c, enum rfs_attrs attrs, mode_t mode,
		       uint32_t arg, struct stat *st)
{
	const struct rgn_fsview_region *rg;
	const struct rgn_fsview *v;

	st->st_nlink = 1;
	st->st_size = 0;
	switch (attrs) {
	case RFS_AT_DAEMON:
		/* As /proc/sysvipc/shm: anyone may see the segments, each
		 * as a scan of their own would (see may_read_leak in
		 * rendered.c). */
		st->st_mode = S_IFREG | mode;
		st->st_uid = c->fs->uid;
		st->st_gid = c->fs->gid;
		set_times(st, c->fs->start, c->fs->start);
		return 0;
	case RFS_AT_REGION:
		rg = rgn_fsview_find(rfs_ctx_view(c), arg);
		if (!rg)
			return -ENOENT;
		st->st_mode = S_IFREG | (rg->mode & mode);
		st->st_uid = rg->uid;
		st->st_gid = rg->gid;
		set_times(st, rg->mtime, rg->mtime);
		return 0;
	case RFS_AT_ENV:
	default:
		/* Readable by whoever may read the environment's state
		 * directly: its __db.001 (and primary segment).  With no
		 * environment to read (its home removed under the mount)
		 * there is nothing to show: such a file is gone, rather than
		 * shown with mode 0 and a 1970 time. */
		v = rfs_ctx_view(c);
		if (!v)
			return view_err(c);
		st->st_mode = S_IFREG | (v->primary_mode & mode);
		st->st_uid = v->uid;
		st->st_gid = v->gid;
		set_times(st, v->mtime, v->mtime);
		return 0;
	}
}

/* Directories: their own attributes (and existence). */
int rfs_stat_dir(struct rfs_ctx *c, const struct rfs_node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	switch (n->kind) {
	case RFS_ROOT:
		home_owner(c, st);
		return 0;
	case RFS_REGIONS:
		if (!rfs_ctx_view(c))
			return view_err(c);
		if (rfs_is_private(c))
			return -ENOENT;
		home_owner(c, st);
		return 0;
	case RFS_SYSV:
		stat_dir(st, c->fs->uid, c->fs->gid, 0555);
		set_times(st, c->fs->start, c->fs->start);
		return 0;
	case RFS_LEAKED:
		/* Sticky and writable in an rw mount, like /tmp: with
		 * default_permissions the kernel then lets a segment's owner,
		 * and only them, unlink its link. */
		stat_dir(st, c->fs->uid, c->fs->gid,
			 c->fs->readwrite ? 01777 : 0555);
		set_times(st, c->fs->start, c->fs->start);
		return 0;
	case RFS_REGION_DIR:
		return stat_region(c, n, st);
	case RFS_SEGMENT_DIR:
		return stat_segment(c, n, st);
	default:
		return -ENOTDIR;
	}
}
