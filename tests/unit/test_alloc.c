/*
 * test_alloc.c - the heap inside a region: placement, merging, misuse,
 * exhaustion, statistics, invariants under a random workload, corruption
 * detection, repair after a dead holder, and processes sharing one heap.
 *
 * Most tests run the heap in an ordinary aligned buffer: the heap only
 * knows offsets, so it cannot tell.  Two tests put it in a MAP_SHARED
 * mapping and fork.
 */
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

static int setup(void **state)
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

static int teardown(void **state)
{
	struct fx *fx = *state;

	free(fx->base);
	free(fx);
	return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* Log-uniform in [lo, hi): a random octave, then uniform inside it. */
static uint64_t rnd_size(uint64_t *s, unsigned lo_log2, unsigned hi_log2)
{
	unsigned k = lo_log2 + (unsigned)(rnd(s) % (hi_log2 - lo_log2));

	return ((uint64_t)1 << k) + rnd(s) % ((uint64_t)1 << k);
}

static uint64_t pat(uint64_t seed, uint64_t i)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + i;

	return x ^ (x >> 29);
}

/* Fill or verify LEN bytes with a pattern only SEED produces. */
static void fill(uint8_t *p, uint64_t len, uint64_t seed)
{
	uint64_t i, w;

	for (i = 0; i + 8 <= len; i += 8) {
		w = pat(seed, i);
		memcpy(p + i, &w, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)pat(seed, i);
}

static int intact(const uint8_t *p, uint64_t len, uint64_t seed)
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

static int read_buf(void *ctx, uint64_t off, void *buf, size_t len)
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

static struct rgn_alloc_stat stat_of(const struct fx *fx)
{
	struct reader r = {.buf = fx->base, .len = BUF_LEN};
	struct rgn_alloc_stat st;

	tu_ok(rgn_heap_stat(fx->h, read_buf, &r, &st));
	return st;
}

static uint64_t must_alloc(struct fx *fx, uint64_t size)
{
	uint64_t off = 0;

	tu_ok(rgn_heap_alloc(fx->h, fx->base, size, &off));
	return off;
}

/* The chunk header in front of the block at OFF, and the chunk's size. */
static uint64_t *header_of(struct fx *fx, uint64_t off)
{
	return (uint64_t *)(fx->base + off - 8);
}

static uint64_t chunk_size(struct fx *fx, uint64_t off)
{
	return *header_of(fx, off) & 0x0000fffffffffff0ull;
}

/* ---- init ---------------------------------------------------------------- */

static void init_rejects_tiny_arena(void **state)
{
	struct fx *fx = *state;
	struct rgn_heap *h = fx->h;
	uint64_t off;

	assert_int_equal(
	    rgn_heap_init(h, fx->base, ARENA_OFF, RGN_HEAP_MIN_ARENA - 1),
	    -EINVAL);
	assert_true(strlen(rgn_errdetail()) > 0);
	assert_int_equal(rgn_heap_init(h, fx->base, ARENA_OFF, 64), -EINVAL);
	assert_int_equal(rgn_heap_init(h, fx->base, ARENA_OFF, 0), -EINVAL);

	/* The minimum itself is usable. */
	tu_ok(rgn_heap_init(h, fx->base, ARENA_OFF, RGN_HEAP_MIN_ARENA));
	tu_ok(rgn_heap_check(h, fx->base));
	tu_ok(rgn_heap_alloc(h, fx->base, 1000, &off));
	tu_ok(rgn_heap_check(h, fx->base));
}

static void init_rejects_misplaced_arena(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(
	    rgn_heap_init(fx->h, fx->base, ARENA_OFF + 16, ARENA_LEN), -EINVAL);
	assert_int_equal(
	    rgn_heap_init((struct rgn_heap *)(fx->base + ARENA_OFF + 4096),
			  fx->base, ARENA_OFF, ARENA_LEN),
	    -EINVAL);
	assert_int_equal(rgn_heap_init(fx->h, fx->base, ARENA_OFF,
				       RGN_HEAP_MAX_ARENA + 4096),
			 -EINVAL);
	assert_int_equal(
	    rgn_heap_init(fx->h, fx->base, UINT64_MAX - 63, ARENA_LEN),
	    -EINVAL);
}

/* ---- alloc and free ------------------------------------------------------ */

static void alloc_returns_aligned_offsets_inside_arena(void **state)
{
	struct fx *fx = *state;
	uint64_t offs[300], sizes[300];
	uint64_t seed = 7;

	for (int i = 0; i < 300; i++) {
		sizes[i] = i < 200 ? (uint64_t)i + 1 : rnd_size(&seed, 4, 12);
		offs[i] = must_alloc(fx, sizes[i]);
		assert_int_equal(offs[i] % 16, 0);
		assert_true(offs[i] >= ARENA_OFF);
		assert_true(offs[i] + sizes[i] <= ARENA_OFF + ARENA_LEN);
		assert_true(rgn_heap_usable(fx->h, fx->base, offs[i]) >=
			    sizes[i]);
		fill(fx->base + offs[i], sizes[i], (uint64_t)i);
	}
	/* No block overlaps another: every pattern survived. */
	for (int i = 0; i < 300; i++)
		assert_true(intact(fx->base + offs[i], sizes[i], (uint64_t)i));
	tu_ok(rgn_heap_check(fx->h, fx->base));
}

static void alloc_rejects_zero_and_impossible_sizes(void **state)
{
	struct fx *fx = *state;
	uint64_t off = 12345;

	assert_int_equal(rgn_heap_alloc(fx->h, fx->base, 0, &off), -EINVAL);
	assert_int_equal(rgn_heap_alloc(fx->h, fx->base, UINT64_MAX, &off),
			 -ENOMEM);
	assert_int_equal(rgn_heap_alloc(fx->h, fx->base, UINT64_MAX - 7, &off),
			 -ENOMEM);
	assert_int_equal(
	    rgn_heap_alloc(fx->h, fx->base, (uint64_t)1 << 40, &off), -ENOMEM);
	assert_int_equal(rgn_heap_alloc(fx->h, fx->base, ARENA_LEN, &off),
			 -ENOMEM);
	assert_int_equal(off, 12345);
	/* size 0 is a caller error, not a failed allocation */
	assert_int_equal(stat_of(fx).nfail, 4);
	assert_int_equal(stat_of(fx).nalloc, 0);
	tu_ok(rgn_heap_check(fx->h, fx->base));
}

static void usable_covers_request_and_rejects_non_blocks(void **state)
{
	struct fx *fx = *state;
	uint64_t a = must_alloc(fx, 100), b = must_alloc(fx, 1);
	uint64_t u = rgn_heap_usable(fx->h, fx->base, a);

	assert_true(u >= 100 && u < 100 + 16);
	assert_true(rgn_heap_usable(fx->h, fx->base, b) >= 1);
	assert_int_equal(rgn_heap_usable(fx->h, fx->base, a + 16), 0);
	assert_int_equal(rgn_heap_usable(fx->h, fx->base, a + 1), 0);
	assert_int_equal(rgn_heap_usable(fx->h, fx->base, ARENA_OFF), 0);
	assert_int_equal(rgn_heap_usable(fx->h, fx->base, 0), 0);
	assert_int_equal(
	    rgn_heap_usable(fx->h, fx->base, ARENA_OFF + ARENA_LEN), 0);
	tu_ok(rgn_heap_free(fx->h, fx->base, a));
	assert_int_equal(rgn_heap_usable(fx->h, fx->base, a), 0);
}

static void freed_space_is_reused(void **state)
{
	struct fx *fx = *state;
	uint64_t a = must_alloc(fx, 200);

	must_alloc(fx, 200); /* keeps a from merging with the rest */
	tu_ok(rgn_heap_free(fx->h, fx->base, a));
	assert_int_equal(must_alloc(fx, 200), a);
	tu_ok(rgn_heap_check(fx->h, fx->base));
}

static void free_merges_neighbours_into_one_chunk(void **state)
{
	struct fx *fx = *state;
	uint64_t a = must_alloc(fx, 100), b = must_alloc(fx, 100);
	uint64_t c = must_alloc(fx, 100), d = must_alloc(fx, 100);
	uint64_t whole = (c - a) + rgn_heap_usable(fx->h, fx->base, c);

	assert_int_equal(stat_of(fx).free_chunks, 1);
	tu_ok(rgn_heap_free(fx->h, fx->base, a));
	tu_ok(rgn_heap_free(fx->h, fx->base, c));
	assert_int_equal(stat_of(fx).free_chunks, 3);
	tu_ok(rgn_heap_check(fx->h, fx->base));

	/* b joins a before it and c after it. */
	tu_ok(rgn_heap_free(fx->h, fx->base, b));
	assert_int_equal(stat_of(fx).free_chunks, 2);
	tu_ok(rgn_heap_check(fx->h, fx->base));

	/* The merged chunk is exactly three chunks long, and one request
	 * of that size takes all of it. */
	assert_int_equal(must_alloc(fx, whole), a);
	assert_int_equal(rgn_heap_usable(fx->h, fx->base, a), whole);
	assert_int_equal(stat_of(fx).free_chunks, 1);

	/* d merges with the free tail after it. */
	tu_ok(rgn_heap_free(fx->h, fx->base, d));
	tu_ok(rgn_heap_free(fx->h, fx->base, a));
	assert_int_equal(stat_of(fx).free_chunks, 1);
	assert_int_equal(stat_of(fx).live_blocks, 0);
	tu_ok(rgn_heap_check(fx->h, fx->base));
}

static void double_free_is_rejected(void **state)
{
	struct fx *fx = *state;
	uint64_t a = must_alloc(fx, 64), b = must_alloc(fx, 64);
	uint64_t c = must_alloc(fx, 64), x, y;

	must_alloc(fx, 64);
	tu_ok(rgn_heap_free(fx->h, fx->base, b));
	assert_int_equal(rgn_heap_free(fx->h, fx->base, b), -EINVAL);
	assert_non_null(strstr(rgn_errdetail(), "free"));

	/* a takes b into its chunk; b's old header must not pass again. */
	tu_ok(rgn_heap_free(fx->h, fx->base, a));
	assert_int_equal(rgn_heap_free(fx->h, fx->base, a), -EINVAL);
	assert_int_equal(rgn_heap_free(fx->h, fx->base, b), -EINVAL);

	/* c is swallowed by the free chunk before it. */
	tu_ok(rgn_heap_free(fx->h, fx->base, c));
	assert_int_equal(rgn_heap_free(fx->h, fx->base, c), -EINVAL);

	x = must_alloc(fx, 5000);
	y = must_alloc(fx, 5000);
	assert_int_equal(rgn_heap_free(fx->h, fx->base, x + 1), -EINVAL);
	assert_int_equal(rgn_heap_free(fx->h, fx->base, x + 16), -EINVAL);
	assert_int_equal(rgn_heap_free(fx->h, fx->base, 0), -EINVAL);
	assert_int_equal(rgn_heap_free(fx->h, fx->base, ARENA_OFF), -EINVAL);
	assert_int_equal(
	    rgn_heap_free(fx->h, fx->base, ARENA_OFF + ARENA_LEN + 64),
	    -EINVAL);
	tu_ok(rgn_heap_free(fx->h, fx->base, y));
	tu_ok(rgn_heap_free(fx->h, fx->base, x));
	assert_int_equal(stat_of(fx).nfree, 5);
	tu_ok(rgn_heap_check(fx->h, fx->base));
}

static void stale_offset_inside_a_reused_chunk_is_rejected(void **state)
{
	struct fx *fx = *state;
	uint64_t x = must_alloc(fx, 64), y = must_alloc(fx, 64);
	uint64_t w = must_alloc(fx, 64), big;

	must_alloc(fx, 64);
	tu_ok(rgn_heap_free(fx->h, fx->base, x));
	tu_ok(rgn_heap_free(fx->h, fx->base, y));
	tu_ok(rgn_heap_free(fx->h, fx->base, w));
	/* A block over x and y, with a fresh free chunk right after it
	 * where w was: y's old header must not pass for a block. */
	big = must_alloc(fx, (w - x) - 8);
	assert_int_equal(big, x);
	assert_int_equal(rgn_heap_free(fx->h, fx->base, y), -EINVAL);
	assert_int_equal(rgn_heap_usable(fx->h, fx->base, y), 0);
	tu_ok(rgn_heap_check(fx->h, fx->base));
}

static void exhaustion_returns_enomem_and_counts_failure(void **state)
{
	struct fx *fx = *state;
	uint64_t offs[128], off = 0, initial_free;
	int n = 0, rc;

	tu_ok(rgn_heap_init(fx->h, fx->base, ARENA_OFF, 64 * 1024));
	initial_free = stat_of(fx).free_bytes;
	while ((rc = rgn_heap_alloc(fx->h, fx->base, 1000, &off)) == 0) {
		assert_true(n < 128);
		offs[n++] = off;
	}
	assert_int_equal(rc, -ENOMEM);
	assert_true(strlen(rgn_errdetail()) > 0);
	/* Nothing is wasted but headers and rounding: 1008-byte chunks. */
	assert_int_equal(n, initial_free / 1008);
	assert_int_equal(stat_of(fx).nfail, 1);
	assert_int_equal(stat_of(fx).nalloc, (uint64_t)n);
	tu_ok(rgn_heap_check(fx->h, fx->base));

	/* Space freed is available again; a larger request still fails. */
	tu_ok(rgn_heap_free(fx->h, fx->base, offs[n / 2]));
	assert_int_equal(rgn_heap_alloc(fx->h, fx->base, 1001, &off), -ENOMEM);
	assert_int_equal(stat_of(fx).nfail, 2);
	assert_int_equal(must_alloc(fx, 1000), offs[n / 2]);
	tu_ok(rgn_heap_check(fx->h, fx->base));
}

/* ---- statistics ---------------------------------------------------------- */

static void stats_track_used_free_and_histogram(void **state)
{
	struct fx *fx = *state;
	static const uint64_t sizes[] = {1, 16, 17, 31, 32, 1000, 4096, 65535};
	static const unsigned buckets[] = {0, 4, 4, 4, 5, 9, 12, 15};
	uint64_t offs[8], chunks = 0;
	struct rgn_alloc_stat s0, s;

	s0 = stat_of(fx);
	assert_int_equal(s0.arena_bytes, ARENA_LEN);
	assert_int_equal(s0.used_bytes + s0.free_bytes, s0.arena_bytes);
	assert_true(s0.used_bytes > 0); /* the heap's own table */
	assert_int_equal(s0.live_blocks, 0);
	assert_int_equal(s0.free_chunks, 1);
	assert_int_equal(s0.largest_free, s0.free_bytes);

	for (int i = 0; i < 8; i++) {
		offs[i] = must_alloc(fx, sizes[i]);
		chunks += rgn_heap_usable(fx->h, fx->base, offs[i]) + 8;
	}
	s = stat_of(fx);
	assert_int_equal(s.live_blocks, 8);
	assert_int_equal(s.nalloc, 8);
	assert_int_equal(s.used_bytes, s0.used_bytes + chunks);
	assert_int_equal(s.used_bytes + s.free_bytes, s.arena_bytes);
	for (unsigned b = 0; b < RGN_HIST_BUCKETS; b++) {
		uint64_t want = 0;

		for (int i = 0; i < 8; i++)
			want += buckets[i] == b;
		assert_int_equal(s.hist[b], want);
	}

	tu_ok(rgn_heap_free(fx->h, fx->base, offs[2])); /* the 17 */
	s = stat_of(fx);
	assert_int_equal(s.hist[4], 2);
	assert_int_equal(s.live_blocks, 7);
	assert_int_equal(s.nfree, 1);

	for (int i = 0; i < 8; i++)
		if (i != 2)
			tu_ok(rgn_heap_free(fx->h, fx->base, offs[i]));
	s = stat_of(fx);
	assert_int_equal(s.used_bytes, s0.used_bytes);
	assert_int_equal(s.free_bytes, s0.free_bytes);
	assert_int_equal(s.free_chunks, 1);
	assert_int_equal(s.live_blocks, 0);
	assert_int_equal(s.nfree, 8);
	for (unsigned b = 0; b < RGN_HIST_BUCKETS; b++)
		assert_int_equal(s.hist[b], 0);
}

static void largest_free_is_exact(void **state)
{
	struct fx *fx = *state;
	uint64_t a1, a2, rest, chunk2;

	/* Two holes in the same size class, 192 bytes apart; the smaller
	 * ends up first on the list. */
	a1 = must_alloc(fx, 100000);
	must_alloc(fx, 16);
	a2 = must_alloc(fx, 100200);
	chunk2 = chunk_size(fx, a2);
	assert_true(chunk2 > chunk_size(fx, a1));
	must_alloc(fx, 16);
	rest = stat_of(fx).largest_free;
	assert_int_equal(rest, stat_of(fx).free_bytes);
	must_alloc(fx, rest - 8); /* the largest chunk can be had whole */
	assert_int_equal(stat_of(fx).free_chunks, 0);
	assert_int_equal(stat_of(fx).largest_free, 0);

	tu_ok(rgn_heap_free(fx->h, fx->base, a2));
	tu_ok(rgn_heap_free(fx->h, fx->base, a1));
	assert_int_equal(stat_of(fx).free_chunks, 2);
	assert_int_equal(stat_of(fx).largest_free, chunk2);
	tu_ok(rgn_heap_check(fx->h, fx->base));
}

static void stat_works_on_a_copied_header_through_reader(void **state)
{
	struct fx *fx = *state;
	struct rgn_alloc_stat live, copied;
	struct rgn_heap copy, blank;
	struct reader r;
	uint8_t *snap = malloc(ARENA_OFF + ARENA_LEN);
	uint64_t offs[40];

	assert_non_null(snap);
	for (int i = 0; i < 40; i++)
		offs[i] = must_alloc(fx, 100 + 1000 * (uint64_t)i);
	for (int i = 0; i < 40; i += 3)
		tu_ok(rgn_heap_free(fx->h, fx->base, offs[i]));
	live = stat_of(fx);

	/* Header and arena copied out, the originals scribbled over: the
	 * stat can only have come through the reader. */
	memcpy(&copy, fx->h, sizeof(copy));
	memcpy(snap, fx->base, ARENA_OFF + ARENA_LEN);
	memset(fx->base, 0xee, ARENA_OFF + ARENA_LEN);
	r = (struct reader){.buf = snap, .len = ARENA_OFF + ARENA_LEN};
	tu_ok(rgn_heap_stat(&copy, read_buf, &r, &copied));
	assert_true(r.calls > 0);
	assert_memory_equal(&live, &copied, sizeof(live));
	assert_true(copied.largest_free > 0);

	/* The reader's errors come back. */
	r.fail = -EIO;
	assert_int_equal(rgn_heap_stat(&copy, read_buf, &r, &copied), -EIO);

	/* A header that was never initialised is refused. */
	memset(&blank, 0, sizeof(blank));
	r.fail = 0;
	assert_int_equal(rgn_heap_stat(&blank, read_buf, &r, &copied),
			 RGN_ECORRUPT);
	free(snap);
}

static void stat_of_stale_snapshot_asks_to_retry(void **state)
{
	struct fx *fx = *state;
	struct reader r = {.buf = fx->base, .len = BUF_LEN};
	struct rgn_alloc_stat st;
	struct rgn_heap old;
	uint64_t big;

	/* Snapshot while one big free chunk exists, then take most of it:
	 * the class the snapshot points at is empty by the time it is
	 * read. */
	memcpy(&old, fx->h, sizeof(old));
	must_alloc(fx, ARENA_LEN - 64 * 1024);
	assert_int_equal(rgn_heap_stat(&old, read_buf, &r, &st), -EAGAIN);
	tu_ok(rgn_heap_stat(fx->h, read_buf, &r, &st));

	/* The list still leads to the chunk, but it has been allocated. */
	memcpy(&old, fx->h, sizeof(old));
	big = old.hp_first;
	while (!(*(uint64_t *)(fx->base + big) & 1))
		big += *(uint64_t *)(fx->base + big) & 0xfffffffffff0ull;
	*(uint64_t *)(fx->base + big) &= ~(uint64_t)1;
	assert_int_equal(rgn_heap_stat(&old, read_buf, &r, &st), -EAGAIN);
}

/* ---- invariants under load ----------------------------------------------- */

#define RW_SLOTS 400
#define RW_OPS	 40000
#define RW_ARENA (16u << 20)

static void random_workload_keeps_invariants(void **state)
{
	struct fx *fx = *state;
	static uint64_t off[RW_SLOTS], size[RW_SLOTS], seed_of[RW_SLOTS];
	uint64_t hist[RGN_HIST_BUCKETS] = {0}, seed = 0x5eed, live = 0;
	struct rgn_alloc_stat st;
	unsigned i;

	memset(off, 0, sizeof(off));
	tu_ok(rgn_heap_init(fx->h, fx->base, ARENA_OFF, RW_ARENA));
	for (unsigned op = 1; op <= RW_OPS; op++) {
		i = (unsigned)(rnd(&seed) % RW_SLOTS);
		if (off[i]) {
			assert_true(
			    intact(fx->base + off[i], size[i], seed_of[i]));
			tu_ok(rgn_heap_free(fx->h, fx->base, off[i]));
			hist[63 - __builtin_clzll(size[i])]--;
			off[i] = 0;
			live--;
		} else {
			size[i] = rnd_size(&seed, 4, 16);
			seed_of[i] = op;
			tu_ok(
			    rgn_heap_alloc(fx->h, fx->base, size[i], &off[i]));
			assert_true(rgn_heap_usable(fx->h, fx->base, off[i]) >=
				    size[i]);
			fill(fx->base + off[i], size[i], op);
			hist[63 - __builtin_clzll(size[i])]++;
			live++;
		}
		if (op % 500 == 0) {
			tu_ok(rgn_heap_check(fx->h, fx->base));
			st = stat_of(fx);
			assert_int_equal(st.live_blocks, live);
			assert_memory_equal(st.hist, hist, sizeof(hist));
			assert_int_equal(st.used_bytes + st.free_bytes,
					 st.arena_bytes);
		}
	}
	for (i = 0; i < RW_SLOTS; i++) {
		if (!off[i])
			continue;
		assert_true(intact(fx->base + off[i], size[i], seed_of[i]));
		tu_ok(rgn_heap_free(fx->h, fx->base, off[i]));
	}
	tu_ok(rgn_heap_check(fx->h, fx->base));
	st = stat_of(fx);
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.free_chunks, 1);
	assert_int_equal(st.nfail, 0);
	assert_int_equal(st.nalloc, st.nfree);
}

