/*
 * leaks_evidence.c - what the leak scanner learns outside the segments:
 * the homes that headers name, and the processes that registries and
 * creators name.
 *
 * A header's home is anybody's say (whoever can create a segment can write
 * one), so a home is entered without trusting it: only a canonical path,
 * component by component without following a symbolic link, never on a
 * FUSE file system (its daemon may never answer, and regionfs would wait
 * on itself).  Its registry is read as an observer, headers and process
 * slots only.  Every answer is cached for the length of one scan: across
 * thousands of segments the same few homes and pids come back again and
 * again, and a scan must stay within the time `ipcs -m -p` takes.  So is
 * each environment's region table, read once with its registry: the
 * identity each region's creator recorded there (shmid, key, creation
 * time, creator pid) proves a listed segment is that region, as it does
 * for the core (backing_sysv.c), so the judge attaches only segments no
 * table accounts for: an attach and detach per segment were most of a
 * scan's system time.  Our
 * own credentials are evidence too: whether a segment's permissions let us
 * attach at all is predicted here, once per segment, without a syscall.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env.h"
#include "internal.h"
#include "leaks_int.h"
#include "mountinfo.h"
#include "proc.h"

/* Big enough for the primary's headers and for the registry. */
#define RGN_REGISTRY_BUF                                                       \
	(RGN_MAX_PROCS * sizeof(struct rgn_shm_proc) >                         \
			 RGN_ENV_OFF + sizeof(struct rgn_shm_env)              \
		 ? RGN_MAX_PROCS * sizeof(struct rgn_shm_proc)                 \
		 : RGN_ENV_OFF + sizeof(struct rgn_shm_env))

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void home_free(struct rgn_leaks_home *hi)
{
	if (!hi)
		return;
	free(hi->home);
	free(hi);
}

static void claim_put(struct rgn_leaks_cache *c, const struct rgn_shm_slot *sl,
		      struct rgn_leaks_home *hi)
{
	struct rgn_leaks_claim *cl;
	size_t i;

	/* Stop at half full, so probing always finds an empty slot; a
	 * segment no claim covers is attached, as it was before. */
	if (2 * (c->nclaims + 1) >= c->nclaim_slots)
		return;
	i = ((uint32_t)sl->sl_shmid * 2654435761u) & (c->nclaim_slots - 1);
	while (c->claim_at[i] >= 0) {
		if (c->claims[c->claim_at[i]].shmid == sl->sl_shmid)
			return; /* two tables name it: the first one read */
		i = (i + 1) & (c->nclaim_slots - 1);
	}
	if (c->nclaims == c->claims_cap) {
		size_t cap = c->claims_cap ? c->claims_cap * 2 : 64;
		struct rgn_leaks_claim *v =
			realloc(c->claims, cap * sizeof(*v));

		if (!v)
			return; /* best effort: attach instead */
		c->claims = v;
		c->claims_cap = cap;
	}
	cl = &c->claims[c->nclaims];
	memset(cl, 0, sizeof(*cl));
	cl->shmid = sl->sl_shmid;
	cl->key = sl->sl_key;
	cl->creator_pid = sl->sl_creator_pid;
	cl->id = sl->sl_id;
	cl->type = sl->sl_type;
	cl->seg_ctime = sl->sl_seg_ctime;
	cl->home = hi;
	memcpy(cl->name, sl->sl_name, sizeof(cl->name));
	cl->name[RGN_NAME_MAX] = '\0';
	c->claim_at[i] = (int32_t)c->nclaims++;
}

/*
 * The segments the region table of ENV (NSLOTS slots in use) names, as
 * claims of HI.  Best effort: a table that cannot be read claims nothing
 * and its segments are attached instead.  Only READY slots of a segment
 * with a recorded creation time count: a region being made or removed
 * proves nothing yet.
 */
static void read_claims(struct rgn_leaks_cache *c, struct rgn_env *env,
			struct rgn_leaks_home *hi, uint32_t nslots)
{
	const size_t per = RGN_REGISTRY_BUF / sizeof(struct rgn_shm_slot);
	const struct rgn_shm_slot *sl = (const void *)c->buf;

