/*
 * backing_sysv.c - regions as System V shared memory segments.
 *
 * Used by the system memory backing (region N at base key + N - 1) and by
 * the files backing where mmap is unavailable (keys IPC_PRIVATE; the ids are
 * recorded in the region table).  Segments outlive every process, so each
 * one starts with our region header naming its environment and home: a key
 * that is already taken is judged by that header, never by guesswork.  We
 * reclaim only a segment that is provably a crashed leftover of this same
 * home with nobody attached, and refuse everything else untouched (Berkeley
 * DB 5.3 removes whatever sits at its keys, even while it is in use).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backing.h"
#include "env.h"
#include "internal.h"

#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY 15 /* Linux >= 4.17; older glibc lacks the name */
#endif

int32_t rgn_sysv_key(const struct rgn_env *env, uint32_t id)
{
	if (env->shm_key == IPC_PRIVATE)
		return IPC_PRIVATE;
	return (int32_t)((uint32_t)env->shm_key + id - 1);
}

/* Copy the first bytes of a segment without staying attached. */
static int peek(int shmid, void *buf, size_t len, uint64_t off, size_t *got)
{
	struct shmid_ds ds;
	void *p;

	if (shmctl(shmid, IPC_STAT, &ds) < 0)
		return -errno;
	p = shmat(shmid, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		return -errno;
	*got = 0;
	if (off < ds.shm_segsz) {
		*got = ds.shm_segsz - off < len ? ds.shm_segsz - off : len;
		memcpy(buf, (char *)p + off, *got);
	}
	shmdt(p);
	return 0;
}

/* The segment at KEY found by kernel index, which needs no permission on
 * it: for a key held by a segment we may not open.  Its id, or -ENOENT. */
static int stat_by_key(int32_t key, struct shmid_ds *ds)
{
	struct shm_info info;
	int max = shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info);

	for (int i = 0; i <= max; i++) {
		int id = shmctl(i, SHM_STAT_ANY, ds);

		if (id >= 0 && ds->shm_perm.__key == key)
			return id;
	}
	return -ENOENT;
}

/*
 * Made by the creator recorded in ENV->crashed, which died under the setup
 * lock right after writing its intent: same key, created by that pid
 * within a minute of the intent.  Its header may never have been written.
 */
static int left_by_crashed_creator(const struct rgn_env *env, int32_t key,
				   const struct shmid_ds *ds)
{
	const struct rgn_intent *c = &env->crashed;

	return c->pid > 0 && c->key == key && ds->shm_cpid == c->pid &&
	       (int64_t)ds->shm_ctime >= c->time &&
	       (int64_t)ds->shm_ctime <= c->time + 60;
}

/*
 * KEY is taken.  Reclaim the segment if it is provably a leftover of this
 * home that nobody has attached: its header names this home, or the dead
 * creator whose intent __db.lck kept made it.  Otherwise say exactly whose
 * it is and leave it untouched.
 */
