/*
 * test_env.c - environments: create, join, close, reopen, inspect and
 * remove, for each shared backing (files, files without mmap, system
 * memory).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rgn.h"
#include "testutil.h"

struct backing_case {
	const char *name;
	enum rgn_backing backing;
	uint32_t flags;
	int32_t key;
};

static const struct backing_case cases[] = {
	{"files", RGN_BACKING_FILES, 0, 0},
	{"files-nommap", RGN_BACKING_FILES, RGN_NOMMAP, 0},
	{"sysv", RGN_BACKING_SYSV, 0, 0x5eed0000},
};

static int open_case(const char *home, const struct backing_case *bc,
		     uint32_t flags, rgn_env **env)
{
	struct rgn_env_config cfg;

	rgn_env_config_init(&cfg);
	cfg.flags = flags | bc->flags;
	cfg.backing = bc->backing;
	cfg.shm_key = bc->key;
	return rgn_env_open(home, &cfg, env);
}

static int file_exists(const char *home, const char *name)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", home, name);
	return lstat(path, &st) == 0;
}

static int count_dir(const char *home)
{
	char cmd[4200];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", home);
	p = popen(cmd, "r");
	if (p && fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	return n;
}

static void data_persists_across_close_and_reopen(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const char *home = tu_mkhome();
		rgn_env *env;
		rgn_region *r;
		uint64_t off;
		char *p;

		tu_ok(open_case(home, &cases[c], RGN_CREATE, &env));
		assert_int_equal(rgn_env_backing(env), cases[c].backing);
		tu_ok(rgn_region_create(env, "data", RGN_TYPE_USER, 1 << 20,
					&r));
		tu_ok(rgn_alloc(r, 100, &off));
		p = rgn_ptr(r, off);
		assert_non_null(p);
		strcpy(p, cases[c].name);
		rgn_region_set_root(r, off);
		tu_ok(rgn_env_close(env));

		tu_ok(open_case(home, &cases[c], 0, &env));
		tu_ok(rgn_region_attach(env, "data", &r));
		off = rgn_region_root(r);
		assert_true(off != 0);
		assert_string_equal(rgn_ptr(r, off), cases[c].name);
		tu_ok(rgn_alloc_check(r));
		tu_ok(rgn_region_detach(r));
		tu_ok(rgn_env_close(env));
		tu_ok(rgn_env_remove(home, 0));
	}
}

static void files_backing_makes_one_file_per_region(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env;
	rgn_region *r;
	char path[4200];
	struct stat st;

	(void)state;
	tu_ok(open_case(home, &cases[0], RGN_CREATE, &env));
	tu_ok(rgn_region_create(env, "a", RGN_TYPE_LOCK, 100000, &r));
	assert_int_equal(rgn_region_id(r), 2);
	/* rounded up to the page size */
	assert_int_equal(rgn_region_size(r) % (uint64_t)sysconf(_SC_PAGESIZE),
			 0);
	snprintf(path, sizeof(path), "%s/__db.002", home);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, rgn_region_size(r));
	/* storage is allocated up front: blocks cover the whole file */
	assert_true((uint64_t)st.st_blocks * 512 >= rgn_region_size(r));
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_true(file_exists(home, "__db.001"));
	assert_false(file_exists(home, "__db.001.tmp"));
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
	assert_int_equal(count_dir(home), 0);
}

