/*
 * entries.c - the tree regionfs shows, as two tables.
 *
 * rfs_entries lists every fixed name (pseudo-files and subdirectories):
 * the kind of directory it appears in, its mode, the source of its
 * attributes and what opening it does (a rendering, from which snapshot,
 * by which renderer; or a reader of bytes): lookup, getattr, readdir and
 * open all walk it, so adding a file is one line here (in the manner of
 * Linux's pid_entry tables).  rfs_families lists the names that come and
 * go (regions and segments) with how to parse and print them and what
 * opening a member does.
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

#include "regionfs.h"

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

/* ---- renderings ------------------------------------------------------------ */

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

/* From a snapshot of the environment taken now: all of it, or (for the
 * files of regions/__db.NNN) just region ID. */
static int render_env(struct rfs_ctx *c, const struct rfs_entry *e,
		      uint32_t id, char **out, size_t *len)
{
	struct rgn_env_stat *st = NULL;
	const struct rgn_region_stat *rs;
	int rc = e->src == RFS_SRC_REGION ? rfs_stat_region(c->fs, id, &st)
					  : rfs_stat_env(c->fs, &st);

	if (rc < 0)
		return rc;
	switch (e->src) {
	case RFS_SRC_ENV:
		rc = e->render.env(st, time(NULL), out, len);
		break;
	case RFS_SRC_PROCS:
		rc = e->render.procs(st, out, len);
		break;
	default:
		rs = rgn_render_find_region(st, id);
		rc = rs ? e->render.region(st, rs, out, len) : -ENOENT;
		break;
	}
	rgn_stat_free(st);
	return rc;
}

/* One segment, classified afresh, as the requester may see it. */
static int render_leak(struct rfs_ctx *c, const struct rfs_entry *e,
		       uint32_t shmid, char **out, size_t *len)
{
	struct rgn_leak_scan *one = NULL;
	struct rgn_leak *seg = NULL;
	int rc = rgn_leak_stat((int32_t)shmid, &one);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < one->nsegs && !seg; i++)
		if (one->segs[i].shmid == (int32_t)shmid)
			seg = &one->segs[i];
	if (seg && !rfs_leak_readable(c, seg))
		rgn_leak_redact(seg);
	rc = seg ? e->render.leak(seg, out, len) : -ENOENT;
	rgn_leak_free(one);
	return rc;
}

static int render_scan(struct rfs_ctx *c, const struct rfs_entry *e,
		       char **out, size_t *len)
{
	struct rgn_leak_scan *scan = NULL;
	int rc = rfs_scan(c->fs, &scan);

	if (rc < 0)
		return rc;
	rgn_leak_scan_redact(scan, may_read_leak, c);
	rc = e->render.scan(scan, out, len);
	rfs_scan_release(c->fs, scan);
	return rc;
}

/*
 * MNT/metrics: this mount's own environment only, every series labelled
 * with its home.  Host-wide System V series (regionfs_shm_*) are left to
 * one exporter per host (`regionctl leaks --prometheus`): two mounts would
 * otherwise expose the same series twice, which collectors reject.
 */
static int render_metrics(struct rfs_ctx *c, uint32_t arg, char **out,
			  size_t *len)
{
	struct rgn_env_stat *st = NULL;
	const struct rgn_env_stat *envs[1];
	int rc;

	(void)arg;
	/* A home removed: the exposition then just lacks its families. */
	if (rfs_stat_env(c->fs, &st) < 0)
		st = NULL;
	envs[0] = st;
	rc = rgn_render_prometheus(envs, st ? 1 : 0, NULL, out, len);
	rgn_stat_free(st);
	return rc;
}

int rfs_render(struct rfs_ctx *c, const struct rfs_node *n, char **out,
	       size_t *len)
{
	const struct rfs_entry *e = &rfs_entries[n->entry];

	/* A Berkeley DB home has no environment of ours to snapshot: its
	 * rows render from a snapshot of its own (bdbview.c). */
	if (c->fs->bdb && e->bdb)
		return rfs_bdb_render(c, e, n->arg, out, len);
	switch (e->src) {
	case RFS_SRC_ENV:
	case RFS_SRC_PROCS:
	case RFS_SRC_REGION:
		return render_env(c, e, n->arg, out, len);
	case RFS_SRC_SCAN:
		return render_scan(c, e, out, len);
	case RFS_SRC_LEAK:
		return render_leak(c, e, n->arg, out, len);
	case RFS_SRC_OWN:
		return e->render.own(c, n->arg, out, len);
	}
	return -EIO;
}

/* ---- the tables ----------------------------------------------------------- */

/*
 * One macro per kind of row, as Linux's DIR/REG/ONE: a subdirectory; a
 * rendering, by the snapshot it renders (ENV the environment, PROCS its
 * processes, REGION one region, SCAN a leak scan, LEAK one segment, OWN a
 * renderer of the row's own); a reader of bytes.  SHARED rows vanish for
 * a private environment.
 */
#define DIR(par, name, kind, shared) \
	{par, name, kind, 0555, 0, shared, NULL, 0, {.own = NULL}, NULL}
#define RENDER(par, name, mode, at, shared, src, member, fn, bdbfn) \
	{par, name, 0, mode, at, shared, &rfs_rendered, src, {.member = fn}, \
	 bdbfn}
