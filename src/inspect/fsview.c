/*
 * fsview.c - light snapshots and long-lived readers for the regionfs mount
 * (see fsview.h for why they exist beside rgn_stat_env and
 * rgn_region_pread).
 *
 * Trade-off: a reader keeps the region file open from open() to release(),
 * so a region removed meanwhile is still read from its unlinked inode until
 * the reader closes; that is the ordinary Unix meaning of an open file.  A
 * segment, in contrast, is re-identified before every attach, because a
 * segment id can be recycled for somebody else's memory.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "env.h"
#include "fsview.h"
#include "internal.h"
#include "mutex.h"

/* Bytes of the primary that hold the region and environment headers. */
#define ENV_HEAD_BYTES (RGN_ENV_OFF + sizeof(struct rgn_shm_env))

static int stored_in_segment(const struct rgn_env *env)
{
	return env->ops->in_segments;
}

/* The home directory's owner and permissions, when they can be read. */
static void home_owner(const struct rgn_env *env, struct rgn_fsview *v)
{
	struct stat st;

	if (fstat(env->dirfd, &st) == 0) {
		v->home_uid = st.st_uid;
		v->home_gid = st.st_gid;
		v->home_mode = st.st_mode & 0777;
	}
}

/* Owner and permissions of a region's file or segment; the environment's
 * when unknown. */
static void region_owner(struct rgn_env *env, const struct rgn_shm_slot *sl,
			 const struct rgn_fsview *v,
			 struct rgn_fsview_region *rg)
{
	char name[RGN_FILE_NAME_MAX];
	struct shmid_ds ds;
	struct stat st;

