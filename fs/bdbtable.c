/*
 * bdbtable.c - a Berkeley DB home as the daemon's state sees it: whether
 * HOME is one at all, and its region table published as an ordinary
 * struct rgn_fsview, so that names, attributes, listings, permissions and
 * xattrs work as for one of our own homes.  state.c takes the table from
 * here in place of the core's; what the files of such a home show and
 * read is in bdbview.c, a layer higher.
 *
 * Trade-off: Berkeley DB keeps no generation counter we could probe, so a
 * cached table is re-used only while __db.001 keeps its identity, size and
 * times, and for at most RFS_CACHE_NS; growth inside a segment (which
 * changes no file) therefore shows within a second, as everything else
 * in the mount does.  A home that stops being a Berkeley DB home (removed,
 * or emptied by DB_ENV->remove) is an empty view, never an error loop, and
 * the next look finds a new environment made there.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "regionfs.h"

/* ---- recognising the home ------------------------------------------------ */

/* Is our own lock file there?  Then an empty __db.001 is not proof of
 * Berkeley DB, and the core's own open decides. */
static int has_our_lock(const char *home)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/__db.lck", home);
	return lstat(path, &st) == 0;
}

int rfs_bdb_probe(const char *home)
{
	struct rgn_bdb *b = NULL;
	int rc = rgn_bdb_open_flags(home, RGN_BDB_OPEN_NOPROCS, &b);

	if (rc == RGN_BDB_NOT_BDB)
		return 0;
	if (rc < 0)
		return rc;
	rc = !(b->form == RGN_BDB_FORM_EMPTY && has_our_lock(home));
	rgn_bdb_close(b);
	return rc;
}

/* ---- the table, as a view ------------------------------------------------ */

/* What says "__db.001 changed": its identity, size and times, mixed into
 * the view's generation (0: no __db.001). */
static uint64_t change_signal(const char *home)
{
	char path[4200];
	struct stat st;
	uint64_t h = 1469598103934665603ull;
	uint64_t parts[7];

	snprintf(path, sizeof(path), "%s/__db.001", home);
	if (lstat(path, &st) < 0)
		return 0;
	parts[0] = (uint64_t)st.st_dev;
	parts[1] = (uint64_t)st.st_ino;
	parts[2] = (uint64_t)st.st_size;
	parts[3] = (uint64_t)st.st_mtim.tv_sec;
	parts[4] = (uint64_t)st.st_mtim.tv_nsec;
	parts[5] = (uint64_t)st.st_ctim.tv_sec;
	parts[6] = (uint64_t)st.st_ctim.tv_nsec;
	for (size_t i = 0; i < 7; i++)
		h = (h ^ parts[i]) * 1099511628211ull;
	return h ? h : 1;
}

