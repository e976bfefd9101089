/*
 * bdb_procs.c - who really has a Berkeley DB environment mapped.
 *
 * Berkeley DB keeps no list of its processes; its reference count only
 * goes up when a process crashes.  The kernel's view is exact: every
 * attached process maps each region, a file as its device and inode in
 * /proc/PID/maps, a System V segment as "/SYSV%08x (deleted)" with the
 * shmid in the inode column.  Reading maps costs one open per process and
 * never disturbs the processes or the environment; a process without an
 * address space (a kernel thread) is passed over after one readlink.  Where the
 * kernel has it (Linux 6.11 and later), the PROCMAP_QUERY ioctl on the same
 * file gives each shared file-backed mapping's device and inode without
 * formatting every line and path as text (most processes have none, and
 * one call says so); older kernels answer ENOTTY and the text is read
 * instead.  Both look at shared mappings only: Berkeley DB maps region
 * files MAP_SHARED and segments are always shared, and a private copy of
 * a region is nobody's attachment.
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
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bdb.h"
#include "proc.h"

/* Past the field at *P and the blanks after it; NULL at the line's end. */
static const char *next_field(const char *p)
{
	while (*p && *p != ' ')
		p++;
	while (*p == ' ')
		p++;
	return *p ? p : NULL;
}

/* Does one maps line name a target?  Fields: address perms offset
 * major:minor inode [path].  Parsed by hand: sscanf was a tenth of a
 * stat's time, and most lines are dismissed at the inode (0 for
 * anonymous memory). */
static int line_matches(const char *line, const struct rgn_bdb_target *t,
			size_t n, int same_ipc)
{
	unsigned long maj, min;
	unsigned long long ino;
	const char *p = line, *path;
	char *end;

	/* Shared mappings only, as the query asks: a private copy of a
	 * region is not an attachment. */
	p = next_field(p);
	if (!p || strlen(p) < 4 || p[3] != 's')
		return 0;
	for (int i = 0; i < 2 && p; i++)
		p = next_field(p);
	if (!p)
		return 0;
	maj = strtoul(p, &end, 16);
	if (*end != ':')
		return 0;
	min = strtoul(end + 1, &end, 16);
	if (*end != ' ')
		return 0;
	ino = strtoull(end + 1, &end, 10);
	if (*end != ' ' && *end != '\0')
		return 0;
	path = end;
	while (*path == ' ')
		path++;
	/* Inode 0 is anonymous memory, unless it is segment shmid 0. */
	if (ino == 0 && strncmp(path, "/SYSV", 5) != 0)
		return 0;
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

/* PROCMAP_QUERY, as the kernel's uapi <linux/fs.h> defines it since 6.11;
 * Debian 12's headers predate it. */
#ifndef PROCMAP_QUERY
struct procmap_query {
	uint64_t size;	      /* sizeof(struct procmap_query) */
	uint64_t query_flags; /* RGN_PMQ_* */
	uint64_t query_addr;
	uint64_t vma_start, vma_end; /* out */
	uint64_t vma_flags, vma_page_size, vma_offset;
	uint64_t inode;		       /* out: as the maps inode column */
	uint32_t dev_major, dev_minor; /* out */
	uint32_t vma_name_size;	       /* in: buffer size; out: name size */
	uint32_t build_id_size;
	uint64_t vma_name_addr; /* in: buffer for the name, or 0 */
	uint64_t build_id_addr;
};
#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)
#endif
#define RGN_PMQ_SHARED		 0x08
#define RGN_PMQ_COVERING_OR_NEXT 0x10
#define RGN_PMQ_FILE_BACKED	 0x20

/* Does the mapping Q describes name a target?  Only a segment candidate
 * (its inode equal to a sought shmid) costs a second query, for its name,
 * which must be "/SYSV..." to be a segment and not a file. */
static int query_matches(int fd, const struct procmap_query *q,
			 const struct rgn_bdb_target *t, size_t n, int same_ipc)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i].is_segment) {
			struct procmap_query nq;
			char name[64] = "";

			if (!same_ipc ||
			    q->inode != (uint64_t)(uint32_t)t[i].shmid)
				continue;
			memset(&nq, 0, sizeof(nq));
			nq.size = sizeof(nq);
			nq.query_flags = RGN_PMQ_FILE_BACKED | RGN_PMQ_SHARED;
			nq.query_addr = q->vma_start;
			nq.vma_name_size = sizeof(name);
			nq.vma_name_addr = (uint64_t)(uintptr_t)name;
			/* "/SYSV%08x (deleted)" fits; a longer name fails
			 * with ENAMETOOLONG and is a file's, not ours. */
			if (ioctl(fd, PROCMAP_QUERY, &nq) == 0 &&
			    strncmp(name, "/SYSV", 5) == 0)
				return 1;
		} else if (q->inode == (uint64_t)t[i].ino &&
			   makedev(q->dev_major, q->dev_minor) == t[i].dev) {
			return 1;
		}
	}
	return 0;
}

/* Mappings of the targets in the process whose maps FD is open, by
 * PROCMAP_QUERY: >= 0, -ENOTTY when the kernel lacks the ioctl (nothing
 * was read: the caller reads the text), or -errno. */
