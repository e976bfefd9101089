/*
 * test_crash.c - processes really killed with SIGKILL at exact points:
 * mid-create, mid-remove, holding a region mutex, attached.  The survivors
 * must carry on at once, with exact counts, and no sleep-and-retry.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>

#include "internal.h"
#include "layout.h"
#include "proc.h"
#include "rgn.h"
#include "testutil.h"

static int open_env(const char *home, enum rgn_backing b, uint32_t flags,
		    rgn_env **env)
{
	struct rgn_env_config cfg;

	rgn_env_config_init(&cfg);
	cfg.flags = flags;
	cfg.backing = b;
	cfg.shm_key = b == RGN_BACKING_SYSV ? 0x7ab10000 : 0;
	return rgn_env_open(home, &cfg, env);
}

static void create_files_env(const void *arg)
{
	const char *home = arg;
	rgn_env *env;

	open_env(home, RGN_BACKING_FILES, RGN_CREATE, &env);
}

static void create_sysv_env(const void *arg)
{
	const char *home = arg;
	rgn_env *env;

	open_env(home, RGN_BACKING_SYSV, RGN_CREATE, &env);
}

static int exists(const char *home, const char *name)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", home, name);
	return lstat(path, &st) == 0;
}

static void creator_killed_mid_create_is_recognised_at_once(void **state)
{
	static const char *const points[] = {"env-create:storage",
					     "env-create:before-publish"};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		const char *home = tu_mkhome();
		rgn_env *env;

		tu_kill_child_at(points[i], create_files_env, home);
		/* No __db.001 that looks complete was ever published. */
		assert_false(exists(home, "__db.001"));
		assert_true(exists(home, "__db.001.tmp"));
		/* A joiner is told at once, and nothing is changed. */
		assert_int_equal(open_env(home, 0, 0, &env), RGN_EINCOMPLETE);
		assert_true(exists(home, "__db.001.tmp"));
		/* A creator recovers: the debris is cleared. */
		tu_ok(open_env(home, RGN_BACKING_FILES, RGN_CREATE, &env));
		assert_false(exists(home, "__db.001.tmp"));
		tu_ok(rgn_env_close(env));
		tu_ok(rgn_env_remove(home, 0));
	}
}

static void sysv_creator_killed_mid_create_leaves_a_reclaimable_segment(
	void **state)
{
	const char *home = tu_mkhome();
	int before = tu_count_segments();
	rgn_env *env;

	(void)state;
	tu_kill_child_at("env-create:before-publish", create_sysv_env, home);
	assert_int_equal(tu_count_segments(), before + 1);
	assert_false(exists(home, "__db.001"));
	assert_int_equal(open_env(home, 0, 0, &env), RGN_ENOTENV);
	/* The leftover at our key names this home: create reclaims it. */
	tu_ok(open_env(home, RGN_BACKING_SYSV, RGN_CREATE, &env));
	assert_int_equal(tu_count_segments(), before + 1);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
	assert_int_equal(tu_count_segments(), before);
}

static void sysv_creator_killed_before_writing_anything_is_reclaimed(
	void **state)
{
	static const char *const points[] = {"sysv-create:segment",
					     "env-create:storage"};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		const char *home = tu_mkhome();
		int before = tu_count_segments();
		rgn_env *env;

		/* the segment exists with a header of zeros: only the intent
		 * the creator left in __db.lck proves it was made here */
		tu_kill_child_at(points[i], create_sysv_env, home);
		assert_int_equal(tu_count_segments(), before + 1);
		tu_ok(open_env(home, RGN_BACKING_SYSV, RGN_CREATE, &env));
		assert_int_equal(tu_count_segments(), before + 1);
		tu_ok(rgn_env_close(env));
		tu_ok(rgn_env_remove(home, 0));
		assert_int_equal(tu_count_segments(), before);
	}
}

/* The file at PATH starts with PREFIX. */
static void assert_file_starts(const char *path, const char *prefix)
{
	char buf[256];
	ssize_t n = tu_read_file(path, buf, sizeof(buf) - 1);

	assert_true(n > 0);
	buf[n] = '\0';
	assert_true(strncmp(buf, prefix, strlen(prefix)) == 0);
}

/* A creator killed after publishing __db.001 but before __db.lck got the
 * record's copy leaves its intent there: the environment is whole, the
 * first join reads __db.001 itself and leaves the copy for the next. */
