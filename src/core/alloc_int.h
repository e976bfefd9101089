/*
 * alloc_int.h - the inside of the region allocator, shared by its hot
 * paths (alloc.c) and its checker, repair and statistics (alloc_check.c):
 * the chunk header encoding, the size classes and the free lists.  Static
 * inline so the hot paths compile exactly as when they were one file.
 * Only those two files include it.
 */
#ifndef RGN_ALLOC_INT_H
#define RGN_ALLOC_INT_H

#include <stdint.h>
#include <string.h>

#include "alloc.h"

/*
 * The chunk header word:
 *   bit 0       CH_FREE       this chunk is free
 *   bit 1       CH_PREV_FREE  the chunk before is free, so its footer is valid
 *   bits 2-3    zero
 *   bits 4-47   chunk size in bytes, header included, a multiple of 16
 *   bits 48-53  live chunk: log2 of the requested size (histogram bucket),
 *               kept because the chunk size cannot give it back exactly
 *   bits 54-55  zero
 *   bits 56-63  CH_TAG, so that free() can reject a non-header cheaply
 * A free chunk's body holds the next and previous chunk of its free list at
 * +8 and +16 (offsets, 0 ends the list) and its size in the last 8 bytes.
 */
#define CH_FREE		((uint64_t)1)
#define CH_PREV_FREE	((uint64_t)2)
#define CH_SIZE_MASK	((uint64_t)0x0000fffffffffff0)
#define CH_BUCKET_SHIFT 48
#define CH_BUCKET_MASK	((uint64_t)0x3f << CH_BUCKET_SHIFT)
#define CH_TAG		((uint64_t)0xa5 << 56)
#define CH_TAG_MASK	((uint64_t)0xff << 56)
#define CH_RESERVED	(((uint64_t)3 << 54) | (uint64_t)0xc)

#define HDR	   8u  /* header bytes in front of every block */
#define ALIGN	   16u /* block alignment and size granule */
#define ALIGN_LOG2 4u  /* log2(ALIGN) */
#define MIN_CHUNK  32u /* header, two links and a footer */
#define NEXT	   8u  /* free chunk: offset of the next-link word */
#define PREV	   16u /* free chunk: offset of the prev-link word */
#define SL_LOG2	   5u  /* 32 second-level classes per power of two */
#define SL_COUNT   (1u << SL_LOG2)
#define SMALL_LOG2 8u /* class 0 is linear: sizes below 2^(8+1) */
/* The word between the heads table and the first chunk. */
#define GUARD ((uint64_t)0x4452415547504e52)

/* Arena words are read and written with memcpy: one mov after inlining,
 * and no alignment or aliasing assumptions about BASE. */
static inline uint64_t get64(const uint8_t *base, uint64_t off)
{
	uint64_t v;

	memcpy(&v, base + off, sizeof(v));
	return v;
}

static inline void put64(uint8_t *base, uint64_t off, uint64_t v)
{
	memcpy(base + off, &v, sizeof(v));
}

/*
 * The holder may die at any instruction, so stores must reach memory in
 * program order around the points that matter.  The CPU already keeps them
 * (the memory is coherent, and the kernel's robust-futex hand-off orders
 * them for the next holder); a signal fence stops the compiler from moving
 * them, and costs no instruction.
 */
#define ORDER() __atomic_signal_fence(__ATOMIC_SEQ_CST)

/* The one store that changes the chunk sequence of an operation. */
static inline void commit(uint8_t *base, uint64_t off, uint64_t v)
{
	ORDER();
	put64(base, off, v);
	ORDER();
}

/* pending before busy: a set busy marker always names the current chunk. */
static inline void op_begin(struct rgn_heap *h, uint32_t op, uint64_t chunk)
{
	h->hp_pending = chunk;
	ORDER();
	h->hp_busy = op;
	ORDER();
}

static inline void op_end(struct rgn_heap *h)
{
	ORDER();
	h->hp_busy = 0;
}

static inline unsigned log2_floor(uint64_t v)
{
	return 63u - (unsigned)__builtin_clzll(v);
}

/* Bytes of chunk a request of SIZE bytes needs (SIZE below 2^48). */
static inline uint64_t chunk_need(uint64_t size)
{
	uint64_t need = (size + HDR + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);

	return need < MIN_CHUNK ? MIN_CHUNK : need;
}

/*
 * Width of the class SIZE falls in, as a shift.  Classes below 2^9 are 16
 * bytes wide (class 0 is linear); above, each power of two is split in 32.
 * Computed without a branch: the workload mixes small and large sizes, and
 * a mispredicted size test would cost more than the arithmetic.
 */
static inline unsigned class_shift(uint64_t size, unsigned *t)
{
	unsigned lg = log2_floor(size | ((uint64_t)1 << SMALL_LOG2));
	unsigned shift = lg - SL_LOG2;

	*t = lg;
	return shift < ALIGN_LOG2 ? ALIGN_LOG2 : shift;
}

/* The class a free chunk of SIZE bytes is filed under. */
static inline void class_of(uint64_t size, unsigned *fl, unsigned *sl)
{
	unsigned t, shift = class_shift(size, &t);

	*fl = t - SMALL_LOG2;
	*sl = (unsigned)(size >> shift) & (SL_COUNT - 1);
}

/* The first class whose every chunk holds NEED bytes. */
static inline void class_for(uint64_t need, unsigned *fl, unsigned *sl)
{
	unsigned t, shift = class_shift(need, &t);

	class_of(need + ((uint64_t)1 << shift) - 1, fl, sl);
}

static inline uint64_t slot_of(const struct rgn_heap *h, unsigned fl,
			       unsigned sl)
{
	return h->hp_arena_off + (((uint64_t)fl << SL_LOG2) | sl) * 8;
}

/* File free chunk C of SIZE bytes at the head of its class's list. */
static inline void list_insert(struct rgn_heap *h, uint8_t *base, uint64_t c,
			       uint64_t size)
{
	unsigned fl, sl;
	uint64_t slot, head;

	class_of(size, &fl, &sl);
	slot = slot_of(h, fl, sl);
	head = get64(base, slot);
	put64(base, c + NEXT, head);
	put64(base, c + PREV, 0);
	if (head)
		put64(base, head + PREV, c);
	put64(base, slot, c);
	h->hp_sl_map[fl] |= 1u << sl;
	h->hp_fl_map |= 1u << fl;
}

/* Take free chunk C of SIZE bytes off its list, wherever it is in it. */
static inline void list_unlink(struct rgn_heap *h, uint8_t *base, uint64_t c,
			       uint64_t size)
{
	uint64_t next = get64(base, c + NEXT), prev = get64(base, c + PREV);
	unsigned fl, sl;

	if (next)
		put64(base, next + PREV, prev);
	if (prev) {
		put64(base, prev + NEXT, next);
		return;
	}
	class_of(size, &fl, &sl);
	put64(base, slot_of(h, fl, sl), next);
	if (!next) {
		h->hp_sl_map[fl] &= ~(1u << sl);
		if (!h->hp_sl_map[fl])
			h->hp_fl_map &= ~(1u << fl);
	}
}

#endif /* RGN_ALLOC_INT_H */
