/*
 * leaks.c - the System V leak scanner and its safe remover.
 *
 * The scan lists segments with shmctl(SHM_STAT_ANY) over kernel indices
 * (no permission needed to stat; /proc/sysvipc/shm when that fails), then
 * judges each one.  Judging costs a read-only attach for segments that
 * could hold our header, and for ours one look at the registry of the
 * environment the header names.  Lookups that repeat across segments
 * (home, creator pid) are cached for the length of one scan, and
 * /proc/sysvipc/shm's resident and swapped sizes spare the attach of
 * segments never written: together that keeps thousands of segments within
 * the time `ipcs -m -p` takes to list them.
 *
 * Trade-off: the attach is the only way to read a segment's first bytes,
 * and it touches shm_atime/shm_dtime/shm_lpid.  We report the figures
 * stat'ed before the attach, and never attach segments marked for removal,
 * too small to hold our header, or never written.
 *
 * Removal never trusts the scan: rgn_leak_remove re-stats, re-judges with
 * a cache of its own and re-stats once more immediately before IPC_RMID.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "env.h"
#include "internal.h"
#include "layout.h"
#include "leaks.h"
#include "proc.h"

#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY 15 /* Linux >= 4.17; glibc < 2.28 lacks the name */
#endif

_Static_assert(RGN_LEAK_HOME_MAX == RGN_HOME_MAX,
	       "leak records hold a whole home path");

/* The part of the region header the scanner copies out of a segment. */
#define HDR_PREFIX offsetof(struct rgn_shm_region, rh_mutex)

static const char *const class_names[RGN_LEAK_NCLASSES] = {
	[RGN_LEAK_UNKNOWN] = "unknown",
	[RGN_LEAK_LIVE] = "live",
	[RGN_LEAK_ORPHANED] = "orphaned",
	[RGN_LEAK_FOREIGN_IN_USE] = "foreign-in-use",
	[RGN_LEAK_FOREIGN_IDLE] = "foreign-idle",
	[RGN_LEAK_REMOVING] = "removing",
	[RGN_LEAK_IDLE] = "idle",
};

static const char *const verdict_names[RGN_LEAK_NVERDICTS] = {
	[RGN_LEAK_REMOVED] = "removed",
	[RGN_LEAK_WOULD_REMOVE] = "would-remove",
	[RGN_LEAK_SKIP_GONE] = "gone",
	[RGN_LEAK_SKIP_CHANGED] = "changed",
	[RGN_LEAK_SKIP_PERM] = "not-owner",
	[RGN_LEAK_SKIP_REMOVING] = "removing",
	[RGN_LEAK_SKIP_ATTACHED] = "attached",
	[RGN_LEAK_SKIP_LIVE] = "live",
	[RGN_LEAK_SKIP_FOREIGN] = "foreign",
	[RGN_LEAK_SKIP_UNKNOWN] = "unknown",
	[RGN_LEAK_FAILED] = "failed",
};

const char *rgn_leak_class_name(enum rgn_leak_class cls)
{
	if ((unsigned)cls >= RGN_LEAK_NCLASSES)
		return "?";
	return class_names[cls];
}

const char *rgn_leak_verdict_name(enum rgn_leak_verdict v)
{
	if ((unsigned)v >= RGN_LEAK_NVERDICTS)
		return "?";
	return verdict_names[v];
}

/* ---- caches for one scan ------------------------------------------------ */

/* What a home told us, once per scan. */
enum home_state {
	HOME_MATCHABLE = 1,	/* an environment is there: compare env_id */
	HOME_MISSING,		/* the directory is gone */
	HOME_NOENV,		/* directory without an environment */
	HOME_NOTOURS,		/* __db.001 of something else */
	HOME_INCOMPLETE,	/* creation interrupted */
	HOME_PRIVATE,		/* a private environment holds it */
	HOME_BROKEN,		/* __db.001 names a primary that is gone */
	HOME_SKIPPED,		/* not looked up (RGN_LEAK_SCAN_NOENV) */
	HOME_REPLACED,		/* the home itself is now a symbolic link */
	HOME_UNTRUSTED,		/* not entered: detail says why */
	HOME_ERROR		/* could not tell: err says why */
};

struct home_info {
	char *home;			/* key; malloc'd */
	enum home_state state;		/* what we found */
	int err;			/* HOME_ERROR: the code */
	char detail[160];		/* HOME_ERROR: rgn_errdetail() */
	uint64_t env_id;		/* HOME_MATCHABLE */
	uint32_t live;			/* HOME_MATCHABLE: live attachers */
	uint32_t stale;			/* HOME_MATCHABLE: dead entries */
	int32_t private_owner;		/* HOME_PRIVATE */
};

struct pid_info {
	int32_t pid;			/* key; 0 = empty slot */
	int err;			/* 0 or -ESRCH */
	uint64_t start;			/* start ticks when err == 0 */
};

struct cache {
	struct home_info **homes;	/* open addressing, NULL = empty */
	size_t nhome_slots;		/* power of two */
	size_t nhomes;			/* entries in homes */
	struct pid_info *pids;		/* open addressing */
	size_t npid_slots;		/* power of two */
	size_t npids;			/* entries in pids */
	uint8_t *buf;			/* registry reads, RGN_REGISTRY_BUF */
	char **fuse_mnts;		/* FUSE mount points, read at the
					   first home lookup */
	size_t nfuse_mnts;
	int fuse_read;			/* 1 once fuse_mnts was read */
};

/* Big enough for the primary's headers and for the registry. */
#define RGN_REGISTRY_BUF                                                       \
	(RGN_MAX_PROCS * sizeof(struct rgn_shm_proc) >                          \
		 RGN_ENV_OFF + sizeof(struct rgn_shm_env)                       \
	 ? RGN_MAX_PROCS * sizeof(struct rgn_shm_proc)                        \
	 : RGN_ENV_OFF + sizeof(struct rgn_shm_env))

