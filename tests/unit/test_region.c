/*
 * test_region.c - regions by name and id: create, attach, detach, remove,
 * offsets and pointers, raw reads, and ids past 999.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "rgn.h"
#include "testutil.h"

static rgn_env *create_env(const char *home)
{
	struct rgn_env_config cfg;
	rgn_env *env;

	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	tu_ok(rgn_env_open(home, &cfg, &env));
	return env;
}

static void every_type_can_be_created_and_attached_by_name_or_id(void **state)
{
	static const enum rgn_region_type types[] = {
		RGN_TYPE_LOCK,	RGN_TYPE_LOG, RGN_TYPE_MPOOL,
		RGN_TYPE_MUTEX, RGN_TYPE_TXN, RGN_TYPE_USER};
	const char *home = tu_mkhome();
	rgn_env *env = create_env(home);
	struct rgn_env_stat *st;

	(void)state;
	for (size_t i = 0; i < 6; i++) {
		rgn_region *r, *byname, *byid;
		enum rgn_region_type parsed;

		tu_ok(rgn_region_create(env, rgn_type_name(types[i]), types[i],
					1 << 16, &r));
		tu_ok(rgn_region_attach(env, rgn_type_name(types[i]), &byname));
		tu_ok(rgn_region_attach_id(env, rgn_region_id(r), &byid));
		assert_int_equal(rgn_region_id(byname), rgn_region_id(r));
		assert_string_equal(rgn_region_name(byid),
				    rgn_type_name(types[i]));
		tu_ok(rgn_type_parse(rgn_type_name(types[i]), &parsed));
		assert_int_equal(parsed, types[i]);
		tu_ok(rgn_region_detach(byname));
		tu_ok(rgn_region_detach(byid));
	}
	assert_int_equal(rgn_type_parse("bogus", &(enum rgn_region_type){0}),
			 -EINVAL);
	tu_ok(rgn_stat_env(env, &st));
	assert_int_equal(st->nregions, 7);
	for (size_t i = 1; i < st->nregions; i++)
		assert_int_equal(st->regions[i].type, types[i - 1]);
	rgn_stat_free(st);
	/* the env handle detaches what is still attached when it closes */
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void offsets_and_pointers_translate_within_bounds(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = create_env(home);
	rgn_region *r;
	uint64_t size;
	char *p;

	(void)state;
	tu_ok(rgn_region_create(env, "r", RGN_TYPE_USER, 1 << 16, &r));
	size = rgn_region_size(r);
	p = rgn_ptr(r, 100);
	assert_non_null(p);
	assert_int_equal(rgn_off(r, p), 100);
	assert_null(rgn_ptr(r, 0));
	assert_null(rgn_ptr(r, size));
	assert_null(rgn_ptr(r, UINT64_MAX));
	assert_int_equal(rgn_off(r, p + size), 0);
	assert_int_equal(rgn_off(r, &size), 0);
	assert_int_equal(rgn_region_root(r), 0);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void removed_region_cannot_be_attached_but_mapping_survives(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = create_env(home);
	rgn_region *r, *again;
	char path[4200];
	uint64_t off;

	(void)state;
	tu_ok(rgn_region_create(env, "gone", RGN_TYPE_USER, 1 << 16, &r));
	tu_ok(rgn_alloc(r, 32, &off));
	strcpy(rgn_ptr(r, off), "still here");
	tu_ok(rgn_region_remove(env, "gone"));
	assert_int_equal(rgn_region_attach(env, "gone", &again), -ENOENT);
	assert_int_equal(rgn_region_remove(env, "gone"), -ENOENT);
	snprintf(path, sizeof(path), "%s/__db.002", home);
	assert_int_equal(access(path, F_OK), -1);
	/* a process that had it attached keeps a valid mapping */
	assert_string_equal(rgn_ptr(r, off), "still here");
	tu_ok(rgn_region_detach(r));
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void ids_past_999_get_four_digit_file_names(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = create_env(home);
	char name[32], path[4200];
	rgn_region *r;

	(void)state;
	for (int i = 2; i <= 1001; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		tu_ok(rgn_region_create(env, name, RGN_TYPE_USER, 65536, &r));
		assert_int_equal(rgn_region_id(r), i);
		tu_ok(rgn_region_detach(r));
	}
	snprintf(path, sizeof(path), "%s/__db.999", home);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/__db.1000", home);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/__db.1001", home);
	assert_int_equal(access(path, F_OK), 0);
	tu_ok(rgn_region_attach(env, "r1001", &r));
	tu_ok(rgn_alloc_check(r));
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
	assert_int_equal(rmdir(home), 0);
	assert_int_equal(mkdir(home, 0700), 0);
}

static void pread_returns_the_bytes_and_stops_at_the_end(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = create_env(home);
	rgn_region *r;
	uint64_t size;
	char buf[64];

	(void)state;
	tu_ok(rgn_region_create(env, "r", RGN_TYPE_USER, 1 << 16, &r));
	size = rgn_region_size(r);
	memcpy((char *)rgn_ptr(r, size - 10), "0123456789", 10);
	assert_int_equal(rgn_region_pread(env, 2, buf, sizeof(buf), size - 10),
			 10);
	assert_memory_equal(buf, "0123456789", 10);
	assert_int_equal(rgn_region_pread(env, 2, buf, sizeof(buf), size), 0);
	assert_int_equal(rgn_region_pread(env, 77, buf, sizeof(buf), 0),
			 -ENOENT);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void allocator_figures_follow_allocations(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = create_env(home);
	struct rgn_alloc_stat as;
	uint64_t offs[10];
	rgn_region *r;

	(void)state;
	tu_ok(rgn_region_create(env, "r", RGN_TYPE_USER, 1 << 20, &r));
	for (int i = 0; i < 10; i++)
		tu_ok(rgn_alloc(r, 100u << i, &offs[i]));
	tu_ok(rgn_free(r, offs[3]));
	assert_int_equal(rgn_free(r, offs[3]), -EINVAL);
	assert_int_equal(rgn_alloc(r, 2u << 20, &offs[3]), -ENOMEM);
	tu_ok(rgn_alloc_stat(r, &as));
	assert_int_equal(as.nalloc, 10);
	assert_int_equal(as.nfree, 1);
	assert_int_equal(as.nfail, 1);
	assert_int_equal(as.live_blocks, 9);
	assert_int_equal(as.used_bytes + as.free_bytes, as.arena_bytes);
	assert_true(as.largest_free <= as.free_bytes);
	/* 100 << 6 = 6400 lies in [4096, 8192) */
	assert_int_equal(as.hist[12], 1);
	tu_ok(rgn_alloc_check(r));
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

/*
 * A heap header whose arena lies past the end of the region (a stray
 * write, or a header copied from a larger region) must never send the
 * allocator outside the mapping: every call refuses it as corrupt.
 * Found by the fuzz target fuzz_region (tests/fuzz/findings/F1-region).
 */
static void heap_arena_outside_the_region_is_refused(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = create_env(home);
	struct rgn_shm_region *rh;
	uint64_t off, len;
	rgn_region *r;

	(void)state;
	tu_ok(rgn_region_create(env, "r", RGN_TYPE_USER, 64 << 10, &r));
	rh = (struct rgn_shm_region *)((char *)rgn_ptr(r, 64) - 64);
	off = rh->rh_heap.hp_arena_off;
	len = rh->rh_heap.hp_arena_len;
	/* Twice the arena: its end lies 60 KiB past the region's. */
	rh->rh_heap.hp_arena_len = 2 * len;
	assert_int_equal(rgn_alloc(r, 100, &off), RGN_ECORRUPT);
	assert_non_null(strstr(rgn_errdetail(), "outside the region"));
	assert_int_equal(rgn_free(r, off), RGN_ECORRUPT);
	assert_int_equal(rgn_alloc_check(r), RGN_ECORRUPT);
	/* Put back, the region works again: nothing was written. */
	rh->rh_heap.hp_arena_len = len;
	tu_ok(rgn_alloc(r, 100, &off));
	tu_ok(rgn_alloc_check(r));
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			every_type_can_be_created_and_attached_by_name_or_id),
		cmocka_unit_test(offsets_and_pointers_translate_within_bounds),
		cmocka_unit_test(
			removed_region_cannot_be_attached_but_mapping_survives),
		cmocka_unit_test(ids_past_999_get_four_digit_file_names),
		cmocka_unit_test(pread_returns_the_bytes_and_stops_at_the_end),
		cmocka_unit_test(allocator_figures_follow_allocations),
		cmocka_unit_test(heap_arena_outside_the_region_is_refused),
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
