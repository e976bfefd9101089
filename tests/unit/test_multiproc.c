/*
 * test_multiproc.c - several real processes and threads sharing regions:
 * each allocates and writes, and reads what the others wrote through
 * offsets (every process maps the region at its own address); creators
 * racing on one home end up with one environment.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rgn.h"
#include "testutil.h"

#define NPROC 4

struct backing_case {
	enum rgn_backing backing;
	uint32_t flags;
	int32_t key;
};

static const struct backing_case cases[] = {
	{RGN_BACKING_FILES, 0, 0},
	{RGN_BACKING_FILES, RGN_NOMMAP, 0},
	{RGN_BACKING_SYSV, 0, 0x3e110000},
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

/* Child I: publish a string, wait for all, then check everyone's. */
static int child_main(const char *home, int i, int done_fd, int go_fd)
{
	rgn_env *env;
	rgn_region *r;
	uint64_t *table, off;
	char *mine, c;

	if (open_case(home, &cases[0], 0, &env) != 0 &&
	    rgn_env_open(home, NULL, &env) != 0)
		return 10;
	if (rgn_region_attach(env, "board", &r) != 0)
		return 11;
	table = rgn_ptr(r, rgn_region_root(r));
	if (!table)
		return 12;
	/* different sizes so blocks interleave in the heap */
	if (rgn_alloc(r, 64 + 1000 * (uint64_t)i, &off) != 0)
		return 13;
	mine = rgn_ptr(r, off);
	snprintf(mine, 64, "child %d pid %d", i, (int)getpid());
	__atomic_store_n(&table[i], off, __ATOMIC_RELEASE);
	if (write(done_fd, "d", 1) != 1 || read(go_fd, &c, 1) != 1)
		return 14;
	for (int j = 0; j < NPROC; j++) {
		uint64_t o = __atomic_load_n(&table[j], __ATOMIC_ACQUIRE);
		const char *s = rgn_ptr(r, o);
		char want[16];

		snprintf(want, sizeof(want), "child %d ", j);
		if (!s || strncmp(s, want, strlen(want)) != 0)
			return 20 + j;
	}
	if (rgn_alloc_check(r) != 0)
		return 30;
	rgn_env_close(env);
	return 0;
}

static void four_processes_share_data_through_offsets(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const char *home = tu_mkhome();
		int done[2], go[2];
		pid_t kids[NPROC];
		rgn_env *env;
		rgn_region *r;
		uint64_t toff;
		char ch;

		tu_ok(open_case(home, &cases[c], RGN_CREATE, &env));
		tu_ok(rgn_region_create(env, "board", RGN_TYPE_USER, 1 << 20,
					&r));
		tu_ok(rgn_alloc(r, NPROC * sizeof(uint64_t), &toff));
		memset(rgn_ptr(r, toff), 0, NPROC * sizeof(uint64_t));
		rgn_region_set_root(r, toff);
		assert_int_equal(pipe(done), 0);
		assert_int_equal(pipe(go), 0);
		for (int i = 0; i < NPROC; i++) {
			kids[i] = tu_fork();
			if (kids[i] == 0)
				_exit(child_main(home, i, done[1], go[0]));
		}
		for (int i = 0; i < NPROC; i++)
			assert_int_equal(read(done[0], &ch, 1), 1);
		assert_int_equal(write(go[1], "gggg", NPROC), NPROC);
		for (int i = 0; i < NPROC; i++)
			assert_int_equal(tu_wait(kids[i]), 0);
		/* the parent sees all four blocks too */
		{
			struct rgn_alloc_stat as;

			tu_ok(rgn_alloc_stat(r, &as));
			assert_int_equal(as.live_blocks, NPROC + 1);
			assert_int_equal(as.nalloc, NPROC + 1);
		}
		tu_ok(rgn_env_close(env));
		tu_ok(rgn_env_remove(home, 0));
		assert_int_equal(tu_count_segments(), 0);
		close(done[0]);
		close(done[1]);
		close(go[0]);
		close(go[1]);
	}
}

