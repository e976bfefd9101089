/*
 * bench.c - the shared harness: options, private namespaces, cleanup,
 * interleaved runs, medians, the table and the JSON lines.  See bench.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

struct bench_opts bench;

static const char *prog_name = "bench";
static pid_t owner_pid; /* cleanup runs only in this process */
static int any_failed;
static int header_done;
static char last_error[512]; /* of the measure running now */

#define MAX_DIRS     64
#define MAX_CHILDREN 64
static char *dirs[MAX_DIRS];
static int ndirs;
static volatile pid_t children[MAX_CHILDREN];

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bench_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", prog_name, last_error);
	return -1;
}

/* ---- cleanup ------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0 || flag != FTW_DP)
		remove(path);
	return 0;
}

int bench_empty_dir(const char *dir)
{
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void kill_children(void)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		pid_t pid = children[i];

		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			children[i] = 0;
		}
	}
}

static void cleanup(void)
{
	if (getpid() != owner_pid)
		return;
	kill_children();
	for (int i = ndirs; i-- > 0;) {
		bench_empty_dir(dirs[i]);
		rmdir(dirs[i]);
	}
	ndirs = 0;
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

void bench_track_child(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] == 0) {
			children[i] = pid;
			return;
		}
	}
}

void bench_untrack_child(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] == pid)
			children[i] = 0;
	}
}

static const char *homes_base(int tmpfs)
{
	const char *t;

	if (bench.dir)
		return bench.dir;
	if (tmpfs)
		return bench.shm_private ? "/dev/shm" : "/tmp";
	t = getenv("TMPDIR");
	return t && *t ? t : "/tmp";
}

const char *bench_fs_name(const char *dir)
{
	static const struct {
		long magic;
		const char *name;
	} known[] = {
		{0xEF53, "ext4"},     {0x01021994, "tmpfs"},
		{0x58465342, "xfs"},  {(long)0x9123683E, "btrfs"},
		{0x65735546, "fuse"}, {0x794c7630, "overlay"},
		{0x6969, "nfs"},      {(long)0xF2F52010, "f2fs"},
		{0x2fc12fc1, "zfs"},
	};
	static char other[32];
	struct statfs sf;

	if (!dir || statfs(dir, &sf) < 0)
		return "-";
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if ((long)sf.f_type == known[i].magic)
			return known[i].name;
	}
	snprintf(other, sizeof(other), "fs 0x%lx", (unsigned long)sf.f_type);
	return other;
}

char *bench_mkdir(const char *name, int tmpfs)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/rgn-bench-%s.XXXXXX",
		 homes_base(tmpfs), name);
	if (!mkdtemp(path)) {
		fprintf(stderr, "%s: cannot create a directory in %s: %s\n",
			prog_name, homes_base(tmpfs), strerror(errno));
		exit(1);
	}
	if (ndirs == MAX_DIRS) {
		fprintf(stderr, "%s: too many directories\n", prog_name);
		exit(1);
	}
	dirs[ndirs] = strdup(path);
	if (!dirs[ndirs])
		exit(1);
	return dirs[ndirs++];
}

/* ---- namespaces --------------------------------------------------------- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/*
 * Private IPC and mount namespaces, so that every segment we make dies with
 * us, and a private tmpfs on /dev/shm for Boost's POSIX segments and the
 * tmpfs homes.  Root can do it directly; others through a user namespace.
 */
static void enter_namespaces(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	int ns = 0;

	if (unshare(CLONE_NEWIPC | CLONE_NEWNS) == 0) {
		ns = 1;
	} else if (unshare(CLONE_NEWUSER | CLONE_NEWIPC | CLONE_NEWNS) == 0) {
		char map[64];

		snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
		write_file("/proc/self/uid_map", map);
		write_file("/proc/self/setgroups", "deny\n");
		snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
		write_file("/proc/self/gid_map", map);
		ns = 1;
	} else if (unshare(CLONE_NEWIPC) == 0) {
		bench.ipc_private = 1;
	}
	if (ns) {
		bench.ipc_private = 1;
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
		    mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
			  "mode=1777") == 0)
			bench.shm_private = 1;
	}
	if (!bench.ipc_private)
		fprintf(stderr,
			"%s: no private IPC namespace (%s): System V measures "
			"are skipped\n",
			prog_name, strerror(errno));
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [--quick] [--runs N] [--json FILE] [--only TEXT] "
		"[--dir DIR]\n"
		"  --quick      few iterations (CI: checks that it runs)\n"
		"  --runs N     measured runs per side, after one warm-up\n"
		"  --json FILE  append one JSON object per row to FILE\n"
		"  --only TEXT  run only measures whose name contains TEXT\n"
		"  --dir DIR    make environment homes under DIR\n"
		"  --regionctl PATH  the regionctl to time (leak scan)\n",
		prog_name);
}

