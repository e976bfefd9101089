/*
 * env_primary.c - the primary region (id 1): finding it (probe), making it
 * (create), mapping and proving it ours (attach, join), copying it for an
 * observer (snapshot), and recovering its mutex after a holder died.
 *
 * The primary is created under a temporary name and renamed into place
 * only when complete, so a __db.001 that exists is always a finished one;
 * a dead creator leaves only __db.001.tmp (or, for segments, a segment whose
 * header names this home), which the next create reclaims.  Whether
 * __db.001 is the primary itself or a record naming a segment is the
 * backing's business: the probe reads the magic and asks the selector.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "env.h"
#include "env_parts.h"
#include "internal.h"
#include "proc.h"

/* The environment header on its own, as a join checks it: the join's
 * fields and the registry it writes share this header's page. */
static int check_env_hdr(const struct rgn_shm_env *ev)
{
	if (ev->ev_magic != RGN_ENV_MAGIC)
		return rgn_fail(RGN_ECORRUPT,
				"environment header magic 0x%08x, expected "
				"0x%08x",
				ev->ev_magic, RGN_ENV_MAGIC);
	if (ev->ev_format != RGN_FORMAT)
		return rgn_fail(RGN_EVERSION,
				"environment format %u; this library reads "
				"format %u",
				ev->ev_format, RGN_FORMAT);
	if (ev->ev_state != RGN_STATE_READY ||
	    ev->ev_table_off != RGN_TABLE_OFF ||
	    ev->ev_procs_off != RGN_PROCS_OFF ||
	    ev->ev_max_regions != RGN_MAX_REGIONS ||
	    ev->ev_max_procs != RGN_MAX_PROCS || ev->ev_slot_resv == 0 ||
	    ev->ev_slot_resv > RGN_MAX_REGIONS ||
	    ev->ev_backing < RGN_BACKING_FILES ||
	    ev->ev_backing > RGN_BACKING_SYSV)
		return rgn_fail(RGN_ECORRUPT,
				"environment header is inconsistent");
	return 0;
}

int rgn_check_primary(const uint8_t *buf, size_t len)
{
	const struct rgn_shm_region *rh = (const void *)buf;
	const struct rgn_shm_env *ev = (const void *)(buf + RGN_ENV_OFF);
	int rc;

	if (len < sizeof(*rh) || len < RGN_ENV_OFF + sizeof(*ev))
		return rgn_fail(RGN_ECORRUPT, "primary region is truncated");
	rc = rgn_check_region_hdr(rh, rh->rh_env_id, 1, 0);
	if (rc == 0)
		rc = check_env_hdr(ev);
	if (rc == 0 &&
	    (ev->ev_env_id != rh->rh_env_id || rh->rh_size < RGN_PRIMARY_BYTES))
		rc = rgn_fail(RGN_ECORRUPT,
			      "environment header is inconsistent");
	return rc;
}

static int not_this_env(const struct rgn_env *env)
{
	return rgn_fail(RGN_ECORRUPT,
			"primary of %s belongs to another environment",
			env->home);
}

/*
 * The one check that bytes read as our primary are ENV's: both headers
 * valid, and the environment id the one __db.001 named.
 */
static int primary_is_ours(const struct rgn_env *env, const uint8_t *buf,
			   size_t len)
{
	int rc = rgn_check_primary(buf, len);

	if (rc == 0 &&
	    ((const struct rgn_shm_region *)(const void *)buf)->rh_env_id !=
		    env->env_id)
		rc = not_this_env(env);
	return rc;
}

/*
 * The same proof for a primary just mapped to join it, from the
 * environment header alone.  What reached it already vouches for the rest:
 * a files-mode primary passed rgn_check_primary in the probe, and a
 * segment was found by its shmid with a size that holds a primary, at
 * region 1's key (a keyless fallback segment by its shmid alone).  The
 * proof is the random 64-bit id __db.001 named, found in a header whose
 * magic only a primary carries (a record's shmid may name any segment
 * after a reboot; at RGN_ENV_OFF another region of the same environment
 * holds heap list heads, never that magic).  Not touching the region
 * header saves the join a page fault.
 */
static int mapped_primary_is_ours(const struct rgn_env *env,
				  const struct rgn_map *map)
{
	const struct rgn_shm_env *ev =
		(const void *)((const uint8_t *)map->base + RGN_ENV_OFF);
	int rc;

	if (map->size < RGN_PRIMARY_BYTES)
		return rgn_fail(RGN_ECORRUPT, "primary region is truncated");
	rc = check_env_hdr(ev);
	if (rc == 0 && ev->ev_env_id != env->env_id)
		rc = not_this_env(env);
	return rc;
}

