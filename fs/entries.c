/*
 * entries.c - the tree regionfs shows, as two tables.
 *
 * rfs_entries lists every fixed name (pseudo-files and subdirectories) with
 * the kind of directory it appears in and, for a pseudo-file, the renderer
 * that fills it at open: lookup, getattr, readdir and open all walk it, so
 * adding a file is one line here (in the manner of Linux's pid_entry
 * tables).  rfs_families lists the names that come and go (regions and
 * segments) with how to parse and print them.
 *
 * Contents always come from the renderers of render.c, the same code that
 * prints `regionctl stat` and `regionctl leaks`, so the mount and the tool
 * can never disagree.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>

#include "regionfs.h"
#include "render.h"

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

/* ---- inode numbers ------------------------------------------------------- */

#define INO_KIND_SHIFT 56
#define INO_ENTRY_SHIFT 40

fuse_ino_t rfs_ino(struct rfs_node n)
{
	if (n.kind == RFS_ROOT)
		return FUSE_ROOT_ID;
	return ((uint64_t)n.kind << INO_KIND_SHIFT) |
	       ((uint64_t)(n.entry & 0xffffu) << INO_ENTRY_SHIFT) | n.arg;
}

int rfs_node_of(fuse_ino_t ino, struct rfs_node *n)
{
	uint64_t kind = (uint64_t)ino >> INO_KIND_SHIFT;

	memset(n, 0, sizeof(*n));
	if (ino == FUSE_ROOT_ID) {
		n->kind = RFS_ROOT;
		return 0;
	}
	if (kind <= RFS_ROOT || kind >= RFS_NKINDS)
		return -1;
	n->kind = (enum rfs_kind)kind;
	n->entry = (uint32_t)((ino >> INO_ENTRY_SHIFT) & 0xffffu);
	n->arg = (uint32_t)ino;
	if (n->kind == RFS_PSEUDO && n->entry >= rfs_nentries)
		return -1;
	return 0;
}

/* ---- renderers ------------------------------------------------------------ */

typedef int (*env_render_fn)(const struct rgn_env_stat *st, uint32_t arg,
			     char **out, size_t *len);

/* Render from a snapshot of the environment taken now: all of it, or
 * (for the files of regions/__db.NNN) just region ARG. */
static int with_stat(struct regionfs *fs, uint32_t arg, int one_region,
		     env_render_fn fn, char **out, size_t *len)
{
	struct rgn_env_stat *st = NULL;
	int rc = one_region ? rfs_stat_region(fs, arg, &st)
			    : rfs_stat_env(fs, &st);

	if (rc < 0)
		return rc;
	rc = fn(st, arg, out, len);
	rgn_stat_free(st);
	return rc;
}

static int env_text(const struct rgn_env_stat *st, uint32_t arg, char **out,
		    size_t *len)
{
	(void)arg;
	return rgn_render_env_text(st, time(NULL), out, len);
}

static int env_json(const struct rgn_env_stat *st, uint32_t arg, char **out,
		    size_t *len)
{
	(void)arg;
	return rgn_render_env_json(st, time(NULL), out, len);
}

static int procs_text(const struct rgn_env_stat *st, uint32_t arg,
		      char **out, size_t *len)
{
	(void)arg;
	return rgn_render_procs_text(st, out, len);
}

static int region_text(const struct rgn_env_stat *st, uint32_t id,
		       char **out, size_t *len)
{
	const struct rgn_region_stat *rs = rgn_render_find_region(st, id);

	return rs ? rgn_render_region_text(st, rs, out, len) : -ENOENT;
}

static int region_json(const struct rgn_env_stat *st, uint32_t id,
		       char **out, size_t *len)
{
	const struct rgn_region_stat *rs = rgn_render_find_region(st, id);

	return rs ? rgn_render_region_json(st, rs, out, len) : -ENOENT;
}

static int render_env_text(struct rfs_ctx *c, uint32_t arg, char **out,
			   size_t *len)
{
	return with_stat(c->fs, arg, 0, env_text, out, len);
}

static int render_env_json(struct rfs_ctx *c, uint32_t arg, char **out,
			   size_t *len)
{
	return with_stat(c->fs, arg, 0, env_json, out, len);
}

static int render_procs(struct rfs_ctx *c, uint32_t arg, char **out,
			size_t *len)
{
	return with_stat(c->fs, arg, 0, procs_text, out, len);
}

static int render_region_text(struct rfs_ctx *c, uint32_t id, char **out,
			      size_t *len)
{
	return with_stat(c->fs, id, 1, region_text, out, len);
}