static void sysv_creator_killed_after_publishing_leaves_a_joinable_env(
	void **state)
{
	const char *home = tu_mkhome();
	char path[4200];
	rgn_env *env;

	(void)state;
	tu_kill_child_at("env-create:published", create_sysv_env, home);
	snprintf(path, sizeof(path), "%s/__db.lck", home);
	assert_file_starts(path, "creating ");
	tu_ok(open_env(home, 0, 0, &env));
	tu_ok(rgn_env_close(env));
	assert_file_starts(path, "ready format ");
	tu_ok(open_env(home, 0, 0, &env));
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
	assert_false(exists(home, "__db.001"));
	assert_false(exists(home, "__db.lck"));
}

/* A joiner that makes a region "doomed" (killed on the way). */
static void create_region_child(const void *arg)
{
	const char *home = arg;
	rgn_env *env;
	rgn_region *r;

	if (open_env(home, 0, 0, &env) != 0)
		_exit(4);
	rgn_region_create(env, "doomed", RGN_TYPE_USER, 1 << 16, &r);
}

static void sysv_region_creator_killed_leaves_nothing_behind(void **state)
{
	static const char *const points[] = {"sysv-create:segment",
					     "region-create:storage"};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		const char *home = tu_mkhome();
		int before = tu_count_segments();
		rgn_env *env;
		rgn_region *r;

		tu_ok(open_env(home, RGN_BACKING_SYSV, RGN_CREATE, &env));
		tu_kill_child_at(points[i], create_region_child, home);
		assert_int_equal(tu_count_segments(), before + 2);
		/* the next create finishes off the dead one's slot and
		 * segment, and may take the same id and key */
		tu_ok(rgn_region_create(env, "next", RGN_TYPE_USER, 1 << 16,
					&r));
		assert_int_equal(rgn_region_id(r), 2);
		assert_int_equal(tu_count_segments(), before + 2);
		tu_ok(rgn_env_close(env));
		tu_ok(rgn_env_remove(home, 0));
		assert_int_equal(tu_count_segments(), before);
	}
}

static void remove_region_child(const void *arg)
{
	const char *home = arg;
	rgn_env *env;

	if (open_env(home, 0, 0, &env) != 0)
		_exit(4);
	rgn_region_remove(env, "doomed");
}

static void region_creator_or_remover_killed_is_finished_by_the_next_create(
	void **state)
{
	const char *home = tu_mkhome();
	struct rgn_env_stat *st;
	rgn_env *env;
	rgn_region *r;

	(void)state;
	tu_ok(open_env(home, RGN_BACKING_FILES, RGN_CREATE, &env));
	tu_kill_child_at("region-create:storage", create_region_child, home);
	assert_true(exists(home, "__db.002")); /* half-made */
	tu_ok(rgn_stat_env(env, &st));
	assert_int_equal(st->nregions, 1); /* not shown as a region */
	assert_int_equal(st->stale, 1);	   /* the dead child */
	rgn_stat_free(st);
	assert_int_equal(rgn_region_attach(env, "doomed", &r), -ENOENT);
	/* The next create reclaims the slot and the file, and may reuse
	 * the name. */
	tu_ok(rgn_region_create(env, "doomed", RGN_TYPE_USER, 1 << 16, &r));
	assert_int_equal(rgn_region_id(r), 2);
	tu_ok(rgn_alloc_check(r));
	tu_ok(rgn_region_detach(r));

	tu_kill_child_at("region-remove:before-destroy", remove_region_child,
			 home);
	assert_int_equal(rgn_region_attach(env, "doomed", &r), -ENOENT);
	assert_true(exists(home, "__db.002"));
	tu_ok(rgn_region_create(env, "other", RGN_TYPE_USER, 1 << 16, &r));
	/* the half-removed region was finished off, freeing id 2 for reuse */
	assert_int_equal(rgn_region_id(r), 2);
	assert_false(exists(home, "__db.003"));
	tu_ok(rgn_stat_env(env, &st));
	assert_int_equal(st->nregions, 2);
	assert_string_equal(st->regions[1].name, "other");
	rgn_stat_free(st);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
	assert_false(exists(home, "__db.002"));
}