/*
 * Take a record of __db.001 (read from it, or from the copy __db.lck keeps
 * of it) as the way to the primary: check it, then fill env->primary_slot,
 * env->ops, backing, key, flags and env_id.  The primary's own header is
 * checked against it when mapped (rgn_primary_attach).
 */
int rgn_primary_use_record(struct rgn_env *env,
			   const struct rgn_file_record *fr)
{
	struct rgn_shm_slot *sl = &env->primary_slot;

	if (fr->fr_magic != RGN_RECORD_MAGIC)
		return rgn_fail(RGN_EBADMAGIC, "%s/%s: not a record", env->home,
				RGN_PRIMARY_FILE);
	if (fr->fr_format != RGN_FORMAT)
		return rgn_fail(RGN_EVERSION,
				"%s/%s has format %u; this library reads "
				"format %u",
				env->home, RGN_PRIMARY_FILE, fr->fr_format,
				RGN_FORMAT);
	if ((fr->fr_backing != RGN_BACKING_SYSV &&
	     fr->fr_backing != RGN_BACKING_FILES) ||
	    fr->fr_shmid < 0 || fr->fr_size < RGN_PRIMARY_BYTES)
		return rgn_fail(RGN_ECORRUPT, "%s/%s: inconsistent record",
				env->home, RGN_PRIMARY_FILE);
	memset(sl, 0, sizeof(*sl));
	sl->sl_id = 1;
	sl->sl_state = RGN_SLOT_READY;
	sl->sl_type = RGN_TYPE_ENV;
	/* A record names a primary kept in a segment. */
	env->ops =
		rgn_backing_select(fr->fr_backing, RGN_RF_SYSV | fr->fr_flags);
	env->backing = fr->fr_backing;
	env->env_flags = fr->fr_flags;
	env->shm_key = fr->fr_shm_key;
	env->env_id = fr->fr_env_id;
	sl->sl_flags = env->ops->slot_flags | fr->fr_flags;
	sl->sl_size = sl->sl_max = fr->fr_size;
	sl->sl_shmid = fr->fr_shmid;
	sl->sl_key = fr->fr_shm_key;
	return 0;
}

/*
 * Find out what __db.001 is and how to reach the primary: fills
 * env->primary_slot, env->ops, backing, key, flags and env_id.  With MAP,
 * a files-mode primary is also mapped read-write into env->primary from the
 * same descriptor (the join's fast path: one open instead of two).
 * Changes nothing on disk.  -ENOENT when there is no __db.001.
 */
