/*
 * shmid.c - the one place that tells whether a System V id still names the
 * segment a caller saw (see shmid.h).  Comparing by creation time is what
 * catches a recycled id: the kernel hands a freed index's next id to a new
 * segment, and a key alone cannot tell (IPC_PRIVATE segments share key 0).
 */
#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include "shmid.h"

#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY 15 /* Linux >= 4.17; glibc < 2.28 lacks the name */
#endif

int rgn_shm_errno(int e)
{
	if (e == EINVAL || e == EIDRM)
		return -ENOENT;
	return -e;
}

static void from_ds(struct rgn_shm_info *in, int32_t shmid,
		    const struct shmid_ds *ds)
{
	in->shmid = shmid;
	in->key = ds->shm_perm.__key;
	in->uid = ds->shm_perm.uid;
	in->gid = ds->shm_perm.gid;
	in->cuid = ds->shm_perm.cuid;
	in->cgid = ds->shm_perm.cgid;
	in->mode = ds->shm_perm.mode;
	in->size = ds->shm_segsz;
	in->nattch = ds->shm_nattch;
	in->cpid = ds->shm_cpid;
	in->lpid = ds->shm_lpid;
	in->atime = ds->shm_atime;
	in->dtime = ds->shm_dtime;
	in->ctime = ds->shm_ctime;
}

int rgn_shm_walk(int (*fn)(const struct rgn_shm_info *info, void *arg),
		 void *arg, size_t *denied)
{
	static const int cmds[] = {SHM_STAT_ANY, SHM_STAT};
	struct rgn_shm_info in;
	struct shm_info info;
	struct shmid_ds ds;
	size_t nseen, ndenied = 0;
	int maxidx, id, rc;

	maxidx = shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info);
	if (maxidx < 0)
		return -errno;
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
		nseen = ndenied = 0;
		for (int i = 0; i <= maxidx; i++) {
			id = shmctl(i, cmds[c], &ds);
			if (id < 0) {
				if (errno == EACCES)
					ndenied++;
				continue; /* EINVAL: a free index; EIDRM: gone
					   */
			}
			nseen++;
			from_ds(&in, id, &ds);
			rc = fn(&in, arg);
			if (rc)
				return rc;
		}
		/* SHM_STAT_ANY unknown to the kernel: every used index
		 * failed with EINVAL.  Try the older command. */
		if (nseen || ndenied || info.used_ids == 0)
			break;
	}
	if (denied)
		*denied = ndenied;
	return 0;
}

struct find_ctx {
	int32_t shmid; /* wanted id, or -1 */
	int32_t key;   /* wanted key when shmid is -1 */
	struct rgn_shm_info *out;
};

static int find_one(const struct rgn_shm_info *in, void *arg)
{
	struct find_ctx *f = arg;

	if (f->shmid >= 0 ? in->shmid != f->shmid : in->key != f->key)
		return 0;
	*f->out = *in;
	return 1;
}

int rgn_shm_find_key(int32_t key, struct rgn_shm_info *info)
{
	struct find_ctx f = {.shmid = -1, .key = key, .out = info};
	int rc = rgn_shm_walk(find_one, &f, NULL);

	return rc == 1 ? 0 : rc < 0 ? rc : -ENOENT;
}

int rgn_shm_stat(int32_t shmid, struct rgn_shm_info *info)
{
	struct find_ctx f = {.shmid = shmid, .out = info};
	struct shmid_ds ds;
	int rc;

	if (shmid < 0)
		return -ENOENT;
	if (shmctl(shmid, IPC_STAT, &ds) == 0) {
		from_ds(info, shmid, &ds);
		return 0;
	}
	rc = rgn_shm_errno(errno);
	if (rc != -EACCES)
		return rc;
	/* No read permission: the index shows it all the same. */
	rc = rgn_shm_walk(find_one, &f, NULL);
	return rc == 1 ? 0 : rc < 0 ? rc : -EACCES;
}