static void holder_of_region_mutex_killed_does_not_wedge_others(void **state)
{
	const char *home = tu_mkhome();
	struct rgn_env_stat *st;
	rgn_env *env;
	rgn_region *r;
	int fds[2];
	uint64_t off;
	pid_t child;
	char c;

	(void)state;
	tu_ok(open_env(home, RGN_BACKING_FILES, RGN_CREATE, &env));
	tu_ok(rgn_region_create(env, "shared", RGN_TYPE_USER, 1 << 20, &r));
	assert_int_equal(pipe(fds), 0);
	child = tu_fork();
	if (child == 0) {
		rgn_env *e;
		rgn_region *cr;

		if (open_env(home, 0, 0, &e) ||
		    rgn_region_attach(e, "shared", &cr) ||
		    rgn_alloc(cr, 1000, &off) || rgn_region_lock(cr))
			_exit(1);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(fds[0], &c, 1), 1);
	kill(child, SIGKILL);
	assert_int_equal(tu_wait(child), 128 + SIGKILL);

	/* The survivor locks at once, the heap is validated, work goes on. */
	tu_ok(rgn_alloc(r, 2000, &off));
	tu_ok(rgn_alloc_check(r));
	tu_ok(rgn_stat_env(env, &st));
	assert_int_equal(st->regions[1].mutex.owner_died, 1);
	assert_int_equal(st->regions[1].mutex.holder, 0);
	assert_int_equal(st->regions[1].alloc.live_blocks, 2);
	assert_int_equal(st->live, 1);
	assert_int_equal(st->stale, 1);
	rgn_stat_free(st);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
	close(fds[0]);
	close(fds[1]);
}