int rgn_primary_probe(struct rgn_env *env, int map)
{
	struct rgn_shm_slot *sl = &env->primary_slot;
	const size_t head = RGN_ENV_OFF + sizeof(struct rgn_shm_env);
	/* On the stack and not cleared: only the N bytes read are looked
	 * at (every check below is bounded by N), and a join should not pay
	 * for an 8 KiB calloc. */
	uint8_t buf[RGN_ENV_OFF + sizeof(struct rgn_shm_env)]
		__attribute__((aligned(64)));
	uint8_t *mapped = NULL;
	const uint8_t *raw;
	uint32_t magic;
	struct stat st;
	ssize_t n;
	int fd, rc = 0;

	fd = rgn_open_in_home(env, RGN_PRIMARY_FILE, map ? O_RDWR : O_RDONLY, 0,
			      &st);
	if (fd == -EINVAL) /* a directory, fifo or device: not ours */
		return rgn_fail(RGN_EBADMAGIC, "%s/%s is not a regular file",
				env->home, RGN_PRIMARY_FILE);
	if (fd < 0)
		return fd;
	if (map && (uint64_t)st.st_size >= RGN_PRIMARY_BYTES) {
		/* Only a files-mode primary is this large; its size was
		 * checked, so touching the header cannot fault. */
		mapped = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, fd, 0);
		if (mapped == MAP_FAILED) {
			mapped = NULL;
			rc = rgn_fail(-errno, "mmap %s/%s", env->home,
				      RGN_PRIMARY_FILE);
			goto out;
		}
		raw = mapped;
		n = (ssize_t)head;
	} else {
		n = pread(fd, buf, head, 0);
		if (n < 0) {
			rc = rgn_fail(-errno, "read %s/%s", env->home,
				      RGN_PRIMARY_FILE);
			goto out;
		}
		raw = buf;
	}
	if (n < 4) {
		rc = rgn_fail(RGN_EBADMAGIC, "%s/%s is %s", env->home,
			      RGN_PRIMARY_FILE, n ? "truncated" : "empty");
		goto out;
	}
	memset(sl, 0, sizeof(*sl));
	sl->sl_id = 1;
	sl->sl_state = RGN_SLOT_READY;
	sl->sl_type = RGN_TYPE_ENV;
	memcpy(&magic, raw, sizeof(magic));
	if (magic == RGN_RECORD_MAGIC) {
		struct rgn_file_record fr;

		if ((size_t)n < sizeof(fr)) {
			rc = rgn_fail(RGN_ECORRUPT, "%s/%s is truncated",
				      env->home, RGN_PRIMARY_FILE);
			goto out;
		}
		memcpy(&fr, raw, sizeof(fr));
		rc = rgn_primary_use_record(env, &fr);
	} else if (magic == RGN_REGION_MAGIC) {
		const struct rgn_shm_region *rh = (const void *)raw;
		const struct rgn_shm_env *ev =
			(const void *)(raw + RGN_ENV_OFF);

		rc = rgn_check_primary(raw, (size_t)n);
		if (rc < 0) {
			rgn_fail(rc, "%s/%s: %s", env->home, RGN_PRIMARY_FILE,
				 rgn_errdetail()[0] ? rgn_errdetail()
						    : rgn_strerror(rc));
			goto out;
		}
		if ((uint64_t)st.st_size < rh->rh_size) {
			rc = rgn_fail(RGN_ECORRUPT,
				      "%s/%s is truncated: %lld of %llu bytes",
				      env->home, RGN_PRIMARY_FILE,
				      (long long)st.st_size,
				      (unsigned long long)rh->rh_size);
			goto out;
		}
		/* A primary that is __db.001 itself is in files. */
		env->ops = rgn_backing_select(RGN_BACKING_FILES, 0);
		env->backing = ev->ev_backing;
		env->env_flags = ev->ev_flags;
		env->shm_key = 0;
		env->env_id = ev->ev_env_id;
		sl->sl_size = sl->sl_max = rh->rh_size;
		sl->sl_shmid = -1;
		if (mapped) {
			env->primary = (struct rgn_map){
				.base = mapped,
				.size = (uint64_t)st.st_size,
				.shmid = -1,
			};
			mapped = NULL; /* kept */
		}
	} else {
		rc = rgn_fail(RGN_EBADMAGIC,
			      "%s/%s starts with 0x%08x, not a regionfs "
			      "environment",
			      env->home, RGN_PRIMARY_FILE, magic);
	}
out:
	if (mapped)
		munmap(mapped, (size_t)st.st_size);
	close(fd);
	return rc;
}

/*
 * Copy the parts of the primary in use: the headers, then the table and the
 * registry only up to their high-water marks.  The rest of the buffer is
 * zero, which reads as free slots, so callers may index it freely.
 */
static void copy_primary(uint8_t *dst, const uint8_t *src)
{
	const struct rgn_shm_env *ev = (const void *)(dst + RGN_ENV_OFF);

	rgn_region_copy(dst, src, RGN_PRIMARY_BYTES, RGN_PROCS_OFF, 0);
	memcpy(dst + RGN_TABLE_OFF, src + RGN_TABLE_OFF,
	       rgn_slot_hwm(ev) * sizeof(struct rgn_shm_slot));
	memcpy(dst + RGN_PROCS_OFF, src + RGN_PROCS_OFF,
	       rgn_proc_hwm(ev) * sizeof(struct rgn_shm_proc));
}

