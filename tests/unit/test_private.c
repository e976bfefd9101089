/*
 * test_private.c - a private environment has exactly one handle: any second
 * open of the home, from this process or another, private or shared, fails
 * and names the owner.  Berkeley DB documents this rule but lets it slide.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rgn.h"
#include "testutil.h"

static int open_private(const char *home, rgn_env **env)
{
	struct rgn_env_config cfg;

	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	cfg.backing = RGN_BACKING_PRIVATE;
	return rgn_env_open(home, &cfg, env);
}

static int open_shared(const char *home, rgn_env **env)
{
	struct rgn_env_config cfg;

	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	return rgn_env_open(home, &cfg, env);
}

static int lock_file_exists(const char *home)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/__db.lck", home);
	return stat(path, &st) == 0;
}

static void private_regions_work_in_the_heap_without_files(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env;
	rgn_region *r;
	uint64_t off;
	char path[4200];
	struct stat st;

	(void)state;
	tu_ok(open_private(home, &env));
	assert_int_equal(rgn_env_backing(env), RGN_BACKING_PRIVATE);
	tu_ok(rgn_region_create(env, "heap", RGN_TYPE_MPOOL, 1 << 20, &r));
	tu_ok(rgn_alloc(r, 4000, &off));
	memset(rgn_ptr(r, off), 0xab, 4000);
	tu_ok(rgn_alloc_check(r));
	snprintf(path, sizeof(path), "%s/__db.001", home);
	assert_int_equal(stat(path, &st), -1);
	snprintf(path, sizeof(path), "%s/__db.002", home);
	assert_int_equal(stat(path, &st), -1);
	tu_ok(rgn_env_close(env));
}

static void second_private_open_in_same_process_fails_naming_owner(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env, *env2 = NULL;
	char pid[32];

	(void)state;
	tu_ok(open_private(home, &env));
	assert_int_equal(open_private(home, &env2), RGN_EPRIVATE);
	assert_null(env2);
	snprintf(pid, sizeof(pid), "pid %d", (int)getpid());
	assert_non_null(strstr(rgn_errdetail(), pid));
	assert_int_equal(open_shared(home, &env2), RGN_EPRIVATE);
	assert_non_null(strstr(rgn_errdetail(), pid));
	tu_ok(rgn_env_close(env));
}

static void private_env_cannot_be_opened_from_another_process(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env;
	pid_t child;

	(void)state;
	tu_ok(open_private(home, &env));
	child = tu_fork();
	if (child == 0) {
		rgn_env *e2;
		char want[32];
		int a = open_private(home, &e2);
		int b = open_shared(home, &e2);

		snprintf(want, sizeof(want), "pid %d", (int)getppid());
		_exit(a == RGN_EPRIVATE && b == RGN_EPRIVATE &&
				      strstr(rgn_errdetail(), want)
			      ? 0
			      : 1);
	}
	assert_int_equal(tu_wait(child), 0);
	tu_ok(rgn_env_close(env));
}

static void private_open_is_refused_while_shared_handles_exist(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *shared, *priv;

	(void)state;
	tu_ok(open_shared(home, &shared));
	assert_int_equal(open_private(home, &priv), -EBUSY);
	tu_ok(rgn_env_close(shared));
	/* the home still holds a shared environment: a private one may not
	 * silently shadow it */
	assert_int_equal(open_private(home, &priv), RGN_EBACKING);
	tu_ok(rgn_env_remove(home, 0));
	tu_ok(open_private(home, &priv));
	tu_ok(rgn_env_close(priv));
}

static void close_removes_the_lock_file(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env;

	(void)state;
	tu_ok(open_private(home, &env));
	assert_true(lock_file_exists(home));
	tu_ok(rgn_env_close(env));
	assert_false(lock_file_exists(home));
	/* and the home can be used again */
	tu_ok(open_private(home, &env));
	tu_ok(rgn_env_close(env));
}