/* The home strings a scan's records point to (scan->strings). */
struct strpool {
	size_t n;			/* strings in s */
	char *s[];			/* malloc'd, one per home */
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void home_info_free(struct home_info *hi)
{
	if (!hi)
		return;
	free(hi->home);
	free(hi);
}

static int pid_get(struct cache *c, int32_t pid, uint64_t *start);

/*
 * Read the registry of ENV, opened as an observer: the primary's headers
 * (validated, and its env id must be the one __db.001 records) and the
 * process slots, nothing else.  rgn_stat_env would also copy the region
 * table and every region header, which across hundreds of homes is most of
 * a scan's time.  Liveness is judged like the registry does (pid and start
 * time), through the scan's pid cache.
 */
static int read_registry(struct cache *c, struct rgn_env *env,
			 struct home_info *hi)
{
	const size_t hdr_len = RGN_ENV_OFF + sizeof(struct rgn_shm_env);
	const struct rgn_shm_proc *procs;
	uint32_t nprocs;
	size_t procs_len;
	uint8_t *buf = c->buf;
	ssize_t n;
	int rc = 0;

	n = rgn_backing_pread(env, &env->primary_slot, buf, hdr_len, 0);
	if (n >= 0)
		rc = rgn_check_primary(buf, (size_t)n);
	else
		rc = (int)n;
	if (rc == 0 &&
	    ((const struct rgn_shm_region *)buf)->rh_env_id != env->env_id)
		rc = rgn_fail(RGN_ECORRUPT, "primary belongs to another "
					    "environment than __db.001 says");
	if (rc < 0)
		goto out;
	/* Only up to the high-water mark: beyond it nothing was ever
	 * written, and reading it would populate pages of the segment. */
	nprocs = rgn_proc_hwm((const void *)(buf + RGN_ENV_OFF));
	procs_len = nprocs * sizeof(struct rgn_shm_proc);
	n = rgn_backing_pread(env, &env->primary_slot, buf, procs_len,
			    RGN_PROCS_OFF);
	if (n < 0 || (size_t)n < procs_len) {
		rc = n < 0 ? (int)n : rgn_fail(RGN_ECORRUPT, "registry is "
							     "truncated");
		goto out;
	}
	procs = (const void *)buf;
	for (uint32_t i = 0; i < nprocs; i++) {
		uint64_t start;

		if (!procs[i].pr_pid)
			continue;
		if (pid_get(c, procs[i].pr_pid, &start) == 0 &&
		    start == procs[i].pr_start)
			hi->live++;
		else
			hi->stale++;
	}
	hi->env_id = env->env_id;
out:
	return rc;
}

/* ---- entering a home named by a header ---------------------------------- */

/* Undo the octal escapes of /proc/self/mountinfo (\040 for a space...). */
static void unescape_mnt(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
					(s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/*
 * The mount points of every FUSE file system (fuse, fuseblk, fuse.NAME)
 * in our mount namespace, once per cache.  From mountinfo, not statfs:
 * statfs of a FUSE mount is itself a request to its daemon.  Unreadable
 * mountinfo leaves the list empty (homes are then entered as before).
 */
static void read_fuse_mounts(struct cache *c)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;

	c->fuse_read = 1;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - TYPE ... */
		char *mnt = NULL, *type = NULL, *save = NULL, *tok, **v;
		int i = 0, dash = 0;

		for (tok = strtok_r(line, " \n", &save); tok;
		     tok = strtok_r(NULL, " \n", &save), i++) {
			if (i == 4)
				mnt = tok;
			else if (dash) {
				type = tok;
				break;
			} else if (i > 5 && strcmp(tok, "-") == 0)
				dash = 1;
		}
		if (!mnt || !type || strncmp(type, "fuse", 4) != 0 ||
		    (type[4] && type[4] != '.' && strcmp(type, "fuseblk") != 0))
			continue;
		unescape_mnt(mnt);
		v = realloc(c->fuse_mnts, (c->nfuse_mnts + 1) * sizeof(*v));
		if (!v)
			break;
		c->fuse_mnts = v;
		v[c->nfuse_mnts] = strdup(mnt);
		if (v[c->nfuse_mnts])
			c->nfuse_mnts++;
	}
	free(line);
	fclose(f);
}

/* The FUSE mount point HOME lies on or below, or NULL.  HOME is canonical,
 * so its components are the ones path resolution will cross. */
static const char *fuse_mount_of(struct cache *c, const char *home)
{
	if (!c->fuse_read)
		read_fuse_mounts(c);
	for (size_t i = 0; i < c->nfuse_mnts; i++) {
		const char *m = c->fuse_mnts[i];
		size_t n = strlen(m);

		if (strcmp(m, "/") == 0 ||
		    (strncmp(home, m, n) == 0 &&
		     (home[n] == '/' || home[n] == '\0')))
			return m;
	}
	return NULL;
}

/* Headers record the home as realpath() gave it: absolute, no "." or
 * ".." component, no empty one, no trailing slash. */
static int is_canonical(const char *home)
{
	const char *p = home;

	if (home[0] != '/')
		return 0;
	if (!home[1])
		return 1;
	while (*p) {
		const char *q = ++p; /* past the slash */

		while (*p && *p != '/')
			p++;
		if (p == q || (p - q == 1 && q[0] == '.') ||
		    (p - q == 2 && q[0] == '.' && q[1] == '.'))
			return 0;
	}
	return 1;
}

/*
 * Open the directory HOME (canonical) component by component, following
 * no symbolic link: 0 and *FDP (O_PATH), or a negative errno.  -ELOOP when
 * a component is a symbolic link, with *AT_HOME set if it is the home
 * itself.
 */
static int open_home_nofollow(const char *home, int *fdp, int *at_home)
{
	const char *p = home + 1;
	char comp[RGN_HOME_MAX];
	int dfd, fd, err = 0;

	*at_home = 0;
	dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	while (*p) {
		const char *e = strchrnul(p, '/');
		struct stat sb;

		memcpy(comp, p, (size_t)(e - p));
		comp[e - p] = '\0';
		fd = openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW |
					       O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			/* A symbolic link fails as ELOOP or, with O_PATH,
			 * ENOTDIR: tell it from a file without following. */
			if ((err == -ENOTDIR || err == -ELOOP) &&
			    fstatat(dfd, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(sb.st_mode)) {
				err = -ELOOP;
				*at_home = !*e;
			}
			close(dfd);
			return err;
		}
		close(dfd);
		dfd = fd;
		p = *e ? e + 1 : e;
	}
	*fdp = dfd;
	return 0;
}

/* Append S to BUF (of LEN bytes, holding *USED), cutting it short. */
static void append(char *buf, size_t len, size_t *used, const char *s,
		   size_t n)
{
	if (n > len - 1 - *used)
		n = len - 1 - *used;
	memcpy(buf + *used, s, n);
	*used += n;
	buf[*used] = '\0';
}

/* rgn_errdetail() names the home by the descriptor path we opened it
 * through; put HOME back in its place. */
static void detail_for(char *buf, size_t len, const char *via,
		       const char *home)
{
	const char *d = rgn_errdetail();
	const char *at = via[0] ? strstr(d, via) : NULL;
	size_t used = 0;

	buf[0] = '\0';
	if (!at) {
		append(buf, len, &used, d, strlen(d));
		return;
	}
	append(buf, len, &used, d, (size_t)(at - d));
	append(buf, len, &used, home, strlen(home));
	at += strlen(via);
	append(buf, len, &used, at, strlen(at));
}

/* Look HOME up: open it as an observer and read its registry.  Never
 * fails; failures become HOME_ERROR with the reason.  HOME is entered
 * only through the directory opened by open_home_nofollow (by its
 * /proc/self/fd path), so that it cannot be swapped for a symbolic link
 * between the check and the open. */
static void home_lookup(struct cache *c, const char *home,
			struct home_info *hi)
{
	struct rgn_env_config cfg;
	rgn_env *env = NULL;
	const char *mnt;
	char via[64] = "";
	int rc, fd = -1, at_home;

