/*
 * soak.h - what the soak programs share: their duration, a private IPC
 * namespace, temporary homes, and the "nothing left behind" checks.
 *
 * A soak program runs for a duration (argument, else $RGN_SOAK_SECONDS,
 * else 60 s), prints one summary line with its counts, and exits 0, 1 on
 * any violation, or 77 when this machine cannot run it.
 */
#ifndef RGN_SOAK_H
#define RGN_SOAK_H

#include <stdint.h>
#include <sys/types.h>

/* Seconds to run: argv[1] if given, else $RGN_SOAK_SECONDS, else 60. */
int soak_seconds(int argc, char **argv);

/* Move into a new IPC namespace (exit 77 if the kernel refuses), so that
 * segments made here are invisible to the host's and vanish with us. */
void soak_private_ipc(void);

/* Monotonic milliseconds. */
int64_t soak_now_ms(void);

/* A fresh empty directory under $TMPDIR or /tmp, removed at exit with
 * whatever is left in it. */
const char *soak_mkhome(void);

/* Entries in DIR other than . and .. (-1 if it cannot be read). */
int soak_dir_entries(const char *dir);

/* Segments in this IPC namespace, from /proc/sysvipc/shm. */
int soak_segments(void);

/* A cheap per-process random number generator (xorshift). */
uint64_t soak_rand(uint64_t *state);

#endif
