/*
 * rgn.h - libregion: shared-memory environments and regions.
 *
 * An environment is a home directory in which processes create named
 * shared-memory regions.  Regions are backed by files in the home (the
 * default), by System V segments, or by the heap of one private process.
 * Memory inside a region is addressed by offsets from the region's start,
 * because every process maps a region at its own address.
 *
 * Error model: every call that can fail returns 0 or a negative code.  OS
 * failures are -errno; library failures are the RGN_E* codes below, in a
 * reserved block that no errno reaches.  rgn_strerror() explains both, and
 * rgn_errdetail() gives the calling thread's context for its last failure
 * (the syscall, path, key or pid involved).  The library never prints.
 *
 * Thread safety: environment and region handles may be used from several
 * threads at once.  A region handle must not be used after it is detached,
 * and no handle after rgn_env_close().
 */
#ifndef RGN_H
#define RGN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef RGN_API
#define RGN_API __attribute__((visibility("default")))
#endif

/* ---- errors ------------------------------------------------------------ */

#define RGN_EBASE (-30600)
enum {
	RGN_EBADMAGIC = RGN_EBASE,    /* file or segment is not ours (magic) */
	RGN_EVERSION = RGN_EBASE - 1, /* written by a newer/unknown format */
	RGN_ECORRUPT = RGN_EBASE - 2, /* shared state fails validation */
	RGN_EINCOMPLETE = RGN_EBASE - 3, /* a creator died mid-create */
	RGN_EFOREIGN = RGN_EBASE - 4, /* another program's segment at our key */
	RGN_EPRIVATE = RGN_EBASE - 5, /* home held by a private environment */
	RGN_ENOKEY = RGN_EBASE - 6,   /* system memory needs a valid base key */
	RGN_EPANIC = RGN_EBASE - 7,   /* environment marked panicked */
	RGN_EFULL = RGN_EBASE - 8, /* region table or process registry full */
	RGN_EBACKING =
		RGN_EBASE - 9, /* backing differs from the recorded one */
	RGN_ENOTENV = RGN_EBASE - 10,	  /* home holds no environment */
	RGN_EFOREIGNENV = RGN_EBASE - 11, /* home holds another program's
					     environment (Berkeley DB's) */
	RGN_ELAST = RGN_EBASE - 11
};

/* Text for a code returned by any rgn_ call: strerror's for a negative
 * errno, and for an RGN_E* code its name and what it means
 * ("RGN_ENOTENV: home holds no environment"). */
RGN_API const char *rgn_strerror(int err);

/*
 * Context of the calling thread's most recent failure, e.g.
 * "shmget key 0x5eed0001: segment shmid 7 owned by uid 1000, creator pid 42".
 * Empty string when there is none.  Valid until the thread's next rgn_ call.
 */
RGN_API const char *rgn_errdetail(void);

/* ---- environments ------------------------------------------------------- */

typedef struct rgn_env rgn_env;
typedef struct rgn_region rgn_region;

enum rgn_backing {
	RGN_BACKING_FILES = 1,	/* __db.NNN files in the home, mmap'd */
	RGN_BACKING_SYSV = 2,	/* System V segments at base key + id - 1 */
	RGN_BACKING_PRIVATE = 3 /* the heap of the one process that opens it */
};

/* Open flags. */
#define RGN_CREATE  0x0001u /* create the environment if it does not exist */
#define RGN_EXCL    0x0002u /* with RGN_CREATE: fail with -EEXIST if it does */
#define RGN_INSPECT 0x0004u /* read-only observer: not registered, no locks */
#define RGN_NOMMAP  0x0008u /* files backing: as if mmap were missing */

/* Remove flags. */
#define RGN_FORCE 0x0001u /* remove even while live processes are attached */

struct rgn_env_config {
	uint32_t flags; /* RGN_CREATE, RGN_EXCL, RGN_INSPECT, RGN_NOMMAP */
	enum rgn_backing backing; /* 0: files at create, and at join whatever
				     was recorded; else it must match */
	int32_t shm_key; /* system memory base key; region N uses key+N-1 */
	mode_t mode;	 /* files and segments; default 0660 */
};

