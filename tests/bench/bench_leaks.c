/*
 * bench_leaks.c - the leak scanner (rgn_leak_scan, src/inspect/leaks.h) against
 * `ipcs -m -p` over the same segments, in the private IPC namespace that
 * bench_init entered.
 *
 * The population is half ours, half foreign: one system memory environment
 * that this process keeps open (its regions are detached after creation,
 * so only the primary is attached), and IPC_PRIVATE segments of 64 KiB
 * that nobody attaches.  It grows 100 -> 1000 -> 4000 segments.
 *
 * Like for like, both sides are programs that are exec'd with stdout to
 * /dev/null: `ipcs -m -p`, and bench_leakscan (the scan, the table and the
 * summary that `regionctl leaks` prints) or regionctl itself when
 * --regionctl is given.  The scan inside this process (no exec, no
 * printing) is reported as well, on its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "leaks.h"
#include "rgn.h"

#define SEG_SIZE (64u * 1024)
#define RGN_KEY	 0x52500000

static rgn_env *env;
static int n_ours; /* segments of our environment, primary too */
static int n_foreign;
static char helper[PATH_MAX]; /* bench_leakscan next to this program */
static int expected;	      /* segments in the namespace now */

static int grow_to(int total)
{
	int want_ours = total / 2, want_foreign = total - total / 2;
	char name[32];
	rgn_region *r;
	int rc;

	if (!env) {
		struct rgn_env_config cfg;
		const char *home = bench_mkdir("leaks", 0);

		rgn_env_config_init(&cfg);
		cfg.flags = RGN_CREATE;
		cfg.backing = RGN_BACKING_SYSV;
		cfg.shm_key = RGN_KEY;
		rc = rgn_env_open(home, &cfg, &env);
		if (rc < 0)
			return bench_err("regionfs: create %s: %s (%s)", home,
					 rgn_strerror(rc), rgn_errdetail());
		n_ours = 1;
	}
	while (n_ours < want_ours) {
		snprintf(name, sizeof(name), "r%d", n_ours);
		rc = rgn_region_create(env, name, RGN_TYPE_USER, SEG_SIZE, &r);
		if (rc < 0)
			return bench_err("regionfs: region %d: %s (%s)", n_ours,
					 rgn_strerror(rc), rgn_errdetail());
		rgn_region_detach(r);
		n_ours++;
	}
	while (n_foreign < want_foreign) {
		if (shmget(IPC_PRIVATE, SEG_SIZE, IPC_CREAT | 0600) < 0)
			return bench_err("shmget: %s (segment %d)",
					 strerror(errno), n_ours + n_foreign);
		n_foreign++;
	}
	expected = n_ours + n_foreign;
	return 0;
}

/* fork + exec ARGV with stdout on /dev/null; milliseconds to its exit. */
static int exec_ms(char *const argv[], double *ms)
{
	uint64_t t0 = bench_now_ns();
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
	*ms = (double)(bench_now_ns() - t0) / 1e6;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return bench_err("%s exited with status 0x%x", argv[0], status);
	return 0;
}

static int tool_run(void *ctx, double *ms)
{
	char *argv[3] = {helper, NULL, NULL};

	(void)ctx;
	if (bench.regionctl) {
		argv[0] = (char *)bench.regionctl;
		argv[1] = (char *)"leaks";
	}
	return exec_ms(argv, ms);
}

static int ipcs_run(void *ctx, double *ms)
{
	char *argv[] = {(char *)"ipcs", (char *)"-m", (char *)"-p", NULL};

	(void)ctx;
	return exec_ms(argv, ms);
}

static int scan_run(void *ctx, double *ms)
{
	struct rgn_leak_scan *scan = NULL;
	uint64_t t0 = bench_now_ns();
	int rc = rgn_leak_scan(0, &scan);
	size_t n;

	(void)ctx;
	*ms = (double)(bench_now_ns() - t0) / 1e6;
	if (rc < 0)
		return bench_err("rgn_leak_scan: %s (%s)", rgn_strerror(rc),
				 rgn_errdetail());
	n = scan->nsegs;
	rgn_leak_free(scan);
	if (n != (size_t)expected)
		return bench_err("rgn_leak_scan saw %zu segments, expected %d",
				 n, expected);
	return 0;
}

static int have_ipcs(void)
{
	char *argv[] = {(char *)"ipcs", (char *)"-m", NULL};
	double ms;

	return exec_ms(argv, &ms) == 0;
}

int main(int argc, char **argv)
{
	static const int sizes[] = {100, 1000, 4000};
	double nseg[3] = {0}, tool[3] = {0}, ipcs[3] = {0}, lib[3] = {0};
	char self[PATH_MAX];
	ssize_t n;
	int ipcs_ok;

	bench_init(argc, argv, "bench_leaks");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		perror("bench_leaks: /proc/self/exe");
		return 1;
	}
	self[n] = '\0';
	snprintf(helper, sizeof(helper), "%s/bench_leakscan", dirname(self));
	if (!bench.ipc_private) {
		struct bench_measure m = {
			.group = "leaks",
			.name = "leak scan of 4000 segments",
			.unit = "ms",
			.a = {"regionfs", NULL, NULL,
			      "no private IPC namespace"},
		};
		bench_run(&m);
		return bench_finish();
	}
	ipcs_ok = have_ipcs();
	for (int i = 0; i < 3; i++) {
		char name1[128], name2[128];
		struct bench_measure vs = {
			.group = "leaks",
			.name = name1,
			.unit = "ms",
			.a = {"regionfs", tool_run, NULL, NULL},
			.b = {"ipcs -m -p", ipcs_ok ? ipcs_run : NULL, NULL,
			      "ipcs not found (util-linux)"},
			.note = bench.regionctl
					? "exec'd, stdout to /dev/null: "
					  "regionctl leaks vs ipcs -m -p"
					: "exec'd, stdout to /dev/null: "
					  "bench_leakscan (scan, table and "
					  "summary as regionctl leaks) vs "
					  "ipcs -m -p",
		};
		struct bench_measure in = {
			.group = "leaks",
			.name = name2,
			.unit = "ms",
			.a = {"regionfs", scan_run, NULL, NULL},
			.note = "rgn_leak_scan + rgn_leak_free in this process",
		};

		snprintf(name1, sizeof(name1),
			 "leak scan of %d segments (exec, vs ipcs -m -p)",
			 sizes[i]);
		snprintf(name2, sizeof(name2),
			 "leak scan of %d segments, rgn_leak_scan in-process",
			 sizes[i]);
		if (sizes[i] == 4000) {
			vs.target_op = "<=";
			vs.target = 1.5;
		}
		if (grow_to(sizes[i]) < 0) {
			bench_fail(&vs);
			bench_fail(&in);
			break;
		}
		bench_run(&vs);
		bench_run(&in);
		nseg[i] = sizes[i];
		tool[i] = vs.med_a;
		ipcs[i] = vs.med_b;
		lib[i] = in.med_a;
	}
	bench_growth("growth", "scan growth: rgn_leak_scan in-process", "ms",
		     "segment", nseg, lib, 3);
	bench_growth("growth", "scan growth: leak scan tool (exec)", "ms",
		     "segment", nseg, tool, 3);
	if (ipcs_ok)
		bench_growth("growth", "scan growth: ipcs -m -p (exec)", "ms",
			     "segment", nseg, ipcs, 3);
	if (env)
		rgn_env_close(env);
	/* The namespace, and every segment in it, ends with this process. */
	return bench_finish();
}
