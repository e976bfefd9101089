/*
 * state.c - the daemon's view of its environment and of the IPC namespace,
 * cached briefly.
 *
 * Two kinds of question reach the daemon.  Attributes (lookup, getattr,
 * readdir) come by the thousand for one `ls -l`, and may be up to a second
 * old, so they are answered from a snapshot of the region table that is
 * reused for RFS_CACHE_NS and, past that, re-taken only if the
 * environment's generation moved (one small read of its header).
 * Contents (stat, metrics, ...) are rendered from a full snapshot taken
 * at open, never from a cache.
 *
 * Snapshots are refcounted and immutable once published, so a request
 * keeps using the one it took while another thread publishes a newer one.
 * Both caches (the table and the segment index) are one generic cache,
 * struct rfs_cache, holding snapshots that start with struct rfs_snap.
 * fs->lock guards only pointer swaps; the I/O of a refresh runs under the
 * cache's own refresh lock, so cached answers never wait on a disk.
 * Attribute requests never wait behind a refresh or scan in progress
 * either: they answer from the previous snapshot.  Whatever a refresh waits
 * for (a home, the lookups of a scan) might be a request to this very
 * mount, which would then wait on the refresh for ever.
 *
 * The environment handle itself is replaced when a refresh fails and a
 * fresh open succeeds: the home may have been removed and created again,
 * and an inspecting handle holds the old directory.
 *
 * A request holds the snapshots it took in its struct rfs_ctx (the end of
 * this file), so that its answers agree with one another.  This layer
 * knows nothing of the tree: attributes and names are built on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "regionfs.h"

static void ref(unsigned *refs)
{
	__atomic_add_fetch(refs, 1, __ATOMIC_RELAXED);
}

/* 1 when the last reference went. */
static int unref(unsigned *refs)
{
	return __atomic_sub_fetch(refs, 1, __ATOMIC_ACQ_REL) == 0;
}

/* ---- the environment handle ---------------------------------------------- */

static struct rfs_env *env_wrap(struct regionfs *fs, rgn_env *env)
{
	struct rfs_env *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->refs = 1;
	e->env = env;
	e->serial = __atomic_add_fetch(&fs->env_serial, 1, __ATOMIC_RELAXED);
	return e;
}

struct rfs_env *rfs_env_get(struct regionfs *fs)
{
	struct rfs_env *e;

	pthread_mutex_lock(&fs->lock);
	e = fs->env;
	ref(&e->refs);
	pthread_mutex_unlock(&fs->lock);
	return e;
}

void rfs_env_put(struct rfs_env *e)
{
	if (e && unref(&e->refs)) {
		rgn_env_close(e->env);
		free(e);
	}
}

static int env_private(const struct rfs_env *e)
{
	return rgn_env_backing(e->env) == RGN_BACKING_PRIVATE;
}

/*
 * The home, opened without following any symbolic link (fs->home is
 * canonical), or -1.  A home removed and replaced by a link, perhaps one
 * into this mount, is not the environment we were started on; and
 * following it could leave the re-open waiting on our own answer.
 */
static int home_open(const char *home)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, AT_FDCWD, home, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS) /* Linux < 5.6 */
		fd = open(home, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return (int)fd;
}

/*
 * Open the home again and, if that works, make it the current handle.
 * OLD is the caller's reference; the result is the caller's reference to
 * the handle to use: the new one, or OLD when the open fails.
 */
static struct rfs_env *env_reopen(struct regionfs *fs, struct rfs_env *old)
{
	struct rgn_env_config cfg;
	struct rfs_env *e, *prev;
	rgn_env *env;

	int fd, rc;

	/* Opened by name after the check, not through the descriptor: the
	 * handle's home is what stat shows.  Swapping the home for a link in
	 * between is a race the remover would have to win each time. */
	fd = home_open(fs->home);
	if (fd < 0)
		return old;
	close(fd);
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_INSPECT;
	rc = rgn_env_open(fs->home, &cfg, &env);
	if (rc < 0)
		return old;
	e = env_wrap(fs, env);
	if (!e) {
		rgn_env_close(env);
		return old;
	}
	ref(&e->refs); /* one for fs->env, one for the caller */
	pthread_mutex_lock(&fs->lock);
	prev = fs->env;
	fs->env = e;
	pthread_mutex_unlock(&fs->lock);
	rfs_env_put(prev);
	rfs_env_put(old);
	return e;
}