static void lock_of_a_killed_owner_is_stale_and_taken_over(void **state)
{
	const char *home = tu_mkhome();
	int ready[2];
	rgn_env *env;
	pid_t child;
	char c;

	(void)state;
	assert_int_equal(pipe(ready), 0);
	child = tu_fork();
	if (child == 0) {
		if (open_private(home, &env) != 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	/* while the owner lives, the home is taken */
	assert_int_equal(open_private(home, &env), RGN_EPRIVATE);
	kill(child, SIGKILL);
	assert_int_equal(tu_wait(child), 128 + SIGKILL);
	assert_true(lock_file_exists(home)); /* left behind by the crash */
	tu_ok(open_private(home, &env));
	tu_ok(rgn_env_close(env));
	close(ready[0]);
	close(ready[1]);
}

static void inspecting_a_private_home_reports_its_owner(void **state)
{
	const char *home = tu_mkhome();
	struct rgn_env_config cfg;
	struct rgn_env_stat *st;
	rgn_env *env, *obs;
	rgn_region *r;

	(void)state;
	tu_ok(open_private(home, &env));
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_INSPECT;
	tu_ok(rgn_env_open(home, &cfg, &obs));
	tu_ok(rgn_stat_env(obs, &st));
	assert_int_equal(st->backing, RGN_BACKING_PRIVATE);
	assert_int_equal(st->private_owner, getpid());
	assert_int_equal(st->nregions, 0);
	rgn_stat_free(st);
	assert_int_equal(rgn_region_pread(obs, 1, &r, sizeof(r), 0),
			 RGN_EPRIVATE);
	tu_ok(rgn_env_close(obs));
	tu_ok(rgn_env_close(env));
}

static void removing_an_open_private_home_is_refused(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env;

	(void)state;
	tu_ok(open_private(home, &env));
	assert_int_equal(rgn_env_remove(home, RGN_FORCE), RGN_EPRIVATE);
	assert_true(lock_file_exists(home));
	tu_ok(rgn_env_close(env));
}

static void a_forked_child_closing_its_copy_leaves_the_owner_alone(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env, *other;
	pid_t child;

	(void)state;
	tu_ok(open_private(home, &env));
	child = tu_fork();
	if (child == 0) /* a worker that closes what it inherited */
		_exit(rgn_env_close(env) == 0 ? 0 : 1);
	assert_int_equal(tu_wait(child), 0);
	/* the parent still owns the home, and says so to everyone */
	assert_true(lock_file_exists(home));
	child = tu_fork();
	if (child == 0)
		_exit(open_private(home, &other) == RGN_EPRIVATE ? 0 : 1);
	assert_int_equal(tu_wait(child), 0);
	tu_ok(rgn_env_close(env));
	assert_false(lock_file_exists(home));
}

static void a_forked_child_does_not_keep_a_dead_owners_lock(void **state)
{
	const char *home = tu_mkhome();
	int fds[2];
	pid_t owner, worker = 0;
	rgn_env *env;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	owner = tu_fork();
	if (owner == 0) {
		/* the owner forks a long-lived worker, then dies */
		if (open_private(home, &env) != 0)
			_exit(1);
		worker = fork();
		if (worker == 0) {
			/* fork() returns here only after the child handlers
			 * ran: report from the worker itself, so the parent
			 * never races the handler that drops the lock */
			worker = getpid();
			if (write(fds[1], &worker, sizeof(worker)) !=
			    sizeof(worker))
				_exit(1);
			alarm(60); /* never outlives a failed test for long */
			pause();
			_exit(0);
		}
		_exit(worker > 0 ? 0 : 1);
	}
	assert_int_equal(read(fds[0], &worker, sizeof(worker)), sizeof(worker));
	assert_int_equal(tu_wait(owner), 0);
	/* the worker still runs, but it holds nothing */
	assert_int_equal(kill(worker, 0), 0);
	tu_ok(open_private(home, &env));
	tu_ok(rgn_env_close(env));
	kill(worker, SIGKILL);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			private_regions_work_in_the_heap_without_files),
		cmocka_unit_test(
			second_private_open_in_same_process_fails_naming_owner),
		cmocka_unit_test(
			private_env_cannot_be_opened_from_another_process),
		cmocka_unit_test(
			private_open_is_refused_while_shared_handles_exist),
		cmocka_unit_test(close_removes_the_lock_file),
		cmocka_unit_test(
			lock_of_a_killed_owner_is_stale_and_taken_over),
		cmocka_unit_test(inspecting_a_private_home_reports_its_owner),
		cmocka_unit_test(removing_an_open_private_home_is_refused),
		cmocka_unit_test(
			a_forked_child_closing_its_copy_leaves_the_owner_alone),
		cmocka_unit_test(
			a_forked_child_does_not_keep_a_dead_owners_lock),
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
