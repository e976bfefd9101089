/*
 * alloc.h - the allocator that lives inside a shared-memory region.
 *
 * A region is mapped at a different address in every process, so the heap
 * speaks only in offsets from the mapping's base.  The heap header (struct
 * rgn_heap) is embedded in the region header; the arena it manages starts
 * with the table of free-list heads and is otherwise cut into chunks.
 *
 * Contract for every call: the caller holds the region's mutex (the heap
 * does no locking of its own), except rgn_heap_stat, which may run on an
 * unlocked snapshot of the header.  Calls return 0 or a negative code
 * (-errno or RGN_E*) and record a detail with rgn_fail() when they fail.
 */
#ifndef RGN_ALLOC_H
#define RGN_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "rgn.h"

#define RGN_HEAP_MAGIC	 0x48504e52u /* "RNPH": header initialised */
#define RGN_HEAP_VERSION 2u	     /* layout of the header and chunks */
#define RGN_HEAP_FL_MAX	 32	     /* first-level classes for 2^40 bytes */

/* Smallest and largest arena rgn_heap_init accepts. */
#define RGN_HEAP_MIN_ARENA 4096u
#define RGN_HEAP_MAX_ARENA RGN_REGION_MAX

/* Values of hp_busy: the mutating operation in progress. */
#define RGN_HEAP_OP_ALLOC 1u
#define RGN_HEAP_OP_FREE  2u

/*
 * The heap header, in shared memory.  Every field is guarded by the region
 * mutex; hp_magic through hp_fl_count are written once by rgn_heap_init and
 * only read afterwards.  The arena it describes is laid out as
 *
 *   hp_arena_off: free-list heads, uint64_t[hp_fl_count][32] (chunk offsets)
 *   hp_first - 8: guard word
 *   hp_first:     chunks, each an 8-byte header followed by its body
 *   hp_end:       end sentinel, a header with size 0 that is never free
 *
 * except while hp_untouched is set (rgn_heap_init_zeroed): then none of it
 * is written yet, and the header's figures are exactly those of the one
 * free chunk spanning [hp_first, hp_end).  Only the first successful alloc
 * clears it, after writing that layout, and nothing ever sets it again.
 */
struct rgn_heap {
	uint32_t hp_magic;	 /* RGN_HEAP_MAGIC once init finished */
	uint32_t hp_version;	 /* RGN_HEAP_VERSION */
	uint64_t hp_arena_off;	 /* arena start, where the heads table is */
	uint64_t hp_arena_len;	 /* arena bytes, rounded down to 16 */
	uint64_t hp_first;	 /* header offset of the first chunk */
	uint64_t hp_end;	 /* header offset of the end sentinel */
	uint32_t hp_fl_count;	 /* first-level classes in the heads table */
	uint32_t hp_busy;	 /* RGN_HEAP_OP_* in progress, 0 when idle */
	uint64_t hp_pending;	 /* chunk the operation in progress is about */
	uint64_t hp_used;	 /* bytes in live chunks plus heap metadata */
	uint64_t hp_free;	 /* bytes in free chunks */
	uint64_t hp_live;	 /* live blocks */
	uint64_t hp_free_chunks; /* chunks on the free lists */
	uint64_t hp_nalloc;	 /* successful allocations, ever */
	uint64_t hp_nfail;	 /* failed allocations, ever */
	uint64_t hp_nfree;	 /* frees, ever */
	uint32_t hp_fl_map;	 /* bit f: some list of class f non-empty */
	uint32_t hp_untouched;	 /* 1: nothing written in the arena yet */
	uint32_t hp_sl_map[RGN_HEAP_FL_MAX]; /* bit s of [f]: list f.s used */
	uint64_t hp_hist[RGN_HIST_BUCKETS];  /* live blocks by log2(request) */
};

/*
 * Manage [arena_off, arena_off + arena_len) of the mapping at BASE.  H lives
 * inside the same mapping but outside the arena; arena_off is 64-byte
 * aligned.  -EINVAL for an arena below RGN_HEAP_MIN_ARENA or above
 * RGN_HEAP_MAX_ARENA, a misaligned arena_off, or H inside the arena.
 */