static void heap_is_position_independent(void **state)
{
	struct fx *fx = *state;
	uint8_t *moved = aligned_alloc(64, ARENA_OFF + ARENA_LEN);
	struct rgn_heap *mh = (struct rgn_heap *)moved;
	uint64_t offs[50], seed = 3;

	assert_non_null(moved);
	for (int i = 0; i < 50; i++) {
		offs[i] = must_alloc(fx, rnd_size(&seed, 4, 12));
		fill(fx->base + offs[i], 16, (uint64_t)i);
	}
	/* The same bytes at another address are the same heap. */
	memcpy(moved, fx->base, ARENA_OFF + ARENA_LEN);
	tu_ok(rgn_heap_check(mh, moved));
	for (int i = 0; i < 50; i += 2) {
		assert_true(intact(moved + offs[i], 16, (uint64_t)i));
		tu_ok(rgn_heap_free(mh, moved, offs[i]));
	}
	tu_ok(rgn_heap_check(mh, moved));
	tu_ok(rgn_heap_check(fx->h, fx->base)); /* the original untouched */
	assert_int_equal(stat_of(fx).live_blocks, 50);
	free(moved);
}

/* ---- corruption ---------------------------------------------------------- */

/* A heap with live blocks L[0..5] and free holes where L[1], L[3] were. */
static void sample_heap(struct fx *fx, uint64_t L[6])
{
	tu_ok(rgn_heap_init(fx->h, fx->base, ARENA_OFF, ARENA_LEN));
	for (int i = 0; i < 6; i++) {
		L[i] = must_alloc(fx, 300 + 500 * (uint64_t)i);
		fill(fx->base + L[i], 300, (uint64_t)i);
	}
	tu_ok(rgn_heap_free(fx->h, fx->base, L[1]));
	tu_ok(rgn_heap_free(fx->h, fx->base, L[3]));
	tu_ok(rgn_heap_check(fx->h, fx->base));
}

