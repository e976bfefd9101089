/*
 * test_mutex.c - the region's robust process-shared mutex: its statistics,
 * contention between processes, what happens when a holder dies with the
 * state it guarded beyond repair, and a lock word that names a thread
 * which does not exist (it must not hang anyone; see mutex.h).
 */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "layout.h"
#include "mutex.h"
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

/* ---- lock words that no live thread holds -------------------------------- */

/* The glibc/Linux facts mutex.c relies on (see mutex.h). */
#define WORD_TID_MASK	0x3fffffff
#define WORD_OWNER_DIED 0x40000000
#define WORD_WAITERS	((int)0x80000000)
/* A thread id above any pid_max (4194304 at most): never alive. */
#define NO_SUCH_TID 0x3fffff00

static volatile int *lock_word(rgn_region *r)
{
	return (volatile int *)&header_of(r)->rh_mutex.mx_lock;
}

static void wait_for_waiter(volatile int *word)
{
	/* glibc sets FUTEX_WAITERS when a locker goes to sleep on the word:
	 * the locker is then really blocked.  No timing involved. */
	while (!(__atomic_load_n(word, __ATOMIC_ACQUIRE) & WORD_WAITERS))
		usleep(1000);
}

static void *hold_in_a_thread(void *p)
{
	rgn_region *r = p;
	intptr_t tid;

	if (rgn_region_lock(r))
		return NULL;
	tid = (intptr_t)syscall(SYS_gettid);
	/* exit holding it: glibc's robust list marks it OWNER_DIED */
	return (void *)tid;
}

