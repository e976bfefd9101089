/*
 * stat.c - one snapshot of an environment for regionctl and regionfs.
 *
 * The primary (table, registry, counters) is copied in one piece, under
 * ev_mutex when we are attached, so the snapshot is consistent with itself.
 * Region headers are then read with pread, never through a mapping: an
 * observer must survive a region file truncated under it.  Allocator and
 * mutex figures are read without their lock and may be a moment old.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>

#include "env.h"
#include "internal.h"
#include "proc.h"

/* The public arrays must hold what the core keeps. */
_Static_assert(RGN_STAT_HOME_MAX >= RGN_HOME_MAX,
	       "rgn_env_stat.home must hold any home path");
_Static_assert(RGN_STAT_FILE_MAX >= RGN_FILE_NAME_MAX,
	       "rgn_region_stat.file must hold any region file name");

/*
 * The first bytes of a region, read in one call: its header, the heap's
 * list heads after it and, in a region not yet fragmented, the free chunk
 * that starts the arena.  rgn_heap_stat's reads are then served from
 * here, and a region costs one read instead of three (at 1000 regions
 * that was most of a `stat`).  Reads past the window go to the storage.
 * How far the arena starts is known only from a header, so each region
 * sizes the window of the next (regions of one environment share their
 * layout); the first one reads STAT_WINDOW_MIN and may need a pread more.
 */
#define STAT_WINDOW_MIN 8192
#define STAT_WINDOW_MAX 65536
_Static_assert(STAT_WINDOW_MIN >= sizeof(struct rgn_shm_region),
	       "the window must hold a region header");

struct stat_window {
	struct rgn_reader rd; /* the region's storage, open */
	uint8_t *buf;	      /* its first LEN bytes, as read last */
	size_t cap;	      /* bytes asked for, allocated at buf */
	size_t len;
};

/* Read the window again; 0, RGN_ECORRUPT if it cannot hold a header (a
 * file truncated under us), or a negative code. */
static int window_fill(struct stat_window *w)
{
	ssize_t n = w->rd.ops->read_at(&w->rd, w->buf, w->cap, 0);

	if (n < 0)
		return (int)n;
	w->len = (size_t)n;
	return w->len < sizeof(struct rgn_shm_region) ? RGN_ECORRUPT : 0;
}

static int read_region(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct stat_window *w = ctx;
	ssize_t n;

	if (off <= w->len && len <= w->len - off) {
		memcpy(buf, w->buf + off, len);
		return 0;
	}
	n = w->rd.ops->read_at(&w->rd, buf, len, off);
	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EIO;
}

/* Fill RS from slot SL, and from the region's own header when it can be
 * read: one open of the storage serves every read of this region.  BUF
 * holds STAT_WINDOW_MAX bytes (NULL: out of memory); *WINDOW bytes of the
 * region are read into it, and *WINDOW becomes what this region's layout
 * says the next one will need. */
static void fill_region(struct rgn_env *env, const struct rgn_shm_slot *sl,
			const struct rgn_shm_env *ev,
			struct rgn_region_stat *rs, uint8_t *buf,
			size_t *window)
{
	struct stat_window w = {
		.rd = {.ops = env->ops, .env = env, .id = sl->sl_id, .fd = -1}};
	struct rgn_shm_region rh;
	int n;

	rs->id = sl->sl_id;
	rs->type = (enum rgn_region_type)sl->sl_type;
	memcpy(rs->name, sl->sl_name, sizeof(rs->name));
	rs->name[RGN_NAME_MAX] = '\0';
	rgn_region_file(sl->sl_id, rs->file, sizeof(rs->file));
	rs->size = sl->sl_size;
	rs->max = sl->sl_max;
	rs->shmid = sl->sl_shmid;
	rs->key = sl->sl_key;
	rs->flags = sl->sl_flags;
	rs->ctime = sl->sl_ctime;
	rs->mtime = sl->sl_mtime;
	rs->creator_pid = sl->sl_creator_pid;
	if (sl->sl_id == 1) {
		/* The primary has no allocator; its mutex is ev_mutex. */
		rgn_mutex_stat(&ev->ev_mutex, &rs->mutex);
		return;
	}
	w.cap = *window;
	w.buf = buf;
	if (!w.buf) {
		rs->detail = -ENOMEM;
		return;
	}
	n = env->ops->read_open(env, sl, &w.rd);
	/* A mapped region (segment, heap) is read by copying, with no call
	 * to save: only the header, as a copy of the arena's pages beyond
	 * would allocate them in a region nobody allocated from yet. */
	if (n == 0 && w.rd.base)
		w.cap = STAT_WINDOW_MIN;
	if (n == 0)
		n = window_fill(&w);
	if (n == 0) {
		/* A copy: the header is checked, then trusted, and must not
		 * change under the check as the window is read again. */
		memcpy(&rh, w.buf, sizeof(rh));
		n = rgn_check_region_hdr(&rh, env->env_id, sl->sl_id, 0);
	}
	if (n >= 0) {
		/* The arena's first chunk header, rounded to a cache line,
		 * sizes the next region's window.  An untouched heap leaves
		 * it as it is: the next region may be allocated from, and a
		 * file's bytes cost nothing to read (mapped regions read only
		 * their header, above). */
		uint64_t want = (rh.rh_heap.hp_first + 16 + 63) & ~(uint64_t)63;

		if (!rh.rh_heap.hp_untouched && want > STAT_WINDOW_MIN &&
		    want <= STAT_WINDOW_MAX)
			*window = (size_t)want;
		rgn_mutex_stat(&rh.rh_mutex, &rs->mutex);
		n = rgn_heap_stat(&rh.rh_heap, read_region, &w, &rs->alloc);
		/* Read without the lock, the header may be older than the
		 * arena behind it: take a fresh header and try again. */
		for (int tries = 0; n == -EAGAIN && tries < 8; tries++) {
			if (window_fill(&w) < 0)
				break;
			memcpy(&rh, w.buf, sizeof(rh));
			n = rgn_heap_stat(&rh.rh_heap, read_region, &w,
					  &rs->alloc);
		}
	}
	env->ops->read_close(&w.rd);
	rs->detail = n < 0 ? n : 0;
}