static void expect_corrupt(struct fx *fx, const char *what)
{
	int rc = rgn_heap_check(fx->h, fx->base);

	if (rc != RGN_ECORRUPT)
		fail_msg("%s: check returned %d, not RGN_ECORRUPT", what, rc);
	if (strlen(rgn_errdetail()) == 0)
		fail_msg("%s: no detail recorded", what);
}

static void check_detects_corruption(void **state)
{
	struct fx *fx = *state;
	uint64_t L[6], hole, bad, footer, forged, slot;
	char where[64];

	sample_heap(fx, L);
	*header_of(fx, L[2]) = 0x1234;
	expect_corrupt(fx, "live header overwritten");
	snprintf(where, sizeof(where), "offset %" PRIu64, L[2] - 8);
	assert_non_null(strstr(rgn_errdetail(), where));

	sample_heap(fx, L);
	*header_of(fx, L[2]) += 16; /* a size that ends mid-chunk */
	expect_corrupt(fx, "live size changed");

	sample_heap(fx, L);
	hole = L[1] - 8;
	bad = L[4] - 8; /* a live chunk */
	memcpy(fx->base + hole + 8, &bad, 8);
	expect_corrupt(fx, "free-list link redirected");

	/* A list entry replaced by a forged free chunk inside a live block:
	 * every entry looks right, the counts agree, only the set differs. */
	sample_heap(fx, L);
	forged = L[2] + 8;
	hole = L[1] - 8;
	bad = chunk_size(fx, L[1]) | 1 | 0xa5ull << 56;
	memcpy(fx->base + forged, &bad, 8);
	memset(fx->base + forged + 8, 0, 16);
	for (slot = ARENA_OFF; slot < fx->h->hp_first - 8; slot += 8)
		if (*(uint64_t *)(fx->base + slot) == hole)
			break;
	assert_true(slot < fx->h->hp_first - 8);
	assert_int_equal(*(uint64_t *)(fx->base + hole + 8), 0); /* alone */
	memcpy(fx->base + slot, &forged, 8);
	expect_corrupt(fx, "forged free chunk");

	sample_heap(fx, L);
	*header_of(fx, L[2]) ^= 2; /* claims the hole before is live */
	expect_corrupt(fx, "prev-free bit flipped");

	sample_heap(fx, L);
	footer = L[3] - 8 + chunk_size(fx, L[3]) - 8;
	*(uint64_t *)(fx->base + footer) += 16;
	expect_corrupt(fx, "free chunk footer");
	assert_non_null(strstr(rgn_errdetail(), "footer"));

	sample_heap(fx, L);
	fx->h->hp_live++;
	expect_corrupt(fx, "live counter");

	sample_heap(fx, L);
	fx->h->hp_hist[8]--;
	expect_corrupt(fx, "histogram");

	sample_heap(fx, L);
	fx->h->hp_fl_map = 0;
	expect_corrupt(fx, "first-level bitmap");

	sample_heap(fx, L);
	memset(fx->base + ARENA_OFF, 0, fx->h->hp_first - ARENA_OFF);
	expect_corrupt(fx, "heads table overrun into the guard");

	sample_heap(fx, L);
	fx->h->hp_busy = RGN_HEAP_OP_FREE;
	expect_corrupt(fx, "interrupted operation");
	assert_non_null(strstr(rgn_errdetail(), "interrupted"));

	sample_heap(fx, L);
	fx->h->hp_magic = 0;
	expect_corrupt(fx, "magic");
}