void bench_init(int argc, char **argv, const char *prog)
{
	static const struct option longopts[] = {
		{"quick", no_argument, NULL, 'q'},
		{"runs", required_argument, NULL, 'r'},
		{"json", required_argument, NULL, 'j'},
		{"only", required_argument, NULL, 'o'},
		{"dir", required_argument, NULL, 'd'},
		{"regionctl", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	prog_name = prog;
	bench.runs = 0;
	bench.warmup = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			bench.quick = 1;
			break;
		case 'r':
			bench.runs = atoi(optarg);
			break;
		case 'j':
			bench.json = optarg;
			break;
		case 'o':
			bench.only = optarg;
			break;
		case 'd':
			bench.dir = optarg;
			break;
		case 'R':
			bench.regionctl = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		usage(stderr);
		exit(2);
	}
	if (getenv("RGN_BENCH_QUICK") && *getenv("RGN_BENCH_QUICK") &&
	    strcmp(getenv("RGN_BENCH_QUICK"), "0") != 0)
		bench.quick = 1;
	if (bench.runs <= 0)
		bench.runs = bench.quick ? 2 : 9;
	owner_pid = getpid();
	enter_namespaces();
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);
}

int bench_finish(void)
{
	cleanup();
	fflush(stdout);
	return any_failed ? 1 : 0;
}

/* ---- statistics --------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
	if (n <= 0)
		return NAN;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- output ------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.6g", v);
}

static void json_runs(FILE *f, const double *v, int n)
{
	fputc('[', f);
	for (int i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		json_num(f, v[i]);
	}
	fputc(']', f);
}

static FILE *json_open(void)
{
	FILE *f;

	if (!bench.json)
		return NULL;
	f = fopen(bench.json, "a");
	if (!f)
		fprintf(stderr, "%s: cannot append to %s: %s\n", prog_name,
			bench.json, strerror(errno));
	return f;
}

/* The filesystem a measure's homes are on (see bench_measure.homes). */
static const char *row_fs(const struct bench_measure *m)
{
	return bench_fs_name(m->homes ? m->homes
			     : ndirs  ? dirs[ndirs - 1]
				      : NULL);
}

static void print_header(void)
{
	if (header_done)
		return;
	header_done = 1;
	printf("%-58s %-6s %-8s %11s %11s %-10s %7s %8s  %s\n", "measure", "fs",
	       "unit", "regionfs", "peer", "(peer)", "ratio", "target", "met");
}

static const char *met_word(const struct bench_measure *m)
{
	if (!m->target_op || isnan(m->ratio))
		return "-";
	if (strcmp(m->target_op, "<=") == 0)
		return m->ratio <= m->target ? "yes" : "NO";
	return m->ratio >= m->target ? "yes" : "NO";
}

static void print_row(const struct bench_measure *m, const char *status)
{
	char tgt[32] = "-", pm[32] = "-", ratio[32] = "-";

	print_header();
	if (m->target_op)
		snprintf(tgt, sizeof(tgt), "%s%.2f", m->target_op, m->target);
	if (m->b.name && !isnan(m->med_b))
		snprintf(pm, sizeof(pm), "%.4g", m->med_b);
	if (!isnan(m->ratio))
		snprintf(ratio, sizeof(ratio), "%.3f", m->ratio);
	printf("%-58s %-6.6s %-8s %11.4g %11s %-10.10s %7s %8s  %s\n", m->name,
	       row_fs(m), m->unit, m->med_a, pm, m->b.name ? m->b.name : "-",
	       ratio, tgt, status ? status : met_word(m));
	fflush(stdout);
}

