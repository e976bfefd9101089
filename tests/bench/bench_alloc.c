/*
 * bench_alloc.c - the allocator inside a region (rgn_alloc / rgn_free)
 * against Boost.Interprocess's managed_shared_memory and glibc malloc.
 *
 * The workload is one trace, made once from a fixed seed and replayed by
 * every allocator: 10,000 allocations fill the live set, then pairs of
 * (free a random live block, allocate a new one) bring the total to
 * 1,000,000 operations, so about 10,000 blocks stay live.  Sizes are
 * log-uniform between 16 B and 64 KiB (mean about 7.7 KiB, 77 MiB live).
 * Blocks are not touched: this measures the allocators, not memory.
 *
 * Every allocator keeps its memory across runs (the region and the Boost
 * segment are made once; malloc's trim threshold is raised), so after the
 * warm-up no run pays for first-touch page faults.  rgn_alloc and Boost's
 * allocate both take a process-shared mutex per call; malloc takes none.
 *
 * Overhead per live block: at the end of the trace, (bytes that left the
 * allocator's free memory - bytes requested by the live blocks) / live
 * blocks; free memory as rgn_alloc_stat().free_bytes and Boost's
 * get_free_memory().  Rounding, headers and unusable slivers count;
 * free holes between live blocks do not (both report them as free).
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "rgn.h"
#ifdef RGN_BENCH_BOOST
#include "peer_boost.h"
#endif

#define LIVE	 10000u
#define MIN_SIZE 16u
#define MAX_SIZE 65536u
#define ARENA	 ((uint64_t)256 << 20) /* region and Boost segment */
#define SEED	 0x5eedf00dcafe1234ull

struct op {
	uint32_t slot; /* which live slot */
	uint32_t size; /* 0: free the slot; else allocate it */
};

static struct op *trace;
static size_t nops;
static uint64_t slots[LIVE]; /* offsets or pointers; 0 = empty */
static uint32_t slot_size[LIVE];

static uint64_t rng = SEED;

