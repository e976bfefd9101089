/*
 * bench_mutex.c - the region mutex (rgn_region_lock / rgn_region_unlock)
 * against Berkeley DB 5.3's mutexes (DB_ENV->mutex_lock / mutex_unlock of
 * a mutex from DB_ENV->mutex_alloc with no flags, i.e. shared between
 * processes; Debian builds them on POSIX process-shared mutexes).
 *
 * Uncontended: one process, lock+unlock in a loop; nanoseconds per pair.
 * Contended: two processes, each with its own handle on the environment,
 * each doing N lock / increment a shared counter / unlock; throughput is
 * 2N pairs over the time from the first start to the last finish (each
 * child stamps CLOCK_MONOTONIC itself, so fork and exit are not counted).
 * The counter must end at exactly 2N, or the mutex did not exclude.
 *
 * Both environments live in our private tmpfs (/dev/shm); Berkeley DB with
 * DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL | DB_INIT_TXN, as in
 * bench_env.
 */
#include <db.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "rgn.h"

#define BDB_FLAGS (DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL | DB_INIT_TXN)
#define NPROCS	  2

/* Shared by the parent and the two children of a contended run. */
struct shared {
	int ready;		/* children set up; atomic */
	int go;			/* parent's start signal; atomic */
	uint64_t counter;	/* incremented under the mutex */
	uint64_t start[NPROCS]; /* each child's first lock, ns */
	uint64_t end[NPROCS];	/* each child's last unlock, ns */
	char error[256];	/* a child's failure */
};

static struct shared *sh;
static const char *rgn_home, *bdb_home;
static rgn_env *renv;
static rgn_region *rregion;
static DB_ENV *benv;
static db_mutex_t bmutex;
static long iters_uncontended, iters_contended;

/* ---- set-up ------------------------------------------------------------- */

static int rgn_setup(void)
{
	struct rgn_env_config cfg;
	int rc;

	rgn_home = bench_mkdir("mutex-rgn", 1);
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	rc = rgn_env_open(rgn_home, &cfg, &renv);
	if (rc == 0)
		rc = rgn_region_create(renv, "m", RGN_TYPE_MUTEX,
				       RGN_REGION_MIN, &rregion);
	if (rc < 0)
		return bench_err("regionfs: set-up in %s: %s (%s)", rgn_home,
				 rgn_strerror(rc), rgn_errdetail());
	return 0;
}

static int bdb_open(u_int32_t extra, DB_ENV **envp)
{
	DB_ENV *env;
	int rc = db_env_create(&env, 0);

	if (rc)
		return bench_err("db_env_create: %s", db_strerror(rc));
	env->set_errfile(env, stderr);
	env->set_errpfx(env, "bench_mutex (bdb)");
	rc = env->open(env, bdb_home, BDB_FLAGS | extra, 0660);
	if (rc) {
		env->close(env, 0);
		return bench_err("BDB open %s: %s", bdb_home, db_strerror(rc));
	}
	*envp = env;
	return 0;
}

static int bdb_setup(void)
{
	int rc;

	bdb_home = bench_mkdir("mutex-bdb", 1);
	if (bdb_open(DB_CREATE, &benv) < 0)
		return -1;
	rc = benv->mutex_alloc(benv, 0, &bmutex);
	if (rc)
		return bench_err("BDB mutex_alloc: %s", db_strerror(rc));
	return 0;
}

/* ---- uncontended -------------------------------------------------------- */

static int rgn_uncontended(void *ctx, double *ns)
{
	uint64_t t0 = bench_now_ns();
	int rc = 0;

	(void)ctx;
	for (long i = 0; i < iters_uncontended && rc == 0; i++) {
		rc = rgn_region_lock(rregion);
		if (rc == 0)
			rc = rgn_region_unlock(rregion);
	}
	if (rc < 0)
		return bench_err("regionfs: lock: %s", rgn_strerror(rc));
	*ns = (double)(bench_now_ns() - t0) / (double)iters_uncontended;
	return 0;
}

static int bdb_uncontended(void *ctx, double *ns)
{
	uint64_t t0 = bench_now_ns();
	int rc = 0;

	(void)ctx;
	for (long i = 0; i < iters_uncontended && rc == 0; i++) {
		rc = benv->mutex_lock(benv, bmutex);
		if (rc == 0)
			rc = benv->mutex_unlock(benv, bmutex);
	}
	if (rc)
		return bench_err("BDB mutex_lock: %s", db_strerror(rc));
	*ns = (double)(bench_now_ns() - t0) / (double)iters_uncontended;
	return 0;
}

/* ---- contended ---------------------------------------------------------- */

static void child_fail(const char *who, const char *what)
{
	snprintf(sh->error, sizeof(sh->error), "%s child: %s", who, what);
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
	_exit(1);
}

static void wait_go(void)
{
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE))
		;
}

static void rgn_child(int idx)
{
	struct rgn_env_config cfg;
	rgn_env *env;
	rgn_region *r;
	int rc;

	rgn_env_config_init(&cfg);
	rc = rgn_env_open(rgn_home, &cfg, &env);
	if (rc == 0)
		rc = rgn_region_attach(env, "m", &r);
	if (rc < 0)
		child_fail("regionfs", rgn_strerror(rc));
	wait_go();
	sh->start[idx] = bench_now_ns();
	for (long i = 0; i < iters_contended; i++) {
		if (rgn_region_lock(r) < 0)
			child_fail("regionfs", "lock failed");
		sh->counter++;
		rgn_region_unlock(r);
	}
	sh->end[idx] = bench_now_ns();
	rgn_env_close(env);
	_exit(0);
}