static void json_row(const struct bench_measure *m, const double *ra,
		     const double *rb, const double *pairs, int n,
		     const char *status)
{
	FILE *f = json_open();

	if (!f)
		return;
	fputs("{\"program\":", f);
	json_str(f, prog_name);
	fputs(",\"group\":", f);
	json_str(f, m->group);
	fputs(",\"measure\":", f);
	json_str(f, m->name);
	fputs(",\"unit\":", f);
	json_str(f, m->unit);
	fputs(",\"fs\":", f);
	json_str(f, row_fs(m));
	fprintf(f, ",\"higher_is_better\":%s,\"quick\":%s,\"runs\":%d",
		m->higher_better ? "true" : "false",
		bench.quick ? "true" : "false", n);
	fputs(",\"regionfs\":{\"median\":", f);
	json_num(f, m->med_a);
	fputs(",\"runs\":", f);
	json_runs(f, ra, ra ? n : 0);
	fputs("},\"peer_name\":", f);
	if (m->b.name)
		json_str(f, m->b.name);
	else
		fputs("null", f);
	fputs(",\"peer\":", f);
	if (m->b.name && rb) {
		fputs("{\"median\":", f);
		json_num(f, m->med_b);
		fputs(",\"runs\":", f);
		json_runs(f, rb, n);
		fputs("}", f);
	} else {
		fputs("null", f);
	}
	fputs(",\"ratio\":", f);
	json_num(f, m->ratio);
	fputs(",\"pair_ratios\":", f);
	json_runs(f, pairs, pairs ? n : 0);
	fputs(",\"target\":", f);
	if (m->target_op) {
		fputs("{\"op\":", f);
		json_str(f, m->target_op);
		fputs(",\"value\":", f);
		json_num(f, m->target);
		fputs(",\"on\":\"ratio\"}", f);
	} else {
		fputs("null", f);
	}
	fputs(",\"met\":", f);
	if (!m->target_op || isnan(m->ratio))
		fputs("null", f);
	else
		fputs(strcmp(met_word(m), "yes") == 0 ? "true" : "false", f);
	fputs(",\"status\":", f);
	json_str(f, status ? status : "ok");
	if (m->note) {
		fputs(",\"note\":", f);
		json_str(f, m->note);
	}
	fputs("}\n", f);
	fclose(f);
}

/* ---- running ------------------------------------------------------------ */

static int run_side(const struct bench_side *s, double *v)
{
	last_error[0] = '\0';
	*v = NAN;
	if (s->fn(s->ctx, v) < 0) {
		if (!last_error[0])
			snprintf(last_error, sizeof(last_error), "%s failed",
				 s->name);
		return -1;
	}
	return 0;
}

int bench_run(struct bench_measure *m)
{
	int runs = m->runs ? m->runs : bench.runs;
	int warm = m->warmup ? m->warmup : bench.warmup;
	int two = m->b.name && m->b.fn;
	double *ra, *rb, *pr, *tmp;
	char status[600];
	double v;
	int rc = 0;

	m->med_a = m->med_b = m->ratio = NAN;
	m->failed = 0;
	if (bench.only && !strstr(m->name, bench.only))
		return 1;
	if (!m->a.fn) {
		snprintf(status, sizeof(status), "skipped: %s",
			 m->a.skip ? m->a.skip : "not available");
		print_row(m, "skipped");
		json_row(m, NULL, NULL, NULL, 0, status);
		return 1;
	}
	ra = calloc((size_t)runs, sizeof(double));
	rb = calloc((size_t)runs, sizeof(double));
	pr = calloc((size_t)runs, sizeof(double));
	tmp = calloc((size_t)runs, sizeof(double));
	if (!ra || !rb || !pr || !tmp) {
		fprintf(stderr, "%s: out of memory\n", prog_name);
		exit(1);
	}
	fprintf(stderr, "%s: %s ...\n", prog_name, m->name);
	for (int i = 0; i < warm && rc == 0; i++) {
		rc = run_side(&m->a, &v);
		if (rc == 0 && two)
			rc = run_side(&m->b, &v);
	}
	for (int i = 0; i < runs && rc == 0; i++) {
		rc = run_side(&m->a, &ra[i]);
		if (rc == 0 && two)
			rc = run_side(&m->b, &rb[i]);
		if (rc == 0 && two)
			pr[i] = ra[i] / rb[i];
	}
	if (rc < 0) {
		snprintf(status, sizeof(status), "error: %s", last_error);
		m->failed = 1;
		any_failed = 1;
		print_row(m, "ERROR");
		json_row(m, NULL, NULL, NULL, 0, status);
		rc = -1;
		goto out;
	}
	memcpy(tmp, ra, (size_t)runs * sizeof(double));
	m->med_a = bench_median(tmp, runs);
	if (two) {
		memcpy(tmp, rb, (size_t)runs * sizeof(double));
		m->med_b = bench_median(tmp, runs);
		memcpy(tmp, pr, (size_t)runs * sizeof(double));
		m->ratio = bench_median(tmp, runs);
	}
	if (m->b.name && !m->b.fn) {
		snprintf(status, sizeof(status), "peer skipped: %s",
			 m->b.skip ? m->b.skip : "not built");
		print_row(m, "no peer");
		json_row(m, ra, NULL, NULL, runs, status);
		rc = 1;
	} else {
		print_row(m, NULL);
		json_row(m, ra, two ? rb : NULL, two ? pr : NULL, runs, NULL);
	}
out:
	free(ra);
	free(rb);
	free(pr);
	free(tmp);
	return rc;
}