static int render_region_json(struct rfs_ctx *c, uint32_t id, char **out,
			      size_t *len)
{
	return with_stat(c->fs, id, 1, region_json, out, len);
}

/*
 * The daemon attaches as root to read headers; a requester who may not
 * read a segment is shown what a scan of their own would find (see
 * rgn_leak_redact), so that the mount and `regionctl leaks` run by that
 * user agree and nothing root alone may read leaks out.
 */
static int may_read_leak(void *arg, const struct rgn_leak *seg)
{
	return rfs_leak_readable(arg, seg);
}

static int render_metrics(struct rfs_ctx *c, uint32_t arg, char **out,
			  size_t *len)
{
	struct rgn_env_stat *st = NULL;
	struct rgn_leak_scan *scan = NULL;
	const struct rgn_env_stat *envs[1];
	int rc;

	(void)arg;
	/* Either half may be missing (home removed, no permission to list
	 * segments): the exposition then just lacks those families. */
	if (rfs_stat_env(c->fs, &st) < 0)
		st = NULL;
	if (rfs_scan(c->fs, &scan) < 0)
		scan = NULL;
	rgn_leak_scan_redact(scan, may_read_leak, c);
	envs[0] = st;
	rc = rgn_render_prometheus(envs, st ? 1 : 0, scan, out, len);
	if (scan)
		rfs_scan_release(c->fs, scan);
	rgn_stat_free(st);
	return rc;
}

static int render_leaks_summary(struct rfs_ctx *c, uint32_t arg,
				char **out, size_t *len)
{
	struct rgn_leak_scan *scan = NULL;
	int rc;

	(void)arg;
	rc = rfs_scan(c->fs, &scan);
	if (rc < 0)
		return rc;
	rgn_leak_scan_redact(scan, may_read_leak, c);
	rc = rgn_render_leaks_summary(scan, out, len);
	rfs_scan_release(c->fs, scan);
	return rc;
}

typedef int (*leak_render_fn)(const struct rgn_leak *seg, char **out,
			      size_t *len);

/* One segment, classified afresh, as the requester may see it. */
static int with_leak(struct rfs_ctx *c, uint32_t shmid, leak_render_fn fn,
		     char **out, size_t *len)
{
	struct rgn_leak_scan *one = NULL;
	struct rgn_leak *seg;
	int rc = rgn_leak_stat((int32_t)shmid, &one);

	if (rc < 0)
		return rc;
	seg = NULL;
	for (size_t i = 0; i < one->nsegs && !seg; i++)
		if (one->segs[i].shmid == (int32_t)shmid)
			seg = &one->segs[i];
	if (seg && !rfs_leak_readable(c, seg))
		rgn_leak_redact(seg);
	rc = seg ? fn(seg, out, len) : -ENOENT;
	rgn_leak_free(one);
	return rc;
}

static int render_leak_text(struct rfs_ctx *c, uint32_t shmid, char **out,
			    size_t *len)
{
	return with_leak(c, shmid, rgn_render_leak_text, out, len);
}

static int render_leak_json(struct rfs_ctx *c, uint32_t shmid, char **out,
			    size_t *len)
{
	return with_leak(c, shmid, rgn_render_leak_json, out, len);
}

/* ---- the tables ----------------------------------------------------------- */

const struct rfs_entry rfs_entries[] = {
	/* directory       name         subdirectory  renderer        flags */
	{RFS_ROOT,        "stat",      0,            render_env_text, 0},
	{RFS_ROOT,        "stat.json", 0,            render_env_json, 0},
	{RFS_ROOT,        "processes", 0,            render_procs,    RFS_E_SHARED},
	{RFS_ROOT,        "metrics",   0,            render_metrics,  0},
	{RFS_ROOT,        "regions",   RFS_REGIONS,  NULL,            RFS_E_SHARED},
	{RFS_ROOT,        "sysv",      RFS_SYSV,     NULL,            0},
	{RFS_REGION_DIR,  "stat",      0,            render_region_text, 0},
	{RFS_REGION_DIR,  "stat.json", 0,            render_region_json, 0},
	{RFS_SYSV,        "stat",      0,            render_leaks_summary, 0},
	{RFS_SYSV,        "leaked",    RFS_LEAKED,   NULL,            0},
	{RFS_SEGMENT_DIR, "stat",      0,            render_leak_text, 0},
	{RFS_SEGMENT_DIR, "stat.json", 0,            render_leak_json, 0},
	{RFS_SEGMENT_DIR, "data",      0,            NULL,            RFS_E_SEGDATA},
};
const size_t rfs_nentries = sizeof(rfs_entries) / sizeof(rfs_entries[0]);