static int count_query(int fd, const struct rgn_bdb_target *t, size_t n,
		       int same_ipc)
{
	struct procmap_query q;
	uint64_t addr = 0;
	int count = 0, first = 1;

	for (;;) {
		memset(&q, 0, sizeof(q));
		q.size = sizeof(q);
		/* Shared mappings only: most processes have none, and
		 * then one call answers for the whole process. */
		q.query_flags = RGN_PMQ_COVERING_OR_NEXT | RGN_PMQ_FILE_BACKED |
				RGN_PMQ_SHARED;
		q.query_addr = addr;
		if (ioctl(fd, PROCMAP_QUERY, &q) < 0) {
			if (errno == ENOENT)
				return count; /* no mapping past ADDR */
			if (first && (errno == ENOTTY || errno == EINVAL))
				return -ENOTTY;
			return -errno;
		}
		first = 0;
		if (query_matches(fd, &q, t, n, same_ipc))
			count++;
		if (q.vma_end <= addr)
			return count; /* never loop on a confused answer */
		addr = q.vma_end;
	}
}

/* Mappings of the targets held by PID: >= 0, or -errno for its maps.
 * read(2) into one buffer rather than stdio: the scan opens every
 * process's maps, and fopen's extra fstat and small reads were a third of
 * its system calls.  Only a line's head matters (up to the inode and the
 * first bytes of the path), so a line longer than the buffer is judged by
 * its first part and the rest is skipped. */
static int count_maps(int procfd, pid_t pid, const struct rgn_bdb_target *t,
		      size_t n, int same_ipc)
{
	char path[64], buf[16384];
	size_t have = 0;
	int fd, count = 0, skipping = 0;
	ssize_t r;

	snprintf(path, sizeof(path), "%d/maps", (int)pid);
	fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	count = count_query(fd, t, n, same_ipc);
	if (count != -ENOTTY) {
		close(fd);
		return count;
	}
	count = 0;
	for (;;) {
		char *line = buf, *nl;

		r = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			count = -EIO;
			break;
		}
		have += (size_t)r;
		buf[have] = '\0';
		while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			*nl = '\0';
			if (!skipping && line_matches(line, t, n, same_ipc))
				count++;
			skipping = 0;
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		if (r == 0) {
			/* The last line, if it lacks its newline. */
			if (have && !skipping &&
			    line_matches(line, t, n, same_ipc))
				count++;
			break;
		}
		if (have == sizeof(buf) - 1) {
			/* One line fills the buffer: judge its head now. */
			if (!skipping && line_matches(buf, t, n, same_ipc))
				count++;
			skipping = 1;
			have = 0;
		} else {
			memmove(buf, line, have);
		}
	}
	close(fd);
	return count;
}

/* The IPC namespace of PID (0: self), by its inode; 0 if unknown.  Names
 * are looked up from /proc's descriptor PROCFD: one path component less
 * to resolve for every process. */
static ino_t ipc_ns(int procfd, pid_t pid)
{
	char path[64];
	struct stat sb;

	if (pid)
		snprintf(path, sizeof(path), "%d/ns/ipc", (int)pid);
	else
		snprintf(path, sizeof(path), "self/ns/ipc");
	return fstatat(procfd, path, &sb, 0) == 0 ? sb.st_ino : 0;
}

/*
 * Can PID have anything mapped?  Most entries of /proc on a quiet host are
 * kernel threads, and their maps cost an open, a query and a close to say
 * nothing.  /proc/PID/exe answers ENOENT exactly when the task has no user
 * address space with an executable behind it (a kernel thread, a zombie, a
 * process gone): the kernel sets mm->exe_file at every exec and keeps it
 * through fork, so a process that can map a file always has one.  One
 * readlink then spares the rest; any other answer (a link, EACCES) goes on
 * to the maps as before, so nobody who maps a region is ever skipped.
 */
static int has_no_memory(int procfd, pid_t pid)
{
	char path[64], link[1];

	snprintf(path, sizeof(path), "%d/exe", (int)pid);
	return readlinkat(procfd, path, link, sizeof(link)) < 0 &&
	       errno == ENOENT;
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
		       struct rgn_bdb_proc **out, size_t *nout, size_t *denied)
{
	struct rgn_bdb_proc *v = NULL, *nv;
	size_t nv_len = 0, cap = 0, ndenied = 0;
	struct dirent *de;
	pid_t self = getpid();
	ino_t my_ipc = 0, ns = 0;
	int any_seg = 0, any_file = 0;
	DIR *d;
	int rc = 0, procfd;

	if (!out || !nout || (n && !targets))
		return -EINVAL;
	*out = NULL;
	*nout = 0;
	if (denied)
		*denied = 0;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		any_seg |= targets[i].is_segment;
		any_file |= !targets[i].is_segment;
	}
	/* Each look into /proc costs about as much as a system call and a
	 * page of text: ask a process for its IPC namespace only when a
	 * segment is sought, and skip the maps of one in another namespace
	 * when only segments are (it cannot have attached ours). */
	d = opendir("/proc");
	if (!d)
		return -errno;
	procfd = dirfd(d);
	if (any_seg)
		my_ipc = ipc_ns(procfd, 0);
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		int c;

		if (!isdigit((unsigned char)de->d_name[0]) || *end ||
		    pid <= 0 || pid == self)
			continue;
		if (any_seg) {
			ns = ipc_ns(procfd, (pid_t)pid);
			if (!any_file && ns != 0 && my_ipc != 0 && ns != my_ipc)
				continue;
		}
		if (has_no_memory(procfd, (pid_t)pid))
			continue;
		c = count_maps(procfd, (pid_t)pid, targets, n,
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