static int judge_taken_key(struct rgn_env *env, int32_t key)
{
	struct rgn_shm_region rh;
	struct shmid_ds ds, again;
	size_t got = 0;
	int shmid, rc, alive, ours;

	shmid = shmget(key, 0, 0);
	if (shmid < 0 && errno == ENOENT)
		return 0; /* gone meanwhile: just try again */
	if (shmid < 0) {
		shmid = stat_by_key(key, &ds);
		if (shmid < 0)
			return 0;
		return rgn_fail(RGN_EFOREIGN,
				"key 0x%08x: shmid %d, owner uid %u, creator "
				"pid %d, %lu attached, which we may not read; "
				"left untouched",
				(unsigned)key, shmid, (unsigned)ds.shm_perm.uid,
				(int)ds.shm_cpid,
				(unsigned long)ds.shm_nattch);
	}
	if (shmctl(shmid, IPC_STAT, &ds) < 0)
		return errno == EINVAL || errno == EIDRM ? 0 : -errno;
	alive = ds.shm_cpid > 0 &&
		(kill(ds.shm_cpid, 0) == 0 || errno == EPERM);
	memset(&rh, 0, sizeof(rh));
	rc = peek(shmid, &rh, sizeof(rh), 0, &got);
	ours = rc == 0 && got >= sizeof(rh) && rh.rh_magic == RGN_REGION_MAGIC &&
	       strncmp(rh.rh_home, env->home, sizeof(rh.rh_home)) == 0;
	if (!ours && !left_by_crashed_creator(env, key, &ds)) {
		const char *whose = "another program";
		char other[RGN_HOME_MAX + 64];

		if (rc == 0 && got >= sizeof(rh) &&
		    rh.rh_magic == RGN_REGION_MAGIC) {
			rh.rh_home[sizeof(rh.rh_home) - 1] = '\0';
			snprintf(other, sizeof(other),
				 "the environment in %s", rh.rh_home);
			whose = other;
		}
		return rgn_fail(RGN_EFOREIGN,
				"key 0x%08x: shmid %d, owner uid %u, creator "
				"pid %d (%s), %lu attached, belongs to %s; "
				"left untouched",
				(unsigned)key, shmid, (unsigned)ds.shm_perm.uid,
				(int)ds.shm_cpid, alive ? "alive" : "dead",
				(unsigned long)ds.shm_nattch, whose);
	}
	if (ds.shm_nattch > 0)
		return rgn_fail(-EBUSY,
				"key 0x%08x: shmid %d is a leftover of this "
				"home but still attached by %lu processes",
				(unsigned)key, shmid,
				(unsigned long)ds.shm_nattch);
	/* Re-check right before removing: same segment, still unattached. */
	if (shmctl(shmid, IPC_STAT, &again) < 0)
		return 0;
	if (again.shm_perm.__key != key || again.shm_ctime != ds.shm_ctime ||
	    again.shm_nattch != 0)
		return 0;
	if (shmctl(shmid, IPC_RMID, NULL) < 0 && errno != EINVAL &&
	    errno != EIDRM)
		return rgn_fail(-errno, "reclaim leftover shmid %d at key 0x%08x",
				shmid, (unsigned)key);
	return 0;
}

static int sysv_create(struct rgn_env *env, uint32_t id, uint64_t size,
		       struct rgn_map *map)
{
	int32_t key = rgn_sysv_key(env, id);
	struct shmid_ds ds;
	int shmid = -1, rc;
	void *base;

	for (int tries = 0; tries < 4; tries++) {
		shmid = shmget(key, size, IPC_CREAT | IPC_EXCL | (env->mode & 0777));
		if (shmid >= 0 || errno != EEXIST || key == IPC_PRIVATE)
			break;
		rc = judge_taken_key(env, key);
		if (rc < 0)
			return rc;
	}
	if (shmid < 0) {
		if (errno == EEXIST)
			return rgn_fail(-EEXIST, "key 0x%08x stays taken",
					(unsigned)key);
		return rgn_fail(-errno, "shmget key 0x%08x, %llu bytes",
				(unsigned)key, (unsigned long long)size);
	}
	rgn_test_point("sysv-create:segment");
	base = shmat(shmid, NULL, 0);
	if (base == (void *)-1 || shmctl(shmid, IPC_STAT, &ds) < 0) {
		rc = rgn_fail(-errno, "shmat shmid %d", shmid);
		if (base != (void *)-1)
			shmdt(base);
		shmctl(shmid, IPC_RMID, NULL);
		return rc;
	}
	*map = (struct rgn_map){.base = base,
				.size = size,
				.shmid = shmid,
				.key = key,
				.seg_ctime = ds.shm_ctime};
	return 0;
}

