/*
 * base.c - the bottom layer of regionfs: what every other file of fs/
 * may call and which calls nothing of fs/ itself.
 *
 * The one mapping of library codes to the errno values the kernel gets,
 * the error reply built on it, what a refused write answers, and the
 * daemon's clock for snapshot ages.  Kept apart so that the files above
 * share these without depending on one another.
 */
#include <errno.h>

#include "regionfs.h"

/*
 * The one place where library codes become errno values for the kernel.
 * RGN_* codes have no errno of their own: "not there" codes read as
 * ENOENT, a full table as ENOSPC, a foreign segment as EPERM, and damaged
 * or unreadable state as EIO.  -ENOSYS is never passed on: the kernel
 * would take it to mean that the operation is not implemented and never
 * ask again.
 */
int rfs_errno(int rc)
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

void rfs_reply_err(fuse_req_t req, int rc)
{
	fuse_reply_err(req, rfs_errno(rc));
}

/* What a write gets: the mount's read-only-ness, or that this name is not
 * ours to change. */
int rfs_refusal(const struct regionfs *fs)
{
	return fs->readwrite ? -EACCES : -EROFS;
}

int64_t rfs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