/* Fill *cfg with the defaults: join only, backing 0 (files when creating),
 * no key, mode 0660.  A private environment is always created afresh. */
RGN_API void rgn_env_config_init(struct rgn_env_config *cfg);

/*
 * Open (join, create, or inspect) the environment in HOME.
 * Errors: -ENOENT home or environment missing (without RGN_CREATE),
 * -ENOTDIR, -EACCES, -EEXIST (RGN_EXCL), RGN_ENOKEY, RGN_EFOREIGN,
 * RGN_EPRIVATE, RGN_EINCOMPLETE, RGN_EBADMAGIC, RGN_EVERSION, RGN_ECORRUPT,
 * RGN_EBACKING, RGN_EFULL, -ENOSPC, -EINVAL; and RGN_EFOREIGNENV when an
 * open that could create something (RGN_CREATE, or a private environment)
 * finds Berkeley DB's __db.001 in HOME: nothing is then written there.
 */
RGN_API int rgn_env_open(const char *home, const struct rgn_env_config *cfg,
			 rgn_env **envp);

/* Detach every region still attached through ENV, unregister, free ENV. */
RGN_API int rgn_env_close(rgn_env *env);

/*
 * Remove the environment in HOME: its segments and files, __db.001 last.
 * -EBUSY while a live process is attached, unless RGN_FORCE.  Registered
 * processes that are dead do not count.  Only our own files and segments
 * are touched; each is re-checked right before it is removed.  When
 * anything of the environment is left, the code of the first thing left
 * (see rgn_env_remove_report).
 */
RGN_API int rgn_env_remove(const char *home, uint32_t flags);

/*
 * What a remove could not remove: one file or one segment of the
 * environment, as it was when remove gave up on it.  The strings are valid
 * only during the callback, and hold raw bytes (a home path may hold any).
 */
struct rgn_remove_item {
	const char *path;   /* a file: its path in the home; NULL for a
			       segment */
	int32_t shmid;	    /* a segment: its id; -1 for a file */
	int32_t key;	    /* the segment's key, 0 for IPC_PRIVATE */
	uint32_t region_id; /* the region it holds, 0 when not known */
	uint64_t nattch;    /* a segment: processes attached, as seen */
	int error;	    /* why, as a code: -EBUSY attached, -EACCES or
			       -EPERM not allowed, RGN_EFOREIGN its header
			       names another home, -EAGAIN kept (__db.001
			       and the primary stay while anything else of
			       the environment does) or changed meanwhile,
			       else the code of the failed call */
	const char *reason; /* the same in words: "2 processes attached" */
};
typedef void (*rgn_remove_fn)(const struct rgn_remove_item *item, void *arg);

/*
 * rgn_env_remove(), telling FN (when not NULL) about every file and
 * segment of the environment it left, once each, before it returns.  When
 * the primary region is gone (destroyed from outside: Berkeley DB removes
 * whatever sits at its key), the environment id and base key in __db.001
 * still prove which segments are its own: every segment whose header names
 * this environment id and this home is removed if nobody has it attached
 * (checked again right before it goes), and reported otherwise.  Another
 * program's segment is never touched, nor reported.  While anything is
 * left, __db.001 (and the primary) stay, so that a later remove finishes.
 * Returns 0 when nothing of the environment is left; when something is,
 * the code of the first item reported, and rgn_errdetail() counts them.
 * Without any removal begun: the codes of rgn_env_remove() (-EBUSY,
 * RGN_EPRIVATE, RGN_ENOTENV, RGN_EFOREIGNENV, RGN_EBADMAGIC, ...), and FN
 * is not called.
 */
RGN_API int rgn_env_remove_report(const char *home, uint32_t flags,
				  rgn_remove_fn fn, void *arg);

RGN_API enum rgn_backing rgn_env_backing(const rgn_env *env);
RGN_API const char *rgn_env_home(const rgn_env *env); /* absolute path */

/* ---- regions ------------------------------------------------------------ */

