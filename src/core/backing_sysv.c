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
#include <time.h>
#include <unistd.h>

#include "backing.h"
#include "env.h"
#include "internal.h"
#include "region_hdr.h"
#include "shmid.h"

/* The System V key of region ID: base key + ID - 1, or IPC_PRIVATE (0)
 * when the environment has no base key (files without mmap). */
static int32_t sysv_key(const struct rgn_env *env, uint32_t id)
{
	if (env->shm_key == IPC_PRIVATE)
		return IPC_PRIVATE;
	return (int32_t)((uint32_t)env->shm_key + id - 1);
}

/* What a slot knows of its segment, for rgn_shm_identify().  A slot of the
 * files backing without mmap has key IPC_PRIVATE, which says nothing. */
static struct rgn_shm_seen slot_seen(const struct rgn_shm_slot *slot,
				     int32_t shmid, uint32_t *flags)
{
	*flags = slot->sl_key == IPC_PRIVATE ? RGN_SHM_ANY_KEY : 0;
	return (struct rgn_shm_seen){.shmid = shmid, .key = slot->sl_key};
}

/* A check for rgn_shm_identify() that copies the region header (zeros
 * past a segment too small to hold one) and always says "ours": the
 * caller judges the copy. */
static int copy_header(const void *base, uint64_t size, void *arg)
{
	struct rgn_shm_region *rh = arg;

	memset(rh, 0, sizeof(*rh));
	rgn_region_copy(rh, base, size,
			size < sizeof(*rh) ? (size_t)size : sizeof(*rh), 0);
	return 1;
}

/*
 * Made by the creator recorded in ENV->crashed, which died under the setup
 * lock right after writing its intent: same key, created by that pid
 * within a minute of the intent.  Its header may never have been written.
 */
static int left_by_crashed_creator(const struct rgn_env *env, int32_t key,
				   const struct rgn_shm_info *in)
{
	const struct rgn_intent *c = &env->crashed;

	return c->pid > 0 && c->key == key && in->cpid == c->pid &&
	       in->ctime >= c->time && in->ctime <= c->time + 60;
}

/* Refuse the segment IN at KEY, naming it; WHAT says whose it is. */
static int refuse_foreign(int32_t key, const struct rgn_shm_info *in,
			  int say_alive, const char *what)
{
	int alive = in->cpid > 0 && (kill(in->cpid, 0) == 0 || errno == EPERM);

	return rgn_fail(RGN_EFOREIGN,
			"key 0x%08x: shmid %d, owner uid %u, creator pid %d%s, "
			"%lu attached, %s; left untouched",
			(unsigned)key, in->shmid, (unsigned)in->uid,
			(int)in->cpid,
			!say_alive ? ""
			: alive	   ? " (alive)"
				   : " (dead)",
			(unsigned long)in->nattch, what);
}

/*
 * KEY is taken.  Reclaim the segment if it is provably a leftover of this
 * home that nobody has attached: its header names this home, or the dead
 * creator whose intent __db.lck kept made it.  Otherwise say exactly whose
 * it is and leave it untouched.  0 means "try the key again".
 */
