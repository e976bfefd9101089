/*
 * mutex.c - robust mutexes: a process killed while holding one must never
 * wedge the others.  The next locker gets EOWNERDEAD, validates (and if it
 * can, repairs) the state the mutex guards, and only then marks it
 * consistent.  Statistics are kept inside the mutex by its holder.
 */
#include <string.h>

#include "internal.h"
#include "mutex.h"
#include "proc.h"

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

int rgn_mutex_lock(struct rgn_shm_mutex *m, int (*recover)(void *ctx),
		   void *ctx)
{
	int waited = 0;
	int rc = pthread_mutex_trylock(&m->mx_lock);

	if (rc == EBUSY) {
		waited = 1;
		rc = pthread_mutex_lock(&m->mx_lock);
	}
	if (rc == EOWNERDEAD) {
		int32_t dead = m->mx_holder;
		int r = recover ? recover(ctx) : 0;

		if (r < 0) {
			/* Unlocking without pthread_mutex_consistent makes it
			 * ENOTRECOVERABLE for everyone: the state is not safe
			 * to use, and nobody should be allowed to. */
			m->mx_holder = 0;
			pthread_mutex_unlock(&m->mx_lock);
			return rgn_fail(RGN_ECORRUPT,
					"holder pid %d died and the state it "
					"guarded could not be repaired",
					(int)dead);
		}
		pthread_mutex_consistent(&m->mx_lock);
		m->mx_owner_died++;
		rc = 0;
	}
	if (rc == ENOTRECOVERABLE)
		return rgn_fail(RGN_ECORRUPT, "mutex is not recoverable");
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
