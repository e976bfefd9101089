/*
 * testutil.c - cleanup that survives failing tests: everything made here is
 * recorded and undone by an atexit handler in the process that made it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "rgn.h"
#include "testutil.h"

#define TU_MAX 256

static pid_t owner_pid;
static char *homes[TU_MAX];
static int nhomes;
static pid_t children[TU_MAX];
static int nchildren;

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void cleanup(void)
{
	if (getpid() != owner_pid)
		return; /* a forked child must not undo its parent's work */
	for (int i = 0; i < nchildren; i++) {
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
		}
	}
	for (int i = 0; i < nhomes; i++) {
		nftw(homes[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(homes[i]);
	}
	nhomes = 0;
}

/* meson stops a test that overruns its timeout with SIGTERM: run the
 * atexit cleanup then too, so a hung test still leaves no homes or
 * children.  exit() from a handler is not async-signal-safe; for a test
 * that is being killed anyway, cleaning up matters more. */
static void on_term(int sig)
{
	exit(128 + sig);
}

static void ensure_atexit(void)
{
	if (owner_pid == 0) {
		owner_pid = getpid();
		atexit(cleanup);
		signal(SIGTERM, on_term);
		signal(SIGINT, on_term);
	}
}

static int write_map(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok ? 0 : -1;
}

void tu_private_ipc(void)
{
	ensure_atexit();
	if (unshare(CLONE_NEWIPC) == 0)
		return;
	/* Not root: a user namespace grants the right to a new IPC one. */
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64];

	if (unshare(CLONE_NEWUSER | CLONE_NEWIPC) == 0) {
		write_map("/proc/self/setgroups", "deny");
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		write_map("/proc/self/uid_map", map);
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		write_map("/proc/self/gid_map", map);
		return;
	}
	fprintf(stderr, "skip: cannot create a private IPC namespace: %s\n",
		strerror(errno));
	exit(77);
}

const char *tu_mkhome(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];

	ensure_atexit();
	snprintf(path, sizeof(path), "%s/rgn-test-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(path) || nhomes == TU_MAX)
		fail_msg("mkdtemp %s: %s", path, strerror(errno));
	homes[nhomes] = strdup(path);
	return homes[nhomes++];
}

pid_t tu_fork(void)
{
	pid_t pid, parent = getpid();

	ensure_atexit();
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	/* A child must not outlive a test that died or timed out. */
	if (pid == 0 && prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 &&
	    getppid() != parent)
		_exit(99);
	if (pid > 0 && nchildren < TU_MAX)
		children[nchildren++] = pid;
	return pid;
}

int tu_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	for (int i = 0; i < nchildren; i++)
		if (children[i] == pid)
			children[i] = 0;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static const char *stop_at;
static int stop_fd = -1;

/* In the child: at the chosen point, tell the parent and wait to die. */
static void stop_here(const char *point)
{
	if (stop_at && strcmp(point, stop_at) == 0) {
		if (write(stop_fd, "x", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
}

void tu_kill_child_at(const char *point, void (*fn)(const void *),
		      const void *arg)
{
	int fds[2];
	pid_t child;
	char c;

	assert_int_equal(pipe(fds), 0);
	child = tu_fork();
	if (child == 0) {
		close(fds[0]);
		stop_at = point;
		stop_fd = fds[1];
		rgn_test_hook = stop_here;
		fn(arg);
		_exit(2); /* never reached the point */
	}
	close(fds[1]);
	if (read(fds[0], &c, 1) != 1)
		fail_msg("the child never reached %s", point);
	close(fds[0]);
	kill(child, SIGKILL);
	assert_int_equal(tu_wait(child), 128 + SIGKILL);
}

int tu_count_segments(void)
{
	FILE *f = fopen("/proc/sysvipc/shm", "r");
	char line[512];
	int n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

size_t tu_segments_rss(int *ids, uint64_t *rss, size_t max)
{
	char line[512];
	size_t n = 0;
	FILE *f = fopen("/proc/sysvipc/shm", "r");

	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f)); /* the heading */
	while (n < max && fgets(line, sizeof(line), f)) {
		unsigned long long v[16];

		if (sscanf(line,
			   "%llu %llu %llo %llu %llu %llu %llu %llu %llu %llu "
			   "%llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13],
			   &v[14], &v[15]) != 16)
			continue;
		ids[n] = (int)v[1];
		rss[n++] = v[14];
	}
	fclose(f);
	return n;
}

uint64_t tu_segment_rss(int shmid)
{
	int ids[64];
	uint64_t rss[64];
	size_t n = tu_segments_rss(ids, rss, 64);

	for (size_t i = 0; i < n; i++)
		if (ids[i] == shmid)
			return rss[i];
	fail_msg("no segment with shmid %d", shmid);
	return 0;
}

void tu_write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		fail_msg("write %s: %s", path, strerror(errno));
	close(fd);
}

ssize_t tu_read_file(const char *path, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len);
	close(fd);
	return n;
}
