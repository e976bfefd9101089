/*
 * layout.h - what libregion keeps in shared memory and in the home, in one
 * place: names, magic numbers, and the fixed-width structs.
 *
 * Everything here is read by processes that mapped it at another address,
 * possibly by a newer or older build, possibly after its writer crashed.
 * So: fixed-width fields, offsets instead of pointers, and a magic plus a
 * format version at the start of every region, checked before anything
 * else is trusted.
 *
 * Every region (file or segment) starts with struct rgn_shm_region, which
 * carries the home's path and creator, so a scanner can attribute a leaked
 * segment to its environment even after the home was deleted.  The primary
 * region (id 1) continues at RGN_HDR_SIZE with struct rgn_shm_env, the region
 * table and the process registry.  Other regions continue with the arena of
 * their allocator.
 */
#ifndef RGN_LAYOUT_H
#define RGN_LAYOUT_H

#include <pthread.h>
#include <stdint.h>

#include "alloc.h"
#include "rgn.h"

/* ---- names in the home -------------------------------------------------- */

#define RGN_FILE_FMT	  "__db.%03u" /* region file of an id: __db.001 */
#define RGN_PRIMARY_FILE  "__db.001"
#define RGN_PRIMARY_TMP	  "__db.001.tmp" /* until creation is complete */
#define RGN_LOCK_FILE	  "__db.lck"	 /* OFD locks; private owner record */
#define RGN_FILE_NAME_MAX 16

/* Byte ranges of RGN_LOCK_FILE locked with OFD locks (see env.c). */
/* Read-locked by each attached handle, write-locked by a private owner. */
#define RGN_LOCK_ATTACH 0
/* Write-locked while creating, joining or removing: a dead holder releases
 * it at once.
 */
#define RGN_LOCK_SETUP 1

/* ---- magic and format --------------------------------------------------- */

#define RGN_REGION_MAGIC 0x5247e001u /* start of every region/segment */
#define RGN_ENV_MAGIC	 0x5247e0e7u /* struct rgn_shm_env */
#define RGN_RECORD_MAGIC 0x5247e0f1u /* __db.001 of a segment-backed env */
/* Bump on any incompatible change; 2: ev_slot_resv; 3: ev_boot_id, rh_home
 * last. */
#define RGN_FORMAT 3u

#define RGN_HDR_SIZE	8192u /* region header; payload starts here */
#define RGN_HOME_MAX	4096  /* bytes of the home path, NUL included */
#define RGN_BOOT_ID_LEN 37    /* /proc/sys/kernel/random/boot_id + NUL */

/*
 * A robust, process-shared mutex with its statistics.  The counters are
 * written only by the holder; observers read them without the lock and
 * may see a slightly old value.
 */
struct rgn_shm_mutex {
	pthread_mutex_t mx_lock; /* robust, PTHREAD_PROCESS_SHARED */
	int32_t mx_holder;	 /* pid of the holder, 0 when free */
	uint32_t mx_pad;
	uint64_t mx_requests;	/* lock calls that got the lock */
	uint64_t mx_waits;	/* of which had to wait */
	uint64_t mx_owner_died; /* recoveries after a holder died */
} __attribute__((aligned(64)));

/*
 * Header of every region.  Written once at create (magic last) and then
 * read-only, except rh_root (atomic store by the user) and the mutex and
 * heap, which rh_mutex guards.
 */
struct rgn_shm_region {
	uint32_t rh_magic;		/* RGN_REGION_MAGIC */
	uint32_t rh_format;		/* RGN_FORMAT */
	uint32_t rh_hdr_size;		/* RGN_HDR_SIZE: where payload starts */
	uint32_t rh_id;			/* region id, 1 = primary */
	uint64_t rh_env_id;		/* random id of the environment */
	uint64_t rh_size;		/* bytes in the region */
	uint32_t rh_type;		/* enum rgn_region_type */
	int32_t rh_creator_pid;		/* process that created it */
	uint64_t rh_creator_start;	/* its start time, ticks since boot */
	int64_t rh_ctime;		/* creation, seconds since the epoch */
	uint64_t rh_root;		/* user's root offset, 0 = unset */
	int32_t rh_key;			/* System V key, 0 if none */
	uint32_t rh_backing;		/* enum rgn_backing of the env */
	char rh_name[RGN_NAME_MAX + 1]; /* region name */
	char rh_boot_id[RGN_BOOT_ID_LEN + 3]; /* boot the mutex belongs to */
	struct rgn_shm_mutex rh_mutex;	      /* guards rh_heap and the arena */
	struct rgn_heap rh_heap;	      /* allocator of the payload */
	/* Last, so that everything else is on the first page: a create
	 * writes only the path's own bytes of it, and so dirties one page
	 * of the header, not two. */
	char rh_home[RGN_HOME_MAX]; /* absolute path of the home */
};