static void killed_holders_are_stale_and_do_not_block_remove(void **state)
{
	const char *home = tu_mkhome();
	struct rgn_env_config cfg;
	struct rgn_env_stat *st;
	rgn_env *env, *obs;
	pid_t kids[3];
	int fds[2];
	char c;

	(void)state;
	tu_ok(open_env(home, RGN_BACKING_SYSV, RGN_CREATE, &env));
	tu_ok(rgn_env_close(env));
	assert_int_equal(pipe(fds), 0);
	for (int i = 0; i < 3; i++) {
		kids[i] = tu_fork();
		if (kids[i] == 0) {
			if (open_env(home, 0, 0, &env))
				_exit(1);
			if (write(fds[1], "x", 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(read(fds[0], &c, 1), 1);
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_INSPECT;
	tu_ok(rgn_env_open(home, &cfg, &obs));
	tu_ok(rgn_stat_env(obs, &st));
	assert_int_equal(st->live, 3);
	assert_int_equal(st->stale, 0);
	rgn_stat_free(st);
	assert_int_equal(rgn_env_remove(home, 0), -EBUSY);

	kill(kids[0], SIGKILL);
	tu_wait(kids[0]);
	tu_ok(rgn_stat_env(obs, &st));
	assert_int_equal(st->live, 2);
	assert_int_equal(st->stale, 1);
	rgn_stat_free(st);

	kill(kids[1], SIGKILL);
	kill(kids[2], SIGKILL);
	tu_wait(kids[1]);
	tu_wait(kids[2]);
	tu_ok(rgn_stat_env(obs, &st));
	assert_int_equal(st->live, 0);
	assert_int_equal(st->stale, 3);
	rgn_stat_free(st);
	tu_ok(rgn_env_close(obs));
	/* every registered process is dead: no force needed */
	tu_ok(rgn_env_remove(home, 0));
	assert_int_equal(tu_count_segments(), 0);
	close(fds[0]);
	close(fds[1]);
}

/* The state letter of PID from /proc, or 0 if it is gone. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = tu_read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : 0;
}

static void killed_holder_not_yet_reaped_is_already_stale(void **state)
{
	const char *home = tu_mkhome();
	struct rgn_env_stat *st;
	rgn_env *env;
	int fds[2];
	pid_t child;
	char c;

	(void)state;
	tu_ok(open_env(home, RGN_BACKING_FILES, RGN_CREATE, &env));
	assert_int_equal(pipe(fds), 0);
	child = tu_fork();
	if (child == 0) {
		rgn_env *e;

		if (open_env(home, 0, 0, &e) || write(fds[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(fds[0], &c, 1), 1);
	kill(child, SIGKILL);
	/* wait for the zombie, but do not reap it */
	while (proc_state(child) != 'Z')
		usleep(1000);
	tu_ok(rgn_stat_env(env, &st));
	assert_int_equal(st->live, 1);
	assert_int_equal(st->stale, 1);
	rgn_stat_free(st);
	assert_int_equal(tu_wait(child), 128 + SIGKILL);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
	close(fds[0]);
	close(fds[1]);
}

/*
 * A files environment outlives a reboot, with its mutex's lock word frozen
 * as the old boot left it and a registry of the old boot's pids (which may
 * name this boot's processes).  The first joiner of the new boot adopts it:
 * fresh mutex, empty registry, this boot's id.  Faked here by writing the
 * primary as a reboot would leave it: another boot id, a lock word held by
 * a thread id no process has, and a registry entry that names a process
 * alive now (this one, start time and all).
 */
static void primary_left_by_another_boot_is_adopted(void **state)
{
	const char *home = tu_mkhome();
	const off_t lock_at =
		RGN_ENV_OFF + offsetof(struct rgn_shm_env, ev_mutex);
	struct rgn_shm_proc pr = {.pr_pid = getpid(), .pr_handle = 99};
	struct rgn_shm_env ev;
	const uint32_t frozen = 0x3fffffff; /* above any pid_max */
	char path[4200];
	rgn_env *env;
	pid_t child;
	int fd;

	(void)state;
	if (!rgn_boot_id()[0])
		skip(); /* no boot id to tell boots apart by */
	tu_ok(open_env(home, RGN_BACKING_FILES, RGN_CREATE, &env));
	tu_ok(rgn_env_close(env));
	snprintf(path, sizeof(path), "%s/__db.001", home);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &ev, sizeof(ev), RGN_ENV_OFF), sizeof(ev));
	assert_string_equal(ev.ev_boot_id, rgn_boot_id());
	snprintf(ev.ev_boot_id, sizeof(ev.ev_boot_id),
		 "00000000-0000-4000-8000-000000000000");
	ev.ev_mutex.mx_holder = (int32_t)frozen;
	ev.ev_proc_hwm = 1;
	pr.pr_start = rgn_self_start();
	assert_int_equal(pwrite(fd, &ev, sizeof(ev), RGN_ENV_OFF), sizeof(ev));
	assert_int_equal(pwrite(fd, &frozen, sizeof(frozen), lock_at),
			 sizeof(frozen));
	assert_int_equal(pwrite(fd, &pr, sizeof(pr), RGN_PROCS_OFF),
			 sizeof(pr));

	/* In a child with a deadline: a join that kept the frozen lock
	 * word would wait on it for ever. */
	child = tu_fork();
	if (child == 0) {
		struct rgn_env_stat *st;

		alarm(20);
		if (open_env(home, 0, 0, &env) || rgn_stat_env(env, &st))
			_exit(1);
		/* only this joiner: the old boot's entry is gone */
		if (st->live != 1 || st->stale != 0)
			_exit(2);
		rgn_stat_free(st);
		_exit(rgn_env_close(env) ? 3 : 0);
	}
	assert_int_equal(tu_wait(child), 0);
	assert_int_equal(pread(fd, &ev, sizeof(ev), RGN_ENV_OFF), sizeof(ev));
	assert_string_equal(ev.ev_boot_id, rgn_boot_id());
	assert_int_equal(ev.ev_mutex.mx_holder, 0);
	close(fd);
	tu_ok(rgn_env_remove(home, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			creator_killed_mid_create_is_recognised_at_once),
		cmocka_unit_test(
			sysv_creator_killed_mid_create_leaves_a_reclaimable_segment),
		cmocka_unit_test(
			sysv_creator_killed_before_writing_anything_is_reclaimed),
		cmocka_unit_test(
			sysv_region_creator_killed_leaves_nothing_behind),
		cmocka_unit_test(
			region_creator_or_remover_killed_is_finished_by_the_next_create),
		cmocka_unit_test(
			holder_of_region_mutex_killed_does_not_wedge_others),
		cmocka_unit_test(
			killed_holders_are_stale_and_do_not_block_remove),
		cmocka_unit_test(killed_holder_not_yet_reaped_is_already_stale),
		cmocka_unit_test(
			sysv_creator_killed_after_publishing_leaves_a_joinable_env),
		cmocka_unit_test(primary_left_by_another_boot_is_adopted),
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