/* "__db.001" <-> 1, exactly as the core names region files (so "__db.1" and
 * "__db.0001" are not aliases). */
static void format_region(uint32_t id, char *buf, size_t len)
{
	rgn_fsview_region_name(id, buf, len);
}

static int parse_region(const char *name, uint32_t *id)
{
	char again[RFS_NAME_MAX];
	unsigned long v;
	char *end;

	if (strncmp(name, "__db.", 5) != 0 || name[5] < '0' || name[5] > '9')
		return -ENOENT;
	errno = 0;
	v = strtoul(name + 5, &end, 10);
	if (errno || *end || v < 1 || v > RGN_MAX_REGIONS)
		return -ENOENT;
	format_region((uint32_t)v, again, sizeof(again));
	if (strcmp(again, name) != 0)
		return -ENOENT;
	*id = (uint32_t)v;
	return 0;
}

static void format_shmid(uint32_t shmid, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRIu32, shmid);
}

static int parse_shmid(const char *name, uint32_t *shmid)
{
	unsigned long v;
	char *end;

	if (name[0] < '0' || name[0] > '9' || (name[0] == '0' && name[1]))
		return -ENOENT;
	errno = 0;
	v = strtoul(name, &end, 10);
	if (errno || *end || v > INT32_MAX)
		return -ENOENT;
	*shmid = (uint32_t)v;
	return 0;
}

const struct rfs_family rfs_families[] = {
	/* directory    member kind      parse         format */
	{RFS_ROOT,     RFS_REGION,      parse_region, format_region},
	{RFS_REGIONS,  RFS_REGION_DIR,  parse_region, format_region},
	{RFS_SYSV,     RFS_SEGMENT_DIR, parse_shmid,  format_shmid},
	{RFS_LEAKED,   RFS_LEAK_LINK,   parse_shmid,  format_shmid},
};
const size_t rfs_nfamilies = sizeof(rfs_families) / sizeof(rfs_families[0]);

/* ---- snapshots per request ------------------------------------------------ */

const struct rgn_fsview *rfs_ctx_view(struct rfs_ctx *c)
{
	if (!c->view)
		c->view = rfs_view_get(c->fs, c->fresh);
	return c->view->v;
}

const struct rfs_segs *rfs_ctx_segs(struct rfs_ctx *c)
{
	if (!c->segs)
		c->segs = rfs_segs_get(c->fs, c->fresh);
	return c->segs;
}

void rfs_ctx_done(struct rfs_ctx *c)
{
	rfs_view_put(c->view);
	rfs_segs_put(c->segs);
	free(c->groups);
	c->view = NULL;
	c->segs = NULL;
	c->groups = NULL;
	c->ngroups = 0;
	c->groups_read = 0;
}

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
	return c->view && c->view->err ? c->view->err : -ENOENT;
}

static int is_private(struct rfs_ctx *c)
{
	const struct rgn_fsview *v = rfs_ctx_view(c);

	return v && v->backing == RGN_BACKING_PRIVATE;
}

