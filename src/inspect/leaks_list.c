/*
 * leaks_list.c - which System V segments exist, as the kernel tells it,
 * and the one reader of a segment's bytes for regionfs.
 *
 * A scan lists from /proc/sysvipc/shm by default: one read gives every
 * stat field plus the resident and swapped sizes that spare attaching
 * segments never written.  Where that file is missing or unreadable it
 * walks the kernel's index through the core's identity module (shmid.h:
 * SHM_STAT_ANY, which needs no permission), each segment straight into the
 * list (asked for that listing by name, it still adds residency from /proc
 * when it can).  Nothing here attaches during a scan; judging (leaks_judge.c)
 * does, at most once per segment.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "leaks_int.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14; older kernels say EINVAL */
#endif

void rgn_leaks_rec_clear(struct rgn_leak *r)
{
	memset(r, 0, sizeof(*r));
	r->home = "";
	r->rss = RGN_LEAK_LIMIT_UNKNOWN;
	r->swap = RGN_LEAK_LIMIT_UNKNOWN;
}

void rgn_leaks_rec_from_info(struct rgn_leak *r, const struct rgn_shm_info *in)
{
	rgn_leaks_rec_clear(r);
	r->shmid = in->shmid;
	r->key = in->key;
	r->size = in->size;
	r->uid = in->uid;
	r->gid = in->gid;
	r->cuid = in->cuid;
	r->cgid = in->cgid;
	r->mode = in->mode;
	r->nattch = in->nattch;
	r->cpid = in->cpid;
	r->lpid = in->lpid;
	r->atime = in->atime;
	r->dtime = in->dtime;
	r->ctime = in->ctime;
}

static struct rgn_leak *list_push(struct rgn_leaks_list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct rgn_leak *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	return &l->v[l->n++];
}

/*
 * One line of /proc/sysvipc/shm (proc(5)):
 *   key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime
 *   ctime rss swap
 * Parsed by hand: with thousands of segments sscanf, and even strtoull
 * (locale and base handling per field), show in profiles.  Every field is
 * a decimal number (key may be negative) except perms, which is octal.
 */
#define PROC_FIELDS 16

static int proc_line(char *line, long long v[PROC_FIELDS])
{
	const char *p = line;
	int n = 0;

	while (n < PROC_FIELDS) {
		unsigned base = n == 2 ? 8 : 10;
		uint64_t x = 0;
		int neg = 0;
		const char *start;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || !*p)
			break;
		if (*p == '-' && base == 10) {
			neg = 1;
			p++;
		}
		start = p;
		while ((unsigned)(*p - '0') < base)
			x = x * base + (unsigned)(*p++ - '0');
		/* A field that is no number, or runs into something that is
		 * not a separator: a format we do not know. */
		if (p == start ||
		    !(*p == ' ' || *p == '\t' || *p == '\n' || !*p))
			return -1;
		v[n++] = (long long)(neg ? 0 - x : x);
	}
	return n >= 14 ? n : -1;
}

static void from_proc(struct rgn_leak *r, const long long v[PROC_FIELDS], int n)
{
	rgn_leaks_rec_clear(r);
	r->key = (int32_t)v[0];
	r->shmid = (int32_t)v[1];
	r->mode = (uint32_t)v[2];
	r->size = (uint64_t)v[3];
	r->cpid = (int32_t)v[4];
	r->lpid = (int32_t)v[5];
	r->nattch = (uint64_t)v[6];
	r->uid = (uint32_t)v[7];
	r->gid = (uint32_t)v[8];
	r->cuid = (uint32_t)v[9];
	r->cgid = (uint32_t)v[10];
	r->atime = v[11];
	r->dtime = v[12];
	r->ctime = v[13];
	if (n >= 16) {
		r->rss = (uint64_t)v[14];
		r->swap = (uint64_t)v[15];
	}
}

/* Read /proc/sysvipc/shm: as the segment list (L non-NULL, empty), or to
 * add rss and swap to the records already listed in L2 (by shmid through
 * the index MAP of MAPLEN slots, -1 = empty). */
static int read_procfs(struct rgn_leaks_list *l, struct rgn_leaks_list *l2,
		       const int32_t *map, size_t maplen)
{
	FILE *f = fopen("/proc/sysvipc/shm", "re");
	char line[512];
	int rc = 0;

	if (!f)
		return rgn_fail(-errno, "open /proc/sysvipc/shm: %s",
				strerror(errno));
	setvbuf(f, NULL, _IOFBF, 1 << 16);
	if (!fgets(line, sizeof(line), f)) { /* the header */
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		long long v[PROC_FIELDS];
		int n = proc_line(line, v);

		if (n < 0) {
			if (!l)
				continue; /* residency only: best effort */
			/* A format we do not know: better not list from it. */
			rc = rgn_fail(-ENOSYS,
				      "/proc/sysvipc/shm: cannot "
				      "parse \"%.60s\"",
				      line);
			break;
		}
		if (l) {
			struct rgn_leak *r = list_push(l);

			if (!r) {
				rc = -ENOMEM;
				break;
			}
			from_proc(r, v, n);
			continue;
		}
		if (n < 16)
			continue;
		for (size_t i = ((uint32_t)v[1] * 2654435761u) & (maplen - 1);
		     map[i] >= 0; i = (i + 1) & (maplen - 1)) {
			struct rgn_leak *r = &l2->v[map[i]];

			if (r->shmid == (int32_t)v[1]) {
				r->rss = (uint64_t)v[14];
				r->swap = (uint64_t)v[15];
				break;
			}
		}
	}
	fclose(f);
	return rc;
}