/* ---- one snapshot cache, whatever it holds ------------------------------- */

void rfs_snap_put(struct rfs_snap *s)
{
	if (s && unref(&s->refs) && s->free)
		s->free(s);
}

static void snap_init(struct rfs_snap *s, int err,
		      void (*free_fn)(struct rfs_snap *s))
{
	s->refs = 1;
	s->err = err;
	s->taken_ns = rfs_now_ns();
	s->free = free_fn;
}

/* Make S the current one of C, stamped NOW; the caller keeps its
 * reference. */
static void cache_publish(struct regionfs *fs, struct rfs_cache *c,
			  struct rfs_snap *s, int64_t now)
{
	struct rfs_snap *old;

	ref(&s->refs);
	pthread_mutex_lock(&fs->lock);
	old = c->cur;
	c->cur = s;
	c->ns = now;
	pthread_mutex_unlock(&fs->lock);
	rfs_snap_put(old);
}

/* The current snapshot if it answers a request made at ASKED (FRESH) or
 * now; with ANY, however old.  NULL if none does. */
static struct rfs_snap *cache_peek(struct regionfs *fs, struct rfs_cache *c,
				   int fresh, int64_t asked, int any)
{
	struct rfs_snap *s = NULL;
	int64_t now = rfs_now_ns();

	pthread_mutex_lock(&fs->lock);
	if (c->cur &&
	    (any || (fresh ? c->ns >= asked : now - c->ns < RFS_CACHE_NS))) {
		s = c->cur;
		ref(&s->refs);
	}
	pthread_mutex_unlock(&fs->lock);
	return s;
}

/*
 * A snapshot of C: cached up to RFS_CACHE_NS, or taken after this call
 * began when FRESH.  Never waits behind a refresh in progress while there
 * is a snapshot to answer from, however old: that refresh may be waiting
 * on something (a home re-opened through a link, a lookup of a scan) that
 * leads back into this very mount, and would then be waiting for us.
 * Never NULL.
 */
static struct rfs_snap *cache_get(struct regionfs *fs, struct rfs_cache *c,
				  int fresh)
{
	int64_t asked = rfs_now_ns();
	struct rfs_snap *s, *cur;

	s = cache_peek(fs, c, fresh, asked, 0);
	if (s)
		return s;
	if (pthread_mutex_trylock(&c->refresh) != 0) {
		s = cache_peek(fs, c, 0, 0, 1);
		if (s)
			return s;
		pthread_mutex_lock(&c->refresh);
	}
	/* Somebody may have refreshed while we waited for the lock. */
	s = cache_peek(fs, c, fresh, asked, 0);
	if (!s) {
		cur = cache_peek(fs, c, 0, 0, 1);
		s = c->take(fs, cur);
		rfs_snap_put(cur);
		if (s)
			cache_publish(fs, c, s, rfs_now_ns());
	}
	pthread_mutex_unlock(&c->refresh);
	if (!s) {
		/* Out of memory even for an error record. */
		s = c->oom;
		ref(&s->refs);
	}
	return s;
}

static void cache_init(struct rfs_cache *c,
		       struct rfs_snap *(*take)(struct regionfs *fs,
						struct rfs_snap *cur),
		       struct rfs_snap *oom)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->refresh, NULL);
	c->take = take;
	c->oom = oom;
}

static void cache_fini(struct rfs_cache *c)
{
	rfs_snap_put(c->cur);
	c->cur = NULL;
	pthread_mutex_destroy(&c->refresh);
}

/* ---- the table snapshot -------------------------------------------------- */

static void view_free(struct rfs_snap *s)
{
	struct rfs_view *view = (struct rfs_view *)s;

	rgn_fsview_free(view->v);
	free(view);
}

static struct rfs_view *view_new(struct rgn_fsview *v, int err, uint64_t serial)
{
	struct rfs_view *view = calloc(1, sizeof(*view));