	for (uint32_t base = 0; base < nslots; base += (uint32_t)per) {
		size_t n = nslots - base < per ? nslots - base : per;
		ssize_t got = rgn_backing_pread(
			env, &env->primary_slot, c->buf, n * sizeof(*sl),
			RGN_TABLE_OFF + (uint64_t)base * sizeof(*sl), 0);

		if (got < 0 || (size_t)got < n * sizeof(*sl))
			return;
		/* rgn_slot_listed's test, on a chunk of the table. */
		for (size_t k = 0; k < n; k++)
			if (sl[k].sl_state == RGN_SLOT_READY &&
			    sl[k].sl_id == base + k + 1 &&
			    sl[k].sl_shmid >= 0 && sl[k].sl_seg_ctime)
				claim_put(c, &sl[k], hi);
	}
}

const struct rgn_leaks_claim *rgn_leaks_claim_find(
	const struct rgn_leaks_cache *c, const struct rgn_leak *r)
{
	const struct rgn_leaks_claim *cl;
	size_t i;

	if (!c->nclaims)
		return NULL;
	i = ((uint32_t)r->shmid * 2654435761u) & (c->nclaim_slots - 1);
	for (; c->claim_at[i] >= 0; i = (i + 1) & (c->nclaim_slots - 1)) {
		cl = &c->claims[c->claim_at[i]];
		if (cl->shmid != r->shmid)
			continue;
		/* The id alone may have been recycled: the whole identity
		 * recorded at creation must match what the kernel says now. */
		return cl->key == r->key && cl->seg_ctime == r->ctime &&
				       cl->creator_pid == r->cpid
			       ? cl
			       : NULL;
	}
	return NULL;
}

/*
 * Read the registry of ENV, opened as an observer: the primary's headers
 * (validated, and its env id must be the one __db.001 records) and the
 * process slots, nothing else.  rgn_stat_env would also copy the region
 * table and every region header, which across hundreds of homes is most of
 * a scan's time.  Liveness is judged like the registry does (pid and start
 * time), through the scan's pid cache.
 */
static int read_registry(struct rgn_leaks_cache *c, struct rgn_env *env,
			 struct rgn_leaks_home *hi)
{
	const size_t hdr_len = RGN_ENV_OFF + sizeof(struct rgn_shm_env);
	const struct rgn_shm_proc *procs;
	uint32_t nprocs, nslots;
	size_t procs_len;
	uint8_t *buf = c->buf;
	ssize_t n;
	int rc = 0;

	n = rgn_backing_pread(env, &env->primary_slot, buf, hdr_len, 0, 0);
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
	nslots = rgn_slot_hwm((const void *)(buf + RGN_ENV_OFF));
	procs_len = nprocs * sizeof(struct rgn_shm_proc);
	n = rgn_backing_pread(env, &env->primary_slot, buf, procs_len,
			      RGN_PROCS_OFF, 0);
	if (n < 0 || (size_t)n < procs_len) {
		rc = n < 0 ? (int)n
			   : rgn_fail(RGN_ECORRUPT, "registry is "
						    "truncated");
		goto out;
	}
	procs = (const void *)buf;
	for (uint32_t i = 0; i < nprocs; i++) {
		uint64_t start;

		if (!procs[i].pr_pid)
			continue;
		if (rgn_leaks_pid_get(c, procs[i].pr_pid, &start) == 0 &&
		    start == procs[i].pr_start)
			hi->live++;
		else
			hi->stale++;
	}
	hi->env_id = env->env_id;
	read_claims(c, env, hi, nslots);
out:
	return rc;
}

/* ---- entering a home named by a header ---------------------------------- */

/*
 * The mount points of every FUSE file system (fuse, fuseblk, fuse.NAME)
 * in our mount namespace, once per cache.  From mountinfo, not statfs:
 * statfs of a FUSE mount is itself a request to its daemon.  Unreadable
 * mountinfo leaves the list empty (homes are then entered as before).
 */