static uint64_t next_rand(void)
{
	/* xorshift64*: fixed sequence for a fixed seed, everywhere */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static uint32_t log_uniform_size(void)
{
	double u = (double)(next_rand() >> 11) / (double)(1ull << 53);
	double s = MIN_SIZE * pow((double)MAX_SIZE / MIN_SIZE, u);

	return s > MAX_SIZE ? MAX_SIZE : (uint32_t)s;
}

static void make_trace(size_t total)
{
	size_t n = 0;

	trace = calloc(total, sizeof(*trace));
	if (!trace) {
		fprintf(stderr, "bench_alloc: out of memory\n");
		exit(1);
	}
	for (uint32_t i = 0; i < LIVE && n < total; i++)
		trace[n++] = (struct op){i, log_uniform_size()};
	while (n + 2 <= total) {
		uint32_t s = (uint32_t)(next_rand() % LIVE);

		trace[n++] = (struct op){s, 0};
		trace[n++] = (struct op){s, log_uniform_size()};
	}
	nops = n;
}

/* Bytes requested by the blocks live at the end of the trace. */
static uint64_t live_request_bytes(uint64_t *count)
{
	uint64_t sum = 0, n = 0;

	for (uint32_t i = 0; i < LIVE; i++) {
		if (slots[i]) {
			sum += slot_size[i];
			n++;
		}
	}
	*count = n;
	return sum;
}

/* ---- regionfs ----------------------------------------------------------- */

static rgn_env *renv;
static rgn_region *rregion;

static int rgn_setup(void)
{
	struct rgn_env_config cfg;
	const char *home = bench_mkdir("alloc", 1);
	int rc;

	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	rc = rgn_env_open(home, &cfg, &renv);
	if (rc == 0)
		rc = rgn_region_create(renv, "heap", RGN_TYPE_USER, ARENA,
				       &rregion);
	if (rc < 0)
		return bench_err("regionfs: set-up in %s: %s (%s)", home,
				 rgn_strerror(rc), rgn_errdetail());
	return 0;
}

static int rgn_free_all(void)
{
	for (uint32_t i = 0; i < LIVE; i++) {
		if (slots[i] && rgn_free(rregion, slots[i]) < 0)
			return bench_err("regionfs: rgn_free: %s",
					 rgn_errdetail());
		slots[i] = 0;
	}
	return 0;
}

/* Replay the trace; leaves the final live set in slots[]. */
static int rgn_replay(double *seconds)
{
	uint64_t t0 = bench_now_ns();

	for (size_t i = 0; i < nops; i++) {
		const struct op *o = &trace[i];
		int rc;

		if (o->size) {
			rc = rgn_alloc(rregion, o->size, &slots[o->slot]);
			slot_size[o->slot] = o->size;
		} else {
			rc = rgn_free(rregion, slots[o->slot]);
			slots[o->slot] = 0;
		}
		if (rc < 0)
			return bench_err("regionfs: op %zu: %s (%s)", i,
					 rgn_strerror(rc), rgn_errdetail());
	}
	*seconds = (double)(bench_now_ns() - t0) / 1e9;
	return 0;
}

static int rgn_ops(void *ctx, double *mops)
{
	double s = 0;

	(void)ctx;
	if (rgn_replay(&s) < 0 || rgn_free_all() < 0)
		return -1;
	*mops = (double)nops / s / 1e6;
	return 0;
}

static int rgn_free_bytes(uint64_t *free_bytes)
{
	struct rgn_alloc_stat st;
	int rc = rgn_alloc_stat(rregion, &st);

	if (rc < 0)
		return bench_err("regionfs: rgn_alloc_stat: %s",
				 rgn_strerror(rc));
	*free_bytes = st.free_bytes;
	return 0;
}

static int rgn_overhead(void *ctx, double *bytes)
{
	uint64_t before, after, req, n;
	double s = 0;

	(void)ctx;
	if (rgn_free_bytes(&before) < 0 || rgn_replay(&s) < 0 ||
	    rgn_free_bytes(&after) < 0)
		return -1;
	req = live_request_bytes(&n);
	*bytes = ((double)(before - after) - (double)req) / (double)n;
	return rgn_free_all();
}

/* ---- glibc malloc ------------------------------------------------------- */

static int malloc_replay(double *seconds)
{
	uint64_t t0 = bench_now_ns();

	for (size_t i = 0; i < nops; i++) {
		const struct op *o = &trace[i];

		if (o->size) {
			void *p = malloc(o->size);

			if (!p)
				return bench_err("malloc(%u) failed", o->size);
			slots[o->slot] = (uint64_t)(uintptr_t)p;
		} else {
			free((void *)(uintptr_t)slots[o->slot]);
			slots[o->slot] = 0;
		}
	}
	*seconds = (double)(bench_now_ns() - t0) / 1e9;
	return 0;
}

static int malloc_ops(void *ctx, double *mops)
{
	double s = 0;

	(void)ctx;
	if (malloc_replay(&s) < 0)
		return -1;
	for (uint32_t i = 0; i < LIVE; i++) {
		free((void *)(uintptr_t)slots[i]);
		slots[i] = 0;
	}
	*mops = (double)nops / s / 1e6;
	return 0;
}

/* ---- Boost.Interprocess ------------------------------------------------- */

#ifdef RGN_BENCH_BOOST
static struct bpeer *bseg;

static int boost_setup(void)
{
	char name[64], err[256];

	snprintf(name, sizeof(name), "rgn-bench-boost-%d", (int)getpid());
	bseg = bpeer_open(name, ARENA, err, sizeof(err));
	if (!bseg)
		return bench_err("Boost: %s", err);
	return 0;
}

static int boost_replay(double *seconds)
{
	uint64_t t0 = bench_now_ns();

	for (size_t i = 0; i < nops; i++) {
		const struct op *o = &trace[i];

		if (o->size) {
			void *p = bpeer_alloc(bseg, o->size);

			if (!p)
				return bench_err("Boost: allocate(%u) failed",
						 o->size);
			slots[o->slot] = (uint64_t)(uintptr_t)p;
			slot_size[o->slot] = o->size;
		} else {
			bpeer_free(bseg, (void *)(uintptr_t)slots[o->slot]);
			slots[o->slot] = 0;
		}
	}
	*seconds = (double)(bench_now_ns() - t0) / 1e9;
	return 0;
}

static void boost_free_all(void)
{
	for (uint32_t i = 0; i < LIVE; i++) {
		if (slots[i])
			bpeer_free(bseg, (void *)(uintptr_t)slots[i]);
		slots[i] = 0;
	}
}

static int boost_ops(void *ctx, double *mops)
{
	double s = 0;

	(void)ctx;
	if (boost_replay(&s) < 0)
		return -1;
	boost_free_all();
	*mops = (double)nops / s / 1e6;
	return 0;
}

static int boost_overhead(void *ctx, double *bytes)
{
	uint64_t before = bpeer_free_memory(bseg), after, req, n;
	double s = 0;

	(void)ctx;
	if (boost_replay(&s) < 0)
		return -1;
	after = bpeer_free_memory(bseg);
	req = live_request_bytes(&n);
	*bytes = ((double)(before - after) - (double)req) / (double)n;
	boost_free_all();
	return 0;
}
#endif

int main(int argc, char **argv)
{
	bench_fn boost_ops_fn = NULL, boost_overhead_fn = NULL;
	const char *boost_skip = "Boost.Interprocess headers not found at "
				 "build time (tests/bench/setup.sh)";
	char name1[128], name2[128], name3[128];
	size_t total;

	bench_init(argc, argv, "bench_alloc");
	total = bench.quick ? 100000 : 1000000;
	make_trace(total);
	/* malloc keeps its pages between runs, like the other two, and does
	 * not fill blocks (meson test sets MALLOC_PERTURB_ for tests). */
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_PERTURB, 0);
	if (rgn_setup() < 0)
		return 1;
#ifdef RGN_BENCH_BOOST
	if (boost_setup() < 0)
		boost_skip = "Boost segment could not be created";
	else
		boost_ops_fn = boost_ops, boost_overhead_fn = boost_overhead;
#endif
	snprintf(name1, sizeof(name1),
		 "%zuk alloc/free 16B-64KiB, 10k live, vs Boost", nops / 1000);
	snprintf(name2, sizeof(name2),
		 "%zuk alloc/free 16B-64KiB, 10k live, vs malloc", nops / 1000);
	snprintf(name3, sizeof(name3),
		 "allocator overhead per live block (same trace)");
	struct bench_measure vs_boost = {
		.group = "alloc",
		.name = name1,
		.unit = "Mops/s",
		.higher_better = 1,
		.target_op = ">=",
		.target = 1.0,
		.a = {"regionfs", rgn_ops, NULL, NULL},
		.b = {"Boost.IPC", boost_ops_fn, NULL, boost_skip},
		.note = "rgn_alloc/rgn_free in a 256 MiB region (files "
			"backing, tmpfs) vs managed_shared_memory "
			"allocate/deallocate in a 256 MiB segment",
	};
	struct bench_measure vs_malloc = {
		.group = "alloc",
		.name = name2,
		.unit = "Mops/s",
		.higher_better = 1,
		.target_op = ">=",
		.target = 0.5,
		.a = {"regionfs", rgn_ops, NULL, NULL},
		.b = {"malloc", malloc_ops, NULL, NULL},
		.note = "glibc malloc/free, single thread, trim threshold "
			"1 GiB",
	};
	struct bench_measure overhead = {
		.group = "alloc",
		.name = name3,
		.unit = "B/block",
		.target_op = "<=",
		.target = 1.0,
		.a = {"regionfs", rgn_overhead, NULL, NULL},
		.b = {"Boost.IPC", boost_overhead_fn, NULL, boost_skip},
		.note = "(free bytes before - after - bytes requested) / live "
			"blocks, at the end of the trace",
	};
	bench_run(&vs_boost);
	bench_run(&vs_malloc);
	bench_run(&overhead);
#ifdef RGN_BENCH_BOOST
	if (bseg)
		bpeer_close(bseg);
#endif
	rgn_env_close(renv);
	free(trace);
	return bench_finish();
}
