/*
 * env.h - the process-local handles behind rgn_env and rgn_region, shared
 * by the modules of libregion; not installed.
 */
#ifndef RGN_ENV_H
#define RGN_ENV_H

#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>

#include "backing.h"
#include "layout.h"
#include "mutex.h"

struct rgn_region {
	struct rgn_env *env;		/* owner */
	struct rgn_map map;		/* the mapping */
	struct rgn_shm_region *hdr;	/* == map.base */
	uint32_t id;			/* region id */
	struct rgn_region *next;	/* env's attached list; env->lock */
};

/*
 * A creator of a segment-backed primary writes its intent into __db.lck
 * (under the setup lock) before shmget, so that the next creator can prove
 * that a segment left at the base key, even one whose header was never
 * written, was made here by a process that died.
 */
struct rgn_intent {
	pid_t pid;			/* the creator, 0 if none recorded */
	uint64_t start;			/* its start time */
	int64_t time;			/* when it was about to shmget */
	int32_t key;			/* the key it was about to take */
};

struct rgn_env {
	pthread_mutex_t lock;		/* guards regions, heap_graveyard */
	struct rgn_env *next_open;	/* all open handles, for fork */
	char home[PATH_MAX];		/* absolute, resolved */
	int dirfd;			/* the home, O_DIRECTORY */
	int lockfd;			/* __db.lck, -1 when inspecting */
	uint32_t flags;			/* RGN_CREATE ... as opened */
	enum rgn_backing backing;	/* as recorded */
	uint32_t env_flags;		/* RGN_RF_FALLBACK */
	int32_t shm_key;		/* base key; 0 = IPC_PRIVATE */
	mode_t mode;			/* for new files and segments */
	uint64_t env_id;		/* from the primary */
	const struct rgn_backing_ops *ops; /* storage of regions */
	struct rgn_map primary;		/* mapped primary; not when inspecting */
	struct rgn_shm_env *shenv;	/* inside primary */
	struct rgn_shm_slot *slots;	/* inside primary */
	struct rgn_shm_proc *procs;	/* inside primary */
	int proc_slot;			/* our registry index, -1 if none */
	uint64_t handle_serial;		/* our registry pr_handle */
	struct rgn_region *regions;	/* attached through this handle */
	uint8_t **heap_mem;		/* private: memory of region id i+1,
					   atomic loads and stores */
	struct rgn_map *heap_graveyard;	/* private: removed regions' memory,
					   unmapped at close so a reader in
					   another thread never faults */
	size_t heap_ngrave;		/* entries in heap_graveyard */
	int32_t private_owner;		/* inspect of a private home: owner */
	struct rgn_shm_slot primary_slot; /* how to reach the primary */
	struct rgn_intent crashed;	/* a dead creator's intent, if any */
	int forked;			/* this is a fork()ed child's copy */
};

/* Loop bounds for the table and the registry, clamped so that a damaged
 * high-water mark can never send a loop past the end. */
static inline uint32_t rgn_slot_hwm(const struct rgn_shm_env *ev)
{
	uint32_t h = ev->ev_slot_hwm;

	return h < RGN_MAX_REGIONS ? h : RGN_MAX_REGIONS;
}

static inline uint32_t rgn_proc_hwm(const struct rgn_shm_env *ev)
{
	uint32_t h = ev->ev_proc_hwm;

	return h < RGN_MAX_PROCS ? h : RGN_MAX_PROCS;
}

/* Registry (registry.c).  Called with ev_mutex held. */
int rgn_registry_add(struct rgn_env *env);
void rgn_registry_remove(struct rgn_env *env);
/* Count live and stale entries; reclaim the stale ones if RECLAIM.  LIVE
 * (optional, NPROCS entries) gets each entry's verdict, so a caller never
 * judges the same process twice. */
void rgn_registry_scan(struct rgn_shm_proc *procs, uint32_t nprocs,
		       int reclaim, uint32_t *nlive, uint32_t *nstale,
		       uint8_t *live);

/* Lock the environment mutex (ev_mutex), recovering it if its holder died. */
int rgn_env_lock(struct rgn_env *env);
void rgn_env_unlock(struct rgn_env *env);

/* Fill the common region header at create (magic last). */
void rgn_init_region_hdr(struct rgn_env *env, struct rgn_shm_region *rh,
			 uint32_t id, enum rgn_region_type type, uint64_t size,
			 const char *name, int32_t key);

/*
 * Open NAME in the home without following a symlink, and only if it is a
 * regular file (*ST gets its stat).  Returns the descriptor, or -ELOOP for
 * a symlink, -EINVAL for anything not a regular file, -errno, each with a
 * detail naming the path.
 */
int rgn_open_in_home(struct rgn_env *env, const char *name, int flags,
		     mode_t mode, struct stat *st);

/* Region file name of an id. */
void rgn_region_file(uint32_t id, char *buf, size_t len);

/* Copy the primary region: under ev_mutex from the mapping when attached,
 * by pread when inspecting.  *bufp is malloc'd, RGN_PRIMARY_BYTES long. */
int rgn_primary_snapshot(struct rgn_env *env, uint8_t **bufp);

/* Validate a snapshot of the primary (bytes at 0..len): headers of both
 * the region and the environment. */
int rgn_check_primary(const uint8_t *buf, size_t len);

#endif