	if (!view) {
		rgn_fsview_free(v);
		return NULL;
	}
	snap_init(&view->s, v ? 0 : (err ? err : -ENOMEM), view_free);
	view->v = v;
	view->env_serial = serial;
	return view;
}

void rfs_view_put(struct rfs_view *view)
{
	rfs_snap_put(view ? &view->s : NULL);
}

/*
 * Re-take the table, or re-use CUR when nothing changed and CUR was
 * taken less than RFS_CACHE_NS ago.  The generation says nothing of owners and
 * modes (a chmod of a region file or of the home), so they are re-read at
 * least once per RFS_CACHE_NS, as the kernel re-asks for attributes.
 * Called with views.refresh held.
 */
static struct rfs_snap *view_take(struct regionfs *fs, struct rfs_snap *cs)
{
	struct rfs_view *cur = (struct rfs_view *)cs;
	struct rfs_env *e;
	struct rgn_fsview *v = NULL;
	struct rfs_view *view;
	uint64_t gen = 0;
	int rc;

	if (fs->bdb)
		return rfs_bdb_view_take(fs, cs);
	e = rfs_env_get(fs);
	rc = rgn_fsview_generation(e->env, &gen);
	/* Failing: the home may have been made anew.  Private: its owner
	 * may have exited and a shared environment been made in its place.
	 * Either way only a fresh open can tell. */
	if (rc < 0 || env_private(e)) {
		struct rfs_env *n = env_reopen(fs, e);

		if (n != e)
			rc = rgn_fsview_generation(n->env, &gen);
		e = n;
	}
	if (rc == 0 && !env_private(e) && cur && cur->v &&
	    rfs_now_ns() - cur->s.taken_ns < RFS_CACHE_NS &&
	    cur->env_serial == e->serial && cur->v->generation == gen) {
		ref(&cur->s.refs);
		view = cur;
	} else {
		if (rc == 0)
			rc = rgn_fsview_snapshot(e->env, &v);
		view = view_new(v, rc, e->serial);
	}
	rfs_env_put(e);
	return view ? &view->s : NULL;
}

struct rfs_view *rfs_view_get(struct regionfs *fs, int fresh)
{
	return (struct rfs_view *)cache_get(fs, &fs->views, fresh);
}

/* ---- full snapshots for rendering ---------------------------------------- */

/*
 * Run FN on the environment handle.  As in view_take, only a fresh open
 * can tell a home made anew or a private owner replaced: a private handle
 * is re-opened first, and a failing call is retried once on a re-opened
 * handle.
 */
static int on_env(struct regionfs *fs, int (*fn)(rgn_env *env, void *arg),
		  void *arg)
{
	struct rfs_env *e = rfs_env_get(fs);
	int rc;

	if (env_private(e))
		e = env_reopen(fs, e);
	rc = fn(e->env, arg);
	if (rc < 0) {
		struct rfs_env *n = env_reopen(fs, e);

		if (n != e)
			rc = fn(n->env, arg);
		e = n;
	}
	rfs_env_put(e);
	return rc;
}

static int stat_env_fn(rgn_env *env, void *arg)
{
	return rgn_stat_env(env, arg);
}

int rfs_stat_env(struct regionfs *fs, struct rgn_env_stat **stp)
{
	return on_env(fs, stat_env_fn, stp);
}

struct stat_region_arg {
	uint32_t id;
	struct rgn_env_stat **stp;
};

static int stat_region_fn(rgn_env *env, void *arg)
{
	struct stat_region_arg *a = arg;

	return rgn_stat_region(env, a->id, a->stp);
}

int rfs_stat_region(struct regionfs *fs, uint32_t id, struct rgn_env_stat **stp)
{
	struct stat_region_arg a = {id, stp};

	return on_env(fs, stat_region_fn, &a);
}

/* ---- the segment index --------------------------------------------------- */

static void segs_free(struct rfs_snap *s)
{
	free(s);
}