#define ENV(par, name, mode, at, sh, fn, bdbfn) \
	RENDER(par, name, mode, at, sh, RFS_SRC_ENV, env, fn, bdbfn)
#define PROCS(par, name, mode, at, sh, fn, bdbfn) \
	RENDER(par, name, mode, at, sh, RFS_SRC_PROCS, procs, fn, bdbfn)
#define REGION(par, name, mode, at, sh, fn, bdbfn) \
	RENDER(par, name, mode, at, sh, RFS_SRC_REGION, region, fn, bdbfn)
#define SCAN(par, name, mode, at, sh, fn) \
	RENDER(par, name, mode, at, sh, RFS_SRC_SCAN, scan, fn, NULL)
#define LEAK(par, name, mode, at, sh, fn) \
	RENDER(par, name, mode, at, sh, RFS_SRC_LEAK, leak, fn, NULL)
#define OWN(par, name, mode, at, sh, fn, bdbfn) \
	RENDER(par, name, mode, at, sh, RFS_SRC_OWN, own, fn, bdbfn)
#define READER(par, name, mode, at, sh, ops) \
	{par, name, 0, mode, at, sh, &ops, 0, {.own = NULL}, NULL}

/* clang-format off */
const struct rfs_entry rfs_entries[] = {
	/*     directory        name         mode  attributes     shared  content                 Berkeley DB home */
	ENV   (RFS_ROOT,        "stat",      0444, RFS_AT_ENV,    0, rgn_render_env_text,    rfs_bdb_stat_text),
	ENV   (RFS_ROOT,        "stat.json", 0444, RFS_AT_ENV,    0, rgn_render_env_json,    rfs_bdb_stat_json),
	PROCS (RFS_ROOT,        "processes", 0444, RFS_AT_ENV,    1, rgn_render_procs_text,  rfs_bdb_procs),
	OWN   (RFS_ROOT,        "metrics",   0444, RFS_AT_ENV,    0, render_metrics,         rfs_bdb_metrics),
	DIR   (RFS_ROOT,        "regions",   RFS_REGIONS,         1),
	DIR   (RFS_ROOT,        "sysv",      RFS_SYSV,            0),
	REGION(RFS_REGION_DIR,  "stat",      0444, RFS_AT_REGION, 0, rgn_render_region_text, rfs_bdb_region_text),
	REGION(RFS_REGION_DIR,  "stat.json", 0444, RFS_AT_REGION, 0, rgn_render_region_json, rfs_bdb_region_json),
	SCAN  (RFS_SYSV,        "stat",      0444, RFS_AT_DAEMON, 0, rgn_render_leaks_summary),
	DIR   (RFS_SYSV,        "leaked",    RFS_LEAKED,          0),
	LEAK  (RFS_SEGMENT_DIR, "stat",      0444, RFS_AT_DAEMON, 0, rgn_render_leak_text),
	LEAK  (RFS_SEGMENT_DIR, "stat.json", 0444, RFS_AT_DAEMON, 0, rgn_render_leak_json),
	READER(RFS_SEGMENT_DIR, "data",      0444, RFS_AT_DAEMON, 0, rfs_segment_data),
};
/* clang-format on */
const size_t rfs_nentries = sizeof(rfs_entries) / sizeof(rfs_entries[0]);

#undef DIR
#undef RENDER
#undef ENV
#undef PROCS
#undef REGION
#undef SCAN
#undef LEAK
#undef OWN
#undef READER

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

/*
 * MNT/__db.NNN, whatever the home holds: our region (open.c) or a Berkeley
 * DB one (bdbview.c).  Open picks the reader and hands the open file to
 * it, so read and release go straight to the chosen one.
 */
static int region_any_open(struct rfs_ctx *c, const struct rfs_node *n,
			   struct rfs_open *h)
{
	h->ops = c->fs->bdb ? &rfs_bdb_region_file : &rfs_region_file;
	return h->ops->open(c, n, h);
}

static const struct rfs_file_ops region_any_file = {
	.stat = rfs_stat_region_file,
	.open = region_any_open,
};

const struct rfs_family rfs_families[] = {
	/* directory    member kind      parse         format        opens */
	{RFS_ROOT,     RFS_REGION,      parse_region, format_region, &region_any_file},
	{RFS_REGIONS,  RFS_REGION_DIR,  parse_region, format_region, NULL},
	{RFS_SYSV,     RFS_SEGMENT_DIR, parse_shmid,  format_shmid,  NULL},
	{RFS_LEAKED,   RFS_LEAK_LINK,   parse_shmid,  format_shmid,  NULL},
};
const size_t rfs_nfamilies = sizeof(rfs_families) / sizeof(rfs_families[0]);

const struct rfs_file_ops *rfs_node_ops(const struct rfs_node *n)
{
	if (n->kind == RFS_PSEUDO)
		return rfs_entries[n->entry].ops;
	for (size_t i = 0; i < rfs_nfamilies; i++)
		if (rfs_families[i].child == n->kind)
			return rfs_families[i].ops;
	return NULL;
}

int rfs_entry_visible(struct rfs_ctx *c, const struct rfs_entry *e)
{
	return !e->shared || !rfs_is_private(c);
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

