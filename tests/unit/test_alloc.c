/*
 * test_alloc.c - the heap inside a region: placement, merging, misuse,
 * exhaustion, statistics, and invariants under a random workload.  The
 * checker, repair and processes sharing a heap are in test_alloc_repair.c.
 *
 * The heap runs in an ordinary aligned buffer (alloc_fx.h).
 */
#include "alloc_fx.h"

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
		rgn_heap_init(fx->h, fx->base, ARENA_OFF + 16, ARENA_LEN),
		-EINVAL);
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
		rgn_heap_alloc(fx->h, fx->base, (uint64_t)1 << 40, &off),
		-ENOMEM);
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
			tu_ok(rgn_heap_alloc(fx->h, fx->base, size[i],
					     &off[i]));
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
#undef T
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