static int sysv_publish(struct rgn_env *env, struct rgn_map *map)
{
	struct rgn_file_record fr = {
		.fr_magic = RGN_RECORD_MAGIC,
		.fr_format = RGN_FORMAT,
		.fr_backing = env->backing,
		.fr_flags = env->env_flags,
		.fr_shm_key = env->shm_key,
		.fr_shmid = map->shmid,
		.fr_env_id = env->env_id,
		.fr_size = map->size,
		.fr_ctime = ((struct rgn_shm_region *)map->base)->rh_ctime,
	};
	int fd, rc = 0;

	fd = openat(env->dirfd, RGN_PRIMARY_TMP,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    env->mode);
	if (fd < 0)
		return rgn_fail(-errno, "create %s/%s", env->home,
				RGN_PRIMARY_TMP);
	if (fchmod(fd, env->mode) < 0 ||
	    write(fd, &fr, sizeof(fr)) != (ssize_t)sizeof(fr))
		rc = rgn_fail(errno ? -errno : -EIO, "write %s/%s", env->home,
			      RGN_PRIMARY_TMP);
	close(fd);
	if (!rc && renameat2(env->dirfd, RGN_PRIMARY_TMP, env->dirfd,
			     RGN_PRIMARY_FILE, RENAME_NOREPLACE) < 0)
		rc = rgn_fail(-errno, "publish %s/%s", env->home,
			      RGN_PRIMARY_FILE);
	if (rc)
		unlinkat(env->dirfd, RGN_PRIMARY_TMP, 0);
	return rc;
}

static void sysv_discard(struct rgn_env *env, uint32_t id, struct rgn_map *map)
{
	(void)env;
	(void)id;
	if (map->base)
		shmdt(map->base);
	map->base = NULL;
	if (map->shmid >= 0)
		shmctl(map->shmid, IPC_RMID, NULL);
}

static int sysv_attach(struct rgn_env *env, const struct rgn_shm_slot *slot,
		       int rdonly, struct rgn_map *map)
{
	struct shmid_ds ds;
	void *base;

	(void)env;
	if (shmctl(slot->sl_shmid, IPC_STAT, &ds) < 0)
		return rgn_fail(errno == EACCES ? -EACCES : -ENOENT,
				"segment shmid %d of region %u: %s",
				slot->sl_shmid, slot->sl_id, strerror(errno));
	if ((slot->sl_key != IPC_PRIVATE && ds.shm_perm.__key != slot->sl_key) ||
	    ds.shm_segsz < slot->sl_size)
		return rgn_fail(RGN_ECORRUPT,
				"segment shmid %d is not region %u's (key "
				"0x%08x, %zu bytes)",
				slot->sl_shmid, slot->sl_id,
				(unsigned)ds.shm_perm.__key, ds.shm_segsz);
	base = shmat(slot->sl_shmid, NULL, rdonly ? SHM_RDONLY : 0);
	if (base == (void *)-1)
		return rgn_fail(-errno, "shmat shmid %d", slot->sl_shmid);
	*map = (struct rgn_map){.base = base,
				.size = slot->sl_size,
				.shmid = slot->sl_shmid,
				.key = slot->sl_key,
				.rdonly = rdonly};
	return 0;
}

static void sysv_detach(struct rgn_env *env, struct rgn_map *map)
{
	(void)env;
	if (map->base)
		shmdt(map->base);
	map->base = NULL;
}