static void free_refuses_block_next_to_corrupt_neighbour(void **state)
{
	struct fx *fx = *state;
	uint64_t L[6];

	sample_heap(fx, L);
	/* The hole before L[2] lost its header: L[2]'s prev-free bit now
	 * points at garbage, and free must not merge into it. */
	*header_of(fx, L[1]) = 0;
	assert_int_equal(rgn_heap_free(fx->h, fx->base, L[2]), RGN_ECORRUPT);
	assert_int_equal(fx->h->hp_busy, 0);
	assert_int_equal(stat_of(fx).live_blocks, 4);
}

/* ---- repair -------------------------------------------------------------- */

static void verify_sample_blocks(struct fx *fx, const uint64_t L[6])
{
	for (int i = 0; i < 6; i++)
		if (i != 1 && i != 3)
			assert_true(intact(fx->base + L[i], 300, (uint64_t)i));
}

static void
repair_after_interrupted_operation_restores_consistency(void **state)
{
	struct fx *fx = *state;
	uint64_t L[6], bad = 12345, a, b;
	struct rgn_alloc_stat before = {0}, after;

	sample_heap(fx, L);
	before = stat_of(fx);
	/* Died in an alloc after unlinking a chunk halfway. */
	fx->h->hp_busy = RGN_HEAP_OP_ALLOC;
	fx->h->hp_pending = L[1] - 8;
	memcpy(fx->base + L[1], &bad, 8);
	fx->h->hp_sl_map[0] = 0xffffffff;
	fx->h->hp_free += 999;
	fx->h->hp_free_chunks = 17;
	expect_corrupt(fx, "before repair");

	tu_ok(rgn_heap_repair(fx->h, fx->base));
	tu_ok(rgn_heap_check(fx->h, fx->base));
	assert_int_equal(fx->h->hp_busy, 0);
	verify_sample_blocks(fx, L);
	after = stat_of(fx);
	assert_int_equal(after.live_blocks, before.live_blocks);
	assert_int_equal(after.free_bytes, before.free_bytes);
	assert_int_equal(after.free_chunks, before.free_chunks);
	assert_memory_equal(after.hist, before.hist, sizeof(after.hist));

	/* Repair is idempotent: a repairer that died is simply repeated. */
	fx->h->hp_busy = RGN_HEAP_OP_FREE;
	tu_ok(rgn_heap_repair(fx->h, fx->base));
	after = stat_of(fx);
	assert_int_equal(after.free_chunks, before.free_chunks);
	verify_sample_blocks(fx, L);

	/* And it works as a heap again. */
	a = must_alloc(fx, 300);
	b = must_alloc(fx, 70000);
	tu_ok(rgn_heap_free(fx->h, fx->base, L[0]));
	tu_ok(rgn_heap_free(fx->h, fx->base, a));
	tu_ok(rgn_heap_free(fx->h, fx->base, b));
	tu_ok(rgn_heap_check(fx->h, fx->base));
}

