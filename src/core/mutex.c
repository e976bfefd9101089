/*
 * mutex.c - robust mutexes: a process killed while holding one must never
 * wedge the others.  The next locker gets EOWNERDEAD, validates (and if it
 * can, repairs) the state the mutex guards, and only then marks it
 * consistent.  Statistics are kept inside the mutex by its holder.
 *
 * A lock word naming a thread that does not exist would wedge everyone
 * just the same, so waiting is done in slices, and between slices the
 * owner named in the word is checked against the kernel's live threads
 * (the contract and its trade-offs are in mutex.h).  Only the path that
 * already has to wait pays for it.
 */
#include <fcntl.h>
#include <linux/futex.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "mutex.h"
#include "proc.h"

/* glibc keeps the futex word first in pthread_mutex_t; we read it there. */
_Static_assert(offsetof(pthread_mutex_t, __data.__lock) == 0,
	       "glibc's mutex lock word is expected at offset 0");
/*
 * A mutex is either a region header's rh_mutex or the environment's
 * ev_mutex, in both cases inside a page-aligned mapping whose offset 0 is a
 * region header.  describe() tells the two apart by alignment, which works
 * only while the ev_mutex would put a would-be header off a page boundary.
 */
#define RGN_EV_MUTEX_OFF (RGN_ENV_OFF + offsetof(struct rgn_shm_env, ev_mutex))
_Static_assert((RGN_EV_MUTEX_OFF - offsetof(struct rgn_shm_region, rh_mutex)) %
			       4096 !=
		       0,
	       "describe() cannot tell rh_mutex from ev_mutex");

enum owner_state { OWNER_ALIVE, OWNER_GONE, OWNER_SELF, OWNER_UNKNOWN };

