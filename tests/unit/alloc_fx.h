/*
 * alloc_fx.h - the fixture and helpers of the allocator tests
 * (test_alloc.c, test_alloc_repair.c): a heap in an ordinary aligned
 * buffer (the heap only knows offsets, so it cannot tell), patterns that
 * prove a block's bytes intact, and a reader over a buffer.  Static inline
 * so each test file uses what it needs.
 */
#ifndef RGN_ALLOC_FX_H
#define RGN_ALLOC_FX_H

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "rgn.h"
#include "testutil.h"

#define ARENA_OFF 1024u			    /* the heap header sits at 0 */
#define ARENA_LEN (1024u * 1024)	    /* default arena */
#define BUF_LEN	  (ARENA_OFF + (16u << 20)) /* room for the largest arena */

struct fx {
	uint8_t *base;	    /* the "mapping" */
	struct rgn_heap *h; /* at offset 0 of it */
};

static inline int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	fx->base = aligned_alloc(64, BUF_LEN);
	if (!fx->base) {
		free(fx);
		return -1;
	}
	memset(fx->base, 0, BUF_LEN);
	fx->h = (struct rgn_heap *)fx->base;
	*state = fx;
	return rgn_heap_init(fx->h, fx->base, ARENA_OFF, ARENA_LEN);
}

static inline int teardown(void **state)
{
	struct fx *fx = *state;

	free(fx->base);
	free(fx);
	return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static inline uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* Log-uniform in [lo, hi): a random octave, then uniform inside it. */
static inline uint64_t rnd_size(uint64_t *s, unsigned lo_log2, unsigned hi_log2)
{
	unsigned k = lo_log2 + (unsigned)(rnd(s) % (hi_log2 - lo_log2));

	return ((uint64_t)1 << k) + rnd(s) % ((uint64_t)1 << k);
}

static inline uint64_t pat(uint64_t seed, uint64_t i)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + i;

	return x ^ (x >> 29);
}

/* Fill or verify LEN bytes with a pattern only SEED produces. */
static inline void fill(uint8_t *p, uint64_t len, uint64_t seed)
{
	uint64_t i, w;

	for (i = 0; i + 8 <= len; i += 8) {
		w = pat(seed, i);
		memcpy(p + i, &w, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)pat(seed, i);
}

static inline int intact(const uint8_t *p, uint64_t len, uint64_t seed)
{
	uint64_t i, w;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		if (w != pat(seed, i))
			return 0;
	}
	for (; i < len; i++)
		if (p[i] != (uint8_t)pat(seed, i))
			return 0;
	return 1;
}

/* A reader over a byte buffer, as pread would be over a region. */
struct reader {
	const uint8_t *buf; /* what offsets index */
	uint64_t len;	    /* bytes readable */
	unsigned calls;	    /* reads served */
	int fail;	    /* nonzero: return this instead */
};

static inline int read_buf(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct reader *r = ctx;

	r->calls++;
	if (r->fail)
		return r->fail;
	if (off > r->len || len > r->len - off)
		return -EFAULT;
	memcpy(buf, r->buf + off, len);
	return 0;
}

static inline struct rgn_alloc_stat stat_of(const struct fx *fx)
{
	struct reader r = {.buf = fx->base, .len = BUF_LEN};
	struct rgn_alloc_stat st;

	tu_ok(rgn_heap_stat(fx->h, read_buf, &r, &st));
	return st;
}

static inline uint64_t must_alloc(struct fx *fx, uint64_t size)
{
	uint64_t off = 0;

	tu_ok(rgn_heap_alloc(fx->h, fx->base, size, &off));
	return off;
}

/* The chunk header in front of the block at OFF, and the chunk's size. */
static inline uint64_t *header_of(struct fx *fx, uint64_t off)
{
	return (uint64_t *)(fx->base + off - 8);
}

static inline uint64_t chunk_size(struct fx *fx, uint64_t off)
{
	return *header_of(fx, off) & 0x0000fffffffffff0ull;
}

#endif /* RGN_ALLOC_FX_H */