static int read_primary(struct rgn_env *env, uint8_t *buf)
{
	struct rgn_reader rd = {.ops = env->ops, .env = env, .id = 1, .fd = -1};
	const struct rgn_shm_env *ev = (const void *)(buf + RGN_ENV_OFF);
	size_t parts[3][2] = {{0, RGN_PROCS_OFF}};
	ssize_t n;
	int rc = env->ops->read_open(env, &env->primary_slot, &rd);

	if (rc < 0)
		return rc;
	for (int p = 0; p < 3; p++) {
		if (p == 1) {
			/* the header is in: bound the rest by it */
			rc = rgn_check_primary(buf, RGN_PROCS_OFF);
			if (rc < 0)
				break;
			parts[1][0] = RGN_TABLE_OFF;
			parts[1][1] =
				rgn_slot_hwm(ev) * sizeof(struct rgn_shm_slot);
			parts[2][0] = RGN_PROCS_OFF;
			parts[2][1] =
				rgn_proc_hwm(ev) * sizeof(struct rgn_shm_proc);
		}
		n = env->ops->read_at(&rd, buf + parts[p][0], parts[p][1],
				      parts[p][0]);
		if (n >= 0 && (size_t)n < parts[p][1])
			n = rgn_fail(RGN_ECORRUPT,
				     "primary region is truncated");
		if (n < 0) {
			rc = (int)n;
			break;
		}
	}
	env->ops->read_close(&rd);
	if (rc == 0)
		rc = primary_is_ours(env, buf, RGN_PROCS_OFF);
	return rc;
}

int rgn_primary_snapshot(struct rgn_env *env, uint8_t **bufp)
{
	/* calloc of this size maps fresh zero pages: cheap when unused. */
	uint8_t *buf = calloc(1, RGN_PRIMARY_BYTES);
	int rc;

	if (!buf)
		return -ENOMEM;
	if (env->shenv) {
		rc = rgn_env_lock(env);
		if (rc < 0 && rc != RGN_EPANIC) {
			free(buf);
			return rc;
		}
		copy_primary(buf, env->primary.base);
		if (rc == 0)
			rgn_env_unlock(env);
		*bufp = buf;
		return 0;
	}
	rc = read_primary(env, buf);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*bufp = buf;
	return 0;
}

static void point_into_primary(struct rgn_env *env)
{
	uint8_t *base = env->primary.base;

	env->shenv = (struct rgn_shm_env *)(base + RGN_ENV_OFF);
	env->slots = (struct rgn_shm_slot *)(base + RGN_TABLE_OFF);
	env->procs = (struct rgn_shm_proc *)(base + RGN_PROCS_OFF);
}

int rgn_primary_recover(void *ctx)
{
	struct rgn_env *env = ctx;

	/*
	 * The dead holder may have been half-way through a slot or registry
	 * update.  Slots in transition name their actor, and registry entries
	 * are judged by liveness, so both heal themselves; what must hold is
	 * the table's shape.
	 */
	uint32_t slot_hwm = 1, proc_hwm = 0;

	/* Only the reserved part: pages past it have no storage to read. */
	for (uint32_t i = 0; i < rgn_slot_resv(env->shenv); i++) {
		const struct rgn_shm_slot *sl = &env->slots[i];

		if (sl->sl_state > RGN_SLOT_REMOVING ||
		    (sl->sl_state != RGN_SLOT_FREE && sl->sl_id != i + 1))
			return rgn_fail(RGN_ECORRUPT, "region table slot %u",
					i);
		if (sl->sl_state != RGN_SLOT_FREE)
			slot_hwm = i + 1;
	}
	for (uint32_t i = 0; i < RGN_MAX_PROCS; i++)
		if (env->procs[i].pr_pid)
			proc_hwm = i + 1;
	/* Marks are raised before a slot is used, but recount anyway. */
	if (env->shenv->ev_slot_hwm < slot_hwm)
		env->shenv->ev_slot_hwm = slot_hwm;
	if (env->shenv->ev_proc_hwm < proc_hwm)
		env->shenv->ev_proc_hwm = proc_hwm;
	return 0;
}

int rgn_env_lock(struct rgn_env *env)
{
	int rc =
		rgn_mutex_lock(&env->shenv->ev_mutex, rgn_primary_recover, env);

	if (rc == 0 && env->shenv->ev_panic) {
		rgn_mutex_unlock(&env->shenv->ev_mutex);
		return rgn_fail(RGN_EPANIC,
				"environment in %s was removed by force",
				env->home);
	}
	return rc;
}

void rgn_env_unlock(struct rgn_env *env)
{
	rgn_mutex_unlock(&env->shenv->ev_mutex);
}

/*
 * A mutex in a file outlives a reboot with its lock word frozen, and no
 * process of the old boot can be alive: reinitialise it.  Called with the
 * setup lock held, so only one joiner per boot does this.
 */
static int from_another_boot(const struct rgn_env *env)
{
	const char *boot = rgn_boot_id();

	return boot[0] &&
	       strncmp(env->shenv->ev_boot_id, boot, RGN_BOOT_ID_LEN) != 0;
}