/* The snapshot behind rgn_stat_env (ONLY == 0: every region) and
 * rgn_stat_region (only region ONLY, -ENOENT if it is not there). */
static int snapshot(rgn_env *env, uint32_t only, struct rgn_env_stat **stp)
{
	struct rgn_env_stat *st;
	const struct rgn_shm_region *rh;
	const struct rgn_shm_env *ev;
	const struct rgn_shm_slot *slots;
	struct rgn_shm_proc *procs;
	uint8_t *snap = NULL, *live, *window_buf;
	size_t n, window = STAT_WINDOW_MIN;
	int rc;

	rgn_clear_detail();
	if (!env || !stp)
		return -EINVAL;
	*stp = NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	memcpy(st->home, env->home, sizeof(st->home));
	st->backing = env->backing;
	if (env->backing == RGN_BACKING_PRIVATE && !env->shenv) {
		/* Somebody else's heap: all we can know is whose. */
		st->private_owner = env->private_owner;
		*stp = st;
		return 0;
	}
	rc = rgn_primary_snapshot(env, &snap);
	if (rc < 0) {
		free(st);
		return rc;
	}
	rh = (const void *)snap;
	ev = (const void *)(snap + RGN_ENV_OFF);
	slots = (const void *)(snap + RGN_TABLE_OFF);
	procs = (void *)(snap + RGN_PROCS_OFF);

	st->magic = ev->ev_magic;
	st->format = ev->ev_format;
	st->flags = ev->ev_flags;
	st->shm_key = ev->ev_shm_key;
	st->mode = ev->ev_mode;
	st->env_id = ev->ev_env_id;
	st->ctime = ev->ev_ctime;
	st->mtime = ev->ev_mtime;
	st->panic = ev->ev_panic;
	st->generation = ev->ev_generation;
	st->primary_size = rh->rh_size;
	if (env->backing == RGN_BACKING_PRIVATE)
		st->private_owner = rgn_self_pid();
	rgn_mutex_stat(&ev->ev_mutex, &st->mutex);
	/* Each process is judged once: counts and list always agree. */
	live = calloc(rgn_proc_hwm(ev) + 1, 1);
	if (live)
		rgn_registry_scan(procs, rgn_proc_hwm(ev), 0, &st->live,
				  &st->stale, live);
	st->procs = calloc(st->live + st->stale + 1, sizeof(*st->procs));
	for (uint32_t i = 0; live && st->procs && i < rgn_proc_hwm(ev); i++) {
		const struct rgn_shm_proc *p = &procs[i];
		struct rgn_proc_stat *ps;

		if (!p->pr_pid || st->nprocs == st->live + st->stale)
			continue;
		ps = &st->procs[st->nprocs++];
		ps->pid = p->pr_pid;
		ps->start = p->pr_start;
		ps->attach_time = p->pr_attach_time;
		ps->live = live[i];
	}
	if (!live) {
		free(snap);
		rgn_stat_free(st);
		return -ENOMEM;
	}
	free(live);

	n = 0;
	for (uint32_t i = 0; i < rgn_slot_hwm(ev); i++)
		n += rgn_slot_listed(slots, i) && (!only || i + 1 == only);
	if (only && !n) {
		free(snap);
		rgn_stat_free(st);
		return rgn_fail(-ENOENT, "no region %u in %s", only, env->home);
	}
	st->regions = calloc(n + 1, sizeof(*st->regions));
	if (!st->procs || !st->regions) {
		free(snap);
		rgn_stat_free(st);
		return -ENOMEM;
	}
	/* One window serves every region in turn; without it each region
	 * says ENOMEM in its detail, as a failed read would. */
	window_buf = malloc(STAT_WINDOW_MAX);
	for (uint32_t i = 0; i < rgn_slot_hwm(ev); i++) {
		if (!rgn_slot_listed(slots, i) || st->nregions == n ||
		    (only && i + 1 != only))
			continue;
		fill_region(env, &slots[i], ev, &st->regions[st->nregions++],
			    window_buf, &window);
	}
	free(window_buf);
	free(snap);
	*stp = st;
	return 0;
}

int rgn_stat_env(rgn_env *env, struct rgn_env_stat **stp)
{
	return snapshot(env, 0, stp);
}

int rgn_stat_region(rgn_env *env, uint32_t id, struct rgn_env_stat **stp)
{
	if (id == 0) {
		if (stp)
			*stp = NULL;
		return rgn_fail(-ENOENT, "no region 0");
	}
	return snapshot(env, id, stp);
}

void rgn_stat_free(struct rgn_env_stat *st)
{
	if (!st)
		return;
	free(st->regions);
	free(st->procs);
	free(st);
}