enum rgn_env_state {
	RGN_STATE_CREATING = 1, /* primary being initialised */
	RGN_STATE_READY = 2
};

/* Region table slot states. */
enum rgn_slot_state {
	RGN_SLOT_FREE = 0,
	RGN_SLOT_CREATING = 1, /* sl_actor is making its storage */
	RGN_SLOT_READY = 2,
	RGN_SLOT_REMOVING = 3 /* sl_actor is destroying it */
};

/* One region table entry; guarded by ev_mutex.  64-byte aligned. */
struct rgn_shm_slot {
	uint32_t sl_id;			/* region id (index + 1), 0 if free */
	uint32_t sl_state;		/* enum rgn_slot_state */
	uint32_t sl_type;		/* enum rgn_region_type */
	uint32_t sl_flags;		/* RGN_RF_* */
	uint64_t sl_size;		/* bytes */
	uint64_t sl_max;		/* bytes */
	int32_t sl_shmid;		/* segment id, -1 for files */
	int32_t sl_key;			/* segment key, 0 if IPC_PRIVATE */
	int32_t sl_creator_pid;		/* who created the region */
	int32_t sl_actor_pid;		/* who is creating/removing it now */
	uint64_t sl_actor_start;	/* that process's start time */
	int64_t sl_ctime;		/* creation, seconds since the epoch */
	int64_t sl_mtime;		/* last state change */
	char sl_name[RGN_NAME_MAX + 1]; /* unique in the environment */
	int64_t sl_seg_ctime;		/* segments: shm_ctime at creation; with
					   shmid, key and creator pid it proves
					   a segment is the one made here */
} __attribute__((aligned(64)));

/* One registry entry per attached handle; guarded by ev_mutex. */
struct rgn_shm_proc {
	int32_t pr_pid; /* 0 when free */
	uint32_t pr_pad;
	uint64_t pr_start;	/* process start, ticks since boot */
	int64_t pr_attach_time; /* seconds since the epoch */
	uint64_t pr_handle;	/* distinguishes handles of one pid */
} __attribute__((aligned(64)));

/* The environment, at RGN_HDR_SIZE in the primary region. */
struct rgn_shm_env {
	uint32_t ev_magic;	 /* RGN_ENV_MAGIC */
	uint32_t ev_format;	 /* RGN_FORMAT */
	uint32_t ev_state;	 /* enum rgn_env_state */
	uint32_t ev_backing;	 /* enum rgn_backing */
	uint32_t ev_flags;	 /* RGN_RF_FALLBACK */
	int32_t ev_shm_key;	 /* base key; region N at key + N - 1 */
	uint32_t ev_mode;	 /* file and segment mode */
	uint32_t ev_panic;	 /* set by a forced remove */
	uint64_t ev_env_id;	 /* random, also in every region header */
	int64_t ev_ctime;	 /* creation time */
	int64_t ev_mtime;	 /* last region create/remove; ev_mutex */
	uint64_t ev_generation;	 /* bumped by each create/remove; ev_mutex */
	uint32_t ev_max_regions; /* slots in the table */
	uint32_t ev_max_procs;	 /* slots in the registry */
	uint32_t ev_slot_hwm;	 /* slots [0, hwm) may be in use, so
				    loops stop there and touch no page
				    beyond; ev_mutex */
	uint32_t ev_proc_hwm;	 /* likewise for the registry */
	uint32_t ev_slot_resv;	 /* slots [0, resv) have storage
				    reserved; hwm never passes it, and
				    it is raised (storage first) under
				    ev_mutex; every slot for memory
				    backings */
	uint32_t ev_pad;
	uint64_t ev_table_off;	       /* offset of the region table */
	uint64_t ev_procs_off;	       /* offset of the registry */
	uint64_t ev_next_handle;       /* handle serials; ev_mutex */
	struct rgn_shm_mutex ev_mutex; /* guards table, registry, counters */
	/* The boot ev_mutex belongs to (the primary's rh_boot_id, kept here
	 * too): with ev_magic, ev_format and ev_env_id it is all a join
	 * checks, so a join reads this page and the registry's and never
	 * faults in the region header's. */
	char ev_boot_id[RGN_BOOT_ID_LEN + 3];
};

