/*
 * bench_bdbstat.c - `regionctl stat -e` on a Berkeley DB home against
 * Berkeley DB's own `db5.3_stat -e` on the same home, whole process.
 *
 * Both sides are exec'd with stdout on /dev/null and timed from fork to
 * exit, interleaved, so start-up, dynamic linking and output are counted
 * on both sides alike.  The home is made by libdb itself (as bench_env
 * makes its peers': lock, log, mpool and txn, a 768 KiB cache in 3 parts,
 * one record written) and is at rest while measured: regionctl reads it
 * from outside (pread, a read-only attach per segment, and a look at every
 * process's /proc/PID/maps to say who maps it), db_stat joins it.  One
 * row for files mode, one for system memory; each names the filesystem the
 * home is on.
 *
 * regionctl is --regionctl PATH when given, else the one built next to
 * this program (../../tools/regionctl in the build tree).
 */
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define BDB_FLAGS   (DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL | DB_INIT_TXN)
#define BDB_CACHE   (768u * 1024)
#define BDB_NCACHE  3
#define BDB_KEY	    0x52490000 /* system memory: apart from bench_env's */
#define ITERS	    10	       /* execs per run and side */
#define ITERS_QUICK 2

struct stat_ctx {
	char *argv[6]; /* the command, NULL-terminated */
	int iters;
};

/* The home's filesystem, by the magic statfs gives (the common ones). */
static const char *fs_name(const char *path)
{
	static const struct {
		long magic;
		const char *name;
	} known[] = {
		{0xef53, "ext4"},	   {0x01021994, "tmpfs"},
		{0x58465342, "xfs"},	   {0x9123683e, "btrfs"},
		{0x794c7630, "overlayfs"}, {0x6969, "nfs"},
		{0x65735546, "fuse"},	   {0x2fc12fc1, "zfs"},
	};
	struct statfs sf;

	if (statfs(path, &sf) < 0)
		return "unknown";
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if ((long)sf.f_type == known[i].magic)
			return known[i].name;
	return "other";
}

/* Make HOME with libdb, in system memory at KEY when SYSMEM. */
static int bdb_make(const char *home, int sysmem)
{
	DB_ENV *env;
	DB *db;
	DBT k, v;
	int rc;

	rc = db_env_create(&env, 0);
	if (rc != 0)
		return bench_err("db_env_create: %s", db_strerror(rc));
	env->set_cachesize(env, 0, BDB_CACHE, BDB_NCACHE);
	if (sysmem)
		env->set_shm_key(env, BDB_KEY);
	rc = env->open(env, home,
		       BDB_FLAGS | DB_CREATE | (sysmem ? DB_SYSTEM_MEM : 0),
		       0600);
	if (rc != 0) {
		env->close(env, 0);
		return bench_err("create Berkeley DB home %s: %s", home,
				 db_strerror(rc));
	}
	rc = db_create(&db, env, 0);
	if (rc == 0) {
		rc = db->open(db, NULL, "data.db", NULL, DB_BTREE,
			      DB_CREATE | DB_AUTO_COMMIT, 0600);
		if (rc == 0) {
			memset(&k, 0, sizeof(k));
			memset(&v, 0, sizeof(v));
			k.data = "key";
			k.size = 3;
			v.data = "value";
			v.size = 5;
			rc = db->put(db, NULL, &k, &v, DB_AUTO_COMMIT);
		}
		db->close(db, 0);
	}
	if (env->close(env, 0) != 0 && rc == 0)
		rc = EINVAL;
	return rc ? bench_err("write a record in %s: %s", home, db_strerror(rc))
		  : 0;
}

/* fork + exec ARGV with stdout on /dev/null and wait; -1 on failure. */
static int exec_once(char *const argv[])
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return bench_err("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	bench_track_child(pid);
	if (waitpid(pid, &status, 0) < 0)
		return bench_err("waitpid: %s", strerror(errno));
	bench_untrack_child(pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return bench_err("%s exited with status 0x%x", argv[0], status);
	return 0;
}

/* One run: ITERS execs, milliseconds per exec. */
static int stat_run(void *ctx, double *ms)
{
	struct stat_ctx *c = ctx;
	uint64_t t0 = bench_now_ns();

	for (int i = 0; i < c->iters; i++)
		if (exec_once(c->argv) < 0)
			return -1;
	*ms = (double)(bench_now_ns() - t0) / 1e6 / c->iters;
	return 0;
}

/* regionctl: --regionctl, else the one of this build tree. */
static const char *find_regionctl(void)
{
	static char path[PATH_MAX];
	char self[PATH_MAX];
	ssize_t n;

	if (bench.regionctl)
		return bench.regionctl;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return NULL;
	self[n] = '\0';
	snprintf(path, sizeof(path), "%s/../../tools/regionctl", dirname(self));
	return access(path, X_OK) == 0 ? path : NULL;
}

/* Is PROG on the PATH? */
static int on_path(const char *prog)
{
	const char *p = getenv("PATH");
	char full[PATH_MAX];

	while (p && *p) {
		size_t n = strcspn(p, ":");
		int w = n ? snprintf(full, sizeof(full), "%.*s/%s", (int)n, p,
				     prog)
			  : snprintf(full, sizeof(full), "./%s", prog);

		if (w > 0 && (size_t)w < sizeof(full) &&
		    access(full, X_OK) == 0)
			return 1;
		p += n + (p[n] == ':');
	}
	return 0;
}

static void run_mode(const char *regionctl, int have_dbstat, int sysmem)
{
	char *home =
		bench_mkdir(sysmem ? "bdbstat-sysmem" : "bdbstat-files", 0);
	struct stat_ctx a = {.iters = bench.quick ? ITERS_QUICK : ITERS};
	struct stat_ctx b = a;
	char name[160];
	struct bench_measure m = {
		.group = "bdb",
		.name = name,
		.unit = "ms",
		.target_op = "<=",
		.target = 0.5,
		.note = "whole process (fork, exec, exit), stdout to "
			"/dev/null, the home at rest: regionctl reads it from "
			"outside and scans /proc/*/maps, db_stat joins it",
	};

	snprintf(name, sizeof(name),
		 "regionctl stat -e vs db5.3_stat -e, bdb home (%s, %s)",
		 sysmem ? "system memory" : "files", fs_name(home));
	a.argv[0] = (char *)regionctl;
	a.argv[1] = "stat";
	a.argv[2] = "-e";
	a.argv[3] = "-h";
	a.argv[4] = home;
	b.argv[0] = "db5.3_stat";
	b.argv[1] = "-e";
	b.argv[2] = "-h";
	b.argv[3] = home;
	m.a = (struct bench_side){"regionctl", NULL, &a, NULL};
	m.b = (struct bench_side){"db5.3_stat", have_dbstat ? stat_run : NULL,
				  &b, "db5.3_stat not on the PATH"};
	if (bench.only && !strstr(name, bench.only))
		return;
	if (!regionctl) {
		bench_err("regionctl not found: build it or pass --regionctl");
		bench_fail(&m);
		return;
	}
	if (bdb_make(home, sysmem) < 0) {
		bench_fail(&m);
		return;
	}
	m.a.fn = stat_run;
	bench_run(&m);
}

int main(int argc, char **argv)
{
	const char *regionctl;
	int have_dbstat;

	bench_init(argc, argv, "bench_bdbstat");
	regionctl = find_regionctl();
	have_dbstat = on_path("db5.3_stat");
	run_mode(regionctl, have_dbstat, 0);
	run_mode(regionctl, have_dbstat, 1);
	return bench_finish();
}
