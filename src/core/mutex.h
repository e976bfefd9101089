/*
 * mutex.h - robust process-shared mutexes that live in shared memory.
 */
#ifndef RGN_MUTEX_H
#define RGN_MUTEX_H

#include "layout.h"

/* Initialise a mutex in shared memory (robust, process-shared). */
int rgn_mutex_init(struct rgn_shm_mutex *m);

/*
 * Lock M.  If the previous holder died, RECOVER(CTX) runs with the lock held
 * to validate or repair what M protects; if it succeeds the mutex is marked
 * consistent and 0 is returned, otherwise the mutex is left unrecoverable
 * and RGN_ECORRUPT is returned (and by every later lock).
 */
int rgn_mutex_lock(struct rgn_shm_mutex *m, int (*recover)(void *ctx),
		   void *ctx);
void rgn_mutex_unlock(struct rgn_shm_mutex *m);

void rgn_mutex_stat(const struct rgn_shm_mutex *m, struct rgn_mutex_stat *st);

#endif