static void bdb_child(int idx)
{
	DB_ENV *env;

	if (bdb_open(0, &env) < 0)
		child_fail("BDB", "join failed");
	wait_go();
	sh->start[idx] = bench_now_ns();
	for (long i = 0; i < iters_contended; i++) {
		if (env->mutex_lock(env, bmutex))
			child_fail("BDB", "lock failed");
		sh->counter++;
		env->mutex_unlock(env, bmutex);
	}
	sh->end[idx] = bench_now_ns();
	env->close(env, 0);
	_exit(0);
}

static int contended_once(void (*child)(int), const char *who, double *mops,
			  double *overlap)
{
	pid_t pids[NPROCS];
	int failed = 0, status;
	uint64_t first, last;

	memset(sh, 0, sizeof(*sh));
	fflush(NULL);
	for (int i = 0; i < NPROCS; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			for (int j = 0; j < i; j++)
				kill(pids[j], SIGKILL);
			return bench_err("fork: %s", strerror(errno));
		}
		if (pids[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			child(i);
		}
		bench_track_child(pids[i]);
	}
	while (__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST) < NPROCS)
		usleep(200);
	__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NPROCS; i++) {
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
		bench_untrack_child(pids[i]);
	}
	if (failed)
		return bench_err("%s: a child failed: %s", who,
				 sh->error[0] ? sh->error : "crashed");
	if (sh->counter != (uint64_t)NPROCS * (uint64_t)iters_contended)
		return bench_err("%s: counter %llu, expected %llu: the mutex "
				 "did not exclude",
				 who, (unsigned long long)sh->counter,
				 (unsigned long long)NPROCS * iters_contended);
	first = sh->start[0] < sh->start[1] ? sh->start[0] : sh->start[1];
	last = sh->end[0] > sh->end[1] ? sh->end[0] : sh->end[1];
	*mops = (double)NPROCS * (double)iters_contended /
		((double)(last - first) / 1e9) / 1e6;
	/* Share of the run during which both were running. */
	{
		uint64_t s = sh->start[0] > sh->start[1] ? sh->start[0]
							 : sh->start[1];
		uint64_t e = sh->end[0] < sh->end[1] ? sh->end[0] : sh->end[1];

		*overlap = e > s ? (double)(e - s) / (double)(last - first) : 0;
	}
	return 0;
}

/*
 * A run only measures contention if both processes ran at the same time
 * for most of it; on a busy machine one may be descheduled at the start.
 * Such a run is repeated (at most twice more) and reported on stderr.
 */
static int contended(void (*child)(int), const char *who, double *mops)
{
	double overlap = 0;

	for (int attempt = 0; attempt < 3; attempt++) {
		if (contended_once(child, who, mops, &overlap) < 0)
			return -1;
		if (overlap >= 0.8)
			return 0;
		fprintf(stderr,
			"bench_mutex: %s: the processes overlapped for only "
			"%.0f%% of the run; %s\n",
			who, overlap * 100,
			attempt < 2 ? "running it again" : "keeping it");
	}
	return 0;
}

static int rgn_contended(void *ctx, double *mops)
{
	(void)ctx;
	return contended(rgn_child, "regionfs", mops);
}

static int bdb_contended(void *ctx, double *mops)
{
	(void)ctx;
	return contended(bdb_child, "BDB", mops);
}

int main(int argc, char **argv)
{
	bench_init(argc, argv, "bench_mutex");
	iters_uncontended = bench.quick ? 200000 : 2000000;
	iters_contended = bench.quick ? 50000 : 1000000;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("bench_mutex: mmap");
		return 1;
	}
	struct bench_measure unc = {
		.group = "mutex",
		.name = "uncontended mutex lock+unlock",
		.unit = "ns/op",
		.target_op = "<=",
		.target = 1.0,
		.a = {"regionfs", rgn_uncontended, NULL, NULL},
		.b = {"BDB 5.3", bdb_uncontended, NULL, NULL},
		.note = "rgn_region_lock/unlock vs DB_ENV->mutex_lock/unlock "
			"(mutex_alloc flags 0), one process",
	};
	struct bench_measure con = {
		.group = "mutex",
		.name = "2 processes contending for 1 mutex",
		.unit = "Mops/s",
		.higher_better = 1,
		.target_op = ">=",
		.target = 1.0,
		.a = {"regionfs", rgn_contended, NULL, NULL},
		.b = {"BDB 5.3", bdb_contended, NULL, NULL},
		.note = "each process: own handle, N x (lock, counter++, "
			"unlock); 2N over first start to last finish",
	};
	if (rgn_setup() < 0 || bdb_setup() < 0) {
		bench_fail(&unc);
		bench_fail(&con);
	} else {
		bench_run(&unc);
		bench_run(&con);
	}
	if (benv) {
		benv->mutex_free(benv, bmutex);
		benv->close(benv, 0);
	}
	if (renv)
		rgn_env_close(renv);
	munmap(sh, sizeof(*sh));
	return bench_finish();
}
