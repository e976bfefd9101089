/*
 * bench.h - the harness every benchmark program shares.
 *
 * A comparison runs regionfs (A) and its peer (B) in the same process,
 * interleaved A B A B ... after one warm-up of each, so that a noisy
 * neighbour or a frequency change hits both sides alike.  Each run yields
 * one figure (say, microseconds per operation); a row reports the median of
 * each side and the median of the per-pair ratios A/B, never a single time.
 *
 * Rows go to stdout as a table and, with --json FILE, are appended to FILE
 * as JSON lines (one object per row), which tests/bench/run.sh merges with
 * the rows of the other programs into one table and one JSON document.
 *
 * Exit status: 0 whether or not targets are met; 1 if a measure failed
 * (an error from either side) or the program could not set itself up.
 * A peer that is not built is a skipped row, not a failure.
 *
 * Isolation: bench_init() moves the process into private IPC and mount
 * namespaces where it can (root, or unprivileged user namespaces), with a
 * private tmpfs on /dev/shm.  Every System V segment and every file under
 * /dev/shm then disappears with the process, even after SIGKILL.  Homes
 * live in bench_tmpdir(), removed at exit; children are killed at exit.
 */
#ifndef RGN_BENCH_H
#define RGN_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bench_opts {
	int quick;	       /* --quick: few iterations, for CI */
	int runs;	       /* measured runs per side (after warm-up) */
	int warmup;	       /* warm-up runs per side */
	const char *json;      /* --json FILE: append rows here */
	const char *only;      /* --only SUBSTR: measures whose name has it */
	const char *dir;       /* --dir DIR: where homes go (default: tmpfs) */
	const char *regionctl; /* --regionctl PATH: the tool, for leaks */
	int ipc_private;       /* 1: we are in a private IPC namespace */
	int shm_private;       /* 1: /dev/shm is our own tmpfs */
};

extern struct bench_opts bench;

/*
 * Parse the common options (--quick, --runs N, --json FILE, --only S,
 * --dir DIR, --regionctl PATH, --help), enter private namespaces, install the
 * cleanup. Unknown options are an error.  PROG names the program in messages.
 */
void bench_init(int argc, char **argv, const char *prog);

/* Exit status for main(): 1 if any measure failed, else 0. */
int bench_finish(void);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/*
 * A fresh directory, removed (recursively) at exit.  NAME is a prefix; the
 * result lives until exit.  It is made under --dir when given; otherwise
 * under our private /dev/shm when TMPFS (memory-backed peers: Boost's
 * segments live there) and under $TMPDIR or /tmp when not (environment
 * homes, as people keep them on disk).
 */
char *bench_mkdir(const char *name, int tmpfs);

/* The type of the filesystem DIR is on, from statfs: "ext4", "tmpfs",
 * "xfs", "btrfs", ... or "fs 0x<magic>"; "-" for NULL or on failure.
 * A static string. */
const char *bench_fs_name(const char *dir);

/* Remove every entry in DIR (not DIR itself); -1 on failure. */
int bench_empty_dir(const char *dir);

/* Remember PID to SIGKILL and reap at exit (if still running). */
void bench_track_child(pid_t pid);
void bench_untrack_child(pid_t pid);

/* Print a message about the current measure to stderr, and record it as
 * the row's error when the measure then fails.  Returns -1. */
int bench_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * One side of a comparison: run once and store the figure in *value.
 * Return 0, or -1 after bench_err() on failure.
 */
typedef int (*bench_fn)(void *ctx, double *value);

struct bench_side {
	const char *name; /* "regionfs", "BDB 5.3", ... */
	bench_fn fn;	  /* NULL: this side is not available */
	void *ctx;
	const char *skip; /* why fn is NULL, for the row */
};

struct bench_measure {
	const char *group;     /* program-level group: "env", "alloc", ... */
	const char *name;      /* what is measured, one line */
	const char *unit;      /* of the figure: "us/op", "Mops/s", ... */
	int higher_better;     /* 1 for throughputs */
	const char *target_op; /* "<=" or ">=" on the ratio; NULL: none */
	double target;	       /* the ratio regionfs/peer aimed at */
	struct bench_side a;   /* regionfs */
	struct bench_side b;   /* the peer; b.name NULL for a single side */
	const char *note;      /* how it was measured, for the JSON */
	const char *homes;     /* a directory the measure's homes are in,
				  whose filesystem the row reports; NULL:
				  the last bench_mkdir()'s, or "-" */
	int runs, warmup;      /* 0: take them from bench */
	/* Filled by bench_run: */
	double med_a, med_b, ratio;
	int failed;
};

/*
 * Run M (warm-up of each side, then runs interleaved A B A B ...), print
 * its row and append it to the JSON file.  Returns 0, 1 when skipped
 * (--only, or the peer is unavailable: then only side A runs and no ratio
 * is given), or -1 when a side failed (the row records the error).
 */
int bench_run(struct bench_measure *m);

/* Report M as failed before it ran (its set-up failed), with the message
 * of the last bench_err(). */
void bench_fail(struct bench_measure *m);

/*
 * A growth row: FIGURES[i] is the median cost at size SIZES[i] (n points),
 * classified as flat, linear or n^k from the two ends.  Printed and
 * appended like a measure; GROUP/NAME/UNIT as in bench_measure.
 */
void bench_growth(const char *group, const char *name, const char *unit,
		  const char *what, const double *sizes, const double *figures,
		  int n);

/* Median of V[0..n-1] (V is reordered). */
double bench_median(double *v, int n);

#ifdef __cplusplus
}
#endif
#endif /* RGN_BENCH_H */