static void repair_rolls_back_interrupted_alloc(void **state)
{
	struct fx *fx = *state;
	uint64_t L[6], x;
	struct rgn_alloc_stat before, after;

	sample_heap(fx, L);
	before = stat_of(fx);
	/* Died right after the header commit, counters already bumped: the
	 * block is marked live, but nobody ever received its offset. */
	x = must_alloc(fx, 5000);
	fx->h->hp_pending = x - 8;
	fx->h->hp_busy = RGN_HEAP_OP_ALLOC;

	tu_ok(rgn_heap_repair(fx->h, fx->base));
	assert_int_equal(rgn_heap_usable(fx->h, fx->base, x), 0);
	after = stat_of(fx);
	assert_int_equal(after.live_blocks, before.live_blocks);
	assert_int_equal(after.free_bytes, before.free_bytes);
	assert_int_equal(after.free_chunks, before.free_chunks);
	verify_sample_blocks(fx, L);
}

static void repair_completes_interrupted_free(void **state)
{
	struct fx *fx = *state;
	uint64_t L[6], p, c, psize, csize, merged;
	struct rgn_alloc_stat before, after;

	/* Died before the free changed anything but the live counter. */
	sample_heap(fx, L);
	before = stat_of(fx);
	fx->h->hp_pending = L[4] - 8;
	fx->h->hp_busy = RGN_HEAP_OP_FREE;
	fx->h->hp_live--;
	tu_ok(rgn_heap_repair(fx->h, fx->base));
	assert_int_equal(rgn_heap_usable(fx->h, fx->base, L[4]), 0);
	after = stat_of(fx);
	assert_int_equal(after.live_blocks, before.live_blocks - 1);
	/* L[4] merged with the hole where L[3] was. */
	assert_int_equal(after.free_chunks, before.free_chunks);
	assert_int_equal(rgn_heap_free(fx->h, fx->base, L[4]), -EINVAL);

	/* Died mid-merge of L[4] into the hole before it: the hole's
	 * header already spans L[4], but L[4]'s header, the lists and the
	 * counters are the old ones. */
	sample_heap(fx, L);
	before = stat_of(fx);
	p = L[3] - 8;
	c = L[4] - 8;
	psize = chunk_size(fx, L[3]);
	csize = chunk_size(fx, L[4]);
	assert_int_equal(p + psize, c);
	merged = psize + csize;
	memcpy(fx->base + c + csize - 8, &merged, 8); /* footer... */
	*header_of(fx, L[3]) += csize;		      /* ...and commit */
	fx->h->hp_pending = c;
	fx->h->hp_busy = RGN_HEAP_OP_FREE;
	expect_corrupt(fx, "mid-merge");
	tu_ok(rgn_heap_repair(fx->h, fx->base));
	after = stat_of(fx);
	assert_int_equal(after.live_blocks, before.live_blocks - 1);
	assert_int_equal(after.free_bytes, before.free_bytes + csize);
	assert_int_equal(after.free_chunks, before.free_chunks);
	assert_int_equal(after.largest_free, before.largest_free);
	assert_int_equal(rgn_heap_free(fx->h, fx->base, L[4]), -EINVAL);
	assert_int_equal(rgn_heap_usable(fx->h, fx->base, L[4]), 0);
	tu_ok(rgn_heap_check(fx->h, fx->base));
}