static int judge_taken_key(struct rgn_env *env, int32_t key)
{
	static const char unreadable[] = "which we may not read";
	struct rgn_shm_region rh;
	struct rgn_shm_info in;
	struct rgn_shm_seen seen = {.key = key};
	char whose[RGN_HOME_MAX + 64];
	int err, ours = 0, readable = 1;

	seen.shmid = shmget(key, 0, 0);
	if (seen.shmid < 0) {
		if (errno == ENOENT || rgn_shm_find_key(key, &in) < 0)
			return 0; /* gone meanwhile: just try again */
		return refuse_foreign(key, &in, 0, unreadable);
	}
	memset(&rh, 0, sizeof(rh));
	switch (rgn_shm_identify(&seen, 0, copy_header, &rh, &in, &err)) {
	case RGN_SHM_GONE:
	case RGN_SHM_RECYCLED:
	case RGN_SHM_REMOVING: /* its key is free again */
		return 0;
	case RGN_SHM_UNKNOWN:
		/* Its figures may be known, its header is not: only a
		 * crashed creator's intent can make it ours. */
		if (in.shmid != seen.shmid)
			return err;
		readable = 0;
		break;
	case RGN_SHM_FOREIGN: /* copy_header never says so */
	case RGN_SHM_ATTACHED:
	case RGN_SHM_UNATTACHED:
		ours = rh.rh_magic == RGN_REGION_MAGIC &&
		       strncmp(rh.rh_home, env->home, sizeof(rh.rh_home)) == 0;
		break;
	}
	if (!ours && !left_by_crashed_creator(env, key, &in)) {
		if (!readable)
			return refuse_foreign(key, &in, 0, unreadable);
		snprintf(whose, sizeof(whose), "belongs to another program");
		if (rh.rh_magic == RGN_REGION_MAGIC) {
			rh.rh_home[sizeof(rh.rh_home) - 1] = '\0';
			snprintf(whose, sizeof(whose),
				 "belongs to the environment in %s",
				 rh.rh_home);
		}
		return refuse_foreign(key, &in, 1, whose);
	}
	if (in.nattch > 0)
		return rgn_fail(-EBUSY,
				"key 0x%08x: shmid %d is a leftover of this "
				"home but still attached by %lu processes",
				(unsigned)key, seen.shmid,
				(unsigned long)in.nattch);
	/* Re-check right before removing: same segment, still unattached. */
	seen.ctime = in.ctime;
	if (rgn_shm_identify(&seen, 0, NULL, NULL, NULL, NULL) !=
	    RGN_SHM_UNATTACHED)
		return 0;
	if (shmctl(seen.shmid, IPC_RMID, NULL) < 0 &&
	    rgn_shm_errno(errno) != -ENOENT)
		return rgn_fail(-errno,
				"reclaim leftover shmid %d at key 0x%08x",
				seen.shmid, (unsigned)key);
	return 0;
}