	rg->uid = v->uid;
	rg->gid = v->gid;
	rg->mode = v->mode;
	if (stored_in_segment(env)) {
		if (shmctl(sl->sl_shmid, IPC_STAT, &ds) == 0) {
			rg->uid = ds.shm_perm.uid;
			rg->gid = ds.shm_perm.gid;
			rg->mode = ds.shm_perm.mode & 0777;
		}
		return;
	}
	rgn_region_file(sl->sl_id, name, sizeof(name));
	if (fstatat(env->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		rg->uid = st.st_uid;
		rg->gid = st.st_gid;
		rg->mode = st.st_mode & 0777;
	}
}

int rgn_fsview_snapshot(rgn_env *env, struct rgn_fsview **vp)
{
	const struct rgn_shm_env *ev;
	const struct rgn_shm_slot *slots;
	struct rgn_fsview *v;
	struct stat st;
	uint8_t *snap = NULL;
	size_t n = 0;
	int rc;

	rgn_clear_detail();
	if (!env || !vp)
		return -EINVAL;
	*vp = NULL;
	if (env->backing == RGN_BACKING_PRIVATE && !env->shenv) {
		/* Somebody else's heap: only whose it is can be known. */
		v = calloc(1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		v->backing = RGN_BACKING_PRIVATE;
		v->private_owner = env->private_owner;
		v->mode = 0;
		if (fstat(env->dirfd, &st) == 0) {
			v->uid = st.st_uid;
			v->gid = st.st_gid;
			v->mtime = v->ctime = st.st_mtime;
		}
		home_owner(env, v);
		/* What the owner's lock file says is for whoever may read
		 * the home. */
		v->primary_mode = v->home_mode & 0444;
		*vp = v;
		return 0;
	}
	rc = rgn_primary_snapshot(env, &snap);
	if (rc < 0)
		return rc;
	ev = (const void *)(snap + RGN_ENV_OFF);
	slots = (const void *)(snap + RGN_TABLE_OFF);
	for (uint32_t i = 0; i < rgn_slot_hwm(ev); i++)
		n += slots[i].sl_state == RGN_SLOT_READY;
	v = calloc(1, sizeof(*v) + n * sizeof(v->regions[0]));
	if (!v) {
		free(snap);
		return -ENOMEM;
	}
	v->generation = ev->ev_generation;
	v->backing = (enum rgn_backing)ev->ev_backing;
	v->mode = ev->ev_mode & 0777;
	v->ctime = ev->ev_ctime;
	v->mtime = ev->ev_mtime;
	home_owner(env, v);
	v->uid = v->home_uid;
	v->gid = v->home_gid;
	if (fstatat(env->dirfd, RGN_PRIMARY_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		v->uid = st.st_uid;
		v->gid = st.st_gid;
		v->primary_mode = st.st_mode & 0777;
	}
	for (uint32_t i = 0; i < rgn_slot_hwm(ev) && v->nregions < n; i++) {
		const struct rgn_shm_slot *sl = &slots[i];
		struct rgn_fsview_region *rg;

		if (sl->sl_state != RGN_SLOT_READY)
			continue;
		rg = &v->regions[v->nregions++];
		rg->id = sl->sl_id;
		rg->type = sl->sl_type;
		rg->flags = sl->sl_flags;
		rg->shmid = stored_in_segment(env) ? sl->sl_shmid : -1;
		rg->key = sl->sl_key;
		rg->size = sl->sl_size;
		rg->ctime = sl->sl_ctime;
		rg->mtime = sl->sl_mtime;
		memcpy(rg->name, sl->sl_name, sizeof(rg->name));
		rg->name[RGN_NAME_MAX] = '\0';
		region_owner(env, sl, v, rg);
		/* Reading the state means reading the primary segment too. */
		if (rg->id == 1 && stored_in_segment(env))
			v->primary_mode &= rg->mode;
	}
	free(snap);
	*vp = v;
	return 0;
}

void rgn_fsview_free(struct rgn_fsview *v)
{
	free(v);
}

void rgn_fsview_region_name(uint32_t id, char *buf, size_t len)
{
	rgn_region_file(id, buf, len);
}

const struct rgn_fsview_region *rgn_fsview_find(const struct rgn_fsview *v,
						uint32_t id)
{
	size_t lo = 0, hi;

	if (!v)
		return NULL;
	hi = v->nregions;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->regions[mid].id == id)
			return &v->regions[mid];
		if (v->regions[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int rgn_fsview_generation(rgn_env *env, uint64_t *gen)
{
	const struct rgn_shm_region *rh;
	const struct rgn_shm_env *ev;
	uint8_t *buf;
	ssize_t n;
	int rc;

	rgn_clear_detail();
	if (!env || !gen)
		return -EINVAL;
	*gen = 0;
	if (env->backing == RGN_BACKING_PRIVATE && !env->shenv)
		return 0;
	buf = malloc(ENV_HEAD_BYTES);
	if (!buf)
		return -ENOMEM;
	n = rgn_backing_pread(env, &env->primary_slot, buf, ENV_HEAD_BYTES, 0);
	if (n >= 0 && (size_t)n < ENV_HEAD_BYTES)
		n = rgn_fail(RGN_ECORRUPT, "primary region is truncated");
	rc = n < 0 ? (int)n : rgn_check_primary(buf, ENV_HEAD_BYTES);
	rh = (const void *)buf;
	ev = (const void *)(buf + RGN_ENV_OFF);
	if (rc == 0 && rh->rh_env_id != env->env_id)
		rc = rgn_fail(RGN_ECORRUPT,
			      "%s now holds another environment", env->home);
	if (rc == 0)
		*gen = ev->ev_generation;
	free(buf);
	return rc;
}

/* The table slot of region ID, copied from a fresh snapshot. */
static int find_ready_slot(struct rgn_env *env, uint32_t id,
			   struct rgn_shm_slot *out)
{
	const struct rgn_shm_slot *sl;
	uint8_t *snap = NULL;
	int rc;

	if (env->backing == RGN_BACKING_PRIVATE && !env->shenv)
		return rgn_fail(RGN_EPRIVATE,
				"%s is a private environment of pid %d",
				env->home, (int)env->private_owner);
	if (id < 1 || id > RGN_MAX_REGIONS)
		return rgn_fail(-ENOENT, "no region %u in %s", id, env->home);
	rc = rgn_primary_snapshot(env, &snap);
	if (rc < 0)
		return rc;
	sl = (const void *)(snap + RGN_TABLE_OFF);
	sl += id - 1;
	if (sl->sl_state == RGN_SLOT_READY && sl->sl_id == id)
		*out = *sl;
	else
		rc = rgn_fail(-ENOENT, "no region %u in %s", id, env->home);
	free(snap);
	return rc;
}

static int open_segment(struct rgn_env *env, const struct rgn_shm_slot *sl,
			struct rgn_fsview_reader *r)
{
	struct shmid_ds ds;
	void *p;
	int rc;

	if (shmctl(sl->sl_shmid, IPC_STAT, &ds) < 0)
		return rgn_fail(errno == EACCES ? -EACCES : -ENOENT,
				"segment shmid %d of region %u: %s",
				sl->sl_shmid, sl->sl_id, strerror(errno));
	if ((sl->sl_key != IPC_PRIVATE && ds.shm_perm.__key != sl->sl_key) ||
	    (ds.shm_perm.mode & SHM_DEST))
		return rgn_fail(-ENOENT,
				"segment shmid %d is no longer region %u's",
				sl->sl_shmid, sl->sl_id);
	if (ds.shm_segsz < sl->sl_size)
		return rgn_fail(RGN_ECORRUPT,
				"segment shmid %d holds %zu bytes, region %u "
				"has %llu",
				sl->sl_shmid, ds.shm_segsz, sl->sl_id,
				(unsigned long long)sl->sl_size);
	p = shmat(sl->sl_shmid, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		return rgn_fail(errno == EACCES ? -EACCES : -ENOENT,
				"attach shmid %d: %s", sl->sl_shmid,
				strerror(errno));
	rc = rgn_check_region_hdr(p, env->env_id, sl->sl_id, sl->sl_size);
	shmdt(p);
	if (rc < 0)
		return rc;
	r->shmid = sl->sl_shmid;
	r->key = sl->sl_key;
	r->seg_ctime = ds.shm_ctime;
	return 0;
}

static int open_file(struct rgn_env *env, const struct rgn_shm_slot *sl,
		     struct rgn_fsview_reader *r)
{
	char name[RGN_FILE_NAME_MAX];
	struct rgn_shm_region *rh;
	struct stat st;
	ssize_t n;
	int fd, rc;

	rgn_region_file(sl->sl_id, name, sizeof(name));
	fd = openat(env->dirfd, name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return rgn_fail(-errno, "open %s/%s", env->home, name);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rgn_fail(RGN_EBADMAGIC, "%s/%s is not a regular file",
				env->home, name);
	}
	rh = malloc(sizeof(*rh));
	if (!rh) {
		close(fd);
		return -ENOMEM;
	}
	n = pread(fd, rh, sizeof(*rh), 0);
	if (n < 0)
		rc = rgn_fail(-errno, "read %s/%s", env->home, name);
	else if ((size_t)n < sizeof(*rh))
		rc = rgn_fail(-EIO, "%s/%s is truncated to %lld bytes",
			      env->home, name, (long long)st.st_size);
	else
		rc = rgn_check_region_hdr(rh, env->env_id, sl->sl_id,
					  sl->sl_size);
	free(rh);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	r->fd = fd;
	return 0;
}

int rgn_fsview_reader_open(rgn_env *env, uint32_t id,
			   struct rgn_fsview_reader *r)
{
	struct rgn_shm_slot sl;
	int rc;

	rgn_clear_detail();
	if (!env || !r)
		return -EINVAL;
	memset(&sl, 0, sizeof(sl));
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->shmid = -1;
	rc = find_ready_slot(env, id, &sl);
	if (rc < 0)
		return rc;
	r->id = id;
	r->size = sl.sl_size;
	return stored_in_segment(env) ? open_segment(env, &sl, r)
				      : open_file(env, &sl, r);
}

void rgn_fsview_reader_close(struct rgn_fsview_reader *r)
{
	if (r && r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
}

int rgn_fsview_segment_attach(const struct rgn_fsview_reader *r,
			      const void **base, uint64_t *segsz)
{
	struct shmid_ds ds;
	void *p;

	rgn_clear_detail();
	if (!r || !base || !segsz || r->shmid < 0)
		return -EINVAL;
	if (shmctl(r->shmid, IPC_STAT, &ds) < 0)
		return rgn_fail(errno == EACCES ? -EACCES : -ENOENT,
				"segment shmid %d: %s", r->shmid,
				strerror(errno));
	/* IPC_RMID turns the key private and sets SHM_DEST; a recycled id
	 * has another creation time. */
	if (ds.shm_perm.__key != r->key || (int64_t)ds.shm_ctime != r->seg_ctime ||
	    (ds.shm_perm.mode & SHM_DEST))
		return rgn_fail(-ENOENT, "segment shmid %d of region %u was "
					 "removed",
				r->shmid, r->id);
	p = shmat(r->shmid, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		return rgn_fail(errno == EACCES ? -EACCES : -ENOENT,
				"attach shmid %d: %s", r->shmid,
				strerror(errno));
	*base = p;
	*segsz = ds.shm_segsz;
	return 0;
}

ssize_t rgn_fsview_file_avail(const struct rgn_fsview_reader *r, size_t len,
			      uint64_t off)
{
	struct stat st;

	if (!r || r->fd < 0)
		return -EINVAL;
	if (fstat(r->fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size <= off)
		return 0;
	if ((uint64_t)st.st_size - off < len)
		return (ssize_t)((uint64_t)st.st_size - off);
	return (ssize_t)len;
}
