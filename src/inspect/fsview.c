/*
 * fsview.c - light snapshots and long-lived readers for the regionfs mount
 * (see fsview.h for why they exist beside rgn_stat_env and
 * rgn_region_pread).
 *
 * Readers go through the backing's read operations (backing.h), never
 * their own open or attach; segment identity goes through shmid.h.
 *
 * Trade-off: a reader keeps the region file open from open() to release(),
 * so a region removed meanwhile is still read from its unlinked inode until
 * the reader closes; that is the ordinary Unix meaning of an open file.  A
 * segment, in contrast, is re-identified by creation time on every read,
 * because a segment id can be recycled for somebody else's memory.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h> /* SHM_DEST only: every call goes through shmid.h */
#include <sys/stat.h>
#include <unistd.h>

#include "backing.h"
#include "env.h"
#include "fsview.h"
#include "internal.h"
#include "leaks.h"
#include "shmid.h"

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

	if (fstat(rgn_home_fd(env), &st) == 0) {
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
	struct rgn_shm_info in;
	struct stat st;

	rg->uid = v->uid;
	rg->gid = v->gid;
	rg->mode = v->mode;
	if (stored_in_segment(env)) {
		if (rgn_shm_stat(sl->sl_shmid, &in) == 0) {
			rg->uid = in.uid;
			rg->gid = in.gid;
			rg->mode = in.mode & 0777;
		}
		return;
	}
	rgn_region_file(sl->sl_id, name, sizeof(name));
	if (fstatat(rgn_home_fd(env), name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		rg->uid = st.st_uid;
		rg->gid = st.st_gid;
		rg->mode = st.st_mode & 0777;
		rg->file_ino = st.st_ino;
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
		if (fstat(rgn_home_fd(env), &st) == 0) {
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
		n += rgn_slot_listed(slots, i);
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
	/*
	 * The home's __db.001 says who may read the environment's state.  A
	 * home deleted under us takes it along even when the primary lives
	 * on in a segment: the environment is gone from its home, as a fresh
	 * open would find, rather than shown as state nobody may read.
	 */
	if (fstatat(rgn_home_fd(env), RGN_PRIMARY_FILE, &st,
		    AT_SYMLINK_NOFOLLOW) < 0) {
		rc = rgn_fail(-errno, "%s/%s: %s", env->home, RGN_PRIMARY_FILE,
			      strerror(errno));
		free(snap);
		free(v);
		return rc == -ENOENT || rc == -ENOTDIR ? -ENOENT : rc;
	}
	v->uid = st.st_uid;
	v->gid = st.st_gid;
	v->primary_mode = st.st_mode & 0777;
	for (uint32_t i = 0; i < rgn_slot_hwm(ev) && v->nregions < n; i++) {
		const struct rgn_shm_slot *sl = &slots[i];
		struct rgn_fsview_region *rg;

		if (!rgn_slot_listed(slots, i))
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
	n = rgn_backing_pread(env, &env->primary_slot, buf, ENV_HEAD_BYTES, 0,
			      0);
	if (n >= 0 && (size_t)n < ENV_HEAD_BYTES)
		n = rgn_fail(RGN_ECORRUPT, "primary region is truncated");
	rc = n < 0 ? (int)n : rgn_check_primary(buf, ENV_HEAD_BYTES);
	rh = (const void *)buf;
	ev = (const void *)(buf + RGN_ENV_OFF);
	if (rc == 0 && rh->rh_env_id != env->env_id)
		rc = rgn_fail(RGN_ECORRUPT, "%s now holds another environment",
			      env->home);
	if (rc == 0)
		*gen = ev->ev_generation;
	free(buf);
	return rc;
}

/* The table slot of region ID, copied from a fresh snapshot. */
static int find_ready_slot(struct rgn_env *env, uint32_t id,
			   struct rgn_shm_slot *out, uint64_t *gen)
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
	*gen = ((const struct rgn_shm_env *)(snap + RGN_ENV_OFF))
		       ->ev_generation;
	sl = (const void *)(snap + RGN_TABLE_OFF);
	sl += id - 1;
	if (sl->sl_state == RGN_SLOT_READY && sl->sl_id == id)
		*out = *sl;
	else
		rc = rgn_fail(-ENOENT, "no region %u in %s", id, env->home);
	free(snap);
	return rc;
}

/* What a reader keeps beyond the public fields. */
struct rgn_fsview_rd {
	struct rgn_env *env;	  /* the caller keeps it open */
	struct rgn_shm_slot slot; /* as the table said at open */
	struct rgn_reader rd;	  /* files: open until close */
	int64_t seg_ctime;	  /* segments: identity at open */
};

static void reader_init(struct rgn_env *env, const struct rgn_shm_slot *sl,
			struct rgn_reader *rd)
{
	memset(rd, 0, sizeof(*rd));
	rd->ops = env->ops;
	rd->env = env;
	rd->id = sl->sl_id;
	rd->fd = -1;
}

/*
 * After an open that failed with RC: is the region the table listed still
 * there, as the same region?  A header that does not check out, or a file
 * cut short, is ENOENT rather than EIO when the table no longer lists that
 * region: it was removed (and perhaps its id taken by a region still being
 * created) between the table read and the open.  1 when the table changed
 * since *GEN (the environment's generation moves with every region create
 * and remove, so even a region removed and made anew under the same id,
 * name, size and second is seen): the caller tries again with *NOW and
 * the new *GEN.  Only a region listed by an unchanged table keeps its
 * error: that error is about the region itself.
 */
static int vanished_or(struct rgn_env *env, const struct rgn_shm_slot *was,
		       struct rgn_shm_slot *now, uint64_t *gen, int *rc)
{
	uint64_t then = *gen;

	if (*rc == -ENOENT)
		return 0;
	if (find_ready_slot(env, was->sl_id, now, gen) < 0) {
		*rc = rgn_fail(-ENOENT,
			       "region %u of %s was removed while "
			       "being opened",
			       was->sl_id, env->home);
		return 0;
	}
	return *gen != then || now->sl_ctime != was->sl_ctime ||
	       now->sl_size != was->sl_size || now->sl_shmid != was->sl_shmid;
}

/* The header at the start of RD, checked against the slot. */
static int check_header(struct rgn_env *env, const struct rgn_shm_slot *sl,
			struct rgn_reader *rd)
{
	struct rgn_shm_region *rh = malloc(sizeof(*rh));
	ssize_t n;
	int rc;

	if (!rh)
		return -ENOMEM;
	n = env->ops->read_at(rd, rh, sizeof(*rh), 0);
	if (n < 0)
		rc = (int)n;
	else if ((size_t)n < sizeof(*rh))
		rc = rgn_fail(-EIO, "region %u of %s is truncated to %zd bytes",
			      sl->sl_id, env->home, n);
	else
		rc = rgn_check_region_hdr(rh, env->env_id, sl->sl_id,
					  sl->sl_size);
	free(rh);
	return rc;
}

/* A segment attached by the backing's reader: is it still the one the
 * slot (and, after open, the reader) saw?  Asked while attached, so the
 * answer cannot change before the detach. */
static int still_ours(const struct rgn_fsview_rd *p, int64_t *ctime)
{
	struct rgn_shm_seen seen = {.shmid = p->slot.sl_shmid,
				    .key = p->slot.sl_key,
				    .ctime = ctime ? 0 : p->seg_ctime};
	struct rgn_shm_info in;
	int err = 0;

	switch (rgn_shm_identify(&seen, 0, NULL, NULL, &in, &err)) {
	case RGN_SHM_ATTACHED:
	case RGN_SHM_UNATTACHED:
		if (ctime)
			*ctime = in.ctime;
		return 0;
	case RGN_SHM_UNKNOWN:
		return err ? err : -EIO;
	case RGN_SHM_REMOVING:
		/* The region was removed: its bytes still live until the
		 * last detach, but they are no region of the table now. */
	case RGN_SHM_GONE:
	case RGN_SHM_RECYCLED:
	case RGN_SHM_FOREIGN:
	default:
		return rgn_fail(-ENOENT,
				"segment shmid %d of region %u was "
				"removed",
				p->slot.sl_shmid, p->slot.sl_id);
	}
}

int rgn_fsview_reader_open(rgn_env *env, uint32_t id,
			   struct rgn_fsview_reader *r)
{
	struct rgn_fsview_rd *p;
	uint64_t gen = 0;
	int rc;

	rgn_clear_detail();
	if (!env || !r)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->shmid = -1;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->env = env;
	rc = find_ready_slot(env, id, &p->slot, &gen);
	if (rc < 0)
		goto fail;
	for (int tries = 0;; tries++) {
		struct rgn_shm_slot now;

		reader_init(env, &p->slot, &p->rd);
		rc = env->ops->read_open(env, &p->slot, &p->rd);
		if (rc == 0) {
			rc = check_header(env, &p->slot, &p->rd);
			if (rc == 0 && env->ops->in_segments)
				rc = still_ours(p, &p->seg_ctime);
			/* Segments are attached only for one read at a
			 * time. */
			if (rc < 0 || env->ops->in_segments)
				env->ops->read_close(&p->rd);
		}
		if (rc == 0)
			break;
		/* The id changed hands under us: a few times at most, or
		 * somebody is churning it faster than we can look. */
		if (!vanished_or(env, &p->slot, &now, &gen, &rc))
			goto fail;
		if (tries == 3) {
			rc = rgn_fail(-ENOENT,
				      "region %u of %s keeps being "
				      "removed and made anew",
				      id, env->home);
			goto fail;
		}
		p->slot = now;
	}
	r->id = id;
	r->size = p->slot.sl_size;
	r->fd = env->ops->in_segments ? -1 : p->rd.fd;
	r->shmid = env->ops->in_segments ? p->slot.sl_shmid : -1;
	r->priv = p;
	return 0;
fail:
	free(p);
	return rc;
}

void rgn_fsview_reader_close(struct rgn_fsview_reader *r)
{
	struct rgn_fsview_rd *p;

	if (!r || !r->priv)
		return;
	p = r->priv;
	if (r->fd >= 0)
		p->env->ops->read_close(&p->rd);
	free(p);
	r->priv = NULL;
	r->fd = -1;
}

int rgn_fsview_lend(const struct rgn_fsview_reader *r, uint64_t off, size_t len,
		    rgn_fsview_lend_fn fn, void *arg)
{
	struct rgn_fsview_rd *p;
	struct rgn_reader rd;
	uint64_t end;
	int rc;

	rgn_clear_detail();
	if (!r || !r->priv || r->shmid < 0 || !fn)
		return -EINVAL;
	p = r->priv;
	reader_init(p->env, &p->slot, &rd);
	rc = p->env->ops->read_open(p->env, &p->slot, &rd);
	if (rc < 0)
		return rc;
	rc = still_ours(p, NULL);
	if (rc == 0) {
		end = r->size < rd.size ? r->size : rd.size;
		if (off >= end)
			len = 0;
		else if (len > end - off)
			len = (size_t)(end - off);
		rc = fn(len ? rd.base + off : NULL, len, arg);
	}
	p->env->ops->read_close(&rd);
	return rc;
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

/* ---- System V segments by id --------------------------------------------- */

int rgn_fsview_segment_stat(int32_t shmid, struct rgn_fsview_segment *s)
{
	struct rgn_shm_info in;
	int rc;

	if (!s)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	rc = rgn_shm_stat(shmid, &in);
	if (rc < 0)
		return rc;
	s->shmid = shmid;
	s->key = in.key;
	s->uid = in.uid;
	s->gid = in.gid;
	s->cuid = in.cuid;
	s->cgid = in.cgid;
	s->mode = in.mode & 0777;
	s->removing = (in.mode & SHM_DEST) != 0;
	s->size = in.size;
	s->ctime = in.ctime;
	return 0;
}

/* FNV-1a over the fields, one at a time (the struct has padding). */
static void digest_add(uint64_t *h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++) {
		*h ^= b[i];
		*h *= 0x100000001b3ull;
	}
}

static int digest_one(const struct rgn_shm_info *in, void *arg)
{
	uint64_t *h = arg;

#define DIGEST(field) digest_add(h, &in->field, sizeof(in->field))
	DIGEST(shmid);
	DIGEST(key);
	DIGEST(uid);
	DIGEST(gid);
	DIGEST(cuid);
	DIGEST(cgid);
	DIGEST(mode);
	DIGEST(size);
	DIGEST(nattch);
	DIGEST(cpid);
	DIGEST(lpid);
	DIGEST(atime);
	DIGEST(dtime);
	DIGEST(ctime);
#undef DIGEST
	return 0;
}

int rgn_fsview_segments_digest(uint64_t *digest)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t denied = 0;
	int rc;

	if (!digest)
		return -EINVAL;
	rc = rgn_shm_walk(digest_one, &h, &denied);
	if (rc < 0)
		return rc;
	/* Segments we may not stat still count: one appearing is a change. */
	digest_add(&h, &denied, sizeof(denied));
	*digest = h;
	return 0;
}

int rgn_fsview_segment_lend(const struct rgn_fsview_segment *seen, uint64_t off,
			    size_t len, rgn_fsview_lend_fn fn, void *arg)
{
	struct rgn_leak l;

	if (!seen)
		return -EINVAL;
	/* The leak scanner owns reading a segment's bytes (a segment marked
	 * for removal is still lent while it lives): one reader, one set of
	 * identity checks. */
	memset(&l, 0, sizeof(l));
	l.shmid = seen->shmid;
	l.key = seen->key;
	l.ctime = seen->ctime;
	return rgn_leak_data_lend(&l, off, len, fn, arg);
}
