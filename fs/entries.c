/*
 * entries.c - the tree regionfs shows, as two tables.
 *
 * rfs_entries lists every fixed name (pseudo-files and subdirectories):
 * the kind of directory it appears in, its mode, the source of its
 * attributes and what opening it does (a rendering, from which snapshot,
 * by which renderer; or a reader of bytes): lookup, getattr, readdir and
 * open all walk it (tree.c), so adding a file is one line here (in the
 * manner of Linux's pid_entry tables).  rfs_families lists the names that
 * come and go (regions and segments) with how to parse and print them and
 * what opening a member does.
 *
 * The tables only name: what a file does is rendered.c's, readers.c's or
 * bdbview.c's, and contents always come from the renderers of
 * src/inspect/, the same code that prints `regionctl stat` and
 * `regionctl leaks`, so the mount and the tool can never disagree.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regionfs.h"

/* ---- the tables ---------------------------------------------------------- */

/*
 * One macro per kind of row, as Linux's DIR/REG/ONE: a subdirectory; a
 * rendering, by the snapshot it renders (ENV the environment, PROCS its
 * processes, REGION one region, SCAN a leak scan, LEAK one segment, OWN a
 * renderer of the row's own); a reader of bytes.  SHARED rows vanish for
 * a private environment.  Rows and macros are laid out by hand, as a
 * table reads best.
 */
/* clang-format off */
#define DIR(par, name, kind, shared) \
	{par, name, kind, 0555, 0, shared, NULL, {0, {.own = NULL}, NULL}}
#define RENDER(par, name, mode, at, shared, src, member, fn, bdbfn) \
	{par, name, 0, mode, at, shared, &rfs_rendered, \
	 {src, {.member = fn}, bdbfn}}
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
	{par, name, 0, mode, at, sh, &ops, {0, {.own = NULL}, NULL}}

const struct rfs_entry rfs_entries[] = {
	/*     directory        name         mode  attributes     shared  content                 Berkeley DB home */
	ENV   (RFS_ROOT,        "stat",      0444, RFS_AT_ENV,    0, rgn_render_env_text,    rfs_bdb_stat_text),
	ENV   (RFS_ROOT,        "stat.json", 0444, RFS_AT_ENV,    0, rgn_render_env_json,    rfs_bdb_stat_json),
	PROCS (RFS_ROOT,        "processes", 0444, RFS_AT_ENV,    1, rgn_render_procs_text,  rfs_bdb_procs),
	OWN   (RFS_ROOT,        "metrics",   0444, RFS_AT_ENV,    0, rfs_render_metrics,     rfs_bdb_metrics),
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
 * MNT/__db.NNN, whatever the home holds: our region (readers.c) or a Berkeley
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

/* clang-format off */
const struct rfs_family rfs_families[] = {
	/* directory    member kind      parse         format        opens */
	{RFS_ROOT,     RFS_REGION,      parse_region, format_region, &region_any_file},
	{RFS_REGIONS,  RFS_REGION_DIR,  parse_region, format_region, NULL},
	{RFS_SYSV,     RFS_SEGMENT_DIR, parse_shmid,  format_shmid,  NULL},
	{RFS_LEAKED,   RFS_LEAK_LINK,   parse_shmid,  format_shmid,  NULL},
};
/* clang-format on */
const size_t rfs_nfamilies = sizeof(rfs_families) / sizeof(rfs_families[0]);
