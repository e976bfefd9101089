/*
 * env.c - opening, closing and removing environments.
 *
 * Processes coordinate through OFD locks on __db.lck, not through anything
 * in shared memory, because the kernel drops an OFD lock the instant its
 * holder dies.  Byte RGN_LOCK_SETUP is held (write) for the few system calls
 * of a create, join or remove, so two creators end up with one environment
 * and a creator killed half-way is recognised at once by the next opener:
 * no sleep-and-retry, no timeout.  Byte RGN_LOCK_ATTACH is read-locked by
 * every attached handle for its whole life and write-locked by a private
 * owner; that makes "one private handle" and "busy while anyone is
 * attached" exact, and lets remove ask the kernel instead of a reference
 * count that a crash would leave wrong.
 *
 * The primary is created under a temporary name and renamed into place
 * only when complete, so a __db.001 that exists is always a finished one;
 * a dead creator leaves only __db.001.tmp (or, for segments, a segment whose
 * header names this home), which the next create reclaims.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/random.h>
#include <sys/shm.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "env.h"
#include "internal.h"
#include "proc.h"
#include "rgn_config.h"

void rgn_env_config_init(struct rgn_env_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = 0660;
}

enum rgn_backing rgn_env_backing(const rgn_env *env)
{
	return env->backing;
}

const char *rgn_env_home(const rgn_env *env)
{
	return env->home;
}

const char *rgn_version(void)
{
	return RGN_VERSION;
}

/* ---- OFD locks on __db.lck ---------------------------------------------- */