static void lock_word_holds_the_owner_tid_as_mutex_c_assumes(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = open_env(home, RGN_CREATE);
	rgn_region *r;
	volatile int *word;
	pthread_t th;
	void *ret;
	char path[64];
	struct stat sb;

	(void)state;
	tu_ok(rgn_region_create(env, "m", RGN_TYPE_USER, 1 << 16, &r));
	word = lock_word(r);
	assert_int_equal(*word, 0);
	tu_ok(rgn_region_lock(r));
	assert_int_equal(*word & WORD_TID_MASK, (int)syscall(SYS_gettid));
	assert_int_equal(*word & (WORD_OWNER_DIED | WORD_WAITERS), 0);
	tu_ok(rgn_region_unlock(r));
	assert_int_equal(*word, 0);
	/* A thread that is not the first of its process is still /proc/TID
	 * while it lives, and a thread that exits holding the lock leaves
	 * OWNER_DIED and no TID behind. */
	assert_int_equal(pthread_create(&th, NULL, hold_in_a_thread, r), 0);
	assert_int_equal(pthread_join(th, &ret), 0);
	assert_non_null(ret);
	assert_int_not_equal((intptr_t)ret, getpid());
	assert_int_equal(*word & WORD_OWNER_DIED, WORD_OWNER_DIED);
	assert_int_equal(*word & WORD_TID_MASK, 0);
	snprintf(path, sizeof(path), "/proc/%d", (int)(intptr_t)ret);
	assert_int_equal(stat(path, &sb), -1);
	snprintf(path, sizeof(path), "/proc/%d", (int)syscall(SYS_gettid));
	assert_int_equal(stat(path, &sb), 0);
	tu_ok(rgn_region_lock(r)); /* the usual dead-owner recovery */
	tu_ok(rgn_region_unlock(r));
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

enum op { OP_ALLOC, OP_FREE, OP_LOCK, OP_CHECK, OP_COUNT };

static int run_op(rgn_region *r, enum op op, uint64_t off)
{
	uint64_t got;
	int rc;

	switch (op) {
	case OP_ALLOC:
		return rgn_alloc(r, 32, &got);
	case OP_FREE:
		return rgn_free(r, off);
	case OP_LOCK:
		rc = rgn_region_lock(r);
		if (rc == 0)
			rc = rgn_region_unlock(r);
		return rc;
	default:
		return rgn_alloc_check(r);
	}
}

/*
 * Run OP in a child with an alarm, so that a regression (a hang) fails
 * the test instead of hanging the suite.  Returns the child's status; the
 * child exits 0 if OP returned WANT and the detail contains DETAIL.
 */
static int op_in_child(const char *home, enum op op, uint64_t off, int want,
		       const char *detail)
{
	pid_t child = tu_fork();

	if (child == 0) {
		rgn_env *e;
		rgn_region *cr;
		struct rgn_env_config cfg;
		int rc;

		alarm(20);
		rgn_env_config_init(&cfg);
		if (rgn_env_open(home, &cfg, &e) ||
		    rgn_region_attach(e, "m", &cr))
			_exit(3);
		rc = run_op(cr, op, off);
		if (rc != want) {
			fprintf(stderr, "op %d: %d (%s: %s), wanted %d\n", op,
				rc, rgn_strerror(rc), rgn_errdetail(), want);
			_exit(1);
		}
		if (detail && !strstr(rgn_errdetail(), detail)) {
			fprintf(stderr, "detail \"%s\" lacks \"%s\"\n",
				rgn_errdetail(), detail);
			_exit(2);
		}
		_exit(0);
	}
	return tu_wait(child);
}

static void a_word_naming_no_thread_is_recovered_by_every_call(void **state)
{
	(void)state;
	for (int op = 0; op < OP_COUNT; op++) {
		const char *home = tu_mkhome();
		rgn_env *env = open_env(home, RGN_CREATE);
		struct rgn_env_stat *st;
		rgn_region *r;
		uint64_t off;

		tu_ok(rgn_region_create(env, "m", RGN_TYPE_USER, 1 << 16, &r));
		tu_ok(rgn_alloc(r, 64, &off));
		*lock_word(r) = NO_SUCH_TID;
		/* 128 + SIGALRM here means it hung */
		assert_int_equal(op_in_child(home, op, off, 0, NULL), 0);
		/* recovered as after a dead holder, and usable by all */
		assert_int_equal(*lock_word(r), 0);
		tu_ok(rgn_alloc_check(r));
		tu_ok(rgn_stat_env(env, &st));
		assert_int_equal(st->regions[1].mutex.owner_died, 1);
		rgn_stat_free(st);
		tu_ok(rgn_env_close(env));
		tu_ok(rgn_env_remove(home, 0));
	}
}

static void a_word_naming_no_thread_over_a_broken_heap_is_corrupt(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = open_env(home, RGN_CREATE);
	struct rgn_shm_region *rh;
	rgn_region *r;
	uint64_t off;

	(void)state;
	tu_ok(rgn_region_create(env, "m", RGN_TYPE_USER, 1 << 16, &r));
	rh = header_of(r);
	rh->rh_heap.hp_busy = 1;
	memset((char *)rh + rh->rh_heap.hp_arena_off, 0xff, 8192);
	*lock_word(r) = NO_SUCH_TID;
	/* the detail names the region and its home */
	assert_int_equal(op_in_child(home, OP_ALLOC, 0, RGN_ECORRUPT,
				     "region \"m\" (id 2)"),
			 0);
	assert_int_equal(op_in_child(home, OP_LOCK, 0, RGN_ECORRUPT, home), 0);
	assert_int_equal(rgn_alloc(r, 16, &off), RGN_ECORRUPT);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void a_word_naming_no_thread_in_the_environment_mutex_recovers(
	void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = open_env(home, RGN_CREATE);
	rgn_region *r, *primary;
	volatile int *word;
	pid_t child;

	(void)state;
	tu_ok(rgn_region_create(env, "m", RGN_TYPE_USER, 1 << 16, &r));
	tu_ok(rgn_region_attach_id(env, 1, &primary));
	word = (volatile int *)((char *)header_of(primary) + RGN_ENV_OFF +
				offsetof(struct rgn_shm_env, ev_mutex));
	*word = NO_SUCH_TID;
	child = tu_fork();
	if (child == 0) {
		rgn_env *e;
		rgn_region *cr;
		struct rgn_env_config cfg;

		alarm(20);
		rgn_env_config_init(&cfg);
		/* joining registers the process under the environment mutex */
		if (rgn_env_open(home, &cfg, &e) ||
		    rgn_region_create(e, "n", RGN_TYPE_USER, 1 << 16, &cr))
			_exit(1);
		rgn_env_close(e);
		_exit(0);
	}
	assert_int_equal(tu_wait(child), 0);
	tu_ok(rgn_region_attach(env, "n", &r));
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void a_live_holder_in_another_process_is_waited_for(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = open_env(home, RGN_CREATE);
	rgn_region *r;
	int held[2], go[2];
	pid_t holder, locker;
	char c;

	(void)state;
	tu_ok(rgn_region_create(env, "m", RGN_TYPE_USER, 1 << 16, &r));
	assert_int_equal(pipe(held), 0);
	assert_int_equal(pipe(go), 0);
	holder = tu_fork();
	if (holder == 0) {
		rgn_env *e = open_env(home, 0);
		rgn_region *cr;

		if (rgn_region_attach(e, "m", &cr) || rgn_region_lock(cr) ||
		    write(held[1], "h", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		rgn_region_unlock(cr);
		_exit(0);
	}
	assert_int_equal(read(held[0], &c, 1), 1);
	locker = tu_fork();
	if (locker == 0) {
		alarm(60);
		rgn_env *e = open_env(home, 0);
		rgn_region *cr;

		_exit(rgn_region_attach(e, "m", &cr) || rgn_region_lock(cr));
	}
	wait_for_waiter(lock_word(r));
	/* Several slices pass: the owner is alive, so it keeps waiting.  A
	 * lock taken from the holder would end the locker here. */
	usleep(4 * RGN_MUTEX_SLICE_MS * 1000);
	assert_int_equal(waitpid(locker, NULL, WNOHANG), 0);
	assert_int_equal(*lock_word(r) & WORD_TID_MASK, holder);
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(tu_wait(holder), 0);
	assert_int_equal(tu_wait(locker), 0);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
	close(held[0]);
	close(held[1]);
	close(go[0]);
	close(go[1]);
}

/*
 * Decision (mutex.h): a word naming a live thread of a process that never
 * attached is still waited for, since nothing proves that thread is not
 * the holder; once that thread is gone, the lock recovers.
 */
static void a_live_unattached_thread_in_the_word_is_waited_for_until_gone(
	void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = open_env(home, RGN_CREATE);
	struct rgn_env_stat *st;
	rgn_region *r;
	pid_t sleeper, locker;

	(void)state;
	tu_ok(rgn_region_create(env, "m", RGN_TYPE_USER, 1 << 16, &r));
	sleeper = tu_fork();
	if (sleeper == 0) {
		pause();
		_exit(0);
	}
	*lock_word(r) = sleeper;
	locker = tu_fork();
	if (locker == 0) {
		alarm(60);
		rgn_env *e = open_env(home, 0);
		rgn_region *cr;

		_exit(rgn_region_attach(e, "m", &cr) || rgn_region_lock(cr));
	}
	wait_for_waiter(lock_word(r));
	usleep(4 * RGN_MUTEX_SLICE_MS * 1000);
	assert_int_equal(waitpid(locker, NULL, WNOHANG), 0);
	/* The sleeper goes; reaping it removes /proc/PID.  The locker, still
	 * waiting, now finds no such thread and recovers. */
	kill(sleeper, SIGKILL);
	assert_int_equal(tu_wait(sleeper), 128 + SIGKILL);
	assert_int_equal(tu_wait(locker), 0);
	tu_ok(rgn_stat_env(env, &st));
	assert_int_equal(st->regions[1].mutex.owner_died, 1);
	rgn_stat_free(st);
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
		cmocka_unit_test(
			lock_word_holds_the_owner_tid_as_mutex_c_assumes),
		cmocka_unit_test(
			a_word_naming_no_thread_is_recovered_by_every_call),
		cmocka_unit_test(
			a_word_naming_no_thread_over_a_broken_heap_is_corrupt),
		cmocka_unit_test(
			a_word_naming_no_thread_in_the_environment_mutex_recovers),
		cmocka_unit_test(
			a_live_holder_in_another_process_is_waited_for),
		cmocka_unit_test(
			a_live_unattached_thread_in_the_word_is_waited_for_until_gone),
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