static void mode_is_applied_despite_umask(void **state)
{
	const char *home = tu_mkhome();
	struct rgn_env_config cfg;
	rgn_env *env;
	rgn_region *r;
	char path[4200];
	struct stat st;
	mode_t old = umask(077);

	(void)state;
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	cfg.mode = 0644;
	tu_ok(rgn_env_open(home, &cfg, &env));
	tu_ok(rgn_region_create(env, "a", RGN_TYPE_LOG, 65536, &r));
	umask(old);
	snprintf(path, sizeof(path), "%s/__db.002", home);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void sysv_regions_use_base_key_plus_id_minus_one(void **state)
{
	const char *home = tu_mkhome();
	const struct backing_case *bc = &cases[2];
	rgn_env *env;
	rgn_region *r;
	int before = tu_count_segments();

	(void)state;
	tu_ok(open_case(home, bc, RGN_CREATE, &env));
	tu_ok(rgn_region_create(env, "one", RGN_TYPE_MPOOL, 1 << 20, &r));
	tu_ok(rgn_region_create(env, "two", RGN_TYPE_TXN, 1 << 16, &r));
	assert_true(shmget(bc->key, 0, 0) >= 0);
	assert_true(shmget(bc->key + 1, 0, 0) >= 0);
	assert_true(shmget(bc->key + 2, 0, 0) >= 0);
	assert_int_equal(tu_count_segments(), before + 3);
	/* __db.001 still exists so that others find the segments */
	assert_true(file_exists(home, "__db.001"));
	assert_false(file_exists(home, "__db.002"));
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
	assert_int_equal(tu_count_segments(), before);
	assert_int_equal(count_dir(home), 0);
}

static void nommap_fallback_uses_segments_and_records_it(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env;
	rgn_region *r;
	struct rgn_env_stat *st;
	int before = tu_count_segments();

	(void)state;
	tu_ok(open_case(home, &cases[1], RGN_CREATE, &env));
	tu_ok(rgn_region_create(env, "r", RGN_TYPE_USER, 1 << 16, &r));
	assert_int_equal(tu_count_segments(), before + 2);
	tu_ok(rgn_env_close(env));

	/* a joiner that knows nothing learns it from __db.001 */
	tu_ok(rgn_env_open(home, NULL, &env));
	tu_ok(rgn_stat_env(env, &st));
	assert_int_equal(st->backing, RGN_BACKING_FILES);
	assert_true(st->flags & RGN_RF_FALLBACK);
	assert_int_equal(st->nregions, 2);
	assert_true(st->regions[1].shmid >= 0);
	rgn_stat_free(st);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
	assert_int_equal(tu_count_segments(), before);
}

static void exclusive_create_of_existing_env_fails(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env, *env2;

	(void)state;
	tu_ok(open_case(home, &cases[0], RGN_CREATE, &env));
	assert_int_equal(
		open_case(home, &cases[0], RGN_CREATE | RGN_EXCL, &env2),
		-EEXIST);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void join_without_create_of_empty_home_fails_and_leaves_it_empty(
	void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env;

	(void)state;
	assert_int_equal(rgn_env_open(home, NULL, &env), RGN_ENOTENV);
	assert_null(env);
	assert_int_equal(count_dir(home), 0);
	assert_true(strstr(rgn_errdetail(), home) != NULL);
}

static void joining_with_another_backing_is_refused(void **state)
{
	const char *home = tu_mkhome();
	struct rgn_env_config cfg;
	rgn_env *env, *env2;

	(void)state;
	tu_ok(open_case(home, &cases[0], RGN_CREATE, &env));
	rgn_env_config_init(&cfg);
	cfg.backing = RGN_BACKING_SYSV;
	cfg.shm_key = 77;
	assert_int_equal(rgn_env_open(home, &cfg, &env2), RGN_EBACKING);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void inspect_is_not_counted_as_attached(void **state)
{
	const char *home = tu_mkhome();
	struct rgn_env_config cfg;
	rgn_env *env, *obs;
	struct rgn_env_stat *st;
	rgn_region *r;
	char buf[64];

	(void)state;
	tu_ok(open_case(home, &cases[0], RGN_CREATE, &env));
	tu_ok(rgn_region_create(env, "x", RGN_TYPE_USER, 1 << 16, &r));
	memcpy((char *)rgn_ptr(r, 8192), "hello region", 13);
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_INSPECT;
	tu_ok(rgn_env_open(home, &cfg, &obs));
	tu_ok(rgn_stat_env(obs, &st));
	assert_int_equal(st->live, 1);
	assert_int_equal(st->stale, 0);
	assert_int_equal(st->nprocs, 1);
	assert_int_equal(st->procs[0].pid, getpid());
	assert_int_equal(st->nregions, 2);
	assert_string_equal(st->regions[1].name, "x");
	assert_string_equal(st->regions[1].file, "__db.002");
	assert_int_equal(st->regions[1].detail, 0);
	assert_true(st->regions[1].alloc.arena_bytes > 0);
	rgn_stat_free(st);
	assert_int_equal(rgn_region_pread(obs, 2, buf, 13, 8192), 13);
	assert_string_equal(buf, "hello region");
	/* an observer cannot change anything, nor map a region (a file
	 * truncated under a mapping would kill it with SIGBUS) */
	assert_int_equal(
		rgn_region_create(obs, "y", RGN_TYPE_USER, 1 << 16, &r),
		-EROFS);
	assert_int_equal(rgn_region_attach(obs, "x", &r), -EROFS);
	assert_non_null(strstr(rgn_errdetail(), "rgn_region_pread"));
	tu_ok(rgn_env_close(obs));
	/* and does not hold the environment busy */
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void generation_counts_region_creates_and_removes(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env;
	rgn_region *r;
	struct rgn_env_stat *st;
	uint64_t g0;

	(void)state;
	tu_ok(open_case(home, &cases[0], RGN_CREATE, &env));
	tu_ok(rgn_stat_env(env, &st));
	g0 = st->generation;
	rgn_stat_free(st);
	tu_ok(rgn_region_create(env, "a", RGN_TYPE_USER, 1 << 16, &r));
	tu_ok(rgn_region_detach(r));
	tu_ok(rgn_region_remove(env, "a"));
	tu_ok(rgn_stat_env(env, &st));
	assert_int_equal(st->generation, g0 + 2);
	assert_int_equal(st->nregions, 1);
	rgn_stat_free(st);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void remove_is_busy_while_attached_unless_forced(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env;
	rgn_region *r;

	(void)state;
	tu_ok(open_case(home, &cases[0], RGN_CREATE, &env));
	tu_ok(rgn_region_create(env, "a", RGN_TYPE_USER, 1 << 16, &r));
	assert_int_equal(rgn_env_remove(home, 0), -EBUSY);
	assert_true(strstr(rgn_errdetail(), "pid") != NULL);
	assert_true(file_exists(home, "__db.002"));
	tu_ok(rgn_env_remove(home, RGN_FORCE));
	assert_int_equal(count_dir(home), 0);
	/* the handle still open learns the environment is gone */
	assert_int_equal(
		rgn_region_create(env, "b", RGN_TYPE_USER, 1 << 16, &r),
		RGN_EPANIC);
	tu_ok(rgn_env_close(env));
}

/* __db.001s that are not ours, and what opening a home holding one gives:
 * the 24-byte and empty forms are Berkeley DB's (tests/bdb makes real ones
 * for test_bdbhome); any other stranger is bad magic. */
static const struct {
	const char *bytes;
	size_t len;
	int expect;
} strangers[] = {
	{"not ours at all", 15, RGN_EBADMAGIC},
	{"twenty-four bytes long!", 24, RGN_EFOREIGNENV},
	{"", 0, RGN_EFOREIGNENV},
};

/*
 * A __db.001 that is not ours is judged before anything is created: every
 * backing's create, and a private open, leave the home holding that file
 * alone.
 */
static void create_over_a_stranger_primary_creates_nothing(void **state)
{
	char path[4200], got[32];
	rgn_env *env;

	(void)state;
	for (size_t i = 0; i < sizeof(strangers) / sizeof(strangers[0]); i++) {
		const char *home = tu_mkhome();

		snprintf(path, sizeof(path), "%s/__db.001", home);
		tu_write_file(path, strangers[i].bytes, strangers[i].len);
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			env = NULL;
			assert_int_equal(
				open_case(home, &cases[c], RGN_CREATE, &env),
				strangers[i].expect);
			assert_null(env);
			assert_non_null(strstr(rgn_errdetail(), "__db.001"));
		}
		{
			struct backing_case priv = {"private",
						    RGN_BACKING_PRIVATE, 0, 0};

			assert_int_equal(open_case(home, &priv, 0, &env),
					 strangers[i].expect);
		}
		assert_int_equal(count_dir(home), 1);
		assert_int_equal(tu_read_file(path, got, sizeof(got)),
				 (ssize_t)strangers[i].len);
		assert_memory_equal(got, strangers[i].bytes, strangers[i].len);
	}
}

/*
 * Remove asks whether __db.001 is Berkeley DB's only once it is found not
 * ours, after taking __db.lck's locks: beside a lock file we left, a
 * stranger primary gets the same answer as in a home without one, and
 * both files stay exactly as they were.
 */
static void remove_beside_our_lock_file_judges_a_stranger_primary(void **state)
{
	char path[4200], lck[4200], got[32];

	(void)state;
	for (size_t i = 0; i < sizeof(strangers) / sizeof(strangers[0]); i++) {
		const char *home = tu_mkhome();

		snprintf(path, sizeof(path), "%s/__db.001", home);
		snprintf(lck, sizeof(lck), "%s/__db.lck", home);
		tu_write_file(path, strangers[i].bytes, strangers[i].len);
		tu_write_file(lck, "", 0);
		assert_int_equal(rgn_env_remove(home, 0), strangers[i].expect);
		assert_non_null(strstr(rgn_errdetail(), "__db.001"));
		assert_int_equal(rgn_env_remove(home, RGN_FORCE),
				 strangers[i].expect);
		assert_int_equal(count_dir(home), 2);
		assert_int_equal(tu_read_file(path, got, sizeof(got)),
				 (ssize_t)strangers[i].len);
		assert_memory_equal(got, strangers[i].bytes, strangers[i].len);
		assert_int_equal(tu_read_file(lck, got, sizeof(got)), 0);
	}
}

/*
 * A join that finds what it expects never opens the home directory; when
 * the handle later needs it (a new region file), it proves the directory
 * it opens is the home it joined by the lock file it holds.  A home moved
 * away and replaced meanwhile is refused by name, and nothing is made in
 * the stranger; moved back, the same handle carries on.
 */
static void home_replaced_under_a_joined_handle_is_refused(void **state)
{
	const char *home = tu_mkhome();
	const char *aside =
		tu_mkhome(); /* removed at exit, with what is in it */
	struct rgn_env_config cfg;
	char moved[4200];
	rgn_env *env;
	rgn_region *r;

	(void)state;
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	tu_ok(rgn_env_open(home, &cfg, &env));
	tu_ok(rgn_region_create(env, "a", RGN_TYPE_USER, 65536, &r));
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_open(home, NULL, &env));
	snprintf(moved, sizeof(moved), "%s/home", aside);
	assert_int_equal(rename(home, moved), 0);
	assert_int_equal(mkdir(home, 0700), 0);

	assert_int_equal(rgn_region_create(env, "b", RGN_TYPE_USER, 65536, &r),
			 -ESTALE);
	assert_non_null(strstr(rgn_errdetail(), "no longer the directory"));
	assert_non_null(strstr(rgn_errdetail(), home));
	assert_int_equal(rmdir(home), 0); /* still empty */

	assert_int_equal(rename(moved, home), 0);
	tu_ok(rgn_region_create(env, "b", RGN_TYPE_USER, 65536, &r));
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(data_persists_across_close_and_reopen),
		cmocka_unit_test(files_backing_makes_one_file_per_region),
		cmocka_unit_test(mode_is_applied_despite_umask),
		cmocka_unit_test(sysv_regions_use_base_key_plus_id_minus_one),
		cmocka_unit_test(nommap_fallback_uses_segments_and_records_it),
		cmocka_unit_test(exclusive_create_of_existing_env_fails),
		cmocka_unit_test(
			join_without_create_of_empty_home_fails_and_leaves_it_empty),
		cmocka_unit_test(joining_with_another_backing_is_refused),
		cmocka_unit_test(inspect_is_not_counted_as_attached),
		cmocka_unit_test(generation_counts_region_creates_and_removes),
		cmocka_unit_test(
			home_replaced_under_a_joined_handle_is_refused),
		cmocka_unit_test(remove_is_busy_while_attached_unless_forced),
		cmocka_unit_test(
			remove_beside_our_lock_file_judges_a_stranger_primary),
		cmocka_unit_test(
			create_over_a_stranger_primary_creates_nothing),
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
