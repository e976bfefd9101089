/*
 * fsview.h - what the regionfs mount needs from an inspecting handle beyond
 * the public API: a light snapshot of the region table, a cheap generation
 * probe, region readers that keep a file descriptor (or a segment's
 * identity) for the life of one open file, and System V segments by id for
 * the mount's sysv/ directory (so that fs/ makes no System V call itself).
 *
 * Why not rgn_stat_env: a full snapshot reads every region's header and
 * walks its allocator; `ls -l` of 1000 regions needs only names, sizes,
 * modes and times, which the primary's table holds.  Why not
 * rgn_region_pread: it looks the slot up in a fresh copy of the primary
 * and opens the region's storage on every call, 256 times for one 256 MiB
 * read, and its copy into a buffer rules out splicing file pages.
 *
 * Library code (it reaches env.h internals) that never prints; calls return
 * 0 or a negative code (-errno or RGN_E*) with a detail for rgn_errdetail().
 * Nothing here maps a region file: readers use pread, segments are attached
 * read-only only for the duration of one copy, so an observer never takes
 * SIGBUS and never shows up as an attached process for longer than a read.
 */
#ifndef RGN_FSVIEW_H
#define RGN_FSVIEW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rgn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One region as the mount shows it. */
struct rgn_fsview_region {
	uint32_t id;		     /* region id, 1 = primary */
	uint32_t type;		     /* enum rgn_region_type */
	uint32_t flags;		     /* RGN_RF_* */
	int32_t shmid;		     /* segment id, -1 for a file */
	int32_t key;		     /* segment key, 0 if none/IPC_PRIVATE */
	uint32_t uid;		     /* owner of the file or segment */
	uint32_t gid;		     /* (the environment's when unknown) */
	uint32_t mode;		     /* its 0777 permission bits (the
					environment's mode when unknown) */
	uint64_t size;		     /* bytes */
	int64_t ctime;		     /* creation, seconds since the epoch */
	int64_t mtime;		     /* last change */
	uint64_t file_ino;	     /* the region file's inode number; 0
					for a segment, or if unknown */
	char name[RGN_NAME_MAX + 1]; /* region name */
};

/* The region table of an environment, without any region's header. */
struct rgn_fsview {
	uint64_t generation;		    /* ev_generation at the snapshot */
	enum rgn_backing backing;	    /* private: seen from outside */
	uint32_t mode;			    /* the environment's file mode */
	int32_t private_owner;		    /* private backing: the owner pid */
	uint32_t uid;			    /* owner of __db.001 (of the home */
	uint32_t gid;			    /*   directory for a private one) */
	uint32_t primary_mode;		    /* who may read the environment's
					       state: the 0777 bits of __db.001,
					       and of the primary segment too
					       when it is one (0 if unknown) */
	uint32_t home_uid;		    /* the home directory's owner, */
	uint32_t home_gid;		    /*   group */
	uint32_t home_mode;		    /*   and 0777 permission bits */
	int64_t ctime;			    /* environment creation */
	int64_t mtime;			    /* last region create or remove */
	size_t nregions;		    /* entries in regions */
	struct rgn_fsview_region regions[]; /* ascending id */
};

/*
 * Snapshot ENV's region table (ready regions only) with each region's
 * owner.  A private environment seen from outside yields backing private,
 * its owner pid and no regions.  Free with rgn_fsview_free().
 * Errors: those of reading the primary (-ENOENT when __db.001 is gone,
 * RGN_ECORRUPT when the home now holds another environment), -ENOMEM.
 */
int rgn_fsview_snapshot(rgn_env *env, struct rgn_fsview **vp);
void rgn_fsview_free(struct rgn_fsview *v);

/* The file name of region ID in the home ("__db.001"), as the core names
 * it; the mount shows regions under exactly these names. */
void rgn_fsview_region_name(uint32_t id, char *buf, size_t len);

/* The region of V with id ID, or NULL (binary search). */
const struct rgn_fsview_region *rgn_fsview_find(const struct rgn_fsview *v,
						uint32_t id);

/*
 * Read only the environment header to learn its generation (bumped by every
 * region create and remove), so an unchanged table need not be copied.
 * 0 for a private environment seen from outside.  Errors as for
 * rgn_fsview_snapshot.
 */
int rgn_fsview_generation(rgn_env *env, uint64_t *gen);

