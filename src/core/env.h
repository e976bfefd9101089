/*
 * env.h - the process-local handles behind rgn_env and rgn_region, shared
 * by the modules of libregion; not installed.  It also brings in the
 * headers of the environment's parts (home, region header, registry), so
 * code that included env.h for them still compiles.
 */
#ifndef RGN_ENV_H
#define RGN_ENV_H

#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>

#include "backing.h"
#include "env_home.h"
#include "layout.h"
#include "mutex.h"
#include "region_hdr.h"
#include "registry.h"

struct rgn_region {
	struct rgn_env *env;	    /* owner */
	struct rgn_map map;	    /* the mapping */
	struct rgn_shm_region *hdr; /* == map.base */
	uint32_t id;		    /* region id */
	struct rgn_region *next;    /* env's attached list; env->lock */
};

/*
 * A creator of a segment-backed primary writes its intent into __db.lck
 * (under the setup lock) before shmget, so that the next creator can prove
 * that a segment left at the base key, even one whose header was never
 * written, was made here by a process that died.
 */
struct rgn_intent {
	pid_t pid;	/* the creator, 0 if none recorded */
	uint64_t start; /* its start time */
	int64_t time;	/* when it was about to shmget */
	int32_t key;	/* the key it was about to take */
};

/*
 * One handle on an environment.  Threads may share it, so each field says
 * what guards it: "open" means set while rgn_env_open builds the handle
 * (one thread, before anyone else can see it) and read-only from then on;
 * "lock" is the handle's own mutex; "ev_mutex" the environment mutex in
 * the primary; "open_lock" the list of open handles in env.c.
 */
struct rgn_env {
	pthread_mutex_t lock;	   /* guards regions, heap_graveyard,
				      heap_ngrave */
	struct rgn_env *next_open; /* open_lock: all open handles, for
				      fork */
	char home[PATH_MAX];	   /* open: absolute, resolved */
	int dirfd;		   /* the home, O_PATH; -1 until first
				      needed after a fast join: atomic,
				      only through rgn_home_fd() */
	dev_t lck_dev;		   /* open: __db.lck as a fast join
				      found it, that a home opened later
				      must hold; 0 otherwise */
	ino_t lck_ino;
	int by_path;		  /* open: a fast join is running and
				     reaches the home by path
				     (rgn_home_at) */
	int lockfd;		  /* open: __db.lck, -1 when inspecting;
				     closed and -1 in a fork()ed child
				     (open_lock) */
	uint32_t flags;		  /* open: RGN_CREATE ... as opened */
	enum rgn_backing backing; /* open: as recorded */
	uint32_t env_flags;	  /* open: RGN_RF_FALLBACK */
	int32_t shm_key;	  /* open: base key; 0 = IPC_PRIVATE */
	mode_t mode;		  /* open: for new files and segments */
	uint64_t env_id;	  /* open: from the primary */
	const struct rgn_backing_ops *ops; /* open: storage of regions,
					   from rgn_backing_select() */
	struct rgn_map primary;		   /* open: mapped primary, not when
					      inspecting; unmapped at close */
	struct rgn_shm_env *shenv;	   /* open: inside primary; what it
					      points to: ev_mutex */
	struct rgn_shm_slot *slots;	   /* open: inside primary; ev_mutex */
	struct rgn_shm_proc *procs;	   /* open: inside primary; ev_mutex */
	struct rgn_registry_entry reg;	   /* ev_mutex: our registry entry,
					      written at open and close */
	struct rgn_region *regions;	/* lock: attached through this handle */
	uint8_t **heap_mem;		/* private: memory of region id i+1;
					   the array is set at open, its
					   entries are atomic loads/stores */
	struct rgn_map *heap_graveyard; /* lock: removed regions' memory,
					   unmapped at close so a reader in
					   another thread never faults */
	size_t heap_ngrave;		/* lock: entries in heap_graveyard */
	int32_t private_owner;		/* open: inspect of a private home:
					   the owner pid */
	struct rgn_shm_slot primary_slot; /* open: how to reach the primary */
	struct rgn_intent crashed;	  /* open (under the setup lock): a dead
					     creator's intent, if any */
	int forked;			  /* open_lock: set in a fork()ed
					     child's copy; read at close */
	int lck_absent;			  /* open: __db.lck is expected not to
					     exist (make it first) */
	int lck_len;			  /* setup lock: bytes __db.lck holds
					     when this handle made it or
					     wrote it since locking; -1 when
					     not known (env_lock.c) */
};

/* Lock the environment mutex (ev_mutex), recovering it if its holder died. */
int rgn_env_lock(struct rgn_env *env);
void rgn_env_unlock(struct rgn_env *env);

/* Copy the primary region: under ev_mutex from the mapping when attached,
 * by the backing's reader when inspecting.  *bufp is malloc'd,
 * RGN_PRIMARY_BYTES long. */
int rgn_primary_snapshot(struct rgn_env *env, uint8_t **bufp);

/* Validate a snapshot of the primary (bytes at 0..len): headers of both
 * the region and the environment. */
int rgn_check_primary(const uint8_t *buf, size_t len);

#endif