/* The registry follows the environment header directly, so that a join,
 * which touches both, dirties one page of the primary, not two. */
#define RGN_ENV_OFF RGN_HDR_SIZE
#define RGN_PROCS_OFF                                                          \
	(RGN_ENV_OFF + ((sizeof(struct rgn_shm_env) + 63) & ~(uint64_t)63))
#define RGN_TABLE_OFF                                                          \
	(RGN_PROCS_OFF + RGN_MAX_PROCS * sizeof(struct rgn_shm_proc))
#define RGN_PRIMARY_BYTES                                                      \
	(RGN_TABLE_OFF + RGN_MAX_REGIONS * sizeof(struct rgn_shm_slot))

/*
 * The primary of the files backing is sized for the whole table but has
 * storage reserved only for the slots in use so far: its headers and
 * registry, then the table a page at a time, as it grows (a 4096-slot
 * table is 512 KiB, of which a typical environment uses one page).  These
 * bound every loop over the table, so no page past the reservation is ever
 * read or written through a mapping.
 */
static inline uint32_t rgn_slot_resv(const struct rgn_shm_env *ev)
{
	uint32_t r = ev->ev_slot_resv;

	return r < RGN_MAX_REGIONS ? r : RGN_MAX_REGIONS;
}

/* Loop bounds for the table and the registry, clamped so that a damaged
 * high-water mark can never send a loop past the end or the reservation. */
static inline uint32_t rgn_slot_hwm(const struct rgn_shm_env *ev)
{
	uint32_t h = ev->ev_slot_hwm, r = rgn_slot_resv(ev);

	return h < r ? h : r;
}

/* Slot I of a table copy is a region to show: ready, and holding its own
 * id.  A damaged slot naming another id (or 0) is not listed, so listings
 * stay in ascending id order with no duplicates, and every id listed can
 * be looked up (recovery demands the same shape of every slot in use). */
static inline int rgn_slot_listed(const struct rgn_shm_slot *slots, uint32_t i)
{
	return slots[i].sl_state == RGN_SLOT_READY && slots[i].sl_id == i + 1;
}

static inline uint32_t rgn_proc_hwm(const struct rgn_shm_env *ev)
{
	uint32_t h = ev->ev_proc_hwm;

	return h < RGN_MAX_PROCS ? h : RGN_MAX_PROCS;
}

/*
 * __db.001 of an environment whose regions live in System V segments
 * (system memory backing, or files backing without mmap): just enough to
 * find the primary segment.  The rest is in the primary's region table.
 */
struct rgn_file_record {
	uint32_t fr_magic;   /* RGN_RECORD_MAGIC */
	uint32_t fr_format;  /* RGN_FORMAT */
	uint32_t fr_backing; /* enum rgn_backing */
	uint32_t fr_flags;   /* RGN_RF_FALLBACK */
	int32_t fr_shm_key;  /* base key (0 for IPC_PRIVATE) */
	int32_t fr_shmid;    /* the primary segment */
	uint64_t fr_env_id;  /* must match the segment header */
	uint64_t fr_size;    /* primary segment size */
	int64_t fr_ctime;    /* creation time */
};

_Static_assert(sizeof(struct rgn_shm_region) <= RGN_HDR_SIZE,
	       "region header must fit before the payload");
_Static_assert(sizeof(((struct rgn_shm_env *)0)->ev_boot_id) ==
		       sizeof(((struct rgn_shm_region *)0)->rh_boot_id),
	       "the primary's boot id is kept in both headers");
_Static_assert(sizeof(struct rgn_shm_slot) == 128, "slot size is format");
_Static_assert(sizeof(struct rgn_shm_proc) == 64, "proc slot is a line");

#endif /* RGN_LAYOUT_H */