	if (!home[0]) {
		hi->state = HOME_MISSING;
		return;
	}
	if (!is_canonical(home)) {
		hi->state = HOME_UNTRUSTED;
		snprintf(hi->detail, sizeof(hi->detail),
			 "it is not a canonical path");
		return;
	}
	mnt = fuse_mount_of(c, home);
	if (mnt) {
		hi->state = HOME_UNTRUSTED;
		snprintf(hi->detail, sizeof(hi->detail),
			 "it is on the FUSE file system mounted at %.100s", mnt);
		return;
	}
	rc = open_home_nofollow(home, &fd, &at_home);
	if (rc == -ELOOP) {
		hi->state = at_home ? HOME_REPLACED : HOME_UNTRUSTED;
		if (!at_home)
			snprintf(hi->detail, sizeof(hi->detail),
				 "a directory on its path is now a symbolic "
				 "link");
		return;
	}
	if (rc == -ENOENT) {
		hi->state = HOME_MISSING;
		return;
	}
	if (rc == -ENOTDIR) {
		hi->state = HOME_NOENV;
		return;
	}
	if (rc == 0) {
		snprintf(via, sizeof(via), "/proc/self/fd/%d", fd);
		if (access(via, F_OK) < 0)
			via[0] = '\0'; /* no /proc: by name, as before */
	}
	if (rc == 0) {
		rgn_env_config_init(&cfg);
		cfg.flags = RGN_INSPECT;
		rc = rgn_env_open(via[0] ? via : home, &cfg, &env);
	}
	if (rc == 0) {
		if (env->backing == RGN_BACKING_PRIVATE && !env->shenv) {
			hi->state = HOME_PRIVATE;
			hi->private_owner = env->private_owner;
			rgn_env_close(env);
			close(fd);
			return;
		}
		rc = read_registry(c, env, hi);
	}
	if (rc < 0)
		detail_for(hi->detail, sizeof(hi->detail), via, home);
	if (env)
		rgn_env_close(env);
	switch (rc) {
	case 0:
		hi->state = HOME_MATCHABLE;
		break;
	case -ENOENT:
	case RGN_ENOTENV:
		/* A record whose primary segment is gone also says ENOENT. */
		hi->state = fd >= 0 && faccessat(fd, RGN_PRIMARY_FILE, F_OK,
						 AT_SYMLINK_NOFOLLOW) == 0
				    ? HOME_BROKEN
				    : HOME_NOENV;
		break;
	case RGN_EBADMAGIC:
		hi->state = HOME_NOTOURS;
		break;
	case RGN_EINCOMPLETE:
		hi->state = HOME_INCOMPLETE;
		break;
	case RGN_EPRIVATE:
		hi->state = HOME_PRIVATE;
		break;
	default:
		hi->state = HOME_ERROR;
		hi->err = rc;
		break;
	}
	if (fd >= 0)
		close(fd);
}

/* The home's info, looked up once per cache (LOOKUP 0: only remember the
 * string).  NULL only on ENOMEM. */
static struct home_info *home_get(struct cache *c, const char *home,
				  int lookup)
{
	struct home_info *hi;
	size_t i;

	i = hash_str(home) & (c->nhome_slots - 1);
	while (c->homes[i]) {
		if (strcmp(c->homes[i]->home, home) == 0)
			return c->homes[i];
		i = (i + 1) & (c->nhome_slots - 1);
	}
	if (c->nhomes + 1 >= c->nhome_slots)
		return NULL; /* sized for one home per segment: cannot be */
	hi = calloc(1, sizeof(*hi));
	if (!hi || !(hi->home = strdup(home))) {
		free(hi);
		return NULL;
	}
	if (lookup)
		home_lookup(c, home, hi);
	else
		hi->state = HOME_SKIPPED;
	c->homes[i] = hi;
	c->nhomes++;
	return hi;
}

/* Start ticks of PID: 0, or -ESRCH when there is no such process. */
static int pid_get(struct cache *c, int32_t pid, uint64_t *start)
{
	struct pid_info *pi = NULL;
	size_t i;
	int err;

	if (pid <= 0)
		return -ESRCH; /* never kill(0 or -pgrp, ...) */
	i = ((uint32_t)pid * 2654435761u) & (c->npid_slots - 1);
	while (c->pids[i].pid && c->pids[i].pid != pid)
		i = (i + 1) & (c->npid_slots - 1);
	if (c->pids[i].pid == pid) {
		*start = c->pids[i].start;
		return c->pids[i].err;
	}
	/* Registries can name more processes than there are segments: stop
	 * caching at half full, so probing always finds an empty slot. */
	if (2 * (c->npids + 1) < c->npid_slots)
		pi = &c->pids[i];
	if (kill(pid, 0) < 0 && errno == ESRCH)
		err = -ESRCH;
	else
		err = rgn_proc_start(pid, start);
	if (pi) {
		pi->pid = pid;
		pi->err = err;
		pi->start = err ? 0 : *start;
		c->npids++;
	}
	return err;
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 16;

	while (p < n)
		p <<= 1;
	return p;
}

/* Caches for NSEGS segments: at most one home each, and about one
 * creator each (registries add more; see pid_get). */
static int cache_init(struct cache *c, size_t nsegs)
{
	memset(c, 0, sizeof(*c));
	c->nhome_slots = pow2_at_least(nsegs * 2 + 2);
	c->npid_slots = pow2_at_least(nsegs * 4 + 64);
	c->homes = calloc(c->nhome_slots, sizeof(*c->homes));
	c->pids = calloc(c->npid_slots, sizeof(*c->pids));
	c->buf = malloc(RGN_REGISTRY_BUF);
	return c->homes && c->pids && c->buf ? 0 : -ENOMEM;
}

/* Free the caches.  With POOLP, the home strings move to a new pool that
 * the records keep pointing at; -ENOMEM (and every string freed) when the
 * pool cannot be made, after which the records must not be used. */
static int cache_fini(struct cache *c, struct strpool **poolp)
{
	struct strpool *pool = NULL;
	int rc = 0;

	if (poolp) {
		pool = malloc(sizeof(*pool) + c->nhomes * sizeof(char *));
		if (pool)
			pool->n = 0;
		else
			rc = -ENOMEM;
		*poolp = pool;
	}
	if (c->homes) {
		for (size_t i = 0; i < c->nhome_slots; i++) {
			struct home_info *hi = c->homes[i];

			if (!hi)
				continue;
			if (pool) {
				pool->s[pool->n++] = hi->home;
				hi->home = NULL;
			}
			home_info_free(hi);
		}
	}
	free(c->homes);
	free(c->pids);
	free(c->buf);
	for (size_t i = 0; i < c->nfuse_mnts; i++)
		free(c->fuse_mnts[i]);
	free(c->fuse_mnts);
	memset(c, 0, sizeof(*c));
	return rc;
}

static void pool_free(struct strpool *pool)
{
	if (!pool)
		return;
	for (size_t i = 0; i < pool->n; i++)
		free(pool->s[i]);
	free(pool);
}

/* ---- listing ------------------------------------------------------------ */

static int64_t latest(int64_t a, int64_t b, int64_t c)
{
	int64_t m = a > b ? a : b;

	return m > c ? m : c;
}

static void rec_clear(struct rgn_leak *r)
{
	memset(r, 0, sizeof(*r));
	r->home = "";
	r->rss = RGN_LEAK_LIMIT_UNKNOWN;
	r->swap = RGN_LEAK_LIMIT_UNKNOWN;
}

static void from_ds(struct rgn_leak *r, int shmid, const struct shmid_ds *ds)
{
	rec_clear(r);
	r->shmid = shmid;
	r->key = (int32_t)ds->shm_perm.__key;
	r->size = ds->shm_segsz;
	r->uid = ds->shm_perm.uid;
	r->gid = ds->shm_perm.gid;
	r->cuid = ds->shm_perm.cuid;
	r->cgid = ds->shm_perm.cgid;
	r->mode = ds->shm_perm.mode;
	r->nattch = ds->shm_nattch;
	r->cpid = ds->shm_cpid;
	r->lpid = ds->shm_lpid;
	r->atime = ds->shm_atime;
	r->dtime = ds->shm_dtime;
	r->ctime = ds->shm_ctime;
}

struct seg_list {
	struct rgn_leak *v;		/* records */
	size_t n;			/* used */
	size_t cap;			/* allocated */
};

static struct rgn_leak *list_push(struct seg_list *l)
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

/* List by kernel index with CMD (SHM_STAT_ANY or SHM_STAT).  *denied counts
 * segments SHM_STAT could not show us. */
static int list_shmctl(int cmd, struct seg_list *l, size_t *denied)
{
	struct shm_info info;
	struct shmid_ds ds;
	int maxidx, id;

	maxidx = shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info);
	if (maxidx < 0)
		return rgn_fail(-errno, "shmctl SHM_INFO: %s", strerror(errno));
	*denied = 0;
	for (int i = 0; i <= maxidx; i++) {
		struct rgn_leak *r;

		id = shmctl(i, cmd, &ds);
		if (id < 0) {
			if (errno == EACCES)
				(*denied)++;
			continue; /* EINVAL: free index; EIDRM: just went */
		}
		r = list_push(l);
		if (!r)
			return -ENOMEM;
		from_ds(r, id, &ds);
	}
	if (info.used_ids > 0 && l->n == 0 && *denied == 0)
		return -ENOSYS; /* the command itself is not known */
	return 0;
}