enum rgn_region_type {
	RGN_TYPE_ENV = 1,
	RGN_TYPE_LOCK = 2,
	RGN_TYPE_LOG = 3,
	RGN_TYPE_MPOOL = 4,
	RGN_TYPE_MUTEX = 5,
	RGN_TYPE_TXN = 6,
	RGN_TYPE_USER = 7
};
RGN_API const char *rgn_type_name(enum rgn_region_type type); /* "lock", ... */
RGN_API int rgn_type_parse(const char *name, enum rgn_region_type *type);

#define RGN_NAME_MAX	47   /* bytes in a region name, without the NUL */
#define RGN_MAX_REGIONS 4096 /* ids 1..RGN_MAX_REGIONS; id 1 is primary */
#define RGN_MAX_PROCS	1024 /* registry slots (one per open handle) */
#define RGN_REGION_MIN	(64u * 1024)	    /* smallest region size */
#define RGN_REGION_MAX	((uint64_t)1 << 40) /* largest region size */

/*
 * Create a region of SIZE bytes (rounded up to the page size) and attach it.
 * Errors: -EEXIST, -EINVAL (name empty, too long, or with '/'), -ERANGE (size
 * outside RGN_REGION_MIN..RGN_REGION_MAX), RGN_EFULL, -ENOSPC, RGN_EFOREIGN.
 */
RGN_API int rgn_region_create(rgn_env *env, const char *name,
			      enum rgn_region_type type, uint64_t size,
			      rgn_region **regionp);
RGN_API int rgn_region_attach(rgn_env *env, const char *name,
			      rgn_region **regionp);
RGN_API int rgn_region_attach_id(rgn_env *env, uint32_t id,
				 rgn_region **regionp);
RGN_API int rgn_region_detach(rgn_region *region);
/* Remove a region by name.  Processes that have it attached keep their
 * mapping until they detach; nobody can attach it afterwards. */
RGN_API int rgn_region_remove(rgn_env *env, const char *name);

RGN_API uint32_t rgn_region_id(const rgn_region *region);
RGN_API uint64_t rgn_region_size(const rgn_region *region);
RGN_API const char *rgn_region_name(const rgn_region *region);

/* Translate between offsets (valid in every process) and local pointers.
 * rgn_ptr returns NULL for an offset outside the region. */
RGN_API void *rgn_ptr(const rgn_region *region, uint64_t off);
RGN_API uint64_t rgn_off(const rgn_region *region, const void *ptr);

/* The region's root offset: where cooperating processes find their data.
 * 0 means unset. */
RGN_API uint64_t rgn_region_root(const rgn_region *region);
RGN_API void rgn_region_set_root(rgn_region *region, uint64_t off);

/*
 * The region's robust process-shared mutex.  If its holder died, the lock
 * validates (and if need be repairs) the region's allocator before it is
 * handed over; it fails with RGN_ECORRUPT if that is impossible.
 */
RGN_API int rgn_region_lock(rgn_region *region);
RGN_API int rgn_region_unlock(rgn_region *region);

/* ---- the allocator inside a region -------------------------------------- */

/* Allocate SIZE bytes (16-byte aligned) in REGION; *offp gets the offset.
 * -ENOMEM when no free chunk is large enough, -EINVAL for SIZE 0. */
RGN_API int rgn_alloc(rgn_region *region, uint64_t size, uint64_t *offp);
/* Free a block by its offset.  -EINVAL for an offset that is not a live
 * block. */
RGN_API int rgn_free(rgn_region *region, uint64_t off);
/* Validate every allocator invariant: 0, or RGN_ECORRUPT with a detail. */
RGN_API int rgn_alloc_check(rgn_region *region);

#define RGN_HIST_BUCKETS 48

struct rgn_alloc_stat {
	uint64_t arena_bytes;  /* bytes managed by the allocator */
	uint64_t used_bytes;   /* in live blocks, headers included */
	uint64_t free_bytes;   /* in free chunks */
	uint64_t largest_free; /* the largest single free chunk */
	uint64_t live_blocks;  /* blocks allocated and not freed */
	uint64_t free_chunks;  /* chunks on the free lists */
	uint64_t nalloc;       /* successful allocations, ever */
	uint64_t nfail;	       /* failed allocations, ever */
	uint64_t nfree;	       /* frees, ever */
	/* live blocks by requested size: hist[i] counts 2^i <= size < 2^(i+1)
	 */
	uint64_t hist[RGN_HIST_BUCKETS];
};
RGN_API int rgn_alloc_stat(rgn_region *region, struct rgn_alloc_stat *st);