static void adopt_boot(struct rgn_env *env)
{
	struct rgn_shm_region *rh = (void *)env->primary.base;
	const char *boot = rgn_boot_id();

	if (!from_another_boot(env))
		return;
	rgn_mutex_init(&env->shenv->ev_mutex);
	memset(env->procs, 0, RGN_MAX_PROCS * sizeof(*env->procs));
	env->shenv->ev_proc_hwm = 0;
	snprintf(env->shenv->ev_boot_id, sizeof(env->shenv->ev_boot_id), "%s",
		 boot);
	snprintf(rh->rh_boot_id, sizeof(rh->rh_boot_id), "%s", boot);
}

static uint64_t new_env_id(void)
{
	uint64_t id = 0;

	while (id == 0) {
		if (getrandom(&id, sizeof(id), 0) != sizeof(id))
			id = ((uint64_t)time(NULL) << 32) ^
			     (uint64_t)rgn_self_pid() ^ (uint64_t)clock();
	}
	return id;
}

/* Remove __db.001.tmp left by a creator that died (we hold the setup lock,
 * so nobody is writing it).  Ours: a regular file in our home with our
 * magic, or empty because the creator died before writing anything. */
int rgn_primary_clear_debris(struct rgn_env *env)
{
	struct stat st;
	uint32_t magic = 0;
	int fd = openat(rgn_home_fd(env), RGN_PRIMARY_TMP,
			O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return errno == ENOENT ? 0
				       : rgn_fail(-errno, "open %s/%s",
						  env->home, RGN_PRIMARY_TMP);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_size > 0 &&
	     (pread(fd, &magic, sizeof(magic), 0) != sizeof(magic) ||
	      (magic != 0 && magic != RGN_REGION_MAGIC &&
	       magic != RGN_RECORD_MAGIC)))) {
		close(fd);
		return rgn_fail(RGN_EINCOMPLETE,
				"%s/%s is not ours; remove it by hand",
				env->home, RGN_PRIMARY_TMP);
	}
	close(fd);
	if (unlinkat(rgn_home_fd(env), RGN_PRIMARY_TMP, 0) < 0 &&
	    errno != ENOENT)
		return rgn_fail(-errno, "unlink %s/%s", env->home,
				RGN_PRIMARY_TMP);
	return 0;
}

int rgn_primary_has_debris(struct rgn_env *env)
{
	struct stat st;

	return fstatat(rgn_home_fd(env), RGN_PRIMARY_TMP, &st,
		       AT_SYMLINK_NOFOLLOW) == 0;
}

/*
 * Storage reserved for the primary at create: where a backing can grow it,
 * the headers, the registry and the table up to the end of its first
 * page (the slots a typical environment uses), else all of it.
 */
static uint64_t primary_reserve(const struct rgn_env *env, uint64_t size,
				uint64_t page, uint32_t *slots)
{
	uint64_t end =
		rgn_round_up(RGN_TABLE_OFF + sizeof(struct rgn_shm_slot), page);

	if (!env->ops->grow_primary || end >= size) {
		*slots = RGN_MAX_REGIONS;
		return size;
	}
	*slots =
		(uint32_t)((end - RGN_TABLE_OFF) / sizeof(struct rgn_shm_slot));
	return end;
}