int rgn_heap_init(struct rgn_heap *h, uint8_t *base, uint64_t arena_off,
		  uint64_t arena_len);

/*
 * rgn_heap_init without writing the arena: the header alone describes the
 * one free chunk init would have made, and hp_untouched says that the
 * arena is not written yet.  The first alloc that succeeds writes what
 * init would have (heads table included) before it takes its block; until
 * then no call reads or writes the arena, so fresh storage stays
 * unallocated (a page of a segment or file is allocated when first
 * touched, read or written).  Same checks and errors as rgn_heap_init.
 * Callers give it fresh, zero storage.
 */
int rgn_heap_init_zeroed(struct rgn_heap *h, uint8_t *base, uint64_t arena_off,
			 uint64_t arena_len);

/*
 * Allocate SIZE bytes; *offp gets the block's offset, 16-byte aligned.
 * -EINVAL for SIZE 0; -ENOMEM (counted in hp_nfail) when no free chunk fits.
 */
int rgn_heap_alloc(struct rgn_heap *h, uint8_t *base, uint64_t size,
		   uint64_t *offp);

/*
 * Free the block at OFF.  -EINVAL when OFF is visibly not a live block
 * (misaligned, outside the arena, no chunk header, already free, or any
 * offset of an untouched heap, which has handed out nothing);
 * RGN_ECORRUPT when a neighbour's boundary tag contradicts it.
 */
int rgn_heap_free(struct rgn_heap *h, uint8_t *base, uint64_t off);

/*
 * Does H's arena lie inside [LO, SIZE) of its mapping?  The other heap
 * calls trust hp_arena_off and hp_arena_len (checked against each other,
 * never against the mapping), so a caller runs them only on a heap that
 * fits: 0, or RGN_ECORRUPT with the figures in the detail.
 */
int rgn_heap_fits(const struct rgn_heap *h, uint64_t lo, uint64_t size);

/* Walk every chunk and list and verify every invariant: 0, or RGN_ECORRUPT
 * with the chunk offset and the invariant in the detail.  An untouched
 * heap's header must be exactly the untouched state; its arena is not
 * read. */
int rgn_heap_check(const struct rgn_heap *h, const uint8_t *base);

/*
 * Called when the region mutex's previous holder died, possibly in the
 * middle of an operation.  With hp_busy clear this only verifies.  Else it
 * rebuilds the free lists, bitmaps and counters by walking the boundary
 * tags: an interrupted alloc is rolled back (its chunk is freed: the dead
 * process never returned the offset to anyone) and an interrupted free is
 * completed.  The cumulative counters hp_nalloc and hp_nfree may be off by
 * one afterwards.  0 if the heap is consistent afterwards, RGN_ECORRUPT if
 * the chunk sequence itself is broken and cannot be walked.  An untouched
 * heap needs no repair (a first alloc that died is redone whole by the
 * next): only the check, and a busy marker on it is corrupt.
 */
int rgn_heap_repair(struct rgn_heap *h, uint8_t *base);

/*
 * Read LEN bytes at offset OFF of the mapping into BUF: 0 or a negative
 * code.  Lets rgn_heap_stat run on a header copied out with pread.
 */
typedef int (*rgn_heap_read_fn)(void *ctx, uint64_t off, void *buf, size_t len);

/*
 * Fill *st from H, which may be a copy of the header; arena memory is read
 * only through RD (for largest_free: the list of the highest non-empty
 * class; nothing of an untouched heap).  Needs no lock.  RGN_ECORRUPT if
 * H is not an initialised header, -EAGAIN if the arena changed under an
 * unlocked snapshot, or RD's error.
 */
int rgn_heap_stat(const struct rgn_heap *h, rgn_heap_read_fn rd, void *ctx,
		  struct rgn_alloc_stat *st);

/* Usable bytes of the live block at OFF (>= the size requested for it), or
 * 0 when OFF is visibly not a live block. */
uint64_t rgn_heap_usable(const struct rgn_heap *h, const uint8_t *base,
			 uint64_t off);

#endif /* RGN_ALLOC_H */
