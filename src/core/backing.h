/*
 * backing.h - the operations every backing implements, so the environment
 * and region code never ask "files, segments or heap?": the table is chosen
 * once, by rgn_backing_select(), and every difference between backings is
 * an operation or a field here.
 *
 * The contract, for every backing:
 *  - create(env, id, size, reserve, map): make fresh storage for region ID
 *    of exactly SIZE bytes (page-aligned), zero-filled, with bytes
 *    [0, RESERVE) allocated (no SIGBUS later on a full disk), and map it
 *    read-write.  RESERVE < SIZE only for the primary, whose table is
 *    reserved as it grows (grow_primary); memory backings reserve all.
 *    Nothing beyond RESERVE may be touched through the mapping until
 *    grow_primary covered it.  For id 1 (the primary)
 *    the storage stays unpublished until publish() succeeds, so a creator
 *    that dies half-way never leaves a __db.001 that looks complete.  On
 *    failure nothing is left behind and *map is untouched.
 *  - publish(env, map): make a created primary visible to joiners.
 *  - discard(env, id, map): undo a create() whose initialisation failed:
 *    unmap and remove the storage just made (no re-check: it is ours).
 *  - attach(env, slot, rdonly, map): map existing storage of a region
 *    table slot, after re-identifying it (a segment id may have been
 *    removed or recycled since the slot was written: -ENOENT or
 *    RGN_ECORRUPT then); the caller validates the header.
 *  - detach(env, map): unmap; never fails in a way the caller can act on.
 *  - destroy(env, slot): remove the storage, but only after re-checking
 *    right before it acts that the file or segment is still the one the
 *    slot describes (same id, same environment).  -ENOENT if already gone.
 *  - read_open(env, slot, rd) / read_at(rd, buf, len, off) / read_close(rd):
 *    copy bytes of a region for an observer, any number of times between
 *    open and close, without any risk of SIGBUS (files: pread on one open
 *    descriptor; segments: attached read-only only until read_close).
 *    read_at returns a byte count, short at the end of the storage.
 *  - grow_primary(env, off, len): allocate bytes [off, off + len) of the
 *    primary's storage, which exists (sized) but may be unallocated there;
 *    called under ev_mutex before a slot in that range is first written.
 *    NULL for backings whose storage is memory allocated at create.
 *  - region_key(env, id): the System V key region ID's storage will take,
 *    written into its slot before create() so that a creator that dies
 *    before recording the segment's id still names what it left; 0 for
 *    backings without keys.
 *  - unpublish(env): for a backing whose primary lives outside __db.001
 *    (__db.001 is then only a record naming it), remove that record; called
 *    after destroy() of the primary, or when the primary has vanished under
 *    its record (a reboot, an ipcrm) so a creator may start afresh.  NULL
 *    when __db.001 is the primary itself: destroy() removed it, and a
 *    primary that is gone cannot be told from no environment.
 * All return 0 (read_at: a byte count) or a negative code, with a detail.
 * Fields: in_segments says the storage is System V segments (slots then
 * carry a key and a shmid); slot_flags are the RGN_RF_* bits every slot of
 * the backing carries.
 */
#ifndef RGN_BACKING_H
#define RGN_BACKING_H

#include <stdint.h>
#include <sys/types.h>

#include "layout.h"
#include "rgn.h"

struct rgn_env;

struct rgn_map {
	uint8_t *base;	   /* local address; NULL when not mapped */
	uint64_t size;	   /* bytes mapped */
	int32_t shmid;	   /* segment id, -1 for files and heap */
	int32_t key;	   /* segment key, 0 for none/IPC_PRIVATE */
	int rdonly;	   /* mapped without write access */
	int64_t seg_ctime; /* segments: shm_ctime when created */
};

/* An observer's open view of one region's storage (see read_open). */
struct rgn_reader {
	const struct rgn_backing_ops *ops; /* who opened it */
	struct rgn_env *env;		   /* its environment */
	uint32_t id;			   /* region id */
	int fd;				   /* files: the region file, else -1 */
	const uint8_t *base;		   /* segments and heap: the bytes */
	uint64_t size;			   /* bytes readable at base */
	int attached;			   /* base is a read-only shmat */
	int exact; /* every byte as stored, even the header's unwritten
		      tail (see rgn_reader_copy) */
};

struct rgn_backing_ops {
	const char *name;
	int in_segments;     /* storage is System V segments: slots carry
				RGN_RF_SYSV, a key and a shmid */
	uint32_t slot_flags; /* RGN_RF_* every slot of this backing
				carries (RGN_RF_SYSV for segments) */
	int (*create)(struct rgn_env *env, uint32_t id, uint64_t size,
		      uint64_t reserve, struct rgn_map *map);
	int (*grow_primary)(struct rgn_env *env, uint64_t off, uint64_t len);
	int (*publish)(struct rgn_env *env, struct rgn_map *map);
	void (*discard)(struct rgn_env *env, uint32_t id, struct rgn_map *map);
	int (*attach)(struct rgn_env *env, const struct rgn_shm_slot *slot,
		      int rdonly, struct rgn_map *map);
	void (*detach)(struct rgn_env *env, struct rgn_map *map);
	int (*destroy)(struct rgn_env *env, const struct rgn_shm_slot *slot);
	int (*read_open)(struct rgn_env *env, const struct rgn_shm_slot *slot,
			 struct rgn_reader *rd);
	ssize_t (*read_at)(struct rgn_reader *rd, void *buf, size_t len,
			   uint64_t off);
	void (*read_close)(struct rgn_reader *rd);
	int32_t (*region_key)(const struct rgn_env *env, uint32_t id);
	int (*unpublish)(struct rgn_env *env);
};

/*
 * The one place that maps an environment's backing to its table: BACKING
 * as recorded or asked for, RF_FLAGS its RGN_RF_* flags (RGN_RF_SYSV or
 * RGN_RF_FALLBACK put the files backing's storage in segments).
 */
const struct rgn_backing_ops *rgn_backing_select(enum rgn_backing backing,
						 uint32_t rf_flags);

/* Open, read once, close: for the odd single read.  EXACT as in struct
 * rgn_reader. */
ssize_t rgn_backing_pread(struct rgn_env *env, const struct rgn_shm_slot *slot,
			  void *buf, size_t len, uint64_t off, int exact);

/*
 * read_at for backings whose bytes are in memory (segments, heap).  Unless
 * the reader is exact, the region header's tail after the home path comes
 * back as the zeros it is by construction, without being read
 * (rgn_region_copy): every reader but rgn_region_pread is looking at
 * headers, tables and heap figures, and must not grow the segment.
 */
ssize_t rgn_reader_copy(struct rgn_reader *rd, void *buf, size_t len,
			uint64_t off);

/* Only rgn_backing_select() names these. */
extern const struct rgn_backing_ops rgn_backing_files;
extern const struct rgn_backing_ops rgn_backing_sysv;
extern const struct rgn_backing_ops rgn_backing_heap;

/* region_key for backings whose storage has no key. */
int32_t rgn_no_key(const struct rgn_env *env, uint32_t id);

#endif