int rgn_primary_create(struct rgn_env *env)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t size = rgn_round_up(RGN_PRIMARY_BYTES, page), reserve;
	struct rgn_shm_region *rh;
	struct rgn_shm_env *ev;
	struct rgn_shm_slot *sl;
	uint32_t resv;
	int rc;

	env->env_id = new_env_id();
	reserve = primary_reserve(env, size, page, &resv);
	rc = env->ops->create(env, 1, size, reserve, &env->primary);
	if (rc < 0)
		return rc;
	rgn_test_point("env-create:storage");
	rh = (void *)env->primary.base;
	point_into_primary(env);
	ev = env->shenv;
	rgn_init_region_hdr(env, rh, 1, RGN_TYPE_ENV, size, "env",
			    env->primary.key);
	rc = rgn_mutex_init(&rh->rh_mutex);
	if (!rc)
		rc = rgn_mutex_init(&ev->ev_mutex);
	if (rc < 0)
		goto fail;
	ev->ev_magic = RGN_ENV_MAGIC;
	ev->ev_format = RGN_FORMAT;
	ev->ev_state = RGN_STATE_CREATING;
	ev->ev_backing = env->backing;
	ev->ev_flags = env->env_flags;
	ev->ev_shm_key = env->shm_key;
	ev->ev_mode = env->mode;
	ev->ev_env_id = env->env_id;
	ev->ev_ctime = ev->ev_mtime = rh->rh_ctime;
	ev->ev_generation = 1;
	ev->ev_max_regions = RGN_MAX_REGIONS;
	ev->ev_max_procs = RGN_MAX_PROCS;
	ev->ev_slot_hwm = 1;
	ev->ev_proc_hwm = 0;
	ev->ev_slot_resv = resv;
	ev->ev_table_off = RGN_TABLE_OFF;
	ev->ev_procs_off = RGN_PROCS_OFF;
	memcpy(ev->ev_boot_id, rh->rh_boot_id, sizeof(ev->ev_boot_id));

	sl = &env->slots[0];
	sl->sl_id = 1;
	sl->sl_state = RGN_SLOT_READY;
	sl->sl_type = RGN_TYPE_ENV;
	sl->sl_flags = env->ops->slot_flags | env->env_flags;
	sl->sl_size = sl->sl_max = size;
	sl->sl_shmid = env->primary.shmid;
	sl->sl_key = env->primary.key;
	sl->sl_seg_ctime = env->primary.seg_ctime;
	sl->sl_creator_pid = rgn_self_pid();
	sl->sl_ctime = sl->sl_mtime = rh->rh_ctime;
	snprintf(sl->sl_name, sizeof(sl->sl_name), "env");
	env->primary_slot = *sl;

	ev->ev_state = RGN_STATE_READY;
	__atomic_store_n(&rh->rh_magic, RGN_REGION_MAGIC, __ATOMIC_RELEASE);
	rgn_test_point("env-create:before-publish");
	rc = env->ops->publish(env, &env->primary);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	env->ops->discard(env, 1, &env->primary);
	env->shenv = NULL;
	return rc;
}

/*
 * Map the primary that rgn_primary_probe found (unless the probe mapped it
 * already) and prove it is this environment's before anything in it is
 * read or written: a record's shmid may name another program's segment
 * after a reboot.  -ENOENT when the segment is gone or is not ours.
 */
int rgn_primary_attach(struct rgn_env *env)
{
	int rc = 0;

	if (!env->primary.base)
		rc = env->ops->attach(env, &env->primary_slot, 0,
				      &env->primary);
	if (rc == 0) {
		rc = mapped_primary_is_ours(env, &env->primary);
		if (rc < 0)
			env->ops->detach(env, &env->primary);
	}
	if (rc < 0) {
		memset(&env->primary, 0, sizeof(env->primary));
		/* Only a primary reached through a record can vanish
		 * under it. */
		if (!env->ops->unpublish || (rc != -ENOENT && rc < RGN_ELAST))
			return rc;
		return rgn_fail(
			-ENOENT,
			"primary segment shmid %d named by %s/%s is not "
			"this environment's any more (removed, or the "
			"machine rebooted)",
			env->primary_slot.sl_shmid, env->home,
			RGN_PRIMARY_FILE);
	}
	point_into_primary(env);
	return 0;
}

/* Map and check the primary that rgn_primary_probe found.  Only a caller that
 * holds the setup lock may ADOPT a primary left by another boot; others get
 * -EAGAIN. */
int rgn_primary_join(struct rgn_env *env, const struct rgn_env_config *cfg,
		     int adopt)
{
	int rc;

	if (cfg->backing && cfg->backing != env->backing)
		return rgn_fail(
			RGN_EBACKING, "%s holds a %s environment, not %s",
			env->home,
			env->backing == RGN_BACKING_SYSV ? "system memory"
							 : "files",
			cfg->backing == RGN_BACKING_SYSV      ? "system memory"
			: cfg->backing == RGN_BACKING_PRIVATE ? "private"
							      : "files");
	rc = rgn_primary_attach(env);
	if (rc < 0)
		return rc;
	if (env->shenv->ev_panic) {
		env->ops->detach(env, &env->primary);
		env->shenv = NULL;
		return rgn_fail(RGN_EPANIC,
				"environment in %s was removed by force",
				env->home);
	}
	if (!adopt && from_another_boot(env)) {
		env->ops->detach(env, &env->primary);
		env->shenv = NULL;
		return -EAGAIN;
	}
	env->mode = env->shenv->ev_mode;
	adopt_boot(env);
	return 0;
}
