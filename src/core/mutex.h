/*
 * mutex.h - robust process-shared mutexes that live in shared memory.
 *
 * What a waiter does about a lock word nobody can release
 * -------------------------------------------------------
 * A robust mutex survives a holder that dies: the kernel marks the word
 * FUTEX_OWNER_DIED and the next locker repairs.  It cannot survive a word
 * that names a thread which does not exist (a stray write, a member of the
 * group scribbling on the header): every locker would sleep on it forever.
 * So the uncontended path is one pthread_mutex_trylock, as before, and a
 * locker that has to wait does so in slices of RGN_MUTEX_SLICE_MS; after
 * each slice it reads the owner's thread id from the lock word and asks
 * the kernel whether that thread is alive:
 *
 *  - provably not alive (no /proc/TID, or TID is a zombie): the word is
 *    rewritten, by compare-and-swap from the value observed, to
 *    FUTEX_OWNER_DIED (the waiters bit kept).  The next lock then gets
 *    EOWNERDEAD and runs the same repair as after a holder killed with
 *    SIGKILL: the lock is recovered if the state it guards proves sound,
 *    otherwise RGN_ECORRUPT with a detail naming the region.  A corrupt
 *    word costs its first locker one slice, not forever.
 *  - alive, whoever it is: the locker keeps waiting, without limit.  A live
 *    holder may legitimately keep a lock for long (a process stopped in a
 *    debugger, a long repair), and taking a lock from a live thread would
 *    let two of them into the state it guards, which is worse than a wait.
 *    This holds also for a live thread of a process that is not attached
 *    to the environment: the registry cannot prove such a thread is not the
 *    holder (a joiner takes the environment mutex before it is registered,
 *    and the registry is itself guarded by that mutex), so it is not asked.
 *  - the calling thread itself: -EDEADLK at once, since waiting could
 *    never end.
 *  - cannot tell (no procfs of our pid namespace): keep waiting.
 *
 * This relies on glibc on Linux, and the unit tests check it: the lock
 * word is __data.__lock, with the owner's TID in its low 30 bits
 * (FUTEX_TID_MASK), FUTEX_OWNER_DIED (bit 30) and FUTEX_WAITERS (bit 31)
 * as in the kernel's robust futex ABI; and every process of an environment
 * shares one pid namespace (the registry assumes it too), so a TID in the
 * word means the same thread to every waiter.
 */
#ifndef RGN_MUTEX_H
#define RGN_MUTEX_H

#include "layout.h"

/* How long a waiter sleeps between checks that the owner is alive. */
#define RGN_MUTEX_SLICE_MS 200

/* Initialise a mutex in shared memory (robust, process-shared). */
int rgn_mutex_init(struct rgn_shm_mutex *m);

/*
 * Lock M.  If the previous holder died, or the lock word names a thread
 * that is not alive (see above), RECOVER(CTX) runs with the lock held to
 * validate or repair what M protects; if it succeeds the mutex is marked
 * consistent and 0 is returned, otherwise the mutex is left unrecoverable
 * and RGN_ECORRUPT is returned (and by every later lock).  -EDEADLK if the
 * word names the calling thread.  A live holder is waited for however
 * long it holds the lock.
 */
int rgn_mutex_lock(struct rgn_shm_mutex *m, int (*recover)(void *ctx),
		   void *ctx);
void rgn_mutex_unlock(struct rgn_shm_mutex *m);

void rgn_mutex_stat(const struct rgn_shm_mutex *m, struct rgn_mutex_stat *st);

#endif