static int ofd_lock(int fd, short type, off_t byte, int wait)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = byte,
		.l_len = 1,
	};

	while (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* 1 if another open file description holds a write lock on BYTE. */
static int ofd_write_locked(int fd, off_t byte)
{
	struct flock fl = {
		.l_type = F_RDLCK,
		.l_whence = SEEK_SET,
		.l_start = byte,
		.l_len = 1,
	};

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return 0;
	return fl.l_type == F_WRLCK;
}

/*
 * Records in __db.lck, one line of text so `cat __db.lck` tells a person:
 *   "private pid P start S"          the owner of a private environment;
 *   "creating pid P start S key K time T"   a creator of a segment-backed
 *                                    primary, written under the setup
 *                                    lock right before its shmget.
 * A shared environment at rest leaves the file empty.
 */
static int read_record(int fd, const char *what, struct rgn_intent *rec)
{
	char buf[160], word[16];
	unsigned long long start = 0;
	long long when = 0;
	unsigned key = 0;
	int pid = 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -ENOENT;
	buf[n] = '\0';
	if (sscanf(buf, "%15s pid %d start %llu key %x time %lld", word, &pid,
		   &start, &key, &when) < 3 ||
	    strcmp(word, what) != 0 || pid <= 0)
		return -ENOENT;
	rec->pid = pid;
	rec->start = start;
	rec->key = (int32_t)key;
	rec->time = when;
	return 0;
}

static int write_record(int fd, const char *what, int32_t key)
{
	char buf[160];
	int n = snprintf(buf, sizeof(buf),
			 "%s pid %d start %" PRIu64 " key %x time %lld\n", what,
			 (int)rgn_self_pid(), rgn_self_start(), (unsigned)key,
			 (long long)time(NULL));

	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		return -errno;
	return 0;
}

/* The private owner named in the lock file, if it is still running. */
static int read_owner(int fd, pid_t *pid)
{
	struct rgn_intent rec;

	if (read_record(fd, "private", &rec) < 0 ||
	    !rgn_proc_alive(rec.pid, rec.start))
		return -ENOENT;
	*pid = rec.pid;
	return 0;
}

/*
 * Open __db.lck and take the setup lock.  The file may be unlinked by a
 * remover between our open and our lock, so after locking we check that the
 * path still names the inode we locked, and start over if not.
 */
static int open_lockfile(struct rgn_env *env, int create)
{
	for (;;) {
		struct stat st, path_st;
		int fd, made = 0, rc;

		fd = rgn_open_in_home(env, RGN_LOCK_FILE, O_RDWR, 0, &st);
		if (fd == -ENOENT && create) {
			fd = rgn_open_in_home(env, RGN_LOCK_FILE,
					      O_RDWR | O_CREAT | O_EXCL,
					      env->mode, &st);
			made = fd >= 0;
			if (fd == -EEXIST)
				continue;
		}
		if (fd < 0)
			return fd;
		if (made)
			fchmod(fd, env->mode);
		rc = ofd_lock(fd, F_WRLCK, RGN_LOCK_SETUP, 1);
		if (rc < 0) {
			close(fd);
			return rgn_fail(rc, "lock %s/%s", env->home,
					RGN_LOCK_FILE);
		}
		if (fstatat(env->dirfd, RGN_LOCK_FILE, &path_st,
			    AT_SYMLINK_NOFOLLOW) == 0 &&
		    path_st.st_dev == st.st_dev && path_st.st_ino == st.st_ino) {
			env->lockfd = fd;
			return 0;
		}
		close(fd); /* lost a race with remove: the file is gone */
	}
}

static void setup_unlock(struct rgn_env *env)
{
	struct flock fl = {
		.l_type = F_UNLCK,
		.l_whence = SEEK_SET,
		.l_start = RGN_LOCK_SETUP,
		.l_len = 1,
	};

	fcntl(env->lockfd, F_OFD_SETLK, &fl);
}

static int owns_private_record(struct rgn_env *env)
{
	struct rgn_intent rec;

	return read_record(env->lockfd, "private", &rec) == 0 &&
	       rec.pid == rgn_self_pid() && rec.start == rgn_self_start();
}

/* Unlink __db.lck, which we hold locked, if the path still names it. */
static void unlink_lockfile(struct rgn_env *env)
{
	struct stat st, path_st;

	if (fstat(env->lockfd, &st) == 0 &&
	    fstatat(env->dirfd, RGN_LOCK_FILE, &path_st,
		    AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_dev == path_st.st_dev && st.st_ino == path_st.st_ino)
		unlinkat(env->dirfd, RGN_LOCK_FILE, 0);
}

/* ---- the primary -------------------------------------------------------- */

int rgn_check_primary(const uint8_t *buf, size_t len)
{
	const struct rgn_shm_region *rh = (const void *)buf;
	const struct rgn_shm_env *ev = (const void *)(buf + RGN_ENV_OFF);
	int rc;

	if (len < sizeof(*rh) || len < RGN_ENV_OFF + sizeof(*ev))
		return rgn_fail(RGN_ECORRUPT, "primary region is truncated");
	rc = rgn_check_region_hdr(rh, rh->rh_env_id, 1, 0);
	if (rc < 0)
		return rc;
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
	if (ev->ev_env_id != rh->rh_env_id || ev->ev_state != RGN_STATE_READY ||
	    ev->ev_table_off != RGN_TABLE_OFF ||
	    ev->ev_procs_off != RGN_PROCS_OFF ||
	    ev->ev_max_regions != RGN_MAX_REGIONS ||
	    ev->ev_max_procs != RGN_MAX_PROCS ||
	    ev->ev_backing < RGN_BACKING_FILES ||
	    ev->ev_backing > RGN_BACKING_SYSV || rh->rh_size < RGN_PRIMARY_BYTES)
		return rgn_fail(RGN_ECORRUPT,
				"environment header is inconsistent");
	return 0;
}

/*
 * Find out what __db.001 is and how to reach the primary: fills
 * env->primary_slot, env->ops, backing, key, flags and env_id.  With MAP,
 * a files-mode primary is also mapped read-write into env->primary from the
 * same descriptor (the join's fast path: one open instead of two).
 * Changes nothing on disk.  -ENOENT when there is no __db.001.
 */
static int probe_primary(struct rgn_env *env, int map)
{
	struct rgn_shm_slot *sl = &env->primary_slot;
	const size_t head = RGN_ENV_OFF + sizeof(struct rgn_shm_env);
	uint8_t *buf = NULL, *mapped = NULL;
	const uint8_t *raw;
	uint32_t magic;
	struct stat st;
	ssize_t n;
	int fd, rc = 0;

	fd = rgn_open_in_home(env, RGN_PRIMARY_FILE, map ? O_RDWR : O_RDONLY,
			      0, &st);
	if (fd == -EINVAL) /* a directory, fifo or device: not ours */
		return rgn_fail(RGN_EBADMAGIC, "%s/%s is not a regular file",
				env->home, RGN_PRIMARY_FILE);
	if (fd < 0)
		return fd;
	if (map && (uint64_t)st.st_size >= RGN_PRIMARY_BYTES) {
		/* Only a files-mode primary is this large; its size was
		 * checked, so touching the header cannot fault. */
		mapped = mmap(NULL, (size_t)st.st_size,
			      PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (mapped == MAP_FAILED) {
			mapped = NULL;
			rc = rgn_fail(-errno, "mmap %s/%s", env->home,
				      RGN_PRIMARY_FILE);
			goto out;
		}
		raw = mapped;
		n = (ssize_t)head;
	} else {
		buf = calloc(1, head);
		if (!buf) {
			rc = -ENOMEM;
			goto out;
		}
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
		if (fr.fr_format != RGN_FORMAT) {
			rc = rgn_fail(RGN_EVERSION,
				      "%s/%s has format %u; this library reads "
				      "format %u",
				      env->home, RGN_PRIMARY_FILE, fr.fr_format,
				      RGN_FORMAT);
			goto out;
		}
		if ((fr.fr_backing != RGN_BACKING_SYSV &&
		     fr.fr_backing != RGN_BACKING_FILES) ||
		    fr.fr_shmid < 0 || fr.fr_size < RGN_PRIMARY_BYTES) {
			rc = rgn_fail(RGN_ECORRUPT, "%s/%s: inconsistent record",
				      env->home, RGN_PRIMARY_FILE);
			goto out;
		}
		env->ops = &rgn_backing_sysv;
		env->backing = fr.fr_backing;
		env->env_flags = fr.fr_flags;
		env->shm_key = fr.fr_shm_key;
		env->env_id = fr.fr_env_id;
		sl->sl_flags = RGN_RF_SYSV | fr.fr_flags;
		sl->sl_size = sl->sl_max = fr.fr_size;
		sl->sl_shmid = fr.fr_shmid;
		sl->sl_key = fr.fr_shm_key;
	} else if (magic == RGN_REGION_MAGIC) {
		const struct rgn_shm_region *rh = (const void *)raw;
		const struct rgn_shm_env *ev = (const void *)(raw + RGN_ENV_OFF);

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
		env->ops = &rgn_backing_files;
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
	free(buf);
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

	memcpy(dst, src, RGN_PROCS_OFF);
	memcpy(dst + RGN_TABLE_OFF, src + RGN_TABLE_OFF,
	       rgn_slot_hwm(ev) * sizeof(struct rgn_shm_slot));
	memcpy(dst + RGN_PROCS_OFF, src + RGN_PROCS_OFF,
	       rgn_proc_hwm(ev) * sizeof(struct rgn_shm_proc));
}

static int read_primary(struct rgn_env *env, uint8_t *buf)
{
	struct rgn_reader rd = {
		.ops = env->ops, .env = env, .id = 1, .fd = -1};
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
			parts[1][1] = rgn_slot_hwm(ev) *
				      sizeof(struct rgn_shm_slot);
			parts[2][0] = RGN_PROCS_OFF;
			parts[2][1] = rgn_proc_hwm(ev) *
				      sizeof(struct rgn_shm_proc);
		}
		n = env->ops->read_at(&rd, buf + parts[p][0], parts[p][1],
				      parts[p][0]);
		if (n >= 0 && (size_t)n < parts[p][1])
			n = rgn_fail(RGN_ECORRUPT, "primary region is truncated");
		if (n < 0) {
			rc = (int)n;
			break;
		}
	}
	env->ops->read_close(&rd);
	if (rc == 0 && ((struct rgn_shm_region *)buf)->rh_env_id != env->env_id)
		rc = rgn_fail(RGN_ECORRUPT,
			      "primary segment belongs to another environment");
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

static int env_recover(void *ctx)
{
	struct rgn_env *env = ctx;

	/*
	 * The dead holder may have been half-way through a slot or registry
	 * update.  Slots in transition name their actor, and registry entries
	 * are judged by liveness, so both heal themselves; what must hold is
	 * the table's shape.
	 */
	uint32_t slot_hwm = 1, proc_hwm = 0;

	for (uint32_t i = 0; i < RGN_MAX_REGIONS; i++) {
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
	int rc = rgn_mutex_lock(&env->shenv->ev_mutex, env_recover, env);

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
	const struct rgn_shm_region *rh = (const void *)env->primary.base;
	const char *boot = rgn_boot_id();

	return boot[0] && strncmp(rh->rh_boot_id, boot, RGN_BOOT_ID_LEN) != 0;
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

void rgn_init_region_hdr(struct rgn_env *env, struct rgn_shm_region *rh,
			 uint32_t id, enum rgn_region_type type, uint64_t size,
			 const char *name, int32_t key)
{
	rh->rh_format = RGN_FORMAT;
	rh->rh_hdr_size = RGN_HDR_SIZE;
	rh->rh_id = id;
	rh->rh_env_id = env->env_id;
	rh->rh_size = size;
	rh->rh_type = type;
	rh->rh_creator_pid = rgn_self_pid();
	rh->rh_creator_start = rgn_self_start();
	rh->rh_ctime = time(NULL);
	rh->rh_key = key;
	rh->rh_backing = env->backing;
	snprintf(rh->rh_name, sizeof(rh->rh_name), "%s", name);
	snprintf(rh->rh_boot_id, sizeof(rh->rh_boot_id), "%s", rgn_boot_id());
	snprintf(rh->rh_home, sizeof(rh->rh_home), "%s", env->home);
	/* rh_magic is stored last by the caller, with release ordering. */
}

/* Remove __db.001.tmp left by a creator that died (we hold the setup lock,
 * so nobody is writing it).  Ours: a regular file in our home with our
 * magic, or empty because the creator died before writing anything. */
static int clear_debris(struct rgn_env *env)
{
	struct stat st;
	uint32_t magic = 0;
	int fd = openat(env->dirfd, RGN_PRIMARY_TMP,
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
	if (unlinkat(env->dirfd, RGN_PRIMARY_TMP, 0) < 0 && errno != ENOENT)
		return rgn_fail(-errno, "unlink %s/%s", env->home,
				RGN_PRIMARY_TMP);
	return 0;
}

static int has_debris(struct rgn_env *env)
{
	struct stat st;

	return fstatat(env->dirfd, RGN_PRIMARY_TMP, &st, AT_SYMLINK_NOFOLLOW) ==
	       0;
}

/*
 * Open __db.lck with the setup lock, creating it if CREATE.  Without
 * CREATE a missing lock file is made again only for a home that provably
 * holds one of our environments (or, with DEBRIS_OK, a dead creator's
 * __db.001.tmp): a directory with no environment is left exactly as it was.
 */
static int open_home_lock(struct rgn_env *env, int create, int debris_ok)
{
	int rc = open_lockfile(env, create);

	if (rc != -ENOENT)
		return rc;
	rc = probe_primary(env, 0);
	if (rc == -ENOENT)
		rc = debris_ok && has_debris(env)
			     ? 0
			     : rgn_fail(RGN_ENOTENV, "%s has no %s", env->home,
					RGN_PRIMARY_FILE);
	if (rc < 0)
		return rc;
	return open_lockfile(env, 1);
}

static int create_primary(struct rgn_env *env)
{
	uint64_t size = rgn_round_up(RGN_PRIMARY_BYTES,
				     (uint64_t)sysconf(_SC_PAGESIZE));
	struct rgn_shm_region *rh;
	struct rgn_shm_env *ev;
	struct rgn_shm_slot *sl;
	int rc;

	env->env_id = new_env_id();
	rc = env->ops->create(env, 1, size, &env->primary);
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
	ev->ev_table_off = RGN_TABLE_OFF;
	ev->ev_procs_off = RGN_PROCS_OFF;

	sl = &env->slots[0];
	sl->sl_id = 1;
	sl->sl_state = RGN_SLOT_READY;
	sl->sl_type = RGN_TYPE_ENV;
	sl->sl_flags = env->ops == &rgn_backing_sysv ? RGN_RF_SYSV : 0;
	sl->sl_flags |= env->env_flags;
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
 * Map the primary that probe_primary found (unless the probe mapped it
 * already) and prove it is this environment's before anything in it is
 * read or written: a record's shmid may name another program's segment
 * after a reboot.  -ENOENT when the segment is gone or is not ours.
 */
static int attach_primary(struct rgn_env *env)
{
	const struct rgn_shm_region *rh;
	int rc = 0;

	if (!env->primary.base)
		rc = env->ops->attach(env, &env->primary_slot, 0,
				      &env->primary);
	if (rc == 0) {
		rh = (const void *)env->primary.base;
		rc = rgn_check_primary(env->primary.base, env->primary.size);
		if (rc == 0 && rh->rh_env_id != env->env_id)
			rc = RGN_ECORRUPT;
		if (rc < 0)
			env->ops->detach(env, &env->primary);
	}
	if (rc < 0) {
		memset(&env->primary, 0, sizeof(env->primary));
		if (env->ops != &rgn_backing_sysv ||
		    (rc != -ENOENT && rc < RGN_ELAST))
			return rc;
		return rgn_fail(-ENOENT,
				"primary segment shmid %d named by %s/%s is not "
				"this environment's any more (removed, or the "
				"machine rebooted)",
				env->primary_slot.sl_shmid, env->home,
				RGN_PRIMARY_FILE);
	}
	point_into_primary(env);
	return 0;
}

/* Map and check the primary that probe_primary found.  Only a caller that
 * holds the setup lock may ADOPT a primary left by another boot; others get
 * -EAGAIN. */
static int join_primary(struct rgn_env *env, const struct rgn_env_config *cfg,
			int adopt)
{
	int rc;

	if (cfg->backing && cfg->backing != env->backing)
		return rgn_fail(RGN_EBACKING,
				"%s holds a %s environment, not %s", env->home,
				env->backing == RGN_BACKING_SYSV ? "system memory"
								 : "files",
				cfg->backing == RGN_BACKING_SYSV ? "system memory"
				: cfg->backing == RGN_BACKING_PRIVATE
					? "private"
					: "files");
	rc = attach_primary(env);
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

static int validate_config(const struct rgn_env_config *cfg)
{
	const uint32_t known = RGN_CREATE | RGN_EXCL | RGN_INSPECT | RGN_NOMMAP;

	if (cfg->flags & ~known)
		return rgn_fail(-EINVAL, "unknown open flags 0x%x",
				cfg->flags & ~known);
	if ((cfg->flags & RGN_INSPECT) && (cfg->flags & RGN_CREATE))
		return rgn_fail(-EINVAL, "an inspect open cannot create");
	if ((unsigned)cfg->backing > RGN_BACKING_PRIVATE)
		return rgn_fail(-EINVAL, "unknown backing %d", cfg->backing);
	if (cfg->mode & ~(mode_t)0777)
		return rgn_fail(-EINVAL, "mode 0%o has bits beyond 0777",
				(unsigned)cfg->mode);
	if (cfg->backing == RGN_BACKING_SYSV && (cfg->flags & RGN_CREATE)) {
		int64_t lo = cfg->shm_key, hi = lo + RGN_MAX_REGIONS - 1;

		if (cfg->shm_key == IPC_PRIVATE)
			return rgn_fail(RGN_ENOKEY,
					"base key 0 is IPC_PRIVATE; give a "
					"base key");
		/* Every key base..base+max-1 must be a real key: none may
		 * wrap or land on IPC_PRIVATE. */
		if (hi > INT32_MAX || (lo <= 0 && hi >= 0))
			return rgn_fail(RGN_ENOKEY,
					"base key %d: keys %d..%lld would "
					"include 0 (IPC_PRIVATE) or overflow",
					cfg->shm_key, cfg->shm_key,
					(long long)hi);
	}
	return 0;
}

static int open_inspect(struct rgn_env *env)
{
	int fd, rc;

	/* A private environment is only a lock file and a heap elsewhere:
	 * say whose it is. */
	fd = openat(env->dirfd, RGN_LOCK_FILE,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0) {
		pid_t pid;

		if (ofd_write_locked(fd, RGN_LOCK_ATTACH) &&
		    read_owner(fd, &pid) == 0) {
			env->backing = RGN_BACKING_PRIVATE;
			env->private_owner = pid;
			close(fd);
			return 0;
		}
		close(fd);
	}
	rc = probe_primary(env, 0);
	if (rc == -ENOENT)
		return has_debris(env)
			       ? rgn_fail(RGN_EINCOMPLETE,
					  "%s has %s but no %s", env->home,
					  RGN_PRIMARY_TMP, RGN_PRIMARY_FILE)
			       : rgn_fail(RGN_ENOTENV, "%s has no %s",
					  env->home, RGN_PRIMARY_FILE);
	return rc;
}

/* Headers record the home by its canonical path: resolve it before
 * creating anything. */
static int canonical_home(struct rgn_env *env)
{
	char real[PATH_MAX], link[64];
	ssize_t n;

	/* The directory we hold open, resolved by the kernel in one call;
	 * realpath() where /proc is not mounted. */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", env->dirfd);
	n = readlink(link, real, sizeof(real) - 1);
	if (n > 0 && real[0] == '/') {
		real[n] = '\0';
	} else if (!realpath(env->home, real)) {
		return rgn_fail(-errno, "home %s", env->home);
	}
	if (strlen(real) >= RGN_HOME_MAX)
		return rgn_fail(-ENAMETOOLONG, "home %s", real);
	memcpy(env->home, real, strlen(real) + 1);
	return 0;
}

static int open_private(struct rgn_env *env)
{
	int rc;

	rc = probe_primary(env, 0);
	if (rc == 0)
		return rgn_fail(RGN_EBACKING,
				"%s holds a shared environment; a private one "
				"cannot open there",
				env->home);
	if (rc != -ENOENT)
		return rc;
	rc = write_record(env->lockfd, "private", 0);
	if (rc < 0)
		return rgn_fail(rc, "write %s/%s", env->home, RGN_LOCK_FILE);
	rc = canonical_home(env);
	if (rc < 0)
		return rc;
	env->heap_mem = calloc(RGN_MAX_REGIONS, sizeof(*env->heap_mem));
	if (!env->heap_mem)
		return -ENOMEM;
	env->ops = &rgn_backing_heap;
	env->backing = RGN_BACKING_PRIVATE;
	return create_primary(env);
}

/*
 * Joining an environment that exists needs neither the setup lock nor a
 * second open of __db.001: the attach read-lock alone keeps removers and
 * private owners out, a link count above zero proves the lock file is the
 * one in the home, and the probe maps the primary from its own descriptor.
 * Anything unusual (no lock file, a lock refused, no __db.001 yet, a
 * primary from another boot, any error) undoes everything and returns
 * -EAGAIN, and the careful path runs from the start: this path only ever
 * skips work, never a decision.
 */
static int fast_join(struct rgn_env *env, const struct rgn_env_config *cfg)
{
	struct stat st;
	int fd, rc;

	fd = openat(env->dirfd, RGN_LOCK_FILE,
		    O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -EAGAIN;
	if (ofd_lock(fd, F_RDLCK, RGN_LOCK_ATTACH, 0) < 0 ||
	    fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink == 0) {
		close(fd);
		return -EAGAIN;
	}
	env->lockfd = fd;
	rc = probe_primary(env, 1);
	if (rc == 0)
		rc = join_primary(env, cfg, 0);
	if (rc == 0) {
		rc = rgn_env_lock(env);
		if (rc == 0) {
			rc = rgn_registry_add(env);
			rgn_env_unlock(env);
		}
		if (rc == 0)
			return 0;
		env->ops->detach(env, &env->primary);
		env->shenv = NULL;
		return rc; /* full or panicked: the slow path would agree */
	}
	if (env->primary.base)
		env->ops->detach(env, &env->primary);
	memset(&env->primary, 0, sizeof(env->primary));
	env->shenv = NULL;
	close(fd);
	env->lockfd = -1;
	rgn_clear_detail();
	return -EAGAIN;
}

/* Unlink the record file of a segment-backed environment, if ours. */
static int unlink_record(struct rgn_env *env)
{
	struct rgn_file_record fr;
	int fd = openat(env->dirfd, RGN_PRIMARY_FILE,
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
	if (unlinkat(env->dirfd, RGN_PRIMARY_FILE, 0) < 0)
		return rgn_fail(-errno, "unlink %s/%s", env->home,
				RGN_PRIMARY_FILE);
	return 0;
}

static int open_shared(struct rgn_env *env, const struct rgn_env_config *cfg)
{
	int rc = probe_primary(env, 0);

	if (rc == 0) {
		if ((cfg->flags & RGN_CREATE) && (cfg->flags & RGN_EXCL))
			return rgn_fail(-EEXIST, "%s already holds an "
						 "environment",
					env->home);
		rc = join_primary(env, cfg, 1);
		if (rc != -ENOENT || !(cfg->flags & RGN_CREATE) ||
		    env->ops != &rgn_backing_sysv)
			return rc;
		/* The record names a primary segment that is gone: nothing
		 * is left to join (and with the setup lock held nobody is
		 * using it).  A creator starts afresh. */
		rc = unlink_record(env);
		if (rc < 0)
			return rc;
		env->env_flags = 0;
		env->shm_key = 0;
	} else if (rc != -ENOENT) {
		return rc;
	}
	if (!(cfg->flags & RGN_CREATE))
		return has_debris(env)
			       ? rgn_fail(RGN_EINCOMPLETE,
					  "%s: creator died before finishing "
					  "(%s left); open with create to "
					  "recover",
					  env->home, RGN_PRIMARY_TMP)
			       : rgn_fail(RGN_ENOTENV, "%s has no %s",
					  env->home, RGN_PRIMARY_FILE);
	rc = clear_debris(env);
	if (rc == 0)
		rc = canonical_home(env);
	if (rc < 0)
		return rc;
	env->backing = cfg->backing ? cfg->backing : RGN_BACKING_FILES;
	if (env->backing == RGN_BACKING_SYSV) {
		env->ops = &rgn_backing_sysv;
		env->shm_key = cfg->shm_key;
	} else if (!RGN_HAVE_MMAP || (cfg->flags & RGN_NOMMAP)) {
		/* Files without mmap: the data lives in segments with
		 * private keys, and __db.001 records that it did. */
		env->ops = &rgn_backing_sysv;
		env->shm_key = IPC_PRIVATE;
		env->env_flags |= RGN_RF_FALLBACK;
	} else {
		env->ops = &rgn_backing_files;
	}
	/* A dead creator's intent lets the sysv backing reclaim what it left
	 * at the base key; then ours replaces it until we are published. */
	if (read_record(env->lockfd, "creating", &env->crashed) < 0 ||
	    rgn_proc_alive(env->crashed.pid, env->crashed.start))
		memset(&env->crashed, 0, sizeof(env->crashed));
	rc = write_record(env->lockfd, "creating", env->shm_key);
	if (rc < 0)
		return rgn_fail(rc, "write %s/%s", env->home, RGN_LOCK_FILE);
	rc = create_primary(env);
	if (rc == 0 && ftruncate(env->lockfd, 0) < 0)
		rc = rgn_fail(-errno, "truncate %s/%s", env->home,
			      RGN_LOCK_FILE);
	return rc;
}

/* Take the attach lock, or say who holds the home. */
static int take_attach_lock(struct rgn_env *env, int exclusive)
{
	pid_t owner;
	int rc = ofd_lock(env->lockfd, exclusive ? F_WRLCK : F_RDLCK,
			  RGN_LOCK_ATTACH, 0);

	if (rc == 0)
		return 0;
	if (rc != -EAGAIN && rc != -EACCES)
		return rgn_fail(rc, "lock %s/%s", env->home, RGN_LOCK_FILE);
	if (ofd_write_locked(env->lockfd, RGN_LOCK_ATTACH) &&
	    read_owner(env->lockfd, &owner) == 0)
		return rgn_fail(RGN_EPRIVATE,
				"%s is open as a private environment by pid %d",
				env->home, (int)owner);
	return rgn_fail(-EBUSY, "%s has attached processes", env->home);
}

/*
 * A fork()ed child shares its parent's open file descriptions, and OFD
 * locks belong to those: a child holding __db.lck open would keep the
 * parent's locks alive after the parent exits, and its close would release
 * or unlink what belongs to the parent.  So every open handle is listed,
 * and in the child its lock file descriptor is closed at once and the
 * handle marked: closing it there only unmaps.
 */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rgn_env *open_envs;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
	pthread_mutex_lock(&open_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&open_lock);
}

static void fork_child(void)
{
	for (struct rgn_env *e = open_envs; e; e = e->next_open) {
		if (e->lockfd >= 0)
			close(e->lockfd);
		e->lockfd = -1;
		e->forked = 1;
	}
	pthread_mutex_unlock(&open_lock);
}

static void fork_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void list_open(struct rgn_env *env)
{
	pthread_once(&fork_once, fork_init);
	pthread_mutex_lock(&open_lock);
	env->next_open = open_envs;
	open_envs = env;
	pthread_mutex_unlock(&open_lock);
}

static void unlist_open(struct rgn_env *env)
{
	pthread_mutex_lock(&open_lock);
	for (struct rgn_env **pp = &open_envs; *pp; pp = &(*pp)->next_open) {
		if (*pp == env) {
			*pp = env->next_open;
			break;
		}
	}
	pthread_mutex_unlock(&open_lock);
}

static struct rgn_env *env_alloc(void)
{
	struct rgn_env *env = calloc(1, sizeof(*env));

	if (!env)
		return NULL;
	pthread_mutex_init(&env->lock, NULL);
	env->dirfd = -1;
	env->lockfd = -1;
	env->proc_slot = -1;
	return env;
}

static void env_free(struct rgn_env *env)
{
	if (env->lockfd >= 0)
		close(env->lockfd);
	if (env->dirfd >= 0)
		close(env->dirfd);
	free(env->heap_mem);
	free(env->heap_graveyard);
	pthread_mutex_destroy(&env->lock);
	free(env);
}

/*
 * An absolute home is used as given (a join must not pay for resolving
 * every component); a relative one is resolved so that rgn_env_home() is
 * always absolute.  Creation resolves it fully (canonical_home).
 */
static int open_home(struct rgn_env *env, const char *home)
{
	size_t len = home ? strlen(home) : 0;

	if (!len)
		return rgn_fail(-EINVAL, "no home directory given");
	if (home[0] == '/') {
		if (len >= RGN_HOME_MAX)
			return rgn_fail(-ENAMETOOLONG, "home %s", home);
		memcpy(env->home, home, len + 1);
	} else {
		if (!realpath(home, env->home))
			return rgn_fail(-errno, "home %s", home);
		if (strlen(env->home) >= RGN_HOME_MAX)
			return rgn_fail(-ENAMETOOLONG, "home %s", home);
	}
	env->dirfd = open(env->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (env->dirfd < 0)
		return rgn_fail(-errno, "home %s", env->home);
	return 0;
}

int rgn_env_open(const char *home, const struct rgn_env_config *cfgp,
		 rgn_env **envp)
{
	struct rgn_env_config defaults;
	const struct rgn_env_config *cfg = cfgp;
	struct rgn_env *env;
	int rc, private_env;

	rgn_clear_detail();
	if (!envp)
		return -EINVAL;
	*envp = NULL;
	if (!cfg) {
		rgn_env_config_init(&defaults);
		cfg = &defaults;
	}
	rc = validate_config(cfg);
	if (rc < 0)
		return rc;
	env = env_alloc();
	if (!env)
		return -ENOMEM;
	env->flags = cfg->flags;
	env->mode = cfg->mode ? cfg->mode : 0660;
	rc = open_home(env, home);
	if (rc < 0)
		goto fail;
	if (cfg->flags & RGN_INSPECT) {
		rc = open_inspect(env);
		if (rc < 0)
			goto fail;
		goto done;
	}

	private_env = cfg->backing == RGN_BACKING_PRIVATE;
	if (!private_env && !(cfg->flags & RGN_EXCL)) {
		rc = fast_join(env, cfg);
		if (rc == 0)
			goto done;
		if (rc != -EAGAIN)
			goto fail;
	}
	rc = open_home_lock(env, (cfg->flags & RGN_CREATE) || private_env, 0);
	if (rc < 0)
		goto fail;
	rc = take_attach_lock(env, private_env);
	if (rc < 0)
		goto fail;
	rc = private_env ? open_private(env) : open_shared(env, cfg);
	if (rc < 0)
		goto fail_unlock;
	rc = rgn_env_lock(env);
	if (rc == 0) {
		rc = rgn_registry_add(env);
		rgn_env_unlock(env);
	}
	if (rc < 0) {
		if (private_env)
			env->ops->discard(env, 1, &env->primary);
		else
			env->ops->detach(env, &env->primary);
		goto fail_unlock;
	}
	setup_unlock(env);
done:
	list_open(env);
	rgn_clear_detail(); /* what the careful path tried is no failure */
	*envp = env;
	return 0;
fail_unlock:
	/* A private owner's lock file goes with a failed open only if this
	 * open wrote the owner record into it. */
	if (private_env && owns_private_record(env))
		unlink_lockfile(env);
fail:
	env_free(env);
	return rc;
}

int rgn_env_close(rgn_env *env)
{
	struct rgn_region *r, *next;

	rgn_clear_detail();
	if (!env)
		return -EINVAL;
	unlist_open(env);
	pthread_mutex_lock(&env->lock);
	for (r = env->regions; r; r = next) {
		next = r->next;
		env->ops->detach(env, &r->map);
		free(r);
	}
	env->regions = NULL;
	pthread_mutex_unlock(&env->lock);

	if (env->shenv) {
		if (rgn_mutex_lock(&env->shenv->ev_mutex, env_recover, env) ==
		    0) {
			rgn_registry_remove(env);
			rgn_mutex_unlock(&env->shenv->ev_mutex);
		}
	}
	if (env->backing == RGN_BACKING_PRIVATE && env->heap_mem) {
		for (uint32_t i = rgn_slot_hwm(env->shenv); i-- > 1;) {
			if (env->heap_mem[i])
				env->ops->destroy(env, &env->slots[i]);
		}
		for (size_t i = 0; i < env->heap_ngrave; i++)
			munmap(env->heap_graveyard[i].base,
			       env->heap_graveyard[i].size);
		env->ops->discard(env, 1, &env->primary);
		/* Close removes the lock file, under the setup lock so a
		 * concurrent opener re-checks the inode it locked; a forked
		 * child's copy leaves it to the parent. */
		if (!env->forked &&
		    ofd_lock(env->lockfd, F_WRLCK, RGN_LOCK_SETUP, 1) == 0) {
			if (ftruncate(env->lockfd, 0) == 0)
				unlink_lockfile(env);
		}
	} else if (env->primary.base) {
		env->ops->detach(env, &env->primary);
	}
	env_free(env);
	return 0;
}

/* ---- remove ------------------------------------------------------------- */

static int live_pids(struct rgn_env *env, char *buf, size_t len)
{
	size_t off = 0;
	int n = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < rgn_proc_hwm(env->shenv); i++) {
		const struct rgn_shm_proc *p = &env->procs[i];

		if (p->pr_pid && rgn_proc_alive(p->pr_pid, p->pr_start)) {
			if (off < len)
				off += (size_t)snprintf(buf + off, len - off,
							"%s%d", n ? " " : "",
							(int)p->pr_pid);
			n++;
		}
	}
	return n;
}

int rgn_env_remove(const char *home, uint32_t flags)
{
	struct rgn_env *env;
	char pids[256];
	int rc, busy;

	rgn_clear_detail();
	if (flags & ~RGN_FORCE)
		return rgn_fail(-EINVAL, "unknown remove flags 0x%x", flags);
	env = env_alloc();
	if (!env)
		return -ENOMEM;
	rc = open_home(env, home);
	if (rc < 0)
		goto out;
	rc = open_home_lock(env, 0, 1);
	if (rc < 0)
		goto out;
	busy = ofd_lock(env->lockfd, F_WRLCK, RGN_LOCK_ATTACH, 0) < 0;
	if (busy) {
		pid_t owner;

		if (ofd_write_locked(env->lockfd, RGN_LOCK_ATTACH) &&
		    read_owner(env->lockfd, &owner) == 0) {
			rc = rgn_fail(RGN_EPRIVATE,
				      "%s is open as a private environment by "
				      "pid %d",
				      env->home, (int)owner);
			goto out;
		}
	}
	rc = probe_primary(env, 0);
	if (rc == -ENOENT) {
		/* Nothing but a lock file and perhaps a dead creator's
		 * debris: finish the job. */
		rc = clear_debris(env);
		if (rc == 0)
			unlink_lockfile(env);
		goto out;
	}
	if (rc < 0)
		goto out;
	rc = attach_primary(env);
	if ((rc == -ENOENT || rc == RGN_ECORRUPT) &&
	    env->ops == &rgn_backing_sysv) {
		/* The primary segment is gone (a reboot, or ipcrm): nothing
		 * is left to attach to and its region table is lost with it.
		 * Remove the record; segments of other regions, if any
		 * survive, carry our header and the leak scanner finds them. */
		rc = unlink_record(env);
		if (rc == 0)
			rc = clear_debris(env);
		if (rc == 0)
			unlink_lockfile(env);
		goto out;
	}
	if (rc < 0)
		goto out;
	if (busy) {
		int n = live_pids(env, pids, sizeof(pids));

		if (!(flags & RGN_FORCE)) {
			rc = rgn_fail(-EBUSY,
				      "%s is in use by %d attached process%s "
				      "(pid %s); use force to remove anyway",
				      env->home, n, n == 1 ? "" : "es",
				      n ? pids : "unknown");
			goto out_detach;
		}
		/* Tell the processes still attached that it is gone. */
		__atomic_store_n(&env->shenv->ev_panic, 1, __ATOMIC_RELEASE);
	}
	/* Regions first, highest id first, the primary last of all. */
	for (uint32_t i = rgn_slot_hwm(env->shenv); i-- > 1;) {
		struct rgn_shm_slot sl;

		if (env->slots[i].sl_state == RGN_SLOT_FREE)
			continue;
		sl = env->slots[i];
		rc = env->ops->destroy(env, &sl);
		if (rc < 0 && rc != -ENOENT)
			goto out_detach;
		memset(&env->slots[i], 0, sizeof(env->slots[i]));
	}
	/* The table's own slot for the primary knows the segment's identity
	 * (creation time, creator), which spares destroy an attach. */
	if (env->slots[0].sl_shmid == env->primary_slot.sl_shmid) {
		env->primary_slot.sl_seg_ctime = env->slots[0].sl_seg_ctime;
		env->primary_slot.sl_creator_pid = env->slots[0].sl_creator_pid;
	}
	env->ops->detach(env, &env->primary);
	rc = env->ops->destroy(env, &env->primary_slot);
	if (rc < 0 && rc != -ENOENT)
		goto out;
	rc = env->ops == &rgn_backing_sysv ? unlink_record(env) : 0;
	if (rc == 0)
		rc = clear_debris(env);
	if (rc == 0)
		unlink_lockfile(env);
	goto out;
out_detach:
	env->ops->detach(env, &env->primary);
out:
	env_free(env);
	return rc;
}