int rgn_mutex_init(struct rgn_shm_mutex *m)
{
	pthread_mutexattr_t attr;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = pthread_mutexattr_init(&attr);
	if (rc)
		return rgn_fail(-rc, "pthread_mutexattr_init");
	rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	if (!rc)
		rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	if (!rc)
		rc = pthread_mutex_init(&m->mx_lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (rc)
		return rgn_fail(-rc, "pthread_mutex_init (robust, shared)");
	return 0;
}

/* Which lock M is, for error details: "region NAME (id N) in HOME". */
static void describe(const struct rgn_shm_mutex *m, char *buf, size_t len)
{
	const char *p = (const char *)m;
	const struct rgn_shm_region *rh =
		(const struct rgn_shm_region *)(p -
						offsetof(struct rgn_shm_region,
							 rh_mutex));

	if ((uintptr_t)rh % 4096 == 0) {
		snprintf(buf, len,
			 "mutex of region \"%.64s\" (id %u) in %.200s",
			 rh->rh_name, rh->rh_id, rh->rh_home);
		return;
	}
	rh = (const struct rgn_shm_region *)(p - RGN_EV_MUTEX_OFF);
	snprintf(buf, len, "environment mutex in %.200s", rh->rh_home);
}

/*
 * Is thread TID alive?  A TID is visible as /proc/TID even when it is not
 * a process's first thread.  A zombie has already run its robust-list
 * cleanup, so it holds nothing.  A /proc that is not our pid namespace's
 * proves nothing either way.
 */
static enum owner_state owner_state(pid_t tid)
{
	char path[64], buf[512], self[32];
	const char *close_paren;
	ssize_t n;
	int fd;

	if (tid == (pid_t)syscall(SYS_gettid))
		return OWNER_SELF;
	n = readlink("/proc/self", self, sizeof(self) - 1);
	if (n <= 0)
		return OWNER_UNKNOWN;
	self[n] = '\0';
	snprintf(path, sizeof(path), "%d", (int)getpid());
	if (strcmp(self, path) != 0)
		return OWNER_UNKNOWN;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? OWNER_GONE
							 : OWNER_UNKNOWN;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return errno == ESRCH ? OWNER_GONE : OWNER_UNKNOWN;
	buf[n] = '\0';
	/* "TID (comm) S ...": comm may hold anything, even ") ". */
	close_paren = strrchr(buf, ')');
	if (!close_paren || close_paren[1] != ' ')
		return OWNER_UNKNOWN;
	if (close_paren[2] == 'Z' || close_paren[2] == 'X')
		return OWNER_GONE;
	return OWNER_ALIVE;
}

/*
 * Called after a slice of waiting: if the word names a thread that is not
 * alive, turn it into what the kernel would have left had that thread died
 * holding the lock, so the next lock attempt takes the EOWNERDEAD path.
 * The compare-and-swap fails harmlessly if the word changed meanwhile.
 * Returns 0 to keep waiting, or a negative code to give up.
 */
static int unwedge(struct rgn_shm_mutex *m)
{
	int *word = &m->mx_lock.__data.__lock;
	int seen = __atomic_load_n(word, __ATOMIC_ACQUIRE);
	pid_t tid = (pid_t)(seen & FUTEX_TID_MASK);
	char what[320];
	int dead;

	if (tid == 0 || (seen & FUTEX_OWNER_DIED))
		return 0; /* being handed over, or already recoverable */
	switch (owner_state(tid)) {
	case OWNER_SELF:
		describe(m, what, sizeof(what));
		return rgn_fail(-EDEADLK,
				"%s: lock word names the calling thread %d",
				what, (int)tid);
	case OWNER_GONE:
		break;
	default:
		return 0;
	}
	dead = FUTEX_OWNER_DIED | (seen & (int)FUTEX_WAITERS);
	if (!__atomic_compare_exchange_n(word, &seen, dead, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return 0;
	/* Waiters asleep on the old value would otherwise sleep out their
	 * slice: let one of them take the dead owner's place now. */
	if (dead & (int)FUTEX_WAITERS)
		syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
	return 0;
}

/* The contended path: wait in slices, checking the owner in between. */
static int lock_slow(struct rgn_shm_mutex *m)
{
	for (;;) {
		struct timespec until;
		int rc;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += RGN_MUTEX_SLICE_MS % 1000 * 1000000L;
		until.tv_sec +=
			RGN_MUTEX_SLICE_MS / 1000 + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		rc = pthread_mutex_clocklock(&m->mx_lock, CLOCK_MONOTONIC,
					     &until);
		if (rc != ETIMEDOUT)
			return rc;
		rc = unwedge(m);
		if (rc < 0)
			return rc;
	}
}

int rgn_mutex_lock(struct rgn_shm_mutex *m, int (*recover)(void *ctx),
		   void *ctx)
{
	int waited = 0;
	int rc = pthread_mutex_trylock(&m->mx_lock);

	if (rc == EBUSY) {
		waited = 1;
		rc = lock_slow(m);
		if (rc < 0)
			return rc; /* unwedge() gave up and said why */
	}
	if (rc == EOWNERDEAD) {
		int32_t dead = m->mx_holder;
		int r = recover ? recover(ctx) : 0;

		if (r < 0) {
			char what[320];

			/* Unlocking without pthread_mutex_consistent makes it
			 * ENOTRECOVERABLE for everyone: the state is not safe
			 * to use, and nobody should be allowed to. */
			describe(m, what, sizeof(what));
			m->mx_holder = 0;
			pthread_mutex_unlock(&m->mx_lock);
			return rgn_fail(RGN_ECORRUPT,
					"%s: holder pid %d died and the state "
					"it guarded could not be repaired",
					what, (int)dead);
		}
		pthread_mutex_consistent(&m->mx_lock);
		m->mx_owner_died++;
		rc = 0;
	}
	if (rc == ENOTRECOVERABLE) {
		char what[320];

		describe(m, what, sizeof(what));
		return rgn_fail(RGN_ECORRUPT, "%s is not recoverable", what);
	}
	if (rc)
		return rgn_fail(-rc, "pthread_mutex_lock");
	m->mx_requests++;
	m->mx_waits += (uint64_t)waited;
	m->mx_holder = rgn_self_pid();
	return 0;
}

void rgn_mutex_unlock(struct rgn_shm_mutex *m)
{
	m->mx_holder = 0;
	pthread_mutex_unlock(&m->mx_lock);
}

void rgn_mutex_stat(const struct rgn_shm_mutex *m, struct rgn_mutex_stat *st)
{
	st->requests = __atomic_load_n(&m->mx_requests, __ATOMIC_RELAXED);
	st->waits = __atomic_load_n(&m->mx_waits, __ATOMIC_RELAXED);
	st->owner_died = __atomic_load_n(&m->mx_owner_died, __ATOMIC_RELAXED);
	st->holder = __atomic_load_n(&m->mx_holder, __ATOMIC_RELAXED);
}