/*
 * A region opened for reading, through the backing's own reader (the ops
 * table's read_open / read_at / read_close), its header checked once at
 * open.  Files: FD stays open from open to close, so a reader may splice
 * from it (rgn_fsview_file_avail says how much the file still holds).
 * Segments: attached only inside rgn_fsview_lend, one read at a time, and
 * re-identified by creation time each time, so a recycled id is never
 * read and an observer never stays attached between reads.
 */
struct rgn_fsview_reader {
	uint32_t id;		    /* region id */
	uint32_t pad0;		    /* zero */
	uint64_t size;		    /* region bytes: reads stop here */
	int fd;			    /* files: the region file, else -1 */
	int32_t shmid;		    /* segments: the id, else -1 */
	struct rgn_fsview_rd *priv; /* opaque: handle, slot, identity */
};

/*
 * Open region ID of ENV for reading.  ENV must stay open until
 * rgn_fsview_reader_close.  Errors: -ENOENT (no such region, or it was
 * removed, or removed and made anew, between the table read and the
 * open), RGN_EPRIVATE, RGN_EBADMAGIC/RGN_ECORRUPT (the file or segment is
 * not this region's although the table still lists it), -EACCES, -EIO
 * (truncated below its header), -ENOMEM.
 */
int rgn_fsview_reader_open(rgn_env *env, uint32_t id,
			   struct rgn_fsview_reader *r);
/* Safe on a reader that failed to open or was zeroed with fd = -1. */
void rgn_fsview_reader_close(struct rgn_fsview_reader *r);

/* Called with the bytes asked for (N may be short at the end, 0 past it);
 * P is valid only during the call.  Its return is the lender's. */
typedef int (*rgn_fsview_lend_fn)(const void *p, size_t n, void *arg);

/*
 * Segments only: attach R's segment read-only if it is still the one
 * opened (not removed, not recycled), call FN with up to LEN bytes at OFF
 * straight from the attachment, and detach.  Returns FN's return, or
 * -ENOENT (removed or recycled), -EACCES, -EINVAL (a file reader: read
 * its FD instead).
 */
int rgn_fsview_lend(const struct rgn_fsview_reader *r, uint64_t off, size_t len,
		    rgn_fsview_lend_fn fn, void *arg);

/*
 * Files only: how many of LEN bytes at OFF the file can still supply
 * (it may have been truncated under us): LEN, less, or 0.  A negative code
 * if fstat fails.
 */
ssize_t rgn_fsview_file_avail(const struct rgn_fsview_reader *r, size_t len,
			      uint64_t off);

/* ---- System V segments by id, for sysv/ of the mount --------------------- */

/* What the kernel says of a segment now. */
struct rgn_fsview_segment {
	int32_t shmid;
	int32_t key;	     /* IPC_PRIVATE once marked for removal */
	uint32_t uid, gid;   /* owner */
	uint32_t cuid, cgid; /* creator */
	uint32_t mode;	     /* 0777 permission bits */
	int removing;	     /* marked for removal, still alive */
	uint64_t size;
	int64_t ctime; /* identity, with the id */
};

/*
 * Stat segment SHMID (needs no permission on it: the kernel index answers
 * then).  0, -ENOENT (no segment has that id), -errno.
 */
int rgn_fsview_segment_stat(int32_t shmid, struct rgn_fsview_segment *s);

/*
 * sysv/SHMID/data: attach SEEN (as rgn_fsview_segment_stat saw it) if that
 * id still names that segment, call FN with up to LEN bytes at OFF, detach.
 * A segment already marked for removal is still lent while it lives.
 * Returns FN's return, or -ENOENT (gone or recycled), -EACCES, -errno.
 */
int rgn_fsview_segment_lend(const struct rgn_fsview_segment *seen, uint64_t off,
			    size_t len, rgn_fsview_lend_fn fn, void *arg);

/*
 * A digest of everything the kernel's index says of every segment it
 * shows us (ids, keys, owners, modes, sizes, creators, nattch, last
 * attach and detach, times), from one SHM_STAT walk: no attach, no
 * /proc/sysvipc/shm (whose rendering of 4000 segments alone costs 7 ms).
 * Two equal digests mean no segment came, went, changed hands or was
 * attached or detached in between, so a leak scan taken after the first
 * one still holds but for what the kernel cannot see (a creator's exit, a
 * home removed).  0, or -errno.
 */
int rgn_fsview_segments_digest(uint64_t *digest);

#ifdef __cplusplus
}
#endif
#endif /* RGN_FSVIEW_H */