/*
 * One line of /proc/sysvipc/shm (proc(5)):
 *   key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime
 *   ctime rss swap
 * Parsed by hand: with thousands of segments sscanf shows in profiles.
 */
#define PROC_FIELDS 16

static int proc_line(char *line, long long v[PROC_FIELDS])
{
	char *p = line, *end;
	int n = 0;

	while (n < PROC_FIELDS) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || !*p)
			break;
		/* perms is octal, everything else decimal */
		v[n] = n == 2 ? (long long)strtoull(p, &end, 8)
			      : (p[0] == '-' ? strtoll(p, &end, 10)
					     : (long long)strtoull(p, &end, 10));
		if (end == p)
			return -1;
		p = end;
		n++;
	}
	return n >= 14 ? n : -1;
}

static void from_proc(struct rgn_leak *r, const long long v[PROC_FIELDS],
		      int n)
{
	rec_clear(r);
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
static int read_procfs(struct seg_list *l, struct seg_list *l2,
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
			rc = rgn_fail(-ENOSYS, "/proc/sysvipc/shm: cannot "
					       "parse \"%.60s\"", line);
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
static void add_residency(struct seg_list *l, size_t pow2)
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

/* Stat one segment by id.  IPC_STAT needs read permission; without it, find
 * the segment's index with SHM_STAT_ANY, which needs none. */
static int stat_one(int32_t shmid, struct rgn_leak *r)
{
	struct shm_info info;
	struct shmid_ds ds;
	int maxidx;

	if (shmctl(shmid, IPC_STAT, &ds) == 0) {
		from_ds(r, shmid, &ds);
		return 0;
	}
	if (errno == EINVAL || errno == EIDRM)
		return rgn_fail(-ENOENT, "no segment with shmid %d", shmid);
	if (errno != EACCES)
		return rgn_fail(-errno, "shmctl %d IPC_STAT: %s", shmid,
				strerror(errno));
	maxidx = shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info);
	for (int i = 0; i <= maxidx; i++) {
		if (shmctl(i, SHM_STAT_ANY, &ds) == shmid) {
			from_ds(r, shmid, &ds);
			return 0;
		}
	}
	return rgn_fail(-EACCES, "shmid %d: no permission to stat it", shmid);
}

/* ---- judging ------------------------------------------------------------ */

/* snprintf for evidence lines: cutting a long line short is fine. */
static void say(char *buf, size_t len, const char *fmt, ...) RGN_PRINTF(3, 4);

static void say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* Is the creator still the process that made the segment? */
static void judge_creator(struct cache *c, struct rgn_leak *r, char *buf,
			  size_t len)
{
	uint64_t start;
	int64_t started;

	if (r->cpid <= 0) {
		r->cpid_alive = RGN_LEAK_UNSURE;
		say(buf, len, "creator pid not visible here");
		return;
	}
	if (pid_get(c, r->cpid, &start) < 0) {
		r->cpid_alive = RGN_LEAK_NO;
		say(buf, len, "creator pid %d is gone", r->cpid);
		return;
	}
	started = rgn_ticks_to_epoch(start);
	/* Ticks convert to the second only roughly: allow one second. */
	if (started > r->ctime + 1) {
		r->cpid_alive = RGN_LEAK_NO;
		say(buf, len,
			 "creator pid %d was reused (that process started %" PRId64
			 " s after the segment was made)",
			 r->cpid, started - r->ctime);
		return;
	}
	r->cpid_alive = RGN_LEAK_YES;
	say(buf, len, "creator pid %d still runs", r->cpid);
}

/* Could R hold our header, so that judging it means attaching?  Not when
 * it is too small, or never written (our header is written at create, so a
 * segment without a single page resident or swapped cannot be ours). */
static int may_hold_header(const struct rgn_leak *r)
{
	return r->size >= sizeof(struct rgn_shm_region) &&
	       !(r->rss == 0 && r->swap == 0);
}

/* The verdict on a segment whose header could not be read. */
static void cannot_attach(struct rgn_leak *r, int err)
{
	r->ours = RGN_LEAK_UNSURE;
	r->cls = RGN_LEAK_UNKNOWN;
	say(r->evidence, sizeof(r->evidence),
	    "cannot attach to read its header: %s", strerror(err));
}

/* Read the header of segment R: 1 ours (HOME gets the home path), 0 not
 * ours, -1 cannot tell (with the verdict made), -ENOENT vanished. */
static int read_header(struct rgn_leak *r, char home[RGN_HOME_MAX])
{
	const struct rgn_shm_region *rh;
	size_t n;
	void *p;

	if (!may_hold_header(r))
		return 0;
	p = shmat(r->shmid, NULL, SHM_RDONLY);
	if (p == (void *)-1) {
		if (errno == EINVAL || errno == EIDRM)
			return -ENOENT;
		cannot_attach(r, errno);
		return -1;
	}
	rh = p;
	if (rh->rh_magic != RGN_REGION_MAGIC) {
		shmdt(p);
		return 0;
	}
	if (rh->rh_format != RGN_FORMAT) {
		r->ours = RGN_LEAK_UNSURE;
		r->cls = RGN_LEAK_UNKNOWN;
		say(r->evidence, sizeof(r->evidence),
		    "our magic, but format %u (this build reads %u)",
		    rh->rh_format, RGN_FORMAT);
		shmdt(p);
		return -1;
	}
	r->region_id = rh->rh_id;
	r->region_type = rh->rh_type;
	r->env_id = rh->rh_env_id;
	r->creator_pid = rh->rh_creator_pid;
	memcpy(r->region_name, rh->rh_name, sizeof(r->region_name));
	r->region_name[RGN_NAME_MAX] = '\0';
	n = strnlen(rh->rh_home, RGN_HOME_MAX - 1);
	memcpy(home, rh->rh_home, n);
	home[n] = '\0';
	shmdt(p);
	return 1;
}

/* R is ours: judge it by its environment's registry.  WHO says how its
 * creator fares, for the evidence. */
static void judge_ours(struct cache *c, struct rgn_leak *r, const char *home,
		       uint32_t flags, const char *who)
{
	struct home_info *hi = home_get(c, home, !(flags & RGN_LEAK_SCAN_NOENV));

	r->home_matches = RGN_LEAK_UNSURE;
	if (!hi) {
		r->cls = RGN_LEAK_UNKNOWN;
		say(r->evidence, sizeof(r->evidence),
		    "out of memory looking up its home");
		return;
	}
	r->home = hi->home;
	r->cls = RGN_LEAK_ORPHANED;
	r->home_matches = RGN_LEAK_NO;
	switch (hi->state) {
	case HOME_MISSING:
		say(r->evidence, sizeof(r->evidence),
		    "home no longer exists; %s", who);
		break;
	case HOME_NOENV:
		say(r->evidence, sizeof(r->evidence),
		    "home holds no environment any more; %s", who);
		break;
	case HOME_BROKEN:
		say(r->evidence, sizeof(r->evidence),
		    "home's __db.001 names a primary segment that is gone; %s",
		    who);
		break;
	case HOME_NOTOURS:
		say(r->evidence, sizeof(r->evidence),
		    "home's __db.001 is not a regionfs environment; %s", who);
		break;
	case HOME_INCOMPLETE:
		say(r->evidence, sizeof(r->evidence),
		    "environment creation in home was interrupted; %s", who);
		break;
	case HOME_PRIVATE:
		say(r->evidence, sizeof(r->evidence),
		    "home is now held by a private environment (pid %d); %s",
		    (int)hi->private_owner, who);
		break;
	case HOME_REPLACED:
		say(r->evidence, sizeof(r->evidence),
		    "home is now a symbolic link, not the directory it was "
		    "made in (not followed); %s", who);
		break;
	case HOME_UNTRUSTED:
		r->cls = RGN_LEAK_UNKNOWN;
		r->home_matches = RGN_LEAK_UNSURE;
		say(r->evidence, sizeof(r->evidence),
		    "ours; its home was not entered: %s", hi->detail);
		break;
	case HOME_SKIPPED:
		r->cls = RGN_LEAK_UNKNOWN;
		r->home_matches = RGN_LEAK_UNSURE;
		say(r->evidence, sizeof(r->evidence),
		    "ours; its registry was not read");
		break;
	case HOME_ERROR:
		r->cls = RGN_LEAK_UNKNOWN;
		r->home_matches = RGN_LEAK_UNSURE;
		say(r->evidence, sizeof(r->evidence),
		    "cannot read the registry in home: %s%s%s",
		    rgn_strerror(hi->err), hi->detail[0] ? ": " : "",
		    hi->detail);
		break;
	case HOME_MATCHABLE:
		if (hi->env_id != r->env_id) {
			say(r->evidence, sizeof(r->evidence),
			    "home now holds another environment "
			    "(0x%016" PRIx64 "); %s",
			    hi->env_id, who);
			break;
		}
		r->home_matches = RGN_LEAK_YES;
		r->env_live = hi->live;
		r->env_stale = hi->stale;
		if (hi->live > 0) {
			r->cls = RGN_LEAK_LIVE;
			say(r->evidence, sizeof(r->evidence),
			    "its environment has %u live process%s",
			    hi->live, hi->live == 1 ? "" : "es");
		} else if (hi->stale > 0) {
			/* Somebody died attached and nobody came back. */
			say(r->evidence, sizeof(r->evidence),
			    "its environment in home has no live process (%u "
			    "stale), so one died attached; `regionctl remove "
			    "-h HOME` removes it whole",
			    hi->stale);
		} else {
			/* Closed cleanly: an environment at rest, whose
			 * __db.001 still points here.  Removing only its
			 * segments would destroy its data and leave the
			 * home dangling, so it is not a leak. */
			r->cls = RGN_LEAK_IDLE;
			say(r->evidence, sizeof(r->evidence),
			    "its environment in home is intact and closed "
			    "cleanly; `regionctl remove -h HOME` removes it");
		}
		break;
	}
}

/* Classify R, whose stat fields are filled.  -ENOENT when it vanished. */
static int judge(struct cache *c, struct rgn_leak *r, uint32_t flags,
		 int64_t now)
{
	char who[160], home[RGN_HOME_MAX];
	int rc;

	r->idle = now - latest(r->atime, r->dtime, r->ctime);
	if (r->idle < 0)
		r->idle = 0;
	judge_creator(c, r, who, sizeof(who));
	r->home_matches = RGN_LEAK_UNSURE;
	if (r->mode & SHM_DEST) {
		r->cls = RGN_LEAK_REMOVING;
		r->ours = RGN_LEAK_UNSURE;
		say(r->evidence, sizeof(r->evidence),
		    "marked for removal; goes when its %" PRIu64
		    " attached process%s detach",
		    r->nattch, r->nattch == 1 ? "" : "es");
		return 0;
	}
	rc = read_header(r, home);
	if (rc == -ENOENT)
		return rc;
	if (rc < 0)
		return 0; /* unknown, and read_header said why */
	if (rc == 0) {
		r->ours = RGN_LEAK_NO;
		if (r->nattch > 0) {
			r->cls = RGN_LEAK_FOREIGN_IN_USE;
			say(r->evidence, sizeof(r->evidence),
			    "not ours; %" PRIu64 " attached; %s", r->nattch,
			    who);
		} else {
			r->cls = RGN_LEAK_FOREIGN_IDLE;
			say(r->evidence, sizeof(r->evidence),
			    "not ours; nobody attached; %s", who);
		}
		return 0;
	}
	r->ours = RGN_LEAK_YES;
	judge_ours(c, r, home, flags, who);
	return 0;
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

static void read_limits(struct rgn_leak_scan *s)
{
	uint64_t v;

	s->shmmni = read_u64("/proc/sys/kernel/shmmni");
	s->shmall = read_u64("/proc/sys/kernel/shmall");
	s->shmmax = read_u64("/proc/sys/kernel/shmmax");
	v = read_u64("/proc/sys/kernel/shm_rmid_forced");
	s->shm_rmid_forced = v == RGN_LEAK_LIMIT_UNKNOWN ? -1 : (int32_t)v;
	s->page_size = (uint32_t)sysconf(_SC_PAGESIZE);
}

static void count(struct rgn_leak_scan *s, const struct rgn_leak *r)
{
	s->count[r->cls]++;
	s->bytes[r->cls] += r->size;
	s->total_bytes += r->size;
	if (rgn_leak_is_leaked(r))
		s->leaked_bytes += r->size;
}

int rgn_leak_is_leaked(const struct rgn_leak *seg)
{
	return seg->cls == RGN_LEAK_ORPHANED ||
	       (seg->cls == RGN_LEAK_FOREIGN_IDLE &&
		seg->cpid_alive == RGN_LEAK_NO);
}

/* ---- public ------------------------------------------------------------- */

int rgn_leak_needs_header(const struct rgn_leak *seg)
{
	return !(seg->mode & SHM_DEST) && may_hold_header(seg);
}

int rgn_leak_redact(struct rgn_leak *seg)
{
	if (!rgn_leak_needs_header(seg))
		return 0;
	seg->region_id = 0;
	seg->region_type = 0;
	seg->env_id = 0;
	seg->creator_pid = 0;
	memset(seg->region_name, 0, sizeof(seg->region_name));
	seg->home_matches = RGN_LEAK_UNSURE;
	seg->env_live = 0;
	seg->env_stale = 0;
	seg->home = "";
	cannot_attach(seg, EACCES);
	return 1;
}

void rgn_leak_scan_redact(struct rgn_leak_scan *scan,
			  int (*may_read)(void *arg, const struct rgn_leak *seg),
			  void *arg)
{
	if (!scan)
		return;
	memset(scan->count, 0, sizeof(scan->count));
	memset(scan->bytes, 0, sizeof(scan->bytes));
	scan->leaked_bytes = 0;
	scan->total_bytes = 0;
	for (size_t i = 0; i < scan->nsegs; i++) {
		if (!may_read(arg, &scan->segs[i]))
			rgn_leak_redact(&scan->segs[i]);
		count(scan, &scan->segs[i]);
	}
}

int rgn_leak_scan(uint32_t flags, struct rgn_leak_scan **scanp)
{
	struct rgn_leak_scan *s;
	struct strpool *pool = NULL;
	struct seg_list l = {0};
	struct cache c = {0};
	size_t denied = 0, kept = 0;
	int rc = -ENOSYS;

	rgn_clear_detail();
	if (!scanp)
		return -EINVAL;
	*scanp = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->time = time(NULL);
	/* /proc/sysvipc/shm first: one read gives every stat field and the
	 * residency that spares attaching never-written segments.  Where it
	 * is missing or unreadable, walk the kernel indices with shmctl. */
	if (!(flags & RGN_LEAK_SCAN_SHMCTL)) {
		s->source = RGN_LEAK_SRC_PROC;
		rc = read_procfs(&l, NULL, NULL, 0);
		if (rc < 0 && rc != -ENOMEM && !(flags & RGN_LEAK_SCAN_PROCFS))
			rc = -ENOSYS;
	}
	if (rc == -ENOSYS) {
		l.n = 0;
		s->source = RGN_LEAK_SRC_STAT_ANY;
		rc = list_shmctl(SHM_STAT_ANY, &l, &denied);
		if (rc == -ENOSYS) {
			l.n = 0;
			s->source = RGN_LEAK_SRC_STAT;
			rc = list_shmctl(SHM_STAT, &l, &denied);
			if (rc == 0 && denied > 0)
				rc = rgn_fail(-EACCES, "%zu segments cannot be "
						       "listed without "
						       "SHM_STAT_ANY",
					      denied);
		}
		if (rc == 0 && (flags & RGN_LEAK_SCAN_SHMCTL))
			add_residency(&l, pow2_at_least(l.n * 2 + 2));
	}
	if (rc == 0)
		rc = cache_init(&c, l.n);
	if (rc < 0)
		goto fail;

	for (size_t i = 0; i < l.n; i++) {
		if (judge(&c, &l.v[i], flags, s->time) == -ENOENT)
			continue; /* vanished while we looked */
		if (kept != i)
			l.v[kept] = l.v[i];
		count(s, &l.v[kept++]);
	}
	rc = cache_fini(&c, &pool);
	if (rc < 0)
		goto fail;
	s->segs = l.v;
	s->nsegs = kept;
	s->strings = pool;
	read_limits(s);
	*scanp = s;
	return 0;
fail:
	cache_fini(&c, NULL);
	free(l.v);
	free(s);
	return rc;
}

void rgn_leak_free(struct rgn_leak_scan *scan)
{
	if (!scan)
		return;
	pool_free(scan->strings);
	free(scan->segs);
	free(scan);
}

const struct rgn_leak *rgn_leak_find(const struct rgn_leak_scan *scan,
				     int32_t shmid)
{
	if (!scan)
		return NULL;
	for (size_t i = 0; i < scan->nsegs; i++)
		if (scan->segs[i].shmid == shmid)
			return &scan->segs[i];
	return NULL;
}

int rgn_leak_stat(int32_t shmid, struct rgn_leak_scan **scanp)
{
	struct rgn_leak_scan *s;
	struct strpool *pool = NULL;
	struct cache c;
	int rc;

	rgn_clear_detail();
	if (!scanp)
		return -EINVAL;
	*scanp = NULL;
	if (shmid < 0)
		return rgn_fail(-EINVAL, "%d is not a segment id", shmid);
	s = calloc(1, sizeof(*s));
	if (s)
		s->segs = calloc(1, sizeof(*s->segs));
	if (!s || !s->segs) {
		free(s);
		return -ENOMEM;
	}
	s->time = time(NULL);
	s->source = RGN_LEAK_SRC_STAT_ANY;
	rc = stat_one(shmid, &s->segs[0]);
	if (rc == 0)
		rc = cache_init(&c, 1);
	else
		memset(&c, 0, sizeof(c));
	if (rc == 0 && judge(&c, &s->segs[0], 0, s->time) == -ENOENT)
		rc = rgn_fail(-ENOENT, "segment %d vanished", shmid);
	if (cache_fini(&c, rc == 0 ? &pool : NULL) < 0 && rc == 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(s->segs);
		free(s);
		return rc;
	}
	s->nsegs = 1;
	s->strings = pool;
	count(s, &s->segs[0]);
	read_limits(s);
	*scanp = s;
	return 0;
}

/* Judge R afresh (a cache of its own, so nothing is older than this call)
 * and keep its home in HOME, which R->home then points to. */
static int judge_fresh(struct rgn_leak *r, char home[RGN_HOME_MAX])
{
	struct cache c;
	int rc = cache_init(&c, 1);

	if (rc == 0)
		rc = judge(&c, r, 0, time(NULL));
	snprintf(home, RGN_HOME_MAX, "%s", r->home);
	r->home = home;
	cache_fini(&c, NULL);
	return rc;
}

/* Record a skip: the verdict, the code to return and the reason. */
static int skip(struct rgn_leak_removal *res, enum rgn_leak_verdict v,
		int err, const char *fmt, ...) RGN_PRINTF(4, 5);

static int skip(struct rgn_leak_removal *res, enum rgn_leak_verdict v,
		int err, const char *fmt, ...)
{
	va_list ap;

	res->verdict = v;
	res->err = err;
	res->seg.home = res->home;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	if (err < 0)
		rgn_fail(err, "shmid %d: %s", res->seg.shmid, res->reason);
	return err;
}

/* Checks that need only a stat: identity, ownership, attachment. */
static int check_stat(const struct rgn_leak *now, const struct rgn_leak *seen,
		      uid_t uid, struct rgn_leak_removal *res)
{
	if (seen && (seen->key != now->key || seen->ctime != now->ctime))
		return skip(res, RGN_LEAK_SKIP_CHANGED, -ESTALE,
			    "changed since it was examined (key 0x%08x ctime "
			    "%" PRId64 ", was key 0x%08x ctime %" PRId64 ")",
			    (unsigned)now->key, now->ctime, (unsigned)seen->key,
			    seen->ctime);
	if (uid != 0 && uid != now->uid && uid != now->cuid)
		return skip(res, RGN_LEAK_SKIP_PERM, -EPERM,
			    "uid %u neither owns nor created it (owner uid "
			    "%u, creator uid %u)",
			    (unsigned)uid, now->uid, now->cuid);
	if (now->mode & SHM_DEST)
		return skip(res, RGN_LEAK_SKIP_REMOVING, -EALREADY,
			    "already marked for removal");
	if (now->nattch > 0)
		return skip(res, RGN_LEAK_SKIP_ATTACHED, -EBUSY,
			    "%" PRIu64 " process%s attached",
			    now->nattch, now->nattch == 1 ? "" : "es");
	return 0;
}

int rgn_leak_remove(int32_t shmid, const struct rgn_leak *seen, uid_t uid,
		    uint32_t flags, struct rgn_leak_removal *res)
{
	struct rgn_leak last;
	int rc;

	rgn_clear_detail();
	if (!res)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	rec_clear(&res->seg);
	res->seg.shmid = shmid;
	if (shmid < 0)
		return skip(res, RGN_LEAK_SKIP_GONE, -EINVAL,
			    "%d is not a segment id", shmid);

	rc = stat_one(shmid, &res->seg);
	if (rc == -ENOENT) {
		res->seg.shmid = -1;
		return skip(res, RGN_LEAK_SKIP_GONE, -ENOENT,
			    "no such segment (already removed?)");
	}
	if (rc < 0)
		return skip(res, RGN_LEAK_SKIP_UNKNOWN, rc, "cannot stat it: %s",
			    rgn_strerror(rc));
	rc = check_stat(&res->seg, seen, uid, res);
	if (rc < 0)
		return rc;

	rc = judge_fresh(&res->seg, res->home);
	if (rc == -ENOENT) {
		res->seg.shmid = -1;
		return skip(res, RGN_LEAK_SKIP_GONE, -ENOENT,
			    "vanished while being examined");
	}
	if (rc < 0)
		return skip(res, RGN_LEAK_SKIP_UNKNOWN, rc,
			    "cannot examine it: %s", rgn_strerror(rc));
	switch (res->seg.cls) {
	case RGN_LEAK_ORPHANED:
		break;
	case RGN_LEAK_FOREIGN_IDLE:
	case RGN_LEAK_FOREIGN_IN_USE:
		if (flags & RGN_LEAK_FORCE_FOREIGN)
			break;
		return skip(res, RGN_LEAK_SKIP_FOREIGN, RGN_EFOREIGN,
			    "not a regionfs segment (%s); removing it needs "
			    "force-foreign and its explicit shmid",
			    res->seg.evidence);
	case RGN_LEAK_LIVE:
		return skip(res, RGN_LEAK_SKIP_LIVE, -EBUSY, "in use: %s",
			    res->seg.evidence);
	case RGN_LEAK_IDLE:
		return skip(res, RGN_LEAK_SKIP_LIVE, -EBUSY,
			    "not a leak: %s", res->seg.evidence);
	case RGN_LEAK_REMOVING:
		return skip(res, RGN_LEAK_SKIP_REMOVING, -EALREADY,
			    "already marked for removal");
	default:
		return skip(res, RGN_LEAK_SKIP_UNKNOWN, -EAGAIN,
			    "cannot tell whose it is: %s", res->seg.evidence);
	}

	/* Judging took time: look once more right before acting. */
	rc = stat_one(shmid, &last);
	if (rc == -ENOENT) {
		res->seg.shmid = -1;
		return skip(res, RGN_LEAK_SKIP_GONE, -ENOENT,
			    "vanished while being examined");
	}
	if (rc < 0)
		return skip(res, RGN_LEAK_SKIP_UNKNOWN, rc, "cannot stat it: %s",
			    rgn_strerror(rc));
	rc = check_stat(&last, &res->seg, uid, res);
	if (rc < 0)
		return rc;
	if (flags & RGN_LEAK_DRY_RUN)
		return skip(res, RGN_LEAK_WOULD_REMOVE, 0, "would remove: %s",
			    res->seg.evidence);
	if (shmctl(shmid, IPC_RMID, NULL) < 0) {
		int err = -errno;

		if (err == -EINVAL || err == -EIDRM)
			return skip(res, RGN_LEAK_SKIP_GONE, -ENOENT,
				    "vanished before removal");
		return skip(res, RGN_LEAK_FAILED, err, "IPC_RMID failed: %s",
			    strerror(-err));
	}
	return skip(res, RGN_LEAK_REMOVED, 0, "removed: %s", res->seg.evidence);
}
