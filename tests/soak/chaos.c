/*
 * chaos.c - kill -9 chaos: WORKERS processes allocate, free and lock in
 * one environment while a supervisor SIGKILLs one of them at a random
 * moment and starts a replacement, for the whole duration.  Afterwards
 * every allocator must check clean, every mutex must be lockable within a
 * bounded wait, and rgn_env_remove must leave no file and no segment.
 *
 *   chaos files|sysv [SECONDS]
 *
 * Runs in its own IPC namespace.  A worker that dies otherwise than by our
 * SIGKILL, or sees an unexpected error, is a violation.  Workers record
 * what they own in a shared board, so a replacement frees its
 * predecessor's blocks; the board entry is cleared before a free, so a
 * kill can leak a block but never make a double free.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rgn.h"
#include "soak.h"

#define WORKERS	    8
#define REGIONS	    2
#define SLOTS	    64
#define REGION_SIZE (4u << 20)
#define SYSV_KEY    0x5e0a0000
#define KILL_GAP_MS 250 /* kills come 0..250 ms apart */

/* Shared by the supervisor and every worker (MAP_SHARED, inherited). */
struct board {
	uint64_t ops[4]; /* alloc, free, lock, check */
	uint64_t violations;
	char why[256];				/* the first violation */
	uint64_t live[WORKERS][REGIONS][SLOTS]; /* offsets a slot owns */
};

enum { OP_ALLOC, OP_FREE, OP_LOCK, OP_CHECK };

static struct board *board;
static enum rgn_backing backing;
static const char *home;

static void violation(const char *fmt, const char *a, int rc)
{
	if (__atomic_fetch_add(&board->violations, 1, __ATOMIC_SEQ_CST) == 0)
		snprintf(board->why, sizeof(board->why), "%s %s: %s (%s)", fmt,
			 a, rgn_strerror(rc), rgn_errdetail());
}

static int open_env(uint32_t flags, rgn_env **envp)
{
	struct rgn_env_config cfg;

	rgn_env_config_init(&cfg);
	cfg.flags = flags;
	cfg.backing = backing;
	cfg.shm_key = backing == RGN_BACKING_SYSV ? SYSV_KEY : 0;
	return rgn_env_open(home, &cfg, envp);
}

static const char *region_name(int r)
{
	return r == 0 ? "chaos0" : "chaos1";
}

static void count(int op)
{
	__atomic_fetch_add(&board->ops[op], 1, __ATOMIC_RELAXED);
}

/* One step on slot SLOT of region R: free what it owns, or allocate. */
static int step(rgn_region *reg, uint64_t *slot, uint64_t *rnd)
{
	uint64_t pick = soak_rand(rnd), off;
	int rc;

	switch (pick % 8) {
	case 0:
	case 1:
	case 2:
	case 3:
	case 4:
		off = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
		if (off) {
			__atomic_store_n(slot, 0, __ATOMIC_RELEASE);
			count(OP_FREE);
			return rgn_free(reg, off);
		}
		/* log-uniform 16 B .. 8 KiB */
		rc = rgn_alloc(reg, 16ull << (pick >> 8) % 10, &off);
		count(OP_ALLOC);
		if (rc == -ENOMEM)
			return 0;
		if (rc == 0) {
			memset(rgn_ptr(reg, off), 0x5a, 16);
			__atomic_store_n(slot, off, __ATOMIC_RELEASE);
		}
		return rc;
	case 5:
	case 6:
		rc = rgn_region_lock(reg);
		count(OP_LOCK);
		if (rc == 0)
			rc = rgn_region_unlock(reg);
		return rc;
	default:
		if (pick % 256 != 7)
			return 0;
		count(OP_CHECK);
		return rgn_alloc_check(reg);
	}
}

static void worker(int w, uint64_t seed)
{
	rgn_region *reg[REGIONS];
	uint64_t rnd = seed | 1;
	rgn_env *env;
	int rc = open_env(0, &env);

	if (rc < 0) {
		violation("worker join", home, rc);
		_exit(1);
	}
	for (int r = 0; r < REGIONS; r++) {
		rc = rgn_region_attach(env, region_name(r), &reg[r]);
		if (rc < 0) {
			violation("worker attach", region_name(r), rc);
			_exit(1);
		}
	}
	for (;;) {
		int r = (int)(soak_rand(&rnd) % REGIONS);
		int s = (int)(soak_rand(&rnd) % SLOTS);

		rc = step(reg[r], &board->live[w][r][s], &rnd);
		if (rc < 0) {
			violation("worker operation on", region_name(r), rc);
			_exit(1);
		}
	}
}

static pid_t start_worker(int w, uint64_t seed)
{
	pid_t pid = fork();

	if (pid == 0)
		worker(w, seed);
	if (pid < 0) {
		perror("chaos: fork");
		exit(1);
	}
	return pid;
}

/* Kill and reap worker PID; only our SIGKILL may end it. */
static void reap(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		violation("worker ended by itself:", "see", 0);
}