static struct rfs_segs *segs_from_scan(const struct rgn_leak_scan *scan,
				       int err)
{
	size_t n = scan ? scan->nsegs : 0;
	struct rfs_segs *s = calloc(1, sizeof(*s) + n * sizeof(s->seg[0]));

	if (!s)
		return NULL;
	snap_init(&s->s, err, segs_free);
	if (!scan)
		return s;
	s->time = scan->time;
	for (size_t i = 0; i < n; i++) {
		const struct rgn_leak *r = &scan->segs[i];
		struct rfs_seg *g = &s->seg[s->n++];
		int64_t t = r->ctime;

		if (r->atime > t)
			t = r->atime;
		if (r->dtime > t)
			t = r->dtime;
		g->shmid = r->shmid;
		g->key = r->key;
		g->ctime = r->ctime;
		g->mtime = t;
		g->size = r->size;
		g->uid = r->uid;
		g->gid = r->gid;
		g->cuid = r->cuid;
		g->cgid = r->cgid;
		g->mode = r->mode;
		g->cls = (uint8_t)r->cls;
		g->leaked = (uint8_t)rgn_leak_is_leaked(r);
		g->blind = (uint8_t)rgn_leak_needs_header(r);
	}
	return s;
}

void rfs_segs_put(struct rfs_segs *segs)
{
	rfs_snap_put(segs ? &segs->s : NULL);
}

/* Scan and publish the index; called with segs.refresh held.  The scan
 * goes to *SCANP when asked for, else is freed at once.  The digest is
 * taken first: a change made during the scan then shows as a change. */
static int scan_locked(struct regionfs *fs, struct rgn_leak_scan **scanp,
		       struct rfs_segs **segsp)
{
	struct rgn_leak_scan *scan = NULL;
	struct rfs_segs *s;
	uint64_t digest = 0;
	int have, rc;

	have = rgn_fsview_segments_digest(&digest) == 0;
	rc = rgn_leak_scan(0, &scan);
	s = segs_from_scan(scan, rc);
	if (s) {
		s->digest = digest;
		s->has_digest = have;
		cache_publish(fs, &fs->segs, &s->s, rfs_now_ns());
	}
	if (segsp)
		*segsp = s;
	else
		rfs_segs_put(s);
	if (scanp)
		*scanp = scan;
	else
		rgn_leak_free(scan);
	return rc;
}

/*
 * Only the very first index is ever waited for (see cache_get): scans
 * never enter a FUSE file system (see rgn_leak_scan), so that wait ends.
 *
 * A fresh index (an opendir of sysv/ or leaked/) is a whole scan, 20 ms
 * at 4000 segments, and one `find` opens both.  So CUR is kept when the
 * kernel's index is exactly as it was before CUR's scan (one SHM_STAT
 * walk, no attach): every segment made, removed, attached or detached
 * since shows at once.  What the kernel cannot see changes a class too
 * (a creator's exit, a home removed), so CUR is kept for RFS_CACHE_NS at
 * most, as attributes are.
 */
static struct rfs_snap *segs_take(struct regionfs *fs, struct rfs_snap *cs)
{
	struct rfs_segs *cur = (struct rfs_segs *)cs;
	struct rfs_segs *s = NULL;
	uint64_t digest;

	if (cur && !cur->s.err && cur->has_digest &&
	    rfs_now_ns() - cur->s.taken_ns < RFS_CACHE_NS &&
	    rgn_fsview_segments_digest(&digest) == 0 && digest == cur->digest) {
		ref(&cur->s.refs);
		return &cur->s;
	}
	scan_locked(fs, NULL, &s);
	return s ? &s->s : NULL;
}

struct rfs_segs *rfs_segs_get(struct regionfs *fs, int fresh)
{
	return (struct rfs_segs *)cache_get(fs, &fs->segs, fresh);
}