static int sysv_create(struct rgn_env *env, uint32_t id, uint64_t size,
		       uint64_t reserve, struct rgn_map *map)
{
	int32_t key = sysv_key(env, id);
	struct rgn_shm_info in;
	int shmid = -1, rc;
	time_t before = 0;
	void *base;

	(void)reserve; /* a segment is memory: all of it is usable */
	for (int tries = 0; tries < 4; tries++) {
		before = time(NULL);
		shmid = shmget(key, size,
			       IPC_CREAT | IPC_EXCL | (env->mode & 0777));
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
	rc = base == (void *)-1 ? -errno : 0;
	/*
	 * The kernel stamps shm_ctime with the wall clock's seconds as
	 * shmget runs, the clock time() reads without a system call: when
	 * the second is the same on both sides of shmget, it is the
	 * segment's.  Only across a second's turn is IPC_STAT needed.  (A
	 * wrong stamp could only cost the header check the slot's identity
	 * saves at remove, never a wrong removal: shmid, key and creator pid
	 * must match too.)
	 */
	in.ctime = before;
	if (rc == 0 && time(NULL) != before)
		rc = rgn_shm_stat(shmid, &in);
	if (rc < 0) {
		rgn_fail(rc, "shmat shmid %d", shmid);
		if (base != (void *)-1)
			shmdt(base);
		shmctl(shmid, IPC_RMID, NULL);
		return rc;
	}
	*map = (struct rgn_map){.base = base,
				.size = size,
				.shmid = shmid,
				.key = key,
				.seg_ctime = in.ctime};
	return 0;
}

static int sysv_publish(struct rgn_env *env, struct rgn_map *map)
{
	struct rgn_file_record fr;
	int fd, rc = 0;

	rgn_init_file_record(env, map->shmid, map->size,
			     ((struct rgn_shm_region *)map->base)->rh_ctime,
			     &fr);

	fd = openat(rgn_home_fd(env), RGN_PRIMARY_TMP,
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
	if (!rc &&
	    renameat2(rgn_home_fd(env), RGN_PRIMARY_TMP, rgn_home_fd(env),
		      RGN_PRIMARY_FILE, RENAME_NOREPLACE) < 0)
		rc = rgn_fail(-errno, "publish %s/%s", env->home,
			      RGN_PRIMARY_FILE);
	if (rc)
		unlinkat(rgn_home_fd(env), RGN_PRIMARY_TMP, 0);
	return rc;
}

/* Unlink the record of a segment-backed primary, if it is still ours. */
static int sysv_unpublish(struct rgn_env *env)
{
	struct rgn_file_record fr;
	int fd = openat(rgn_home_fd(env), RGN_PRIMARY_FILE,
			O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = pread(fd, &fr, sizeof(fr), 0);
	close(fd);
	if (n != sizeof(fr) || fr.fr_magic != RGN_RECORD_MAGIC ||
	    fr.fr_env_id != env->env_id)
		return rgn_fail(RGN_EBADMAGIC,
				"%s/%s changed while removing; left alone",
				env->home, RGN_PRIMARY_FILE);
	if (unlinkat(rgn_home_fd(env), RGN_PRIMARY_FILE, 0) < 0)
		return rgn_fail(-errno, "unlink %s/%s", env->home,
				RGN_PRIMARY_FILE);
	return 0;
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

/* Re-identify the slot's segment before mapping it: the id may have been
 * removed or recycled since the slot was written (a reboot, an ipcrm). */
static int sysv_attach(struct rgn_env *env, const struct rgn_shm_slot *slot,
		       int rdonly, struct rgn_map *map)
{
	struct rgn_shm_info in;
	struct rgn_shm_seen seen;
	uint32_t flags;
	void *base;
	int err;

	(void)env;
	seen = slot_seen(slot, slot->sl_shmid, &flags);
	switch (rgn_shm_identify(&seen, flags, NULL, NULL, &in, &err)) {
	case RGN_SHM_GONE:
		return rgn_fail(-ENOENT,
				"segment shmid %d of region %u is gone",
				slot->sl_shmid, slot->sl_id);
	case RGN_SHM_UNKNOWN:
		return rgn_fail(err, "segment shmid %d of region %u: %s",
				slot->sl_shmid, slot->sl_id, rgn_strerror(err));
	case RGN_SHM_REMOVING:
		/* Its key is IPC_PRIVATE now: a keyed slot no longer names
		 * it.  A keyless one (files without mmap) still attaches,
		 * as its bytes stay intact until the last detach. */
		if (!(flags & RGN_SHM_ANY_KEY))
			goto not_ours;
		break;
	case RGN_SHM_RECYCLED:
	case RGN_SHM_FOREIGN:
		goto not_ours;
	case RGN_SHM_ATTACHED:
	case RGN_SHM_UNATTACHED:
		break;
	}
	if (in.size < slot->sl_size)
		goto not_ours;
	base = shmat(slot->sl_shmid, NULL, rdonly ? SHM_RDONLY : 0);
	if (base == (void *)-1)
		return rgn_fail(-errno, "shmat shmid %d", slot->sl_shmid);
	*map = (struct rgn_map){.base = base,
				.size = slot->sl_size,
				.shmid = slot->sl_shmid,
				.key = slot->sl_key,
				.rdonly = rdonly};
	return 0;
not_ours:
	return rgn_fail(RGN_ECORRUPT,
			"segment shmid %d is not region %u's (key 0x%08x, "
			"%llu bytes)",
			slot->sl_shmid, slot->sl_id, (unsigned)in.key,
			(unsigned long long)in.size);
}

static void sysv_detach(struct rgn_env *env, struct rgn_map *map)
{
	(void)env;
	if (map->base)
		shmdt(map->base);
	map->base = NULL;
}

/* Remove the slot's segment, but only the one the slot describes,
 * re-identified right before IPC_RMID. */
static int sysv_destroy(struct rgn_env *env, const struct rgn_shm_slot *slot)
{
	int creating = slot->sl_state == RGN_SLOT_CREATING;
	struct rgn_shm_region rh;
	struct rgn_shm_info in;
	struct rgn_shm_seen seen;
	uint32_t flags;
	int rc, err;

	seen = slot_seen(slot, slot->sl_shmid, &flags);
	if (seen.shmid < 0) {
		/* Its creator died between shmget and recording the id: the
		 * slot knows the key it was taking, and the segment must
		 * have been made by that very process. */
		if (!creating || slot->sl_key == IPC_PRIVATE)
			return -ENOENT;
		seen.shmid = shmget(slot->sl_key, 0, 0);
		if (seen.shmid < 0)
			return -ENOENT;
	}
	switch (rgn_shm_identify(&seen, flags, NULL, NULL, &in, &err)) {
	case RGN_SHM_GONE:
		return rgn_fail(-ENOENT,
				"segment shmid %d of region %u is gone",
				seen.shmid, slot->sl_id);
	case RGN_SHM_UNKNOWN:
		return rgn_fail(err, "segment shmid %d of region %u: %s",
				seen.shmid, slot->sl_id, rgn_strerror(err));
	case RGN_SHM_REMOVING:
		/* Marked already, its key turned IPC_PRIVATE: a keyed slot
		 * cannot prove it is the region's.  A keyless one proves it
		 * below, like any other. */
		if (flags & RGN_SHM_ANY_KEY)
			break;
		/* fall through */
	case RGN_SHM_RECYCLED:
	case RGN_SHM_FOREIGN:
		return rgn_fail(RGN_EFOREIGN,
				"shmid %d now has key 0x%08x, not region %u's "
				"0x%08x; left untouched",
				seen.shmid, (unsigned)in.key, slot->sl_id,
				(unsigned)slot->sl_key);
	case RGN_SHM_ATTACHED:
	case RGN_SHM_UNATTACHED:
		break;
	}
	/* The identity recorded at creation (shmid, key, creator pid and
	 * creation time) proves the segment is the one made here without
	 * attaching it; otherwise its header must say so. */
	if (slot->sl_seg_ctime && in.ctime == slot->sl_seg_ctime &&
	    in.cpid == slot->sl_creator_pid)
		goto ours;
	seen.ctime = in.ctime;
	memset(&rh, 0, sizeof(rh));
	switch (rgn_shm_identify(&seen, flags | RGN_SHM_ANY_KEY, copy_header,
				 &rh, &in, &err)) {
	case RGN_SHM_ATTACHED:
	case RGN_SHM_UNATTACHED:
		break;
	case RGN_SHM_UNKNOWN:
		return rgn_fail(err, "read shmid %d", seen.shmid);
	default:
		return rgn_fail(-ENOENT, "read shmid %d: it went", seen.shmid);
	}
	/* A creator that died before writing the header left zeros; the
	 * segment is ours only if that creator made it. */
	if (!(creating && rh.rh_magic == 0 && in.cpid == slot->sl_actor_pid)) {
		rc = rgn_check_region_hdr(&rh, env->env_id, slot->sl_id, 0);
		if (rc < 0)
			return rgn_fail(RGN_EFOREIGN,
					"refusing to remove shmid %d: %s",
					seen.shmid, rgn_strerror(rc));
	}
	/* Re-check right before acting: the same segment as inspected. */
	switch (rgn_shm_identify(&seen, flags | RGN_SHM_ANY_KEY, NULL, NULL,
				 NULL, NULL)) {
	case RGN_SHM_GONE:
		return -ENOENT;
	case RGN_SHM_ATTACHED:
	case RGN_SHM_UNATTACHED:
		break;
	default:
		return rgn_fail(-EAGAIN, "shmid %d changed while removing",
				seen.shmid);
	}
ours:
	if (shmctl(seen.shmid, IPC_RMID, NULL) < 0)
		return rgn_fail(-errno, "remove shmid %d", seen.shmid);
	return 0;
}

/* Attached read-only only between read_open and read_close, so an
 * observer shows up in nattch for no longer than its reads.  A keyless
 * segment already marked for removal is still read: its region may be
 * being removed, and its bytes are intact until the last detach. */
static int sysv_read_open(struct rgn_env *env, const struct rgn_shm_slot *slot,
			  struct rgn_reader *rd)
{
	struct rgn_shm_seen seen;
	uint32_t flags;
	const void *p;
	uint64_t size;
	int rc;

	(void)env;
	seen = slot_seen(slot, slot->sl_shmid, &flags);
	if (flags & RGN_SHM_ANY_KEY)
		flags |= RGN_SHM_ALLOW_REMOVING;
	rc = rgn_shm_attach_ro(&seen, flags, &p, &size);
	if (rc == -ENOENT)
		return rgn_fail(-ENOENT,
				"segment shmid %d of region %u is gone",
				slot->sl_shmid, slot->sl_id);
	if (rc < 0)
		return rgn_fail(rc, "attach shmid %d of region %u: %s",
				slot->sl_shmid, slot->sl_id, rgn_strerror(rc));
	rd->base = p;
	rd->size = size;
	rd->attached = 1;
	return 0;
}

static void sysv_read_close(struct rgn_reader *rd)
{
	if (rd->attached)
		rgn_shm_detach(rd->base);
	rd->attached = 0;
	rd->base = NULL;
}

const struct rgn_backing_ops rgn_backing_sysv = {
	.name = "sysv",
	.in_segments = 1,
	.slot_flags = RGN_RF_SYSV,
	.create = sysv_create,
	.publish = sysv_publish,
	.discard = sysv_discard,
	.attach = sysv_attach,
	.detach = sysv_detach,
	.destroy = sysv_destroy,
	.read_open = sysv_read_open,
	.read_at = rgn_reader_copy,
	.read_close = sysv_read_close,
	.region_key = sysv_key,
	.unpublish = sysv_unpublish,
};