static void repair_without_busy_marker_only_verifies(void **state)
{
	struct fx *fx = *state;
	uint64_t L[6], bad = 4242, now;

	sample_heap(fx, L);
	tu_ok(rgn_heap_repair(fx->h, fx->base));

	/* Not interrupted, yet broken: reported, and left as found. */
	memcpy(fx->base + L[3], &bad, 8);
	assert_int_equal(rgn_heap_repair(fx->h, fx->base), RGN_ECORRUPT);
	memcpy(&now, fx->base + L[3], 8);
	assert_int_equal(now, bad);
}

static void repair_refuses_unwalkable_chunk_sequence(void **state)
{
	struct fx *fx = *state;
	uint64_t L[6];

	sample_heap(fx, L);
	fx->h->hp_busy = RGN_HEAP_OP_ALLOC;
	*header_of(fx, L[4]) = 0xdeadbeef;
	assert_int_equal(rgn_heap_repair(fx->h, fx->base), RGN_ECORRUPT);
	assert_non_null(strstr(rgn_errdetail(), "offset"));

	sample_heap(fx, L);
	fx->h->hp_busy = 77;
	assert_int_equal(rgn_heap_repair(fx->h, fx->base), RGN_ECORRUPT);
}

/* ---- several processes --------------------------------------------------- */