void bench_fail(struct bench_measure *m)
{
	char status[600];

	m->med_a = m->med_b = m->ratio = NAN;
	m->failed = 1;
	any_failed = 1;
	if (bench.only && !strstr(m->name, bench.only))
		return;
	snprintf(status, sizeof(status), "error: %s",
		 last_error[0] ? last_error : "set-up failed");
	print_row(m, "ERROR");
	json_row(m, NULL, NULL, NULL, 0, status);
}

void bench_growth(const char *group, const char *name, const char *unit,
		  const char *what, const double *sizes, const double *figures,
		  int n)
{
	double k = NAN, fixed = NAN, per = NAN, fr, nr;
	const char *shape = "unknown";
	char desc[256];
	FILE *f;

	if (bench.only && !strstr(name, bench.only))
		return;
	if (n >= 2 && figures[0] > 0 && figures[n - 1] > 0 &&
	    sizes[n - 1] > sizes[0]) {
		/*
		 * Flat: the largest size costs under 1.5x the smallest (for
		 * 40-100x the size).  Linear: cost = fixed + per * n, the
		 * line through the two ends, predicts the points between
		 * within 35% (noise on a busy machine); a fixed part (an
		 * exec, say) is allowed.  Otherwise the exponent k of
		 * cost ~ n^k between the ends says how it grows.
		 */
		fr = figures[n - 1] / figures[0];
		nr = sizes[n - 1] / sizes[0];
		k = log(fr) / log(nr);
		per = (figures[n - 1] - figures[0]) / (sizes[n - 1] - sizes[0]);
		fixed = figures[0] - per * sizes[0];
		if (fr < 1.5) {
			shape = "flat";
		} else {
			int linear = 1;

			for (int i = 1; i < n - 1; i++) {
				double p = fixed + per * sizes[i];

				if (fabs(p - figures[i]) > 0.35 * figures[i])
					linear = 0;
			}
			shape = linear	? "linear"
				: k < 1 ? "sublinear"
					: "superlinear";
		}
	}
	if (strcmp(shape, "linear") == 0)
		snprintf(desc, sizeof(desc), "linear: %.4g + %.4g per %s",
			 fixed, per, what);
	else
		snprintf(desc, sizeof(desc), "%s (cost ~ n^%.2f)", shape, k);
	print_header();
	printf("%-58s %-6.6s %-8s", name,
	       bench_fs_name(ndirs ? dirs[ndirs - 1] : NULL), unit);
	for (int i = 0; i < n; i++)
		printf(" %s=%g: %.4g", what, sizes[i], figures[i]);
	printf("  -> %s\n", desc);
	fflush(stdout);
	f = json_open();
	if (!f)
		return;
	fputs("{\"program\":", f);
	json_str(f, prog_name);
	fputs(",\"group\":", f);
	json_str(f, group);
	fputs(",\"measure\":", f);
	json_str(f, name);
	fputs(",\"unit\":", f);
	json_str(f, unit);
	fputs(",\"fs\":", f);
	json_str(f, bench_fs_name(ndirs ? dirs[ndirs - 1] : NULL));
	fprintf(f, ",\"quick\":%s,\"growth\":{\"over\":",
		bench.quick ? "true" : "false");
	json_str(f, what);
	fputs(",\"sizes\":", f);
	json_runs(f, sizes, n);
	fputs(",\"medians\":", f);
	json_runs(f, figures, n);
	fputs(",\"exponent\":", f);
	json_num(f, k);
	fputs(",\"fixed\":", f);
	json_num(f, fixed);
	fputs(",\"per_item\":", f);
	json_num(f, per);
	fputs(",\"shape\":", f);
	json_str(f, shape);
	fputs("},\"status\":\"ok\"}\n", f);
	fclose(f);
}