int rfs_entry_visible(struct rfs_ctx *c, const struct rfs_entry *e)
{
	return !(e->flags & RFS_E_SHARED) || !is_private(c);
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

/* The environment's directories and pseudo-files belong to the owner of
 * __db.001 and are readable as its region files are. */
static void env_owner(struct rfs_ctx *c, struct stat *st)
{
	const struct rgn_fsview *v = rfs_ctx_view(c);

	st->st_uid = v ? v->uid : c->fs->uid;
	st->st_gid = v ? v->gid : c->fs->gid;
	if (v)
		set_times(st, v->mtime, v->mtime);
}

/* The root and regions/ are the home directory as the mount shows it:
 * its owner, group and read and search bits, so a 0700 home keeps others
 * out of the mount too. */
static void home_owner(struct rfs_ctx *c, struct stat *st)
{
	const struct rgn_fsview *v = rfs_ctx_view(c);

	stat_dir(st, v ? v->home_uid : c->fs->uid,
		 v ? v->home_gid : c->fs->gid,
		 v ? v->home_mode & 0555 : 0500);
	if (v)
		set_times(st, v->mtime, v->mtime);
}

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
	/* The region's own file or segment decides who reads it; its
	 * directory is searchable by whoever may read the region. */
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

static int stat_segment(struct rfs_ctx *c, const struct rfs_node *n,
			struct stat *st)
{
	const struct rfs_segs *s = rfs_ctx_segs(c);
	const struct rfs_seg *g = rfs_segs_find(s, (int32_t)n->arg);
	char target[RFS_NAME_MAX];

	if (!g)
		return s->err ? s->err : -ENOENT;
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

static int stat_dir_node(struct rfs_ctx *c, const struct rfs_node *n,
			 struct stat *st);

static int stat_pseudo(struct rfs_ctx *c, const struct rfs_node *n,
		       struct stat *st)
{
	const struct rfs_entry *e = &rfs_entries[n->entry];
	struct rfs_node parent = {.kind = e->parent, .arg = n->arg};
	const struct rgn_fsview *v;
	int rc;

	if (!rfs_entry_visible(c, e))
		return -ENOENT;
	rc = stat_dir_node(c, &parent, st);
	if (rc < 0)
		return rc;
	memset(st, 0, sizeof(*st));
	st->st_nlink = 1;
	if (e->dir)
		return -ENOENT; /* a subdirectory is never a pseudo node */
	if (e->flags & RFS_E_SEGDATA) {
		const struct rfs_seg *g =
			rfs_segs_find(rfs_ctx_segs(c), (int32_t)n->arg);

		if (!g)
			return -ENOENT;
		st->st_mode = S_IFREG | (g->mode & 0444);
		st->st_size = (off_t)g->size;
		st->st_blocks = (blkcnt_t)((g->size + 511) / 512);
		st->st_uid = g->uid;
		st->st_gid = g->gid;
		set_times(st, g->mtime, g->ctime);
		return 0;
	}
	/*
	 * Rendered at open into a per-open buffer and read with direct_io,
	 * so the size is 0 as for /proc files: every reader reads to EOF
	 * (cat, cp, python), and tail, seeing 0, reads to EOF too rather
	 * than seeking to an end that a fresh rendering could move.
	 */
	st->st_size = 0;
	if (e->parent == RFS_SYSV || e->parent == RFS_SEGMENT_DIR) {
		/* As /proc/sysvipc/shm: anyone may see the segments, each
		 * as a scan of their own would (see may_read_leak). */
		st->st_mode = S_IFREG | 0444;
		st->st_uid = c->fs->uid;
		st->st_gid = c->fs->gid;
		set_times(st, c->fs->start, c->fs->start);
		return 0;
	}
	v = rfs_ctx_view(c);
	if (e->parent == RFS_REGION_DIR) {
		const struct rgn_fsview_region *rg = rgn_fsview_find(v, n->arg);

		if (!rg)
			return -ENOENT;
		st->st_mode = S_IFREG | (rg->mode & 0444);
		st->st_uid = rg->uid;
		st->st_gid = rg->gid;
		set_times(st, rg->mtime, rg->mtime);
		return 0;
	}
	/* Readable by whoever may read the environment's state directly:
	 * its __db.001 (and primary segment). */
	st->st_mode = S_IFREG | (v ? v->primary_mode & 0444 : 0);
	env_owner(c, st);
	return 0;
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
		if (is_private(c))
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
	int rc;

	memset(st, 0, sizeof(*st));
	switch (n->kind) {
	case RFS_REGION:
		rc = stat_region(c, n, st);
		*timeout = RFS_TIMEOUT_DYNAMIC;
		break;
	case RFS_LEAK_LINK:
		rc = stat_segment(c, n, st);
		*timeout = RFS_TIMEOUT_DYNAMIC;
		break;
	case RFS_PSEUDO:
		rc = stat_pseudo(c, n, st);
		*timeout = rfs_entries[n->entry].parent == RFS_ROOT
				   ? RFS_TIMEOUT_STATIC
				   : RFS_TIMEOUT_DYNAMIC;
		break;
	case RFS_REGION_DIR:
	case RFS_SEGMENT_DIR:
		rc = stat_dir_node(c, n, st);
		*timeout = RFS_TIMEOUT_DYNAMIC;
		break;
	default:
		rc = stat_dir_node(c, n, st);
		*timeout = RFS_TIMEOUT_STATIC;
		break;
	}
	st->st_ino = rfs_ino(*n);
	st->st_blksize = RFS_BLKSIZE;
	return rc;
}

/* ---- names ---------------------------------------------------------------- */

int rfs_lookup_name(struct rfs_ctx *c, const struct rfs_node *dir,
		    const char *name, struct rfs_node *child)
{
	for (size_t i = 0; i < rfs_nentries; i++) {
		const struct rfs_entry *e = &rfs_entries[i];

		if (e->parent != dir->kind || strcmp(e->name, name) != 0)
			continue;
		if (!rfs_entry_visible(c, e))
			return -ENOENT;
		if (e->dir)
			*child = (struct rfs_node){.kind = e->dir, .arg = dir->arg};
		else
			*child = (struct rfs_node){.kind = RFS_PSEUDO,
						   .entry = (uint32_t)i,
						   .arg = dir->arg};
		return 0;
	}
	for (size_t i = 0; i < rfs_nfamilies; i++) {
		const struct rfs_family *f = &rfs_families[i];
		uint32_t arg;

		if (f->parent != dir->kind || f->parse(name, &arg) < 0)
			continue;
		*child = (struct rfs_node){.kind = f->child, .arg = arg};
		return 0;
	}
	return -ENOENT;
}

typedef int (*list_fn)(void *arg, const char *name, const struct rfs_node *n);

/* The current members of family F. */
static int list_family(struct rfs_ctx *c, const struct rfs_family *f,
		       list_fn fn, void *arg)
{
	char name[RFS_NAME_MAX];
	int rc = 0;

	if (f->child == RFS_REGION || f->child == RFS_REGION_DIR) {
		const struct rgn_fsview *v = rfs_ctx_view(c);

		for (size_t i = 0; v && i < v->nregions && !rc; i++) {
			struct rfs_node n = {.kind = f->child,
					     .arg = v->regions[i].id};

			f->format(n.arg, name, sizeof(name));
			rc = fn(arg, name, &n);
		}
		return rc;
	}
	{
		const struct rfs_segs *s = rfs_ctx_segs(c);

		for (size_t i = 0; i < s->n && !rc; i++) {
			struct rfs_node n = {.kind = f->child,
					     .arg = (uint32_t)s->seg[i].shmid};

			if (f->child == RFS_LEAK_LINK &&
			    !rfs_seg_leaked(c, &s->seg[i]))
				continue;
			f->format(n.arg, name, sizeof(name));
			rc = fn(arg, name, &n);
		}
	}
	return rc;
}

int rfs_list(struct rfs_ctx *c, const struct rfs_node *dir, list_fn fn,
	     void *arg)
{
	int rc = 0;

	for (size_t i = 0; i < rfs_nentries && !rc; i++) {
		const struct rfs_entry *e = &rfs_entries[i];
		struct rfs_node n;

		if (e->parent != dir->kind || !rfs_entry_visible(c, e))
			continue;
		if (e->dir)
			n = (struct rfs_node){.kind = e->dir, .arg = dir->arg};
		else
			n = (struct rfs_node){.kind = RFS_PSEUDO,
					      .entry = (uint32_t)i,
					      .arg = dir->arg};
		rc = fn(arg, e->name, &n);
	}
	for (size_t i = 0; i < rfs_nfamilies && !rc; i++)
		if (rfs_families[i].parent == dir->kind)
			rc = list_family(c, &rfs_families[i], fn, arg);
	return rc;
}

int rfs_readlink(const struct rfs_node *n, char *buf, size_t len)
{
	/* leaked/<shmid> -> ../<shmid>: the segment's own directory. */
	return snprintf(buf, len, "../%" PRIu32, n->arg);
}

/* ---- extended attributes of region files ---------------------------------- */

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
	int segment_only;	/* only for regions stored in a segment */
	int (*get)(const struct rgn_fsview *v,
		   const struct rgn_fsview_region *rg, char *buf, size_t len);
} rfs_xattrs[] = {
	{"user.region.name",    0, x_name},
	{"user.region.type",    0, x_type},
	{"user.region.backing", 0, x_backing},
	{"user.region.id",      0, x_id},
	{"user.region.key",     1, x_key},
	{"user.region.shmid",   1, x_shmid},
};

int rfs_xattr_get(const struct rgn_fsview *v, const struct rgn_fsview_region *rg,
		  const char *name, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(rfs_xattrs) / sizeof(rfs_xattrs[0]); i++) {
		const struct rfs_xattr *x = &rfs_xattrs[i];

		if (strcmp(x->name, name) != 0)
			continue;
		if (x->segment_only && rg->shmid < 0)
			return -ENODATA;
		return x->get(v, rg, buf, len);
	}
	return -ENODATA;
}

size_t rfs_xattr_list(const struct rgn_fsview_region *rg, char *buf,
		      size_t len)
{
	size_t used = 0;

	for (size_t i = 0; i < sizeof(rfs_xattrs) / sizeof(rfs_xattrs[0]); i++) {
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
