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
 * for the environment's names, the segment index for sysv/.  A pseudo-file
 * takes its mode from its row of rfs_entries, masked by its attribute
 * source, and a file with a reader of its own (a region, a segment's
 * data) from that reader's stat.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regionfs.h"

/* st_blksize of region files: cat and cp size their buffers by it, so
 * one read(2) becomes one maximal FUSE request. */
#define RFS_BLKSIZE (1024 * 1024)

/*
 * How long the kernel may trust a name and its attributes: as long as the
 * daemon may reuse its own snapshot, so a region or segment that goes is
 * gone from every path within a second (and from listings at once: they
 * are never cached).  Not 0: `ls -l` would then pay a getattr round trip
 * per name after readdirplus already gave the attributes.  A leaked link
 * kept a second too long is harmless: rm re-checks before it removes.
 */
#define RFS_TIMEOUT_STATIC 1.0
#define RFS_TIMEOUT_DYNAMIC 1.0

/* ---- the requester's permissions ------------------------------------------ */

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
		gid_t *w = realloc(v == small ? NULL : v,
				   (size_t)n * sizeof(*w));

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

/* ---- attributes ------------------------------------------------------------ */

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

int rfs_stat_region_file(struct rfs_ctx *c, const struct rfs_node *n,
			 struct stat *st)
{
	return stat_region(c, n, st);
}

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

static int stat_dir_node(struct rfs_ctx *c, const struct rfs_node *n,
			 struct stat *st);

/*
 * A pseudo-file: its directory must exist, then the row decides.  Those
 * that are renderings are read with direct_io from a per-open buffer, so
 * their size is 0 as for /proc files: every reader reads to EOF (cat, cp,
 * python), and tail, seeing 0, reads to EOF too rather than seeking to an
 * end that a fresh rendering could move.
 */
static int stat_pseudo(struct rfs_ctx *c, const struct rfs_node *n,
		       struct stat *st)
{
	const struct rfs_entry *e = &rfs_entries[n->entry];
	struct rfs_node parent = {.kind = e->parent, .arg = n->arg};
	const struct rgn_fsview_region *rg;
	const struct rgn_fsview *v;
	int rc;

	if (e->dir || !rfs_entry_visible(c, e))
		return -ENOENT; /* a subdirectory is never a pseudo node */
	rc = stat_dir_node(c, &parent, st);
	if (rc < 0)
		return rc;
	memset(st, 0, sizeof(*st));
	if (e->ops->stat)
		return e->ops->stat(c, n, st);
	st->st_nlink = 1;
	st->st_size = 0;
	switch (e->attrs) {
	case RFS_AT_DAEMON:
		/* As /proc/sysvipc/shm: anyone may see the segments, each
		 * as a scan of their own would (see may_read_leak in
		 * entries.c). */
		st->st_mode = S_IFREG | e->mode;
		st->st_uid = c->fs->uid;
		st->st_gid = c->fs->gid;
		set_times(st, c->fs->start, c->fs->start);
		return 0;
	case RFS_AT_REGION:
		rg = rgn_fsview_find(rfs_ctx_view(c), n->arg);
		if (!rg)
			return -ENOENT;
		st->st_mode = S_IFREG | (rg->mode & e->mode);
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
		st->st_mode = S_IFREG | (v->primary_mode & e->mode);
		st->st_uid = v->uid;
		st->st_gid = v->gid;
		set_times(st, v->mtime, v->mtime);
		return 0;
	}
}

/* Directories: their own attributes (and existence). */
static int stat_dir_node(struct rfs_ctx *c, const struct rfs_node *n,
			 struct stat *st)
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

int rfs_node_stat(struct rfs_ctx *c, const struct rfs_node *n,
		  struct stat *st, double *timeout)
{
	const struct rfs_file_ops *ops;
	int rc;

	memset(st, 0, sizeof(*st));
	*timeout = RFS_TIMEOUT_DYNAMIC;
	switch (n->kind) {
	case RFS_LEAK_LINK:
		rc = stat_segment(c, n, st);
		break;
	case RFS_PSEUDO:
		rc = stat_pseudo(c, n, st);
		if (rfs_entries[n->entry].parent == RFS_ROOT)
			*timeout = RFS_TIMEOUT_STATIC;
		break;
	case RFS_REGION_DIR:
	case RFS_SEGMENT_DIR:
		rc = stat_dir_node(c, n, st);
		break;
	default:
		/* Family members that are files: as their reader says. */
		ops = rfs_node_ops(n);
		if (ops && ops->stat) {
			rc = ops->stat(c, n, st);
			break;
		}
		rc = stat_dir_node(c, n, st);
		*timeout = RFS_TIMEOUT_STATIC;
		break;
	}
	st->st_ino = rfs_ino(*n);
	st->st_blksize = RFS_BLKSIZE;
	return rc;
}

/* ---- reaching a node ------------------------------------------------------- */

int rfs_node_perm(struct rfs_ctx *c, const struct rfs_node *n,
		  const struct stat *st, int mask)
{
	const struct rfs_file_ops *ops = rfs_node_ops(n);

	if (ops && ops->perm)
		return ops->perm(c, n, st, mask);
	return rfs_perm(c, st->st_uid, st->st_gid, st->st_uid, st->st_gid,
			st->st_mode, mask);
}

int rfs_node_parent(const struct rfs_node *n, struct rfs_node *p)
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
 * Search permission on every directory above N, as path resolution would
 * demand.  Checked by every operation on an inode, not only at lookup: the
 * kernel keeps names another user looked up, and hands them to the next
 * user without asking us.
 */
int rfs_reach_perm(struct rfs_ctx *c, const struct rfs_node *n)
{
	struct rfs_node cur = *n, up;
	struct stat st;
	double timeout;
	int rc = 0;

	while (rc == 0 && rfs_node_parent(&cur, &up) == 0) {
		rc = rfs_node_stat(c, &up, &st, &timeout);
		if (rc == 0)
			rc = rfs_node_perm(c, &up, &st, X_OK);
		cur = up;
	}
	return rc;
}

int rfs_ino_stat(struct rfs_ctx *c, fuse_ino_t ino, struct rfs_node *n,
		 struct stat *st, double *timeout)
{
	int rc;

	if (rfs_node_of(ino, n) < 0)
		return -ENOENT;
	rc = rfs_node_stat(c, n, st, timeout);
	if (rc == 0)
		rc = rfs_reach_perm(c, n);
	return rc;
}