#define NCHILD	  4
#define PER_CHILD 300
#define SH_ARENA  (8u << 20)

struct shared {
	pthread_mutex_t sh_mu;		     /* the "region mutex" */
	struct rgn_heap sh_heap;	     /* the heap header */
	uint64_t sh_off[NCHILD][PER_CHILD];  /* blocks kept, 0 if freed */
	uint64_t sh_size[NCHILD][PER_CHILD]; /* their requested sizes */
	volatile uint32_t sh_started;	     /* child entered its loop */
};

#define SH_ARENA_OFF ((sizeof(struct shared) + 63) / 64 * 64)

static struct shared *map_shared(uint64_t arena, int robust)
{
	pthread_mutexattr_t ma;
	struct shared *sh;

	sh = mmap(NULL, SH_ARENA_OFF + arena, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(sh != MAP_FAILED);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	if (robust)
		pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	assert_int_equal(pthread_mutex_init(&sh->sh_mu, &ma), 0);
	pthread_mutexattr_destroy(&ma);
	tu_ok(rgn_heap_init(&sh->sh_heap, (uint8_t *)sh, SH_ARENA_OFF, arena));
	return sh;
}

/* Child K: allocate, fill outside the lock, free every third block. */
static int share_child(struct shared *sh, int k)
{
	uint8_t *base = (uint8_t *)sh;
	uint64_t seed = 0x1000 + (uint64_t)k, off, size;
	int rc;

	for (int i = 0; i < PER_CHILD; i++) {
		size = rnd_size(&seed, 4, 14);
		pthread_mutex_lock(&sh->sh_mu);
		rc = rgn_heap_alloc(&sh->sh_heap, base, size, &off);
		pthread_mutex_unlock(&sh->sh_mu);
		if (rc)
			return 1;
		fill(base + off, size, (uint64_t)(k * PER_CHILD + i));
		sh->sh_size[k][i] = size;
		sh->sh_off[k][i] = off;
		if (i % 3 == 2) {
			int j = i - 2;

			if (!intact(base + sh->sh_off[k][j], sh->sh_size[k][j],
				    (uint64_t)(k * PER_CHILD + j)))
				return 2;
			pthread_mutex_lock(&sh->sh_mu);
			rc =
			    rgn_heap_free(&sh->sh_heap, base, sh->sh_off[k][j]);
			pthread_mutex_unlock(&sh->sh_mu);
			if (rc)
				return 3;
			sh->sh_off[k][j] = 0;
		}
	}
	return 0;
}

static void processes_share_one_heap_through_offsets(void **state)
{
	struct shared *sh = map_shared(SH_ARENA, 0);
	uint8_t *base = (uint8_t *)sh;
	pid_t pids[NCHILD];
	uint64_t kept = 0;
	struct rgn_alloc_stat st;
	struct reader r = {.buf = base, .len = SH_ARENA_OFF + SH_ARENA};

	(void)state;
	for (int k = 0; k < NCHILD; k++) {
		pids[k] = tu_fork();
		if (pids[k] == 0)
			_exit(share_child(sh, k));
	}
	for (int k = 0; k < NCHILD; k++)
		assert_int_equal(tu_wait(pids[k]), 0);

	for (int k = 0; k < NCHILD; k++) {
		for (int i = 0; i < PER_CHILD; i++) {
			if (!sh->sh_off[k][i])
				continue;
			assert_true(intact(base + sh->sh_off[k][i],
					   sh->sh_size[k][i],
					   (uint64_t)(k * PER_CHILD + i)));
			kept++;
		}
	}
	tu_ok(rgn_heap_check(&sh->sh_heap, base));
	tu_ok(rgn_heap_stat(&sh->sh_heap, read_buf, &r, &st));
	assert_int_equal(kept, NCHILD * (PER_CHILD - PER_CHILD / 3));
	assert_int_equal(st.live_blocks, kept);
	assert_int_equal(st.nalloc, NCHILD * PER_CHILD);
	assert_int_equal(st.nfree, NCHILD * (PER_CHILD / 3));
	munmap(sh, SH_ARENA_OFF + SH_ARENA);
}

/* Allocate and free under the lock until killed. */
static _Noreturn void churn_child(struct shared *sh, uint64_t seed)
{
	uint8_t *base = (uint8_t *)sh;
	uint64_t mine[64] = {0}, off;
	unsigned i;

	for (;;) {
		i = (unsigned)(rnd(&seed) % 64);
		if (pthread_mutex_lock(&sh->sh_mu) == EOWNERDEAD)
			_exit(9); /* only the parent repairs */
		sh->sh_started = 1;
		if (mine[i]) {
			rgn_heap_free(&sh->sh_heap, base, mine[i]);
			mine[i] = 0;
		} else if (rgn_heap_alloc(&sh->sh_heap, base,
					  rnd_size(&seed, 4, 11), &off) == 0) {
			mine[i] = off;
		}
		pthread_mutex_unlock(&sh->sh_mu);
	}
}

static void repair_after_killed_holder_leaves_valid_heap(void **state)
{
	struct shared *sh = map_shared(16u << 20, 1);
	uint8_t *base = (uint8_t *)sh;
	uint64_t seed = 99, probe;
	int interrupted = 0, rc;
	struct timespec ts;
	pid_t pid;

	(void)state;
	for (int round = 0; round < 100; round++) {
		sh->sh_started = 0;
		pid = tu_fork();
		if (pid == 0)
			churn_child(sh, seed + (uint64_t)round);
		while (!sh->sh_started)
			sched_yield();
		ts = (struct timespec){0, (long)(rnd(&seed) % 2000000)};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		assert_int_equal(tu_wait(pid), 128 + SIGKILL);

		rc = pthread_mutex_lock(&sh->sh_mu);
		assert_true(rc == 0 || rc == EOWNERDEAD);
		interrupted += sh->sh_heap.hp_busy != 0;
		tu_ok(rgn_heap_repair(&sh->sh_heap, base));
		if (rc == EOWNERDEAD)
			assert_int_equal(pthread_mutex_consistent(&sh->sh_mu),
					 0);
		tu_ok(rgn_heap_check(&sh->sh_heap, base));
		tu_ok(rgn_heap_alloc(&sh->sh_heap, base, 100, &probe));
		tu_ok(rgn_heap_free(&sh->sh_heap, base, probe));
		pthread_mutex_unlock(&sh->sh_mu);
	}
	/* The kills must have hit operations in flight, or this proved
	 * nothing; a holder spends most of its time inside one. */
	assert_true(interrupted > 0);
	munmap(sh, SH_ARENA_OFF + (16u << 20));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	    T(init_rejects_tiny_arena),
	    T(init_rejects_misplaced_arena),
	    T(alloc_returns_aligned_offsets_inside_arena),
	    T(alloc_rejects_zero_and_impossible_sizes),
	    T(usable_covers_request_and_rejects_non_blocks),
	    T(freed_space_is_reused),
	    T(free_merges_neighbours_into_one_chunk),
	    T(double_free_is_rejected),
	    T(stale_offset_inside_a_reused_chunk_is_rejected),
	    T(exhaustion_returns_enomem_and_counts_failure),
	    T(stats_track_used_free_and_histogram),
	    T(largest_free_is_exact),
	    T(stat_works_on_a_copied_header_through_reader),
	    T(stat_of_stale_snapshot_asks_to_retry),
	    T(random_workload_keeps_invariants),
	    T(heap_is_position_independent),
	    T(check_detects_corruption),
	    T(free_refuses_block_next_to_corrupt_neighbour),
	    T(repair_after_interrupted_operation_restores_consistency),
	    T(repair_rolls_back_interrupted_alloc),
	    T(repair_completes_interrupted_free),
	    T(repair_without_busy_marker_only_verifies),
	    T(repair_refuses_unwalkable_chunk_sequence),
	    T(processes_share_one_heap_through_offsets),
	    T(repair_after_killed_holder_leaves_valid_heap),
#undef T
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
