/*
 * readers.c - the files whose bytes are read, not rendered: a region of
 * our own (MNT/__db.NNN) and a segment's data (MNT/sysv/SHMID/data), each
 * a struct rfs_file_ops that the tables of entries.c name.
 *
 * A region keeps its reader (the region file's descriptor, or its
 * segment's identity).  A read is answered straight from the region
 * file's descriptor (fuse_reply_data, spliced when the kernel allows) or
 * straight from the segment, lent by fsview for the one reply: no copy of
 * ours, and no System V call here.  Permissions are checked again at open
 * on what was opened, as it is now.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "regionfs.h"

/* ---- lending segment bytes to one reply ---------------------------------- */

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

/*
 * Reply with the lent bytes, straight from the attachment to the device.
 * A fresh attachment has no page tables yet; populating them in one call
 * beats a fault per page inside the kernel's copy (2.4 against 2.0 GB/s
 * reading a 256 MiB segment).  Attaching per request is the price of
 * never counting as an attached process between reads.
 */
static int reply_lent(const void *p, size_t n, void *arg)
{
	fuse_req_t req = arg;
	uintptr_t a = (uintptr_t)p, lo = a & ~(uintptr_t)(page_size() - 1);

	if (n)
		madvise((void *)lo, n + (a - lo), MADV_POPULATE_READ);
	fuse_reply_buf(req, p, n);
	return 0;
}

/* ---- a region's bytes ---------------------------------------------------- */

/* A region, its permissions checked again on what was opened: the file's
 * or the segment's own, as they are now, not as a snapshot saw them. */
static int region_open(struct rfs_ctx *c, const struct rfs_node *n,
		       struct rfs_open *h)
{
	struct rgn_fsview_segment seg;
	struct stat st;
	int rc;

	h->env = rfs_env_get(c->fs);
	rc = rgn_fsview_reader_open(h->env->env, n->arg, &h->reader);
	if (rc < 0)
		return rc;
	if (h->reader.fd >= 0) {
		if (fstat(h->reader.fd, &st) < 0)
			return -errno;
		rc = rfs_perm(c, st.st_uid, st.st_gid, st.st_uid, st.st_gid,
			      st.st_mode, R_OK);
		if (rc < 0)
			return rc;
		/*
		 * An inode of another file of the region: a name the kernel
		 * kept from before the region was made again.  ESTALE makes
		 * the kernel walk the path once more, asking us; a table
		 * taken now then gives it the inode of this file; if that
		 * is stale again, the region is being made again and again:
		 * ENOENT, as for any region gone at open (see
		 * rfs_region_stale).  (Opening this file
		 * through that inode cannot work: the kernel fails any open
		 * of an inode that names another backing file than it reads
		 * through already.)
		 */
		if (RFS_TAG(st.st_ino) != n->tag) {
			rc = rfs_region_stale(c, n->arg);
			if (rc == -ESTALE)
				rfs_view_put(rfs_view_get(c->fs, 1));
			return rc;
		}
		rfs_region_fresh(c, n->arg);
		/* The kernel reads the file itself where it can; otherwise,
		 * or if it refuses, every read comes to region_read. */
		rfs_passthrough_get(c->fs, n->arg, h->reader.fd, &h->backing);
		return 0;
	}
	rc = rgn_fsview_segment_stat(h->reader.shmid, &seg);
	if (rc < 0)
		return rc;
	return rfs_perm(c, seg.uid, seg.gid, seg.cuid, seg.cgid, seg.mode,
			R_OK);
}

static void region_read(fuse_req_t req, struct rfs_open *h, size_t size,
			off_t off)
{
	const struct rgn_fsview_reader *r = &h->reader;
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(0);
	ssize_t avail;
	int rc;

	if (r->fd < 0) {
		rc = rgn_fsview_lend(r, (uint64_t)off, size, reply_lent, req);
		if (rc < 0)
			rfs_reply_err(req, rc);
		return;
	}
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
		rfs_reply_err(req, avail < 0 ? (int)avail : -EIO);
		return;
	}
	bv.buf[0].size = (size_t)avail;
	bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	bv.buf[0].fd = r->fd;
	bv.buf[0].pos = off;
	fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
}

static void region_release(struct rfs_open *h)
{
	rfs_passthrough_put(&h->backing);
	rgn_fsview_reader_close(&h->reader);
}

const struct rfs_file_ops rfs_region_file = {
	.stat = rfs_stat_region_file,
	.open = region_open,
	.read = region_read,
	.release = region_release,
};

/* ---- sysv/SHMID/data ----------------------------------------------------- */

/* Readable by the segment's owner or creator, as the kernel decides. */
static int segdata_perm(struct rfs_ctx *c, const struct rfs_node *n,
			const struct stat *st, int mask)
{
	const struct rfs_seg *g =
		rfs_segs_find(rfs_ctx_segs(c), (int32_t)n->arg);

	return rfs_perm(c, st->st_uid, st->st_gid, g ? g->cuid : st->st_uid,
			g ? g->cgid : st->st_gid, st->st_mode, mask);
}

/* The segment's permissions, read afresh, decide; its identity (id and
 * creation time) is what every read re-checks. */
static int segdata_open(struct rfs_ctx *c, const struct rfs_node *n,
			struct rfs_open *h)
{
	int rc = rgn_fsview_segment_stat((int32_t)n->arg, &h->seg);

	if (rc < 0)
		return rc;
	return rfs_perm(c, h->seg.uid, h->seg.gid, h->seg.cuid, h->seg.cgid,
			h->seg.mode, R_OK);
}

static void segdata_read(fuse_req_t req, struct rfs_open *h, size_t size,
			 off_t off)
{
	int rc = rgn_fsview_segment_lend(&h->seg, (uint64_t)off, size,
					 reply_lent, req);

	if (rc < 0)
		rfs_reply_err(req, rc);
}

const struct rfs_file_ops rfs_segment_data = {
	.stat = rfs_stat_segment_data,
	.perm = segdata_perm,
	.open = segdata_open,
	.read = segdata_read,
};