static void racing_creators_end_up_with_one_environment(void **state)
{
	(void)state;
	for (int round = 0; round < 10; round++) {
		const char *home = tu_mkhome();
		const struct backing_case *bc = &cases[round % 3];
		int go[2], res[2], release[2];
		pid_t kids[NPROC];
		uint64_t ids[NPROC];
		char path[4200];
		struct stat st;

		assert_int_equal(pipe(go), 0);
		assert_int_equal(pipe(res), 0);
		assert_int_equal(pipe(release), 0);
		for (int i = 0; i < NPROC; i++) {
			kids[i] = tu_fork();
			if (kids[i] == 0) {
				struct rgn_env_stat *es;
				rgn_env *env;
				char c;
				uint64_t id = 0;

				if (read(go[0], &c, 1) != 1)
					_exit(1);
				if (open_case(home, bc, RGN_CREATE, &env) ==
					    0 &&
				    rgn_stat_env(env, &es) == 0) {
					id = es->env_id;
					rgn_stat_free(es);
				}
				if (write(res[1], &id, sizeof(id)) !=
				    sizeof(id))
					_exit(1);
				/* stay attached until all have reported */
				if (read(release[0], &c, 1) != 1)
					_exit(1);
				rgn_env_close(env);
				_exit(0);
			}
		}
		assert_int_equal(write(go[1], "gggg", NPROC), NPROC);
		for (int i = 0; i < NPROC; i++) {
			assert_int_equal(read(res[0], &ids[i], sizeof(ids[i])),
					 sizeof(ids[i]));
			assert_true(ids[i] != 0);
			assert_true(ids[i] == ids[0]);
		}
		assert_int_equal(write(release[1], "rrrr", NPROC), NPROC);
		for (int i = 0; i < NPROC; i++)
			assert_int_equal(tu_wait(kids[i]), 0);
		snprintf(path, sizeof(path), "%s/__db.001.tmp", home);
		assert_int_equal(stat(path, &st), -1);
		tu_ok(rgn_env_remove(home, 0));
		assert_int_equal(tu_count_segments(), 0);
		close(go[0]);
		close(go[1]);
		close(res[0]);
		close(res[1]);
		close(release[0]);
		close(release[1]);
	}
}

struct thread_arg {
	rgn_env *env;
	int index;
	int failures;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	char name[32];

	snprintf(name, sizeof(name), "thread-%d", a->index);
	for (int round = 0; round < 20; round++) {
		rgn_region *mine, *shared;
		uint64_t off;

		if (rgn_region_create(a->env, name, RGN_TYPE_USER, 1 << 16,
				      &mine) != 0) {
			a->failures++;
			continue;
		}
		if (rgn_region_attach(a->env, "common", &shared) != 0 ||
		    rgn_alloc(shared, 48, &off) != 0) {
			a->failures++;
		} else {
			snprintf(rgn_ptr(shared, off), 48, "%s/%d", name,
				 round);
			if (rgn_free(shared, off) != 0)
				a->failures++;
			rgn_region_detach(shared);
		}
		rgn_region_detach(mine);
		if (rgn_region_remove(a->env, name) != 0)
			a->failures++;
	}
	return NULL;
}

static void one_handle_is_safe_from_several_threads(void **state)
{
	const char *home = tu_mkhome();
	struct thread_arg args[4];
	pthread_t th[4];
	rgn_env *env;
	rgn_region *common;
	struct rgn_env_stat *st;

	(void)state;
	tu_ok(open_case(home, &cases[0], RGN_CREATE, &env));
	tu_ok(rgn_region_create(env, "common", RGN_TYPE_USER, 1 << 20,
				&common));
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){env, i, 0};
		assert_int_equal(
			pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	tu_ok(rgn_alloc_check(common));
	tu_ok(rgn_stat_env(env, &st));
	assert_int_equal(st->nregions, 2);
	assert_int_equal(st->regions[1].alloc.live_blocks, 0);
	assert_int_equal(st->regions[1].alloc.nalloc, 80);
	rgn_stat_free(st);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(four_processes_share_data_through_offsets),
		cmocka_unit_test(racing_creators_end_up_with_one_environment),
		cmocka_unit_test(one_handle_is_safe_from_several_threads),
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
