/*
 * shmid.h - "is this still the segment I saw?", asked one way everywhere.
 *
 * A System V id outlives our knowledge of it: the segment may be removed,
 * marked for removal (IPC_RMID while attached: the kernel then turns its key
 * to IPC_PRIVATE and sets SHM_DEST), or the id recycled for another segment
 * with a new creation time.  Every caller that holds an id from an earlier
 * look (a region table slot, a leak scan, an open file of the mount) asks
 * rgn_shm_identify() and switches on the one state it returns, in the manner
 * of PostgreSQL's sysv_shmem.c.  Whether reading a segment that is already
 * marked for removal is acceptable is the caller's visible choice (a case of
 * its switch), never a side effect of how a key was compared.
 *
 * Also here, once: the walk over the kernel's segment index (SHM_STAT_ANY,
 * which needs no permission on the segment, falling back to SHM_STAT on
 * kernels before 4.17), stat by id that falls back to that walk, and the
 * mapping of shmctl/shmat errors to our codes (EINVAL and EIDRM: -ENOENT).
 *
 * Core code: no detail is recorded unless a call says so; nothing prints.
 */
#ifndef RGN_SHMID_H
#define RGN_SHMID_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum rgn_shm_state {
	RGN_SHM_GONE = 0,   /* no segment has that id any more */
	RGN_SHM_RECYCLED,   /* the id names another segment now
			       (creation time or key differ) */
	RGN_SHM_REMOVING,   /* the one seen, marked for removal: it
			       lives until its last detach */
	RGN_SHM_FOREIGN,    /* the one seen, but the header check said
			       it is not what the caller expects */
	RGN_SHM_ATTACHED,   /* the one seen (and the caller's, if it
			       checked), nattch > 0 */
	RGN_SHM_UNATTACHED, /* the same, nobody attached */
	RGN_SHM_UNKNOWN	    /* could not tell: see the error code */
};

/* What the kernel says of a segment now (IPC_STAT / SHM_STAT_ANY). */
struct rgn_shm_info {
	int32_t shmid;	     /* its id */
	int32_t key;	     /* IPC_PRIVATE (0) once marked for removal */
	uint32_t uid, gid;   /* owner */
	uint32_t cuid, cgid; /* creator */
	uint32_t mode;	     /* permission bits and SHM_DEST, SHM_LOCKED */
	uint64_t size;	     /* shm_segsz */
	uint64_t nattch;     /* processes attached */
	int32_t cpid;	     /* creator pid */
	int32_t lpid;	     /* last shmat/shmdt */
	int64_t atime, dtime, ctime;
};

/* What was seen of a segment before: its id, key and creation time. */
struct rgn_shm_seen {
	int32_t shmid;
	int32_t key;   /* IPC_PRIVATE matches only IPC_PRIVATE, but
			  see RGN_SHM_ANY_KEY */
	int64_t ctime; /* 0: not known, the key alone decides */
};

/* The key does not identify it (files without mmap use IPC_PRIVATE keys):
 * only the creation time does.  A flag for rgn_shm_identify(). */
#define RGN_SHM_ANY_KEY 0x1u

/* Returned by a header check: 1 the segment is the caller's, 0 it is not,
 * negative: could not read it. */
typedef int (*rgn_shm_check_fn)(const void *base, uint64_t size, void *arg);

/*
 * Identify SEEN now.  INFO (optional) gets the kernel's figures.  CHECK
 * (optional) is called with the segment attached read-only, only when the
 * segment is still the one seen and not marked for removal; without it
 * the state says nothing of whose it is.  *ERR (optional) gets the code
 * behind RGN_SHM_UNKNOWN (-EACCES, -errno) and 0 otherwise.
 */
enum rgn_shm_state rgn_shm_identify(const struct rgn_shm_seen *seen,
				    uint32_t flags, rgn_shm_check_fn check,
				    void *arg, struct rgn_shm_info *info,
				    int *err);

/* "gone", "recycled", "removing", "foreign", "attached", "unattached",
 * "unknown". */
const char *rgn_shm_state_name(enum rgn_shm_state st);

/*
 * Stat SHMID: IPC_STAT, and without read permission the kernel index,
 * which needs none.  0, -ENOENT (no such segment), -EACCES, -errno.
 */
int rgn_shm_stat(int32_t shmid, struct rgn_shm_info *info);

/*
 * Call FN for every segment of the IPC namespace, in index order, with
 * what SHM_STAT_ANY (or, on older kernels, SHM_STAT) shows.  *DENIED
 * (optional) counts segments that SHM_STAT could not show us.  FN returns
 * 0 to go on, anything else to stop the walk and be returned.
 */
int rgn_shm_walk(int (*fn)(const struct rgn_shm_info *info, void *arg),
		 void *arg, size_t *denied);

/* The segment holding KEY, found by the kernel index (no permission
 * needed): 0 with *INFO, or -ENOENT. */
int rgn_shm_find_key(int32_t key, struct rgn_shm_info *info);

/* The code for a failed shmctl/shmat errno: EINVAL and EIDRM (no such
 * segment) -ENOENT, EACCES -EACCES, anything else -errno. */
int rgn_shm_errno(int e);

/*
 * Attach SEEN read-only, if it is still the segment seen.  Marked for
 * removal is accepted only with RGN_SHM_ALLOW_REMOVING (its bytes are
 * still intact until the last detach).  *BASE and *SIZE (its shm_segsz)
 * on success; detach with rgn_shm_detach().  -ENOENT (gone or recycled,
 * or removing when not allowed), -EACCES, -errno.
 */
#define RGN_SHM_ALLOW_REMOVING 0x2u
int rgn_shm_attach_ro(const struct rgn_shm_seen *seen, uint32_t flags,
		      const void **base, uint64_t *size);
void rgn_shm_detach(const void *base);

#endif /* RGN_SHMID_H */
