/*
 * test_alloc_repair.c - the heap inside a region when things go wrong:
 * corruption detection, repair after an operation interrupted by a dead
 * holder, and processes sharing one heap, one of them killed mid-churn.
 *
 * Most tests run the heap in an ordinary aligned buffer (alloc_fx.h); two
 * put it in a MAP_SHARED mapping and fork.
 */
#include "alloc_fx.h"

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

static void repair_after_interrupted_operation_restores_consistency(
	void **state)
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
			rc = rgn_heap_free(&sh->sh_heap, base,
					   sh->sh_off[k][j]);
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
