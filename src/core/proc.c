/*
 * proc.c - process identity from /proc.  A pid alone is not an identity:
 * pids are reused, so every record of a process also keeps its start time,
 * and "alive" means the pid exists with that same start time.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "proc.h"

static pid_t self_pid;
static uint64_t self_start;
static char boot_id[40];
static pthread_once_t once = PTHREAD_ONCE_INIT;

int rgn_proc_start(pid_t pid, uint64_t *start)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and parentheses: skip to the last
	 * ')' and count fields from there; starttime is field 22. */
	char *p = strrchr(buf, ')');
	if (!p || !p[1] || !p[2])
		return -ESRCH;
	/* A zombie has exited: it holds no mapping, lock or attachment any
	 * more, whatever its parent's reaping delay. */
	if (p[2] == 'Z' || p[2] == 'X' || p[2] == 'x')
		return -ESRCH;
	p++;
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -ESRCH;
	}
	*start = strtoull(p + 1, NULL, 10);
	return 0;
}

int rgn_proc_alive(pid_t pid, uint64_t start)
{
	uint64_t now;

	if (pid <= 0)
		return 0;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	if (rgn_proc_start(pid, &now) < 0)
		return 0;
	return now == start;
}

static void refresh_self(void)
{
	self_pid = getpid();
	if (rgn_proc_start(self_pid, &self_start) < 0)
		self_start = 0;
}

static void init_once(void)
{
	int fd;

	refresh_self();
	pthread_atfork(NULL, NULL, refresh_self);
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, boot_id, sizeof(boot_id) - 1);
		if (n > 0) {
			boot_id[n] = '\0';
			boot_id[strcspn(boot_id, "\n")] = '\0';
		}
		close(fd);
	}
}

pid_t rgn_self_pid(void)
{
	pthread_once(&once, init_once);
	return self_pid;
}

uint64_t rgn_self_start(void)
{
	pthread_once(&once, init_once);
	return self_start;
}

const char *rgn_boot_id(void)
{
	pthread_once(&once, init_once);
	return boot_id;
}

/* Computed in nanoseconds: with whole seconds, two calls a moment apart
 * could disagree by one, and the tool and the mount would print different
 * start times for the same process. */
int64_t rgn_ticks_to_epoch(uint64_t ticks)
{
	struct timespec boot, real;
	long hz = sysconf(_SC_CLK_TCK);
	int64_t off_ns;

	if (hz <= 0)
		hz = 100;
	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	off_ns = ((int64_t)real.tv_sec - boot.tv_sec) * 1000000000 +
		 (real.tv_nsec - boot.tv_nsec);
	off_ns += (int64_t)(ticks % (uint64_t)hz) * (1000000000 / hz);
	return (int64_t)(ticks / (uint64_t)hz) + off_ns / 1000000000;
}
