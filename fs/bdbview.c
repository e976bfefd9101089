/*
 * bdbview.c - regionfs over a Berkeley DB home: the same tree as for one of
 * ours, made from the read-only reader of src/inspect/bdb*.c.
 *
 * The daemon never joins a Berkeley DB environment.  Everything here goes
 * through rgn_bdb_open (pread of __db.001 and the region files, a segment
 * attached read-only only while bytes are copied) and the tree's usual
 * machinery: the region table is published as an ordinary struct
 * rgn_fsview (bdbtable.c), so names, attributes, listings, permissions and
 * xattrs work as for our own homes, and only three things differ: how the
 * table is taken (bdbtable.c, in place of the core's), how a region file
 * is read (rfs_bdb_region_file, here) and what the pseudo-files render
 * (here, named by the rows' bdb column of rfs_entries).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "regionfs.h"

/* ---- renderings ---------------------------------------------------------- */

int rfs_bdb_render(struct rfs_ctx *c, const struct rfs_renderer *r,
		   uint32_t arg, char **out, size_t *len)
{
	struct rgn_bdb *b = NULL;
	/* A region's own figures need nobody's maps: spare the /proc scan. */
	unsigned flags = r->src == RFS_SRC_REGION ? RGN_BDB_OPEN_NOPROCS : 0;
	int rc = rgn_bdb_open_flags(c->fs->home, flags, &b);

	if (rc == RGN_BDB_NOT_BDB)
		return -ENOENT;
	if (rc < 0)
		return rc;
	rc = r->bdb(b, arg, out, len);
	rgn_bdb_close(b);
	return rc;
}

int rfs_bdb_stat_text(const struct rgn_bdb *b, uint32_t arg, char **out,
		      size_t *len)
{
	(void)arg;
	return rgn_render_bdb_text(b, time(NULL), out, len);
}

int rfs_bdb_stat_json(const struct rgn_bdb *b, uint32_t arg, char **out,
		      size_t *len)
{
	(void)arg;
	return rgn_render_bdb_json(b, time(NULL), out, len);
}

int rfs_bdb_procs(const struct rgn_bdb *b, uint32_t arg, char **out,
		  size_t *len)
{
	(void)arg;
	return rgn_render_bdb_procs_text(b, out, len);
}

int rfs_bdb_metrics(const struct rgn_bdb *b, uint32_t arg, char **out,
		    size_t *len)
{
	(void)arg;
	return rgn_render_bdb_prom(b, out, len);
}

int rfs_bdb_region_text(const struct rgn_bdb *b, uint32_t arg, char **out,
			size_t *len)
{
	return rgn_render_bdb_region_text(b, arg, out, len);
}

int rfs_bdb_region_json(const struct rgn_bdb *b, uint32_t arg, char **out,
			size_t *len)
{
	return rgn_render_bdb_region_json(b, arg, out, len);
}

/* ---- a region's bytes ---------------------------------------------------- */

/*
 * The snapshot taken at open names the file (by device and inode) or the
 * segment (by id, key and creation time) every read must still find, so a
 * region removed and made anew under an open file reads as an error, never
 * as another region's bytes.  Permissions are checked on the file or
 * segment as it is now.
 */
static int bdb_region_open(struct rfs_ctx *c, const struct rfs_node *n,
			   struct rfs_open *h)
{
	const struct rgn_bdb_region *rg = NULL;
	struct rgn_fsview_segment seg;
	struct stat st;
	int rc;

	rc = rgn_bdb_open_flags(c->fs->home, RGN_BDB_OPEN_NOPROCS, &h->bdb);
	if (rc != 0)
		return rc == RGN_BDB_NOT_BDB ? -ENOENT : rc;
	for (uint32_t i = 0; i < h->bdb->nregions; i++)
		if (h->bdb->regions[i].slot.id == n->arg &&
		    h->bdb->regions[i].present)
			rg = &h->bdb->regions[i];
	if (!rg)
		return -ENOENT;
	h->reader.id = n->arg;
	if (h->bdb->sysmem) {
		rc = rgn_fsview_segment_stat((int32_t)rg->slot.segid, &seg);
		if (rc < 0)
			return rc;
		return rfs_perm(c, seg.uid, seg.gid, seg.cuid, seg.cgid,
				seg.mode, R_OK);
	}
	if (fstatat(h->bdb->dirfd, rg->file, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return rfs_perm(c, st.st_uid, st.st_gid, st.st_uid, st.st_gid,
			st.st_mode, R_OK);
}

static void bdb_region_read(fuse_req_t req, struct rfs_open *h, size_t size,
			    off_t off)
{
	char *buf = malloc(size ? size : 1);
	int64_t r;

	if (!buf) {
		rfs_reply_err(req, -ENOMEM);
		return;
	}
	r = rgn_bdb_read_region(h->bdb, h->reader.id, (uint64_t)off, buf, size);
	if (r < 0)
		rfs_reply_err(req, (int)r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
	free(buf);
}

static void bdb_region_release(struct rfs_open *h)
{
	rgn_bdb_close(h->bdb);
	h->bdb = NULL;
}

const struct rfs_file_ops rfs_bdb_region_file = {
	.stat = rfs_stat_region_file,
	.open = bdb_region_open,
	.read = bdb_region_read,
	.release = bdb_region_release,
};
