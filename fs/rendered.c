/*
 * rendered.c - the pseudo-files that are renderings (stat, stat.json,
 * processes, metrics, and the stat files of regions/ and sysv/): what each
 * is made from, and the open file that holds one.
 *
 * A rendering is made once, at open, from a snapshot taken then, into a
 * buffer that every read of that open slices: one open sees one
 * consistent snapshot (as lxcfs does).  The bytes always come from the
 * renderers of src/inspect/render*.c, the same code that prints
 * `regionctl stat` and `regionctl leaks`, so the mount and the tool can
 * never disagree.  Which renderer, from which snapshot, is the row's
 * choice (struct rfs_renderer in entries.c's table).
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "regionfs.h"

/* ---- what a rendering is made from --------------------------------------- */

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
static int render_env(struct rfs_ctx *c, const struct rfs_renderer *r,
		      uint32_t id, char **out, size_t *len)
{
	struct rgn_env_stat *st = NULL;
	const struct rgn_region_stat *rs;
	int rc = r->src == RFS_SRC_REGION ? rfs_stat_region(c->fs, id, &st)
					  : rfs_stat_env(c->fs, &st);

	if (rc < 0)
		return rc;
	switch (r->src) {
	case RFS_SRC_ENV:
		rc = r->fn.env(st, time(NULL), out, len);
		break;
	case RFS_SRC_PROCS:
		rc = r->fn.procs(st, out, len);
		break;
	default:
		rs = rgn_render_find_region(st, id);
		rc = rs ? r->fn.region(st, rs, out, len) : -ENOENT;
		break;
	}
	rgn_stat_free(st);
	return rc;
}

/* One segment, classified afresh, as the requester may see it. */
static int render_leak(struct rfs_ctx *c, const struct rfs_renderer *r,
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
	rc = seg ? r->fn.leak(seg, out, len) : -ENOENT;
	rgn_leak_free(one);
	return rc;
}

static int render_scan(struct rfs_ctx *c, const struct rfs_renderer *r,
		       char **out, size_t *len)
{
	struct rgn_leak_scan *scan = NULL;
	int rc = rfs_scan(c->fs, &scan);

	if (rc < 0)
		return rc;
	rgn_leak_scan_redact(scan, may_read_leak, c);
	rc = r->fn.scan(scan, out, len);
	rfs_scan_release(c->fs, scan);
	return rc;
}

/*
 * MNT/metrics: this mount's own environment only, every series labelled
 * with its home.  Host-wide System V series (regionfs_shm_*) are left to
 * one exporter per host (`regionctl leaks --prometheus`): two mounts would
 * otherwise expose the same series twice, which collectors reject.
 */
int rfs_render_metrics(struct rfs_ctx *c, uint32_t arg, char **out, size_t *len)
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

int rfs_render(struct rfs_ctx *c, const struct rfs_renderer *r, uint32_t arg,
	       char **out, size_t *len)
{
	/* A Berkeley DB home has no environment of ours to snapshot: its
	 * rows render from a snapshot of its own (bdbview.c). */
	if (c->fs->bdb && r->bdb)
		return rfs_bdb_render(c, r, arg, out, len);
	switch (r->src) {
	case RFS_SRC_ENV:
	case RFS_SRC_PROCS:
	case RFS_SRC_REGION:
		return render_env(c, r, arg, out, len);
	case RFS_SRC_SCAN:
		return render_scan(c, r, out, len);
	case RFS_SRC_LEAK:
		return render_leak(c, r, arg, out, len);
	case RFS_SRC_OWN:
		return r->fn.own(c, arg, out, len);
	}
	return -EIO;
}

/* ---- the open file ------------------------------------------------------- */

static int rendered_open(struct rfs_ctx *c, const struct rfs_node *n,
			 struct rfs_open *h)
{
	return rfs_render(c, h->renderer, n->arg, &h->buf, &h->len);
}

static void rendered_read(fuse_req_t req, struct rfs_open *h, size_t size,
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

static void rendered_release(struct rfs_open *h)
{
	free(h->buf);
	h->buf = NULL;
}

const struct rfs_file_ops rfs_rendered = {
	.open = rendered_open,
	.read = rendered_read,
	.release = rendered_release,
};