enum rgn_shm_state rgn_shm_identify(const struct rgn_shm_seen *seen,
				    uint32_t flags, rgn_shm_check_fn check,
				    void *arg, struct rgn_shm_info *info,
				    int *err)
{
	struct rgn_shm_info now;
	enum rgn_shm_state st;
	struct shmid_ds ds;
	void *p;
	int rc;

	if (err)
		*err = 0;
	if (!info)
		info = &now;
	memset(info, 0, sizeof(*info));
	if (seen->shmid < 0)
		return RGN_SHM_GONE;
	if (shmctl(seen->shmid, IPC_STAT, &ds) < 0) {
		rc = rgn_shm_errno(errno);
		if (rc == -ENOENT)
			return RGN_SHM_GONE;
		/* Without permission the index still tells gone from
		 * recycled from present; whose it is stays unknown. */
		if (rc == -EACCES && rgn_shm_stat(seen->shmid, info) == 0 &&
		    seen->ctime && info->ctime != seen->ctime)
			return RGN_SHM_RECYCLED;
		if (err)
			*err = rc;
		return RGN_SHM_UNKNOWN;
	}
	from_ds(info, seen->shmid, &ds);
	if (seen->ctime && info->ctime != seen->ctime)
		return RGN_SHM_RECYCLED;
	if (info->mode & SHM_DEST)
		return RGN_SHM_REMOVING;
	if (!(flags & RGN_SHM_ANY_KEY) && info->key != seen->key)
		return RGN_SHM_RECYCLED;
	st = info->nattch ? RGN_SHM_ATTACHED : RGN_SHM_UNATTACHED;
	if (!check)
		return st;
	p = shmat(seen->shmid, NULL, SHM_RDONLY);
	if (p == (void *)-1) {
		rc = rgn_shm_errno(errno);
		if (rc == -ENOENT)
			return RGN_SHM_GONE;
		if (err)
			*err = rc;
		return RGN_SHM_UNKNOWN;
	}
	rc = check(p, info->size, arg);
	shmdt(p);
	if (rc < 0) {
		if (err)
			*err = rc;
		return RGN_SHM_UNKNOWN;
	}
	return rc ? st : RGN_SHM_FOREIGN;
}

const char *rgn_shm_state_name(enum rgn_shm_state st)
{
	static const char *const names[] = {
		[RGN_SHM_GONE] = "gone",
		[RGN_SHM_RECYCLED] = "recycled",
		[RGN_SHM_REMOVING] = "removing",
		[RGN_SHM_FOREIGN] = "foreign",
		[RGN_SHM_ATTACHED] = "attached",
		[RGN_SHM_UNATTACHED] = "unattached",
		[RGN_SHM_UNKNOWN] = "unknown",
	};

	if ((unsigned)st >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[st];
}

int rgn_shm_attach_ro(const struct rgn_shm_seen *seen, uint32_t flags,
		      const void **base, uint64_t *size)
{
	struct rgn_shm_info in;
	int err = 0;
	void *p;

	switch (rgn_shm_identify(seen, flags, NULL, NULL, &in, &err)) {
	case RGN_SHM_ATTACHED:
	case RGN_SHM_UNATTACHED:
		break;
	case RGN_SHM_REMOVING:
		/* Still intact until its last detach; the caller decides
		 * whether such bytes are worth showing. */
		if (flags & RGN_SHM_ALLOW_REMOVING)
			break;
		return -ENOENT;
	case RGN_SHM_UNKNOWN:
		return err ? err : -EIO;
	case RGN_SHM_GONE:
	case RGN_SHM_RECYCLED:
	case RGN_SHM_FOREIGN:
	default:
		return -ENOENT;
	}
	p = shmat(seen->shmid, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		return rgn_shm_errno(errno);
	*base = p;
	*size = in.size;
	return 0;
}

void rgn_shm_detach(const void *base)
{
	if (base)
		shmdt(base);
}