static void read_fuse_mounts(struct rgn_leaks_cache *c)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;

	c->fuse_read = 1;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - TYPE ...
		 */
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
		rgn_mountinfo_unescape(mnt);
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
static const char *fuse_mount_of(struct rgn_leaks_cache *c, const char *home)
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
		fd = openat(dfd, comp,
			    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
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
static void append(char *buf, size_t len, size_t *used, const char *s, size_t n)
{
	if (n > len - 1 - *used)
		n = len - 1 - *used;
	memcpy(buf + *used, s, n);
	*used += n;
	buf[*used] = '\0';
}

/* rgn_errdetail() names the home by the descriptor path we opened it
 * through; put HOME back in its place. */
static void detail_for(char *buf, size_t len, const char *via, const char *home)
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
 * fails; failures become RGN_HOME_ERROR with the reason.  HOME is entered
 * only through the directory opened by open_home_nofollow (by its
 * /proc/self/fd path), so that it cannot be swapped for a symbolic link
 * between the check and the open. */
static void home_lookup(struct rgn_leaks_cache *c, const char *home,
			struct rgn_leaks_home *hi)
{
	struct rgn_env_config cfg;
	rgn_env *env = NULL;
	const char *mnt;
	char via[64] = "";
	int rc, fd = -1, at_home;

	if (!home[0]) {
		hi->state = RGN_HOME_MISSING;
		return;
	}
	if (!is_canonical(home)) {
		hi->state = RGN_HOME_UNTRUSTED;
		snprintf(hi->detail, sizeof(hi->detail),
			 "it is not a canonical path");
		return;
	}
	mnt = fuse_mount_of(c, home);
	if (mnt) {
		hi->state = RGN_HOME_UNTRUSTED;
		snprintf(hi->detail, sizeof(hi->detail),
			 "it is on the FUSE file system mounted at %.100s",
			 mnt);
		return;
	}
	rc = open_home_nofollow(home, &fd, &at_home);
	if (rc == -ELOOP) {
		hi->state = at_home ? RGN_HOME_REPLACED : RGN_HOME_UNTRUSTED;
		if (!at_home)
			snprintf(hi->detail, sizeof(hi->detail),
				 "a directory on its path is now a symbolic "
				 "link");
		return;
	}
	if (rc == -ENOENT) {
		hi->state = RGN_HOME_MISSING;
		return;
	}
	if (rc == -ENOTDIR) {
		hi->state = RGN_HOME_NOENV;
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
			hi->state = RGN_HOME_PRIVATE;
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
		hi->state = RGN_HOME_MATCHABLE;
		break;
	case -ENOENT:
	case RGN_ENOTENV:
		/* A record whose primary segment is gone also says ENOENT. */
		hi->state = fd >= 0 && faccessat(fd, RGN_PRIMARY_FILE, F_OK,
						 AT_SYMLINK_NOFOLLOW) == 0
				    ? RGN_HOME_BROKEN
				    : RGN_HOME_NOENV;
		break;
	case RGN_EBADMAGIC:
		hi->state = RGN_HOME_NOTOURS;
		break;
	case RGN_EINCOMPLETE:
		hi->state = RGN_HOME_INCOMPLETE;
		break;
	case RGN_EPRIVATE:
		hi->state = RGN_HOME_PRIVATE;
		break;
	default:
		hi->state = RGN_HOME_ERROR;
		hi->err = rc;
		break;
	}
	if (fd >= 0)
		close(fd);
}

/* The home's info, looked up once per cache (LOOKUP 0: only remember the
 * string).  NULL only on ENOMEM. */
struct rgn_leaks_home *rgn_leaks_home_get(struct rgn_leaks_cache *c,
					  const char *home, int lookup)
{
	struct rgn_leaks_home *hi;
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
		hi->state = RGN_HOME_SKIPPED;
	c->homes[i] = hi;
	c->nhomes++;
	return hi;
}

/* Start ticks of PID: 0, or -ESRCH when there is no such process. */
int rgn_leaks_pid_get(struct rgn_leaks_cache *c, int32_t pid, uint64_t *start)
{
	struct rgn_leaks_pid *pi = NULL;
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

/* ---- may we attach? ------------------------------------------------------ */

/*
 * Our credentials, once per cache.  The kernel grants a read-only attach
 * by the owner, group or other bits as ipcperms() picks them, or to
 * CAP_IPC_OWNER.  Asking it with IPC_STAT instead would cost, for a
 * segment we may not read, a walk of the whole kernel index (that is how
 * rgn_shm_identify tells recycled from present without permission): a
 * scan of thousands of other users' segments would then take seconds.
 */
static void cred_read(struct rgn_leaks_cred *cr)
{
	int n;

	cr->read = 1;
	cr->euid = geteuid();
	cr->egid = getegid();
	cr->cap_ipc_owner = -1; /* read when the bits first say no */
	n = getgroups(0, NULL);
	if (n > 0) {
		gid_t *g = calloc((size_t)n, sizeof(*g));

		cr->groups = calloc((size_t)n, sizeof(*cr->groups));
		if (g && cr->groups) {
			n = getgroups(n, g);
			for (int i = 0; i < n; i++)
				cr->groups[cr->ngroups++] = g[i];
		}
		free(g);
	}
}

/* 1 if we hold CAP_IPC_OWNER, or cannot tell (the kernel then decides). */
static int cap_ipc_owner(void)
{
	unsigned long long caps;
	char line[256];
	int cap = 1;
	FILE *f;

	f = fopen("/proc/self/status", "re");
	if (!f)
		return cap;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "CapEff: %llx", &caps) == 1) {
			cap = (int)((caps >> 15) & 1); /* CAP_IPC_OWNER */
			break;
		}
	}
	fclose(f);
	return cap;
}

