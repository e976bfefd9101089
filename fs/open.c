/*
 * open.c - the FUSE operations on opened files: open, read and release.
 * What a file does once open is its struct rfs_file_ops (rendered.c,
 * readers.c, bdbview.c), as the tables of entries.c name it; this file
 * only checks, holds and hands over.
 *
 * Opened files carry their state in fi->fh (struct rfs_open).  All are
 * opened with direct_io: contents change under us all the time, the page
 * cache would serve stale bytes and double the memory of a large region,
 * and direct reads reach us in requests as large as the reader's buffer
 * (up to just under 1 MiB, see regionfs_init).  But a region file the
 * kernel may read itself (passthrough.c) is opened in passthrough mode:
 * reads and maps go to the region file, never through us or a cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "regionfs.h"

/* ---- the operations ------------------------------------------------------ */

static void open_free(struct rfs_open *h)
{
	if (!h)
		return;
	if (h->ops && h->ops->release)
		h->ops->release(h);
	rfs_env_put(h->env);
	free(h);
}

static void open_put(struct rfs_open *h)
{
	if (__atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) == 0)
		open_free(h);
}

void rfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_ctx c = {
		.fs = fuse_req_userdata(req), .req = req, .opening = 1};
	const struct rfs_file_ops *ops = NULL;
	struct rfs_open *h = NULL;
	struct rfs_node n;
	struct stat st;
	double timeout;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		rc = rfs_refusal(c.fs);
	else
		rc = rfs_ino_stat(&c, ino, &n, &st, &timeout);
	if (rc == 0 && !(ops = rfs_node_ops(&n)))
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	if (rc == 0)
		rc = rfs_node_perm(&c, &n, &st, R_OK);
	/* Renderers take snapshots of their own; the requester stays. */
	rfs_ctx_drop(&c);
	if (rc == 0 && !(h = calloc(1, sizeof(*h))))
		rc = -ENOMEM;
	if (rc == 0) {
		h->refs = 1; /* the kernel's, dropped by release */
		/* Nothing open yet: release must close nothing (0 is a
		 * descriptor). */
		h->reader.fd = -1;
		h->reader.shmid = -1;
		h->ops = ops;
		if (n.kind == RFS_PSEUDO)
			h->renderer = &rfs_entries[n.entry].renderer;
		rc = ops->open(&c, &n, h);
	}
	rfs_ctx_done(&c);
	if (rc < 0) {
		open_free(h);
		rfs_reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	/* -ENOENT: the open was interrupted and no release will follow. */
	if (h->backing.id > 0)
		rc = rfs_passthrough_reply_open(req, fi->fh, &h->backing);
	else
		rc = fuse_reply_open(req, fi);
	if (rc == -ENOENT)
		open_free(h);
}

void rfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	struct rfs_open *h = (struct rfs_open *)(uintptr_t)fi->fh;

	(void)ino;
	__atomic_add_fetch(&h->refs, 1, __ATOMIC_RELAXED);
	h->ops->read(req, h, size, off);
	open_put(h);
}

void rfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	open_put((struct rfs_open *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}