/* ---- statistics --------------------------------------------------------- */

struct rgn_mutex_stat {
	uint64_t requests;   /* lock calls */
	uint64_t waits;	     /* of which found it held and had to wait */
	uint64_t owner_died; /* recoveries after a holder died */
	int32_t holder;	     /* pid holding it now, 0 if free */
};

/* Sizes of the character arrays in the stat structs below. */
#define RGN_STAT_FILE_MAX 16   /* rgn_region_stat.file: "__db.001" + NUL */
#define RGN_STAT_HOME_MAX 4096 /* rgn_env_stat.home: a path + NUL */

/* Region slot flags, also in the region table. */
#define RGN_RF_SYSV	0x1u /* storage is a System V segment */
#define RGN_RF_FALLBACK 0x2u /* files backing without mmap: sysv storage */

struct rgn_region_stat {
	uint32_t id;
	enum rgn_region_type type;
	char name[RGN_NAME_MAX + 1];
	char file[RGN_STAT_FILE_MAX]; /* "__db.001" */
	uint64_t size;		      /* bytes */
	uint64_t max;	/* bytes; regions are created at their max */
	int32_t shmid;	/* -1 unless stored in a segment */
	int32_t key;	/* System V key; 0 (IPC_PRIVATE) if none */
	uint32_t flags; /* RGN_RF_* */
	int64_t ctime;	/* creation, seconds since the epoch */
	int64_t mtime;	/* last change, seconds since the epoch */
	int32_t creator_pid;
	int detail; /* 0: the figures below were read; else why not */
	struct rgn_alloc_stat alloc;
	struct rgn_mutex_stat mutex;
};

struct rgn_proc_stat {
	int32_t pid;
	uint64_t start;	     /* process start, clock ticks since boot */
	int64_t attach_time; /* seconds since the epoch */
	int live;	     /* 1 live, 0 stale (dead, or pid reused) */
};

struct rgn_env_stat {
	char home[RGN_STAT_HOME_MAX];
	uint32_t magic;
	uint32_t format;
	enum rgn_backing backing;
	uint32_t flags;	 /* RGN_RF_FALLBACK when files fell back to sysv */
	int32_t shm_key; /* base key, 0 if none */
	uint32_t mode;
	uint64_t env_id;
	int64_t ctime;
	int64_t mtime; /* last region create or remove */
	uint32_t panic;
	uint64_t generation; /* bumped on every region create or remove */
	uint64_t primary_size;
	int32_t private_owner; /* private backing: the owning pid */
	struct rgn_mutex_stat mutex;
	uint32_t live;	 /* live attached handles */
	uint32_t stale;	 /* registry entries of dead processes */
	size_t nregions; /* including the primary */
	struct rgn_region_stat *regions;
	size_t nprocs;
	struct rgn_proc_stat *procs;
};

/* One consistent snapshot of ENV.  Free it with rgn_stat_free(). */
RGN_API int rgn_stat_env(rgn_env *env, struct rgn_env_stat **stp);
/* The same snapshot with only region ID in st->regions (nregions 1): one
 * region's figures without reading every other region.  -ENOENT if there
 * is no region ID. */
RGN_API int rgn_stat_region(rgn_env *env, uint32_t id,
			    struct rgn_env_stat **stp);
RGN_API void rgn_stat_free(struct rgn_env_stat *st);

/* Read LEN bytes at OFF of region ID into BUF without mapping it; returns
 * the byte count (short at the end), or a negative code.  Safe against a
 * file truncated underneath: never raises SIGBUS. */
RGN_API ssize_t rgn_region_pread(rgn_env *env, uint32_t id, void *buf,
				 size_t len, uint64_t off);

/* Library version "MAJOR.MINOR.PATCH". */
RGN_API const char *rgn_version(void);

#ifdef __cplusplus
}
#endif
#endif /* RGN_H */