/*
 * In a child with an alarm, so a wedged mutex fails instead of hanging:
 * every region's mutex locks, every allocator checks, the environment's
 * mutex serves a region create and remove.  Exit 0, or 1 with the reason
 * in the board.
 */
static void check_after(uint64_t *recoveries)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		struct rgn_env_stat *sst;
		rgn_region *reg;
		rgn_env *env;
		int rc;

		alarm(60);
		rc = open_env(0, &env);
		if (rc < 0) {
			violation("check: join", home, rc);
			_exit(1);
		}
		for (int r = 0; r < REGIONS; r++) {
			rc = rgn_region_attach(env, region_name(r), &reg);
			if (rc == 0)
				rc = rgn_region_lock(reg);
			if (rc == 0)
				rc = rgn_region_unlock(reg);
			if (rc == 0)
				rc = rgn_alloc_check(reg);
			if (rc < 0) {
				violation("check: region", region_name(r), rc);
				_exit(1);
			}
		}
		rc = rgn_region_create(env, "probe", RGN_TYPE_USER, 1 << 16,
				       &reg);
		if (rc == 0)
			rc = rgn_region_remove(env, "probe");
		if (rc == 0)
			rc = rgn_stat_env(env, &sst);
		if (rc < 0) {
			violation("check: environment mutex of", home, rc);
			_exit(1);
		}
		for (size_t i = 0; i < sst->nregions; i++)
			*recoveries += sst->regions[i].mutex.owner_died;
		rgn_stat_free(sst);
		_exit(rgn_env_close(env) == 0 ? 0 : 1);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		violation("check after the chaos failed or hung in", home,
			  WIFSIGNALED(st) ? -EINTR : 0);
}

int main(int argc, char **argv)
{
	pid_t pids[WORKERS];
	uint64_t rnd = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull | 1;
	uint64_t kills = 0, *recoveries;
	int seconds, rc, left_files, left_segs;
	int64_t end;
	rgn_env *env;
	rgn_region *reg;

	if (argc < 2 || (strcmp(argv[1], "files") && strcmp(argv[1], "sysv"))) {
		fprintf(stderr, "usage: chaos files|sysv [SECONDS]\n");
		return 2;
	}
	backing = strcmp(argv[1], "sysv") == 0 ? RGN_BACKING_SYSV
					       : RGN_BACKING_FILES;
	seconds = soak_seconds(argc - 1, argv + 1);
	soak_private_ipc();
	home = soak_mkhome();
	board = mmap(NULL, sizeof(*board) + sizeof(uint64_t),
		     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (board == MAP_FAILED) {
		perror("chaos: mmap");
		return 1;
	}
	recoveries = (uint64_t *)(board + 1);
	rc = open_env(RGN_CREATE | RGN_EXCL, &env);
	for (int r = 0; rc == 0 && r < REGIONS; r++)
		rc = rgn_region_create(env, region_name(r), RGN_TYPE_USER,
				       REGION_SIZE, &reg);
	if (rc == 0)
		rc = rgn_env_close(env);
	if (rc < 0) {
		fprintf(stderr,
			"chaos: cannot create the environment in %s: "
			"%s: %s\n",
			home, rgn_strerror(rc), rgn_errdetail());
		return 1;
	}

	for (int w = 0; w < WORKERS; w++)
		pids[w] = start_worker(w, soak_rand(&rnd));
	end = soak_now_ms() + (int64_t)seconds * 1000;
	while (soak_now_ms() < end && !board->violations) {
		int w = (int)(soak_rand(&rnd) % WORKERS);

		usleep((useconds_t)(soak_rand(&rnd) % KILL_GAP_MS) * 1000);
		reap(pids[w]);
		kills++;
		pids[w] = start_worker(w, soak_rand(&rnd));
	}
	for (int w = 0; w < WORKERS; w++)
		reap(pids[w]);

	check_after(recoveries);
	rc = rgn_env_remove(home, 0);
	if (rc < 0)
		violation("remove", home, rc);
	left_files = soak_dir_entries(home);
	left_segs = soak_segments();
	if (left_files != 0)
		violation("files left in", home, 0);
	if (left_segs != 0)
		violation("segments left in the namespace after removing", home,
			  0);
	printf("soak chaos %s: %d s, %d workers: %llu operations (%llu "
	       "alloc, %llu free, %llu lock, %llu check), %llu kills, %llu "
	       "recoveries from dead holders; after: %llu violations, %d "
	       "mutexes lockable, %d files and %d segments left\n",
	       argv[1], seconds, WORKERS,
	       (unsigned long long)(board->ops[0] + board->ops[1] +
				    board->ops[2] + board->ops[3]),
	       (unsigned long long)board->ops[0],
	       (unsigned long long)board->ops[1],
	       (unsigned long long)board->ops[2],
	       (unsigned long long)board->ops[3], (unsigned long long)kills,
	       (unsigned long long)*recoveries,
	       (unsigned long long)board->violations,
	       board->violations ? 0 : REGIONS + 1, left_files, left_segs);
	if (board->violations) {
		fprintf(stderr, "chaos: first violation: %s\n", board->why);
		return 1;
	}
	return 0;
}
