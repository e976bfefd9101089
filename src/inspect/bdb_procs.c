/*
 * bdb_procs.c - who really has a Berkeley DB environment mapped.
 *
 * Berkeley DB keeps no list of its processes; its reference count only
 * goes up when a process crashes.  The kernel's view is exact: every
 * attached process maps each region, a file as its device and inode in
 * /proc/PID/maps, a System V segment as "/SYSV%08x (deleted)" with the
 * shmid in the inode column.  Reading maps costs one open per process and
 * never disturbs the processes or the environment.
 *
 * A shmid means something only inside one IPC namespace: a segment is
 * looked for only in processes that share ours (/proc/PID/ns/ipc).
 *
 * The calling process is never counted (it may have attached a segment
 * for a moment to read it).  A process that exits during the scan is
 * simply not found; one whose maps we may not read is counted as denied.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bdb.h"
#include "proc.h"

/* Does one maps line name a target?  Fields: address perms offset
 * major:minor inode [path]. */
static int line_matches(const char *line, const struct rgn_bdb_target *t,
			size_t n, int same_ipc)
{
	unsigned maj, min;
	unsigned long long ino;
	int pos = 0;
	const char *path;

	if (sscanf(line, "%*s %*s %*s %x:%x %llu %n", &maj, &min, &ino,
		   &pos) != 3 ||
	    pos == 0)
		return 0;
	path = line + pos;
	for (size_t i = 0; i < n; i++) {
		if (t[i].is_segment) {
			if (same_ipc && strncmp(path, "/SYSV", 5) == 0 &&
			    ino == (unsigned long long)(uint32_t)t[i].shmid)
				return 1;
		} else if (ino == (unsigned long long)t[i].ino &&
			   makedev(maj, min) == t[i].dev) {
			return 1;
		}
	}
	return 0;
}

/* Mappings of the targets held by PID: >= 0, or -errno for its maps. */
static int count_maps(pid_t pid, const struct rgn_bdb_target *t, size_t n,
		      int same_ipc)
{
	char path[64], line[4096 + 256];
	FILE *f;
	int count = 0, e;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		size_t l = strlen(line);

		if (line_matches(line, t, n, same_ipc))
			count++;
		/* A path longer than the buffer: skip the rest of it. */
		while (l && line[l - 1] != '\n' && fgets(line, sizeof(line), f))
			l = strlen(line);
	}
	e = ferror(f) ? -EIO : 0;
	fclose(f);
	return e ? e : count;
}

/* The IPC namespace of PID (0: self), by its inode; 0 if unknown. */
static ino_t ipc_ns(pid_t pid)
{
	char path[64];
	struct stat sb;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/ipc", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/ipc");
	return stat(path, &sb) == 0 ? sb.st_ino : 0;
}

static void read_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t r;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	r = read(fd, buf, len - 1);
	close(fd);
	if (r <= 0)
		r = 0;
	buf[r] = '\0';
	if (r > 0 && buf[r - 1] == '\n')
		buf[r - 1] = '\0';
}

static int by_pid(const void *a, const void *b)
{
	const struct rgn_bdb_proc *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

int rgn_bdb_procs_scan(const struct rgn_bdb_target *targets, size_t n,
		       struct rgn_bdb_proc **out, size_t *nout,
		       size_t *denied)
{
	struct rgn_bdb_proc *v = NULL, *nv;
	size_t nv_len = 0, cap = 0, ndenied = 0;
	struct dirent *de;
	pid_t self = getpid();
	ino_t my_ipc = ipc_ns(0), ns;
	DIR *d;
	int rc = 0;

	if (!out || !nout || (n && !targets))
		return -EINVAL;
	*out = NULL;
	*nout = 0;
	if (denied)
		*denied = 0;
	if (n == 0)
		return 0;
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		int c;

		if (!isdigit((unsigned char)de->d_name[0]) || *end || pid <= 0 ||
		    pid == self)
			continue;
		ns = ipc_ns((pid_t)pid);
		c = count_maps((pid_t)pid, targets, n,
			       ns != 0 && ns == my_ipc);
		if (c == -EACCES || c == -EPERM)
			ndenied++;
		if (c <= 0)
			continue; /* none, or it exited meanwhile */
		if (nv_len == cap) {
			cap = cap ? cap * 2 : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		struct rgn_bdb_proc *p = &v[nv_len];

		memset(p, 0, sizeof(*p));
		p->pid = (pid_t)pid;
		p->nmaps = (uint32_t)c;
		read_comm(p->pid, p->command, sizeof(p->command));
		if (rgn_proc_start(p->pid, &p->start_ticks) == 0)
			p->start = rgn_ticks_to_epoch(p->start_ticks);
		nv_len++;
	}
	closedir(d);
	if (rc < 0) {
		free(v);
		return rc;
	}
	if (nv_len > 1)
		qsort(v, nv_len, sizeof(*v), by_pid);
	*out = v;
	*nout = nv_len;
	if (denied)
		*denied = ndenied;
	return 0;
}