static int by_id(const void *a, const void *b)
{
	const struct rgn_fsview_region *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* A region's owner, mode and time: its file's, or its segment's. */
static void region_owner(const struct rgn_bdb *b,
			 const struct rgn_bdb_region *rg,
			 struct rgn_fsview_region *r)
{
	struct rgn_fsview_segment seg;
	struct stat st;

	if (b->sysmem) {
		if (rgn_fsview_segment_stat(r->shmid, &seg) == 0) {
			r->uid = seg.uid;
			r->gid = seg.gid;
			r->mode = seg.mode & 0777;
		}
		r->mtime = rg->shm_ctime;
		return;
	}
	if (fstatat(b->dirfd, rg->file, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		r->uid = st.st_uid;
		r->gid = st.st_gid;
		r->mode = st.st_mode & 0777;
		r->mtime = st.st_mtime;
	}
}

/* The view of snapshot B: only regions whose file or segment is there. */
static struct rgn_fsview *view_of(const struct rgn_bdb *b, uint64_t signal)
{
	struct rgn_fsview *v;
	struct stat st;
	size_t n = 0;

	for (uint32_t i = 0; i < b->nregions; i++)
		n += b->regions[i].present != 0;
	v = calloc(1, sizeof(*v) + n * sizeof(v->regions[0]));
	if (!v)
		return NULL;
	v->generation = signal;
	v->backing = b->sysmem ? RGN_BACKING_SYSV : RGN_BACKING_FILES;
	if (fstat(b->dirfd, &st) == 0) {
		v->home_uid = st.st_uid;
		v->home_gid = st.st_gid;
		v->home_mode = st.st_mode & 0777;
	}
	v->uid = v->home_uid;
	v->gid = v->home_gid;
	if (fstatat(b->dirfd, "__db.001", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		v->uid = st.st_uid;
		v->gid = st.st_gid;
		v->mode = st.st_mode & 0777;
		v->primary_mode = v->mode;
		v->mtime = v->ctime = st.st_mtime;
	}
	if (b->have_env && b->env.decoded)
		v->ctime = b->env.ctime;
	for (uint32_t i = 0; i < b->nregions; i++) {
		const struct rgn_bdb_region *rg = &b->regions[i];
		struct rgn_fsview_region *r = &v->regions[v->nregions];
		const char *t = rgn_bdb_type_name(rg->slot.type);

		if (!rg->present)
			continue;
		v->nregions++;
		r->id = rg->slot.id;
		r->type = rg->slot.type;
		r->shmid = b->sysmem ? (int32_t)rg->slot.segid : -1;
		r->key = b->sysmem ? rg->key : 0;
		r->uid = v->uid;
		r->gid = v->gid;
		r->mode = v->mode;
		r->size = rg->bytes;
		r->ctime = v->ctime;
		region_owner(b, rg, r);
		/* Primary segment: who may read it also decides who may read
		 * the environment's state, as for our own. */
		if (b->sysmem && r->id == 1)
			v->primary_mode &= r->mode;
		for (size_t k = 0; t[k] && k < sizeof(r->name) - 1; k++)
			r->name[k] = (char)tolower((unsigned char)t[k]);
	}
	qsort(v->regions, v->nregions, sizeof(v->regions[0]), by_id);
	return v;
}

static void bdb_view_free(struct rfs_snap *s)
{
	struct rfs_view *view = (struct rfs_view *)s;

	rgn_fsview_free(view->v);
	free(view);
}

/* Called with views.refresh held (see view_take in state.c). */
struct rfs_snap *rfs_bdb_view_take(struct regionfs *fs, struct rfs_snap *cs)
{
	struct rfs_view *cur = (struct rfs_view *)cs, *view;
	uint64_t signal = change_signal(fs->home);
	struct rgn_bdb *b = NULL;
	struct stat st;
	int rc;

	if (signal && cur && cur->v && cur->v->generation == signal &&
	    rfs_now_ns() - cur->s.taken_ns < RFS_CACHE_NS) {
		__atomic_add_fetch(&cur->s.refs, 1, __ATOMIC_RELAXED);
		return &cur->s;
	}
	view = calloc(1, sizeof(*view));
	if (!view)
		return NULL;
	view->s.refs = 1;
	view->s.taken_ns = rfs_now_ns();
	view->s.free = bdb_view_free;
	/* fs->home is canonical: a home replaced by a symbolic link (perhaps
	 * into this very mount) is not the home we were started on. */
	if (lstat(fs->home, &st) < 0 || !S_ISDIR(st.st_mode))
		rc = -ENOENT;
	else
		rc = rgn_bdb_open_flags(fs->home, RGN_BDB_OPEN_NOPROCS, &b);
	if (rc == RGN_BDB_NOT_BDB)
		rc = -ENOENT; /* removed: an empty root, not an error */
	if (rc == 0) {
		view->v = view_of(b, signal);
		if (!view->v)
			rc = -ENOMEM;
	}
	rgn_bdb_close(b);
	view->s.err = rc;
	return &view->s;
}