/* Residency of the listed segments, so that never-written ones need no
 * attach.  Best effort: without it every candidate is attached. */
static void add_residency(struct rgn_leaks_list *l, size_t pow2)
{
	int32_t *map = malloc(pow2 * sizeof(*map));

	if (!map)
		return;
	memset(map, 0xff, pow2 * sizeof(*map));
	for (size_t k = 0; k < l->n; k++) {
		size_t i = ((uint32_t)l->v[k].shmid * 2654435761u) & (pow2 - 1);

		while (map[i] >= 0)
			i = (i + 1) & (pow2 - 1);
		map[i] = (int32_t)k;
	}
	read_procfs(NULL, l, map, pow2);
	free(map);
}

int rgn_leaks_list_procfs(struct rgn_leaks_list *l)
{
	return read_procfs(l, NULL, NULL, 0);
}

/* rgn_shm_walk feeds the list directly: one record per segment. */
static int walk_push(const struct rgn_shm_info *in, void *arg)
{
	struct rgn_leak *r = list_push(arg);

	if (!r)
		return -ENOMEM;
	rgn_leaks_rec_from_info(r, in);
	return 0;
}

int rgn_leaks_list_shmctl(struct rgn_leaks_list *l, int residency,
			  enum rgn_leak_source *src)
{
	size_t denied = 0;
	int rc;

	rc = rgn_shm_walk(walk_push, l, &denied);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0)
		return rgn_fail(rc, "shmctl SHM_INFO: %s", strerror(-rc));
	/*
	 * SHM_STAT_ANY shows every segment whatever its permissions; only
	 * the older SHM_STAT, which the walk falls back to on kernels before
	 * 4.17, is refused some.  A partial list would call nothing leaked
	 * that is, so it is an error.
	 */
	*src = denied ? RGN_LEAK_SRC_STAT : RGN_LEAK_SRC_STAT_ANY;
	if (denied)
		return rgn_fail(-EACCES,
				"%zu segments cannot be listed without "
				"SHM_STAT_ANY",
				denied);
	if (residency)
		add_residency(l, rgn_leaks_pow2(l->n * 2 + 2));
	return 0;
}

int rgn_leaks_stat_one(int32_t shmid, struct rgn_leak *r)
{
	struct rgn_shm_info in;
	int rc = rgn_shm_stat(shmid, &in);

	switch (rc) {
	case 0:
		rgn_leaks_rec_from_info(r, &in);
		return 0;
	case -ENOENT:
		return rgn_fail(rc, "no segment with shmid %d", shmid);
	case -EACCES:
		return rgn_fail(rc, "shmid %d: no permission to stat it",
				shmid);
	default:
		return rgn_fail(rc, "shmctl %d IPC_STAT: %s", shmid,
				strerror(-rc));
	}
}

/* ---- system figures ----------------------------------------------------- */

static uint64_t read_u64(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return RGN_LEAK_LIMIT_UNKNOWN;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return RGN_LEAK_LIMIT_UNKNOWN;
	buf[n] = '\0';
	return strtoull(buf, NULL, 10);
}

void rgn_leaks_read_limits(struct rgn_leak_scan *s)
{
	uint64_t v;

	s->shmmni = read_u64("/proc/sys/kernel/shmmni");
	s->shmall = read_u64("/proc/sys/kernel/shmall");
	s->shmmax = read_u64("/proc/sys/kernel/shmmax");
	v = read_u64("/proc/sys/kernel/shm_rmid_forced");
	s->shm_rmid_forced = v == RGN_LEAK_LIMIT_UNKNOWN ? -1 : (int32_t)v;
	s->page_size = (uint32_t)sysconf(_SC_PAGESIZE);
}

/* ---- a segment's bytes, for regionfs ------------------------------------ */

int rgn_leak_data_lend(const struct rgn_leak *seen, uint64_t off, size_t len,
		       int (*fn)(const void *p, size_t n, void *arg), void *arg)
{
	struct rgn_shm_seen sn;
	const void *base = NULL;
	uint64_t size = 0;
	size_t page, head;
	int rc;

	if (!seen || !fn)
		return -EINVAL;
	sn.shmid = seen->shmid;
	sn.key = seen->key;
	sn.ctime = seen->ctime;
	/*
	 * A segment marked for removal (its key turned IPC_PRIVATE) still
	 * holds its bytes until its last process detaches, and the mount
	 * still lists it in sysv/ as "removing": its data file keeps reading
	 * while it lives.  A recycled id (another key or creation time) is
	 * gone.
	 */
	rc = rgn_shm_attach_ro(&sn, RGN_SHM_ALLOW_REMOVING, &base, &size);
	if (rc == -ENOENT)
		return rgn_fail(rc,
				"shmid %d: no longer the segment seen "
				"(removed, or its id reused)",
				sn.shmid);
	if (rc < 0)
		return rgn_fail(rc, "shmid %d: cannot attach it: %s", sn.shmid,
				rgn_strerror(rc));
	if (off >= size)
		len = 0;
	else if (len > size - off)
		len = (size_t)(size - off);
	if (len) {
		/*
		 * A fresh attachment has no page tables: populating the range
		 * in one call beats a fault per page inside the caller's copy.
		 * Best effort (EINVAL before Linux 5.14).
		 */
		page = (size_t)sysconf(_SC_PAGESIZE);
		head = (size_t)(off & (page - 1));
		madvise((char *)(uintptr_t)base + (off - head), len + head,
			MADV_POPULATE_READ);
	}
	rc = fn(len ? (const char *)base + off : NULL, len, arg);
	rgn_shm_detach(base);
	return rc;
}