static int sysv_destroy(struct rgn_env *env, const struct rgn_shm_slot *slot)
{
	int creating = slot->sl_state == RGN_SLOT_CREATING;
	int shmid = slot->sl_shmid;
	struct rgn_shm_region rh;
	struct shmid_ds ds, again;
	size_t got = 0;
	int rc;

	if (shmid < 0) {
		/* Its creator died between shmget and recording the id: the
		 * slot knows the key it was taking, and the segment must
		 * have been made by that very process. */
		if (!creating || slot->sl_key == IPC_PRIVATE)
			return -ENOENT;
		shmid = shmget(slot->sl_key, 0, 0);
		if (shmid < 0)
			return -ENOENT;
	}
	if (shmctl(shmid, IPC_STAT, &ds) < 0)
		return rgn_fail(-ENOENT, "segment shmid %d of region %u is gone",
				shmid, slot->sl_id);
	if (slot->sl_key != IPC_PRIVATE && ds.shm_perm.__key != slot->sl_key)
		return rgn_fail(RGN_EFOREIGN,
				"shmid %d now has key 0x%08x, not region %u's "
				"0x%08x; left untouched",
				shmid, (unsigned)ds.shm_perm.__key, slot->sl_id,
				(unsigned)slot->sl_key);
	/* The identity recorded at creation (shmid, key, creator pid and
	 * creation time) proves the segment is the one made here without
	 * attaching it; otherwise its header must say so. */
	if (slot->sl_seg_ctime && ds.shm_ctime == slot->sl_seg_ctime &&
	    ds.shm_cpid == slot->sl_creator_pid)
		goto ours;
	memset(&rh, 0, sizeof(rh));
	rc = peek(shmid, &rh, sizeof(rh), 0, &got);
	if (rc < 0)
		return rgn_fail(rc, "read shmid %d", shmid);
	/* A creator that died before writing the header left zeros; the
	 * segment is ours only if that creator made it. */
	if (!(creating && rh.rh_magic == 0 &&
	      ds.shm_cpid == slot->sl_actor_pid)) {
		rc = rgn_check_region_hdr(&rh, env->env_id, slot->sl_id, 0);
		if (rc < 0)
			return rgn_fail(RGN_EFOREIGN,
					"refusing to remove shmid %d: %s",
					shmid, rgn_strerror(rc));
	}
	/* Re-check right before acting: the same segment as inspected. */
	if (shmctl(shmid, IPC_STAT, &again) < 0)
		return -ENOENT;
	if (again.shm_ctime != ds.shm_ctime ||
	    again.shm_perm.__key != ds.shm_perm.__key)
		return rgn_fail(-EAGAIN, "shmid %d changed while removing",
				shmid);
ours:
	if (shmctl(shmid, IPC_RMID, NULL) < 0)
		return rgn_fail(-errno, "remove shmid %d", shmid);
	return 0;
}

/* Attached read-only only between read_open and read_close, so an
 * observer shows up in nattch for no longer than its reads. */
static int sysv_read_open(struct rgn_env *env, const struct rgn_shm_slot *slot,
			  struct rgn_reader *rd)
{
	struct shmid_ds ds;
	void *p;

	(void)env;
	if (shmctl(slot->sl_shmid, IPC_STAT, &ds) < 0 ||
	    (slot->sl_key != IPC_PRIVATE && ds.shm_perm.__key != slot->sl_key))
		return rgn_fail(-ENOENT, "segment shmid %d of region %u is gone",
				slot->sl_shmid, slot->sl_id);
	p = shmat(slot->sl_shmid, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		return rgn_fail(errno == EACCES ? -EACCES : -ENOENT,
				"attach shmid %d of region %u: %s",
				slot->sl_shmid, slot->sl_id, strerror(errno));
	rd->base = p;
	rd->size = ds.shm_segsz;
	rd->attached = 1;
	return 0;
}

static void sysv_read_close(struct rgn_reader *rd)
{
	if (rd->attached)
		shmdt(rd->base);
	rd->attached = 0;
	rd->base = NULL;
}

const struct rgn_backing_ops rgn_backing_sysv = {
	.name = "sysv",
	.in_segments = 1,
	.create = sysv_create,
	.publish = sysv_publish,
	.discard = sysv_discard,
	.attach = sysv_attach,
	.detach = sysv_detach,
	.destroy = sysv_destroy,
	.read_open = sysv_read_open,
	.read_at = rgn_reader_copy,
	.read_close = sysv_read_close,
};
