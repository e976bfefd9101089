/*
 * test_mutex.c - the region's robust process-shared mutex: its statistics,
 * contention between processes, and what happens when a holder dies with
 * the state it guarded beyond repair.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "layout.h"
#include "rgn.h"
#include "testutil.h"

static rgn_env *open_env(const char *home, uint32_t flags)
{
	struct rgn_env_config cfg;
	rgn_env *env;

	rgn_env_config_init(&cfg);
	cfg.flags = flags;
	tu_ok(rgn_env_open(home, &cfg, &env));
	return env;
}

/* The region header sits at offset 0, which rgn_ptr refuses on purpose. */
static struct rgn_shm_region *header_of(rgn_region *r)
{
	return (struct rgn_shm_region *)((char *)rgn_ptr(r, 64) - 64);
}

static void lock_and_unlock_are_counted(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = open_env(home, RGN_CREATE);
	struct rgn_env_stat *st;
	rgn_region *r;

	(void)state;
	tu_ok(rgn_region_create(env, "m", RGN_TYPE_MUTEX, 1 << 16, &r));
	for (int i = 0; i < 5; i++) {
		tu_ok(rgn_region_lock(r));
		assert_int_equal(header_of(r)->rh_mutex.mx_holder, getpid());
		tu_ok(rgn_region_unlock(r));
	}
	tu_ok(rgn_stat_env(env, &st));
	assert_int_equal(st->regions[1].mutex.requests, 5);
	assert_int_equal(st->regions[1].mutex.waits, 0);
	assert_int_equal(st->regions[1].mutex.owner_died, 0);
	assert_int_equal(st->regions[1].mutex.holder, 0);
	rgn_stat_free(st);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void a_locker_that_finds_it_held_waits_and_is_counted(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = open_env(home, RGN_CREATE);
	struct rgn_env_stat *st;
	rgn_region *r;
	int fds[2];
	pid_t child;
	char c;

	(void)state;
	tu_ok(rgn_region_create(env, "m", RGN_TYPE_MUTEX, 1 << 16, &r));
	assert_int_equal(pipe(fds), 0);
	child = tu_fork();
	if (child == 0) {
		rgn_env *e = open_env(home, 0);
		rgn_region *cr;
		volatile int *word;

		if (rgn_region_attach(e, "m", &cr) || rgn_region_lock(cr))
			_exit(1);
		if (write(fds[1], "h", 1) != 1)
			_exit(1);
		/* Hold it until the parent is really blocked on it: glibc's
		 * robust lock word gets FUTEX_WAITERS (bit 31) then.  No
		 * timing is involved. */
		word = (volatile int *)&header_of(cr)->rh_mutex.mx_lock;
		while (!(__atomic_load_n(word, __ATOMIC_ACQUIRE) &
			 (int)0x80000000))
			usleep(1000);
		rgn_region_unlock(cr);
		rgn_env_close(e);
		_exit(0);
	}
	assert_int_equal(read(fds[0], &c, 1), 1);
	tu_ok(rgn_region_lock(r)); /* blocks until the child lets go */
	tu_ok(rgn_region_unlock(r));
	assert_int_equal(tu_wait(child), 0);
	tu_ok(rgn_stat_env(env, &st));
	assert_int_equal(st->regions[1].mutex.requests, 2);
	assert_int_equal(st->regions[1].mutex.waits, 1);
	rgn_stat_free(st);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
	close(fds[0]);
	close(fds[1]);
}

static void holder_dying_with_an_unrepairable_heap_poisons_the_lock(
	void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = open_env(home, RGN_CREATE);
	rgn_region *r;
	uint64_t off;
	int fds[2];
	pid_t child;
	char c;

	(void)state;
	tu_ok(rgn_region_create(env, "m", RGN_TYPE_USER, 1 << 16, &r));
	assert_int_equal(pipe(fds), 0);
	child = tu_fork();
	if (child == 0) {
		rgn_env *e = open_env(home, 0);
		rgn_region *cr;
		struct rgn_shm_region *rh;

		if (rgn_region_attach(e, "m", &cr) || rgn_region_lock(cr))
			_exit(1);
		/* die mid-operation with the chunk sequence destroyed */
		rh = header_of(cr);
		rh->rh_heap.hp_busy = 1;
		memset((char *)rh + rh->rh_heap.hp_arena_off, 0xff, 8192);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(fds[0], &c, 1), 1);
	kill(child, SIGKILL);
	tu_wait(child);
	/* Nobody may use state that could not be proven sound: not now,
	 * not later. */
	assert_int_equal(rgn_alloc(r, 16, &off), RGN_ECORRUPT);
	assert_non_null(strstr(rgn_errdetail(), "could not be repaired"));
	assert_int_equal(rgn_region_lock(r), RGN_ECORRUPT);
	/* the rest of the environment is unaffected */
	tu_ok(rgn_region_create(env, "fresh", RGN_TYPE_USER, 1 << 16, &r));
	tu_ok(rgn_alloc(r, 16, &off));
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
	close(fds[0]);
	close(fds[1]);
}

struct counter_arg {
	rgn_region *r;
	uint64_t *counter;
};

static void *bump(void *p)
{
	struct counter_arg *a = p;

	for (int i = 0; i < 20000; i++) {
		if (rgn_region_lock(a->r))
			return (void *)1;
		(*a->counter)++;
		rgn_region_unlock(a->r);
	}
	return NULL;
}

static void threads_and_processes_exclude_each_other(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = open_env(home, RGN_CREATE);
	struct counter_arg a;
	pthread_t th[2];
	pid_t kids[2];
	rgn_region *r;
	uint64_t off, *counter;

	(void)state;
	tu_ok(rgn_region_create(env, "m", RGN_TYPE_USER, 1 << 16, &r));
	tu_ok(rgn_alloc(r, sizeof(uint64_t), &off));
	counter = rgn_ptr(r, off);
	*counter = 0;
	rgn_region_set_root(r, off);
	for (int i = 0; i < 2; i++) {
		kids[i] = tu_fork();
		if (kids[i] == 0) {
			rgn_env *e = open_env(home, 0);
			rgn_region *cr;
			struct counter_arg ca;

			if (rgn_region_attach(e, "m", &cr))
				_exit(1);
			ca.r = cr;
			ca.counter = rgn_ptr(cr, rgn_region_root(cr));
			_exit(bump(&ca) != NULL);
		}
	}
	a.r = r;
	a.counter = counter;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, bump, &a), 0);
	for (int i = 0; i < 2; i++) {
		void *ret;

		pthread_join(th[i], &ret);
		assert_null(ret);
		assert_int_equal(tu_wait(kids[i]), 0);
	}
	assert_int_equal(*counter, 4 * 20000);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lock_and_unlock_are_counted),
		cmocka_unit_test(
			a_locker_that_finds_it_held_waits_and_is_counted),
		cmocka_unit_test(
			holder_dying_with_an_unrepairable_heap_poisons_the_lock),
		cmocka_unit_test(threads_and_processes_exclude_each_other),
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