const struct rfs_seg *rfs_segs_find(const struct rfs_segs *segs, int32_t shmid)
{
	size_t lo = 0, hi = segs ? segs->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (segs->seg[mid].shmid == shmid)
			return &segs->seg[mid];
		if (segs->seg[mid].shmid < shmid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void rfs_segs_invalidate(struct regionfs *fs)
{
	pthread_mutex_lock(&fs->lock);
	fs->segs.ns = INT64_MIN / 2;
	pthread_mutex_unlock(&fs->lock);
}

int rfs_scan(struct regionfs *fs, struct rgn_leak_scan **scanp)
{
	int rc;

	pthread_mutex_lock(&fs->segs.refresh);
	rc = scan_locked(fs, scanp, NULL);
	if (rc < 0)
		pthread_mutex_unlock(&fs->segs.refresh);
	return rc;
}

void rfs_scan_release(struct regionfs *fs, struct rgn_leak_scan *scan)
{
	rgn_leak_free(scan);
	/* The scan's records came from mmap (see rfs_init): freeing them
	 * returned the memory, so the next scan starts from zero again. */
	pthread_mutex_unlock(&fs->segs.refresh);
}

/* ---- a request's snapshots ----------------------------------------------- */

/* Taken at most once per request, when first needed, so that every answer
 * of one request agrees with the others. */
const struct rgn_fsview *rfs_ctx_view(struct rfs_ctx *c)
{
	if (!c->view)
		c->view = rfs_view_get(c->fs, c->fresh_view);
	return c->view->v;
}

const struct rfs_segs *rfs_ctx_segs(struct rfs_ctx *c)
{
	if (!c->segs)
		c->segs = rfs_segs_get(c->fs, c->fresh_segs);
	return c->segs;
}

void rfs_ctx_drop(struct rfs_ctx *c)
{
	rfs_view_put(c->view);
	rfs_segs_put(c->segs);
	c->view = NULL;
	c->segs = NULL;
}

void rfs_ctx_done(struct rfs_ctx *c)
{
	rfs_ctx_drop(c);
	free(c->groups);
	c->groups = NULL;
	c->ngroups = 0;
	c->groups_read = 0;
}

int rfs_is_private(struct rfs_ctx *c)
{
	const struct rgn_fsview *v = rfs_ctx_view(c);

	return v && v->backing == RGN_BACKING_PRIVATE;
}

/* ---- life cycle ---------------------------------------------------------- */

/* What a cache answers when even an error record cannot be allocated:
 * static, never freed (a huge count and no free function). */
static struct rfs_view view_oom = {.s = {.refs = 1u << 30, .err = -ENOMEM}};
static struct rfs_segs segs_oom = {.s = {.refs = 1u << 30, .err = -ENOMEM}};

int rfs_init(struct regionfs *fs, rgn_env *env, const char *bdb_home)
{
	const char *home = env ? rgn_env_home(env) : bdb_home;
	char real[PATH_MAX];

	memset(fs, 0, sizeof(*fs));
	/* Resolved once: a home removed and made again at the same path is
	 * found again, whatever the daemon's working directory.  Canonical,
	 * so that re-opening it can refuse every symbolic link (home_open);
	 * resolved before the mount exists. */
	fs->home = strdup(realpath(home, real) ? real : home);
	fs->uid = geteuid();
	fs->gid = getegid();
	fs->start = time(NULL);
	fs->bdb = env == NULL;
	fs->env = env ? env_wrap(fs, env) : NULL;
	if (!fs->home || (env && !fs->env)) {
		free(fs->home);
		free(fs->env);
		return -ENOMEM;
	}
	pthread_mutex_init(&fs->lock, NULL);
	rfs_passthrough_init(fs);
	cache_init(&fs->views, view_take, &view_oom.s);
	cache_init(&fs->segs, segs_take, &segs_oom.s);
	/*
	 * Large, short-lived buffers (a leak scan, a snapshot of the
	 * primary, a rendering of 1000 regions) must go back to the kernel
	 * when freed.  glibc raises its mmap threshold after the first such
	 * free and would then keep them on the heap; a fixed threshold
	 * stops that, and two arenas are plenty for a handful of threads.
	 */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_ARENA_MAX, 2);
	return 0;
}

void rfs_fini(struct regionfs *fs)
{
	rfs_passthrough_fini(fs);
	cache_fini(&fs->views);
	cache_fini(&fs->segs);
	rfs_env_put(fs->env);
	fs->env = NULL;
	pthread_mutex_destroy(&fs->lock);
	free(fs->home);
	fs->home = NULL;
}