static int in_group(const struct rgn_leaks_cred *cr, uint32_t gid)
{
	if (gid == cr->egid)
		return 1;
	for (size_t i = 0; i < cr->ngroups; i++)
		if (cr->groups[i] == gid)
			return 1;
	return 0;
}

int rgn_leaks_may_attach(struct rgn_leaks_cache *c, const struct rgn_leak *r)
{
	struct rgn_leaks_cred *cr = &c->cred;
	uint32_t bits = r->mode;

	if (!cr->read)
		cred_read(cr);
	if (cr->euid == r->uid || cr->euid == r->cuid)
		bits >>= 6;
	else if (in_group(cr, r->gid) || in_group(cr, r->cgid))
		bits >>= 3;
	if (bits & 04)
		return 1;
	if (cr->cap_ipc_owner < 0)
		cr->cap_ipc_owner = cap_ipc_owner();
	return cr->cap_ipc_owner;
}

size_t rgn_leaks_pow2(size_t n)
{
	size_t p = 16;

	while (p < n)
		p <<= 1;
	return p;
}

/* Caches for NSEGS segments: at most one home each, and about one
 * creator each (registries add more; see pid_get). */
int rgn_leaks_cache_init(struct rgn_leaks_cache *c, size_t nsegs)
{
	memset(c, 0, sizeof(*c));
	c->nhome_slots = rgn_leaks_pow2(nsegs * 2 + 2);
	c->npid_slots = rgn_leaks_pow2(nsegs * 4 + 64);
	c->homes = calloc(c->nhome_slots, sizeof(*c->homes));
	c->pids = calloc(c->npid_slots, sizeof(*c->pids));
	c->buf = malloc(RGN_REGISTRY_BUF);
	c->nclaim_slots = rgn_leaks_pow2(nsegs * 2 + 2);
	c->claim_at = malloc(c->nclaim_slots * sizeof(*c->claim_at));
	if (c->claim_at)
		memset(c->claim_at, 0xff,
		       c->nclaim_slots * sizeof(*c->claim_at));
	return c->homes && c->pids && c->buf && c->claim_at ? 0 : -ENOMEM;
}

/* Free the caches.  With POOLP, the home strings move to a new pool that
 * the records keep pointing at; -ENOMEM (and every string freed) when the
 * pool cannot be made, after which the records must not be used. */
int rgn_leaks_cache_fini(struct rgn_leaks_cache *c,
			 struct rgn_leaks_pool **poolp)
{
	struct rgn_leaks_pool *pool = NULL;
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
			struct rgn_leaks_home *hi = c->homes[i];

			if (!hi)
				continue;
			if (pool) {
				pool->s[pool->n++] = hi->home;
				hi->home = NULL;
			}
			home_free(hi);
		}
	}
	free(c->homes);
	free(c->pids);
	free(c->buf);
	free(c->bdb);
	free(c->claims);
	free(c->claim_at);
	for (size_t i = 0; i < c->nfuse_mnts; i++)
		free(c->fuse_mnts[i]);
	free(c->fuse_mnts);
	free(c->cred.groups);
	memset(c, 0, sizeof(*c));
	return rc;
}

void rgn_leaks_pool_free(struct rgn_leaks_pool *pool)
{
	if (!pool)
		return;
	for (size_t i = 0; i < pool->n; i++)
		free(pool->s[i]);
	free(pool);
}
