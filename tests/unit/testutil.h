/*
 * testutil.h - what every unit test needs: a private IPC namespace,
 * temporary homes and child processes that are cleaned up at exit even
 * when a test fails.
 */
#ifndef RGN_TESTUTIL_H
#define RGN_TESTUTIL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

/*
 * Move this process into a new IPC namespace so that System V segments made
 * by the test are invisible to (and cannot touch) the host's.  Exits 77
 * (skip) if the kernel refuses.  Call first thing in main().
 */
void tu_private_ipc(void);

/* A fresh empty directory under $TMPDIR (or /tmp); removed at exit. */
const char *tu_mkhome(void);

/* fork() that remembers the child: it is SIGKILLed and reaped at exit. */
pid_t tu_fork(void);
/* Wait for a child; returns its exit status, or 128+signal. */
int tu_wait(pid_t pid);

/*
 * Fork a child that runs FN(ARG) and SIGKILL it when it reaches the
 * library's test point POINT (rgn_test_point).  Returns once the child is
 * dead.  Fails the test if the child never got there.
 */
void tu_kill_child_at(const char *point, void (*fn)(const void *),
		      const void *arg);

/* Count the segments in this IPC namespace (from /proc/sysvipc/shm). */
int tu_count_segments(void);
/* Resident bytes of up to MAX segments, with their shmids, in the order
 * /proc/sysvipc/shm lists them; returns how many. */
size_t tu_segments_rss(int *ids, uint64_t *rss, size_t max);
/* Resident bytes of segment SHMID (fails the test if there is none). */
uint64_t tu_segment_rss(int shmid);

/* Write or read a whole small file. */
void tu_write_file(const char *path, const void *buf, size_t len);
ssize_t tu_read_file(const char *path, void *buf, size_t len);

/* Assert that a library call returned 0, printing rgn_strerror if not. */
#define tu_ok(expr)                                                            \
	do {                                                                   \
		int tu_rc_ = (expr);                                           \
		if (tu_rc_ != 0)                                               \
			fail_msg("%s = %d (%s: %s)", #expr, tu_rc_,            \
				 rgn_strerror(tu_rc_), rgn_errdetail());       \
	} while (0)

#endif
