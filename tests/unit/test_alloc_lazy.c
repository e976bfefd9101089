/*
 * test_alloc_lazy.c - the untouched heap (rgn_heap_init_zeroed): a heap
 * whose arena is not written until the first alloc, so that a region
 * nobody allocates from costs its header page only.  What must hold: no
 * call but a successful alloc touches the arena (proved on pages with no
 * access at all); the heap behaves exactly as an eagerly initialised
 * twin, byte for byte once written; a holder killed while writing it
 * leaves a heap the next one finishes; and a real segment stays one page
 * until allocated from, even while an observer takes its figures.
 */
#include <sys/wait.h>

#include "alloc_fx.h"
#include "internal.h"

#define PAGE 4096u

/* ---- an arena nobody may touch ------------------------------------------- */

/* The header on a page of its own, then an arena of LEN bytes with no
 * access: reading or writing it kills the test with SIGSEGV. */
struct fenced {
	uint8_t *base;
	struct rgn_heap *h;
	size_t total;
};

static void fence(struct fenced *f, uint64_t len)
{
	f->total = PAGE + len;
	f->base = mmap(NULL, f->total, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(f->base != MAP_FAILED);
	f->h = (struct rgn_heap *)f->base;
	assert_int_equal(mprotect(f->base + PAGE, len, PROT_NONE), 0);
}

static void unfence(struct fenced *f)
{
	munmap(f->base, f->total);
}

static void expect_einval_naming(int rc, const char *what)
{
	assert_int_equal(rc, -EINVAL);
	if (!strstr(rgn_errdetail(), what))
		fail_msg("detail \"%s\" does not say \"%s\"", rgn_errdetail(),
			 what);
}

static void untouched_heap_answers_without_touching_its_arena(void **state)
{
	const uint64_t len = 64 * 1024;
	struct reader r;
	struct rgn_alloc_stat st;
	struct fenced f;
	uint64_t off = 7, span;

	(void)state;
	fence(&f, len);
	r = (struct reader){.buf = f.base, .len = f.total};
	tu_ok(rgn_heap_init_zeroed(f.h, f.base, PAGE, len));
	assert_int_equal(f.h->hp_untouched, 1);
	span = f.h->hp_end - f.h->hp_first;
	tu_ok(rgn_heap_check(f.h, f.base));
	tu_ok(rgn_heap_repair(f.h, f.base));
	tu_ok(rgn_heap_stat(f.h, read_buf, &r, &st));
	assert_int_equal(r.calls, 0);
	assert_int_equal(st.arena_bytes, len);
	assert_int_equal(st.free_bytes, span);
	assert_int_equal(st.used_bytes + st.free_bytes, len);
	assert_int_equal(st.free_chunks, 1);
	assert_int_equal(st.largest_free, span);
	assert_int_equal(st.live_blocks, 0);

	assert_int_equal(rgn_heap_usable(f.h, f.base, f.h->hp_first + 8), 0);
	assert_int_equal(rgn_heap_usable(f.h, f.base, PAGE + 4096), 0);
	assert_int_equal(rgn_heap_usable(f.h, f.base, 0), 0);
	expect_einval_naming(rgn_heap_free(f.h, f.base, f.h->hp_first + 8),
			     "nothing was ever allocated");
	expect_einval_naming(rgn_heap_free(f.h, f.base, 12345),
			     "nothing was ever allocated");
	assert_int_equal(rgn_heap_alloc(f.h, f.base, 0, &off), -EINVAL);

	/* A request the one free chunk cannot hold fails as on a written
	 * heap, counted, and writes nothing. */
	assert_int_equal(rgn_heap_alloc(f.h, f.base, span, &off), -ENOMEM);
	assert_int_equal(rgn_heap_alloc(f.h, f.base, UINT64_MAX, &off),
			 -ENOMEM);
	assert_int_equal(f.h->hp_nfail, 2);
	assert_int_equal(f.h->hp_untouched, 1);
	tu_ok(rgn_heap_check(f.h, f.base));
	tu_ok(rgn_heap_stat(f.h, read_buf, &r, &st));
	assert_int_equal(st.nfail, 2);

	/* The largest block it can hold is the one free chunk, once the
	 * arena may be written. */
	assert_int_equal(mprotect(f.base + PAGE, len, PROT_READ | PROT_WRITE),
			 0);
	tu_ok(rgn_heap_alloc(f.h, f.base, span - 8, &off));
	assert_int_equal(f.h->hp_untouched, 0);
	assert_int_equal(off, f.h->hp_first + 8);
	tu_ok(rgn_heap_check(f.h, f.base));
	tu_ok(rgn_heap_free(f.h, f.base, off));
	tu_ok(rgn_heap_check(f.h, f.base));
	unfence(&f);
}

/* A header flagged untouched whose figures are not the untouched state's
 * is corrupt, and saying so reads nothing of the arena either. */
static void untouched_header_that_lies_is_corrupt(void **state)
{
	const uint64_t len = 64 * 1024;
	struct reader r;
	struct rgn_alloc_stat st;
	struct rgn_heap good;
	struct fenced f;

	(void)state;
	fence(&f, len);
	r = (struct reader){.buf = f.base, .len = f.total};
	tu_ok(rgn_heap_init_zeroed(f.h, f.base, PAGE, len));
	good = *f.h;
	for (int k = 0; k < 11; k++) {
		*f.h = good;
		switch (k) {
		case 0:
			f.h->hp_live = 1;
			break;
		case 1:
			f.h->hp_nalloc = 1;
			break;
		case 2:
			f.h->hp_nfree = 1;
			break;
		case 3:
			f.h->hp_free_chunks = 2;
			break;
		case 4:
			f.h->hp_free -= 16;
			break;
		case 5:
			f.h->hp_used += 16;
			break;
		case 6:
			f.h->hp_hist[3] = 1;
			break;
		case 7:
			f.h->hp_fl_map |= 1;
			break;
		case 8:
			f.h->hp_sl_map[0] ^= 2;
			break;
		case 9:
			f.h->hp_untouched = 2;
			break;
		case 10:
			f.h->hp_pending = f.h->hp_first;
			break;
		}
		if (rgn_heap_check(f.h, f.base) != RGN_ECORRUPT)
			fail_msg("lie %d accepted by the check", k);
		if (rgn_heap_repair(f.h, f.base) != RGN_ECORRUPT)
			fail_msg("lie %d accepted by the repair", k);
		if (rgn_heap_stat(f.h, read_buf, &r, &st) == 0)
			fail_msg("lie %d accepted by stat", k);
		assert_int_equal(r.calls, 0);
	}
	/* Flagged and busy: nothing can have been in progress. */
	*f.h = good;
	f.h->hp_busy = RGN_HEAP_OP_ALLOC;
	assert_int_equal(rgn_heap_repair(f.h, f.base), RGN_ECORRUPT);
	assert_non_null(strstr(rgn_errdetail(), "untouched"));
	unfence(&f);
}

/* ---- the same heap, written late ----------------------------------------- */

struct twin {
	uint8_t *eager, *lazy;
	struct rgn_heap *he, *hl;
};

static void twins(struct twin *t, uint64_t len)
{
	t->eager = aligned_alloc(64, BUF_LEN);
	t->lazy = aligned_alloc(64, BUF_LEN);
	assert_non_null(t->eager);
	assert_non_null(t->lazy);
	memset(t->eager, 0, BUF_LEN);
	memset(t->lazy, 0, BUF_LEN);
	t->he = (struct rgn_heap *)t->eager;
	t->hl = (struct rgn_heap *)t->lazy;
	tu_ok(rgn_heap_init(t->he, t->eager, ARENA_OFF, len));
	tu_ok(rgn_heap_init_zeroed(t->hl, t->lazy, ARENA_OFF, len));
}

static void untwin(struct twin *t)
{
	free(t->eager);
	free(t->lazy);
}

/* Headers equal but for the flag; arenas byte-identical when WRITTEN. */
static void same(const struct twin *t, int written, const char *when)
{
	struct reader re = {.buf = t->eager, .len = BUF_LEN};
	struct reader rl = {.buf = t->lazy, .len = BUF_LEN};
	struct rgn_alloc_stat se, sl;
	struct rgn_heap copy = *t->hl;

	copy.hp_untouched = t->he->hp_untouched;
	if (memcmp(&copy, t->he, sizeof(copy)))
		fail_msg("%s: the headers differ", when);
	tu_ok(rgn_heap_stat(t->he, read_buf, &re, &se));
	tu_ok(rgn_heap_stat(t->hl, read_buf, &rl, &sl));
	if (memcmp(&se, &sl, sizeof(se)))
		fail_msg("%s: the stats differ (largest %" PRIu64
			 " and %" PRIu64 ")",
			 when, se.largest_free, sl.largest_free);
	if (written && memcmp(t->eager + ARENA_OFF, t->lazy + ARENA_OFF,
			      t->he->hp_arena_len))
		fail_msg("%s: the arenas differ", when);
}

static void lazy_heap_is_its_eager_twin(void **state)
{
	static const uint64_t lens[] = {RGN_HEAP_MIN_ARENA, 64 * 1024 + 48,
					ARENA_LEN};
	enum { NBLK = 256, STEPS = 3000 };
	uint64_t offs[NBLK], seed = 0x5eed1e55;
	unsigned nlive;
	char when[64];
	struct twin t;

	(void)state;
	for (size_t L = 0; L < sizeof(lens) / sizeof(lens[0]); L++) {
		twins(&t, lens[L]);
		assert_int_equal(t.he->hp_untouched, 0);
		assert_int_equal(t.hl->hp_untouched, 1);
		same(&t, 0, "after init");
		nlive = 0;
		for (int i = 0; i < STEPS; i++) {
			uint64_t oe = 0, ol = 0, size;
			int re, rl;

			snprintf(when, sizeof(when),
				 "arena %" PRIu64 " step %d", lens[L], i);
			if (i < 3 || (nlive < NBLK && rnd(&seed) % 3)) {
				/* The first steps: too large, then fits. */
				size = i == 0 ? lens[L]
					      : rnd_size(&seed, 0, 14);
				re = rgn_heap_alloc(t.he, t.eager, size, &oe);
				rl = rgn_heap_alloc(t.hl, t.lazy, size, &ol);
				assert_int_equal(re, rl);
				assert_int_equal(oe, ol);
				if (re == 0)
					offs[nlive++] = oe;
			} else if (nlive) {
				unsigned k = (unsigned)(rnd(&seed) % nlive);

				tu_ok(rgn_heap_free(t.he, t.eager, offs[k]));
				tu_ok(rgn_heap_free(t.hl, t.lazy, offs[k]));
				offs[k] = offs[--nlive];
			}
			if (i == 0)
				assert_int_equal(t.hl->hp_untouched, 1);
			same(&t, !t.hl->hp_untouched, when);
			if (i % 500 == 0 || i < 3) {
				tu_ok(rgn_heap_check(t.hl, t.lazy));
			}
		}
		assert_int_equal(t.hl->hp_untouched, 0);
		tu_ok(rgn_heap_check(t.he, t.eager));
		tu_ok(rgn_heap_check(t.hl, t.lazy));
		untwin(&t);
	}
}

/* ---- a holder dies while writing the arena ------------------------------- */

/*
 * The words the first alloc writes before it clears the flag are fixed
 * values at fixed places, and nothing orders them among themselves: a
 * holder may die with any subset of them stored.  From every subset, the
 * next holder's repair accepts the heap and its alloc gives what the
 * eager twin's does, byte for byte.
 */
static void every_partial_write_of_the_arena_is_finished(void **state)
{
	enum { MAXW = 12 };
	uint64_t where[MAXW], what[MAXW], oe, ol, w;
	unsigned nw = 0;
	struct twin t;

	(void)state;
	twins(&t, ARENA_LEN);
	for (uint64_t o = ARENA_OFF; o < ARENA_OFF + ARENA_LEN; o += 8) {
		memcpy(&w, t.eager + o, 8);
		if (!w)
			continue;
		assert_true(nw < MAXW);
		where[nw] = o;
		what[nw++] = w;
	}
	/* Guard, first header, its list slot, footer, sentinel. */
	assert_int_equal(nw, 5);
	tu_ok(rgn_heap_alloc(t.he, t.eager, 100, &oe));
	for (unsigned mask = 0; mask < 1u << nw; mask++) {
		memset(t.lazy, 0, BUF_LEN);
		tu_ok(rgn_heap_init_zeroed(t.hl, t.lazy, ARENA_OFF, ARENA_LEN));
		for (unsigned k = 0; k < nw; k++)
			if (mask >> k & 1)
				memcpy(t.lazy + where[k], &what[k], 8);
		/* Every other mask: a table slot left dirty too, which the
		 * rewrite must clear all the same. */
		if (mask & 1)
			memset(t.lazy + ARENA_OFF, 0xee, 8);
		tu_ok(rgn_heap_repair(t.hl, t.lazy));
		assert_int_equal(t.hl->hp_untouched, 1);
		tu_ok(rgn_heap_alloc(t.hl, t.lazy, 100, &ol));
		assert_int_equal(ol, oe);
		tu_ok(rgn_heap_check(t.hl, t.lazy));
		same(&t, 1, "after a partial write");
	}
	untwin(&t);
}

/* In a child: the first alloc on the untouched heap ARG (its mapping
 * starts at the header), killed part-way by tu_kill_child_at. */
static void alloc_child(const void *arg)
{
	struct rgn_heap *h = (struct rgn_heap *)arg;
	uint64_t off;

	rgn_heap_alloc(h, (uint8_t *)h, 100, &off);
}

/* A real process killed with SIGKILL at each point of the first alloc's
 * writes, the heap in memory it shares with us; we take over as the next
 * holder would: repair, then alloc. */
static void holder_killed_while_writing_the_arena(void **state)
{
	static const char *const points[] = {
		"heap-materialize:table", "heap-materialize:first",
		"heap-materialize:end", "heap-materialize:head"};
	struct twin t;
	uint64_t oe, ol;
	uint8_t *shared;

	(void)state;
	twins(&t, ARENA_LEN);
	tu_ok(rgn_heap_alloc(t.he, t.eager, 100, &oe));
	shared = mmap(NULL, BUF_LEN, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(shared != MAP_FAILED);
	for (size_t p = 0; p < sizeof(points) / sizeof(points[0]); p++) {
		struct rgn_heap *h = (struct rgn_heap *)shared;

		memset(shared, 0, BUF_LEN);
		tu_ok(rgn_heap_init_zeroed(h, shared, ARENA_OFF, ARENA_LEN));
		tu_kill_child_at(points[p], alloc_child, h);
		assert_int_equal(h->hp_untouched, 1);

		tu_ok(rgn_heap_repair(h, shared));
		tu_ok(rgn_heap_alloc(h, shared, 100, &ol));
		assert_int_equal(ol, oe);
		tu_ok(rgn_heap_check(h, shared));
		memcpy(t.lazy, shared, BUF_LEN);
		same(&t, 1, points[p]);
	}
	munmap(shared, BUF_LEN);
	untwin(&t);
}

/* ---- a real segment -------------------------------------------------------
 */

static void new_segment_region_costs_one_page(void **state)
{
	const char *home = tu_mkhome();
	const uint64_t size = 256 * 1024;
	struct rgn_env_config cfg;
	struct rgn_env_stat *st;
	rgn_env *env, *obs;
	rgn_region *r;
	uint64_t off;
	int shmid;

	(void)state;
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	cfg.backing = RGN_BACKING_SYSV;
	cfg.shm_key = 0x51a7a000;
	tu_ok(rgn_env_open(home, &cfg, &env));
	tu_ok(rgn_region_create(env, "lazy", RGN_TYPE_USER, size, &r));
	tu_ok(rgn_stat_env(env, &st));
	assert_int_equal(st->nregions, 2);
	shmid = st->regions[1].shmid;
	rgn_stat_free(st);
	assert_int_equal(tu_segment_rss(shmid), PAGE);

	/* An observer's figures, from the header alone. */
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_INSPECT;
	tu_ok(rgn_env_open(home, &cfg, &obs));
	tu_ok(rgn_stat_env(obs, &st));
	assert_int_equal(st->regions[1].detail, 0);
	assert_int_equal(st->regions[1].alloc.free_chunks, 1);
	assert_int_equal(st->regions[1].alloc.live_blocks, 0);
	assert_true(st->regions[1].alloc.largest_free > size - 3 * PAGE);
	rgn_stat_free(st);
	assert_int_equal(tu_segment_rss(shmid), PAGE);

	/* The first alloc writes the arena's first page and the region's
	 * last; the header's second page stays untouched. */
	tu_ok(rgn_alloc(r, 100, &off));
	assert_int_equal(tu_segment_rss(shmid), 3 * PAGE);
	tu_ok(rgn_stat_env(obs, &st));
	assert_int_equal(st->regions[1].alloc.live_blocks, 1);
	rgn_stat_free(st);
	assert_int_equal(tu_segment_rss(shmid), 3 * PAGE);
	tu_ok(rgn_env_close(obs));
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			untouched_heap_answers_without_touching_its_arena),
		cmocka_unit_test(untouched_header_that_lies_is_corrupt),
		cmocka_unit_test(lazy_heap_is_its_eager_twin),
		cmocka_unit_test(every_partial_write_of_the_arena_is_finished),
		cmocka_unit_test(holder_killed_while_writing_the_arena),
		cmocka_unit_test(new_segment_region_costs_one_page),
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
