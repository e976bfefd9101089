/*
 * backing_files.c - regions as files in the home, mapped MAP_SHARED.
 *
 * Trade-offs: files survive reboots and are visible to ordinary tools, at
 * the price of page-cache writeback.  Storage is reserved up front, so a
 * full disk is ENOSPC at create instead of SIGBUS on first touch: a small
 * file (up to RESERVE_BY_WRITE) by writing its zeros, which a filesystem
 * with delayed allocation (ext4, xfs) reserves at once but allocates only
 * at writeback, so an environment removed before then frees no extents
 * (with `discard`, every freed extent is a discard the unlink waits for:
 * 4-10x the unlink of a file with none); it costs a writeback of those
 * zeros once if the environment lives on.  A larger file, and any file
 * on tmpfs, is reserved with posix_fallocate, which writes nothing.  Every open
 * uses O_NOFOLLOW relative to the home's directory descriptor and insists on a
 * regular file: a symlink planted in the home can never redirect us outside it.
 */
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "backing.h"
#include "env.h"
#include "internal.h"

static int open_region_file(struct rgn_env *env, const char *name, int flags,
			    struct stat *st)
{
	return rgn_open_in_home(env, name, flags, 0, st);
}

/* Files up to this size are reserved by writing zeros (see above). */
#define RESERVE_BY_WRITE (1024u * 1024)

/*
 * tmpfs has no delayed allocation: writing zeros would allocate the same
 * pages as fallocate, and copy into them too; its written pages would
 * also be mapped a window at a time by every fault of a joiner
 * (fault-around maps pages that are up to date), where fallocated ones
 * are mapped one by one as touched.
 */
static int in_memory(int fd)
{
	struct statfs sf;

	return fstatfs(fd, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
}

/*
 * Reserve bytes [0, LEN) of the fresh, empty file FD: afterwards no write
 * through a mapping of them can fail for want of space.  Returns 0 or an
 * errno value, like posix_fallocate.
 */
static int reserve_storage(int fd, uint64_t len)
{
	/* One buffer of zeros, named by every entry of the vector: one
	 * system call writes the whole file. */
	static const uint8_t zeros[64 * 1024];
	struct iovec iov[RESERVE_BY_WRITE / sizeof(zeros)];
	uint64_t off = 0;

	if (len > RESERVE_BY_WRITE || in_memory(fd))
		return posix_fallocate(fd, 0, (off_t)len);
	while (off < len) {
		uint64_t left = len - off;
		int n = 0;
		ssize_t w;

		for (; left && n < (int)(sizeof(iov) / sizeof(iov[0])); n++) {
			iov[n].iov_base = (void *)zeros;
			iov[n].iov_len = left < sizeof(zeros) ? (size_t)left
							      : sizeof(zeros);
			left -= iov[n].iov_len;
		}
		w = pwritev(fd, iov, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		if (w == 0)
			return ENOSPC;
		off += (uint64_t)w;
	}
	return 0;
}

/*
 * Make file NAME in the home with bytes [0, RESERVE) reserved and SIZE
 * bytes long; 0 with *FDP, or a negative code with nothing left behind.
 * With UNNAMED the file is made without a name (O_TMPFILE) and linked as
 * NAME only once its storage is reserved, so that an observer opening
 * __db.NNN never finds it half-written (writing the zeros of a small file
 * takes longer than fallocate did) and a creator killed meanwhile leaves
 * nothing.  -EOPNOTSUPP when that cannot be done here (no O_TMPFILE in
 * the filesystem, or no /proc to link it through): make it by name then.
 */
static int make_file(struct rgn_env *env, const char *name, int unnamed,
		     uint64_t reserve, uint64_t size, int *fdp)
{
	char proc[64];
	int fd, rc, named = !unnamed;

	if (unnamed)
		fd = openat(rgn_home_fd(env), ".",
			    O_TMPFILE | O_RDWR | O_CLOEXEC, env->mode);
	else
		fd = openat(rgn_home_fd(env), name,
			    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    env->mode);
	if (fd < 0 && unnamed &&
	    (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
		return -EOPNOTSUPP;
	if (fd < 0)
		return rgn_fail(-errno, "create %s/%s", env->home, name);
	/* The mode is the environment's, not the umask's. */
	if (fchmod(fd, env->mode) < 0) {
		rc = rgn_fail(-errno, "chmod %s/%s", env->home, name);
		goto fail;
	}
	rc = reserve_storage(fd, reserve);
	if (rc) {
		rc = rgn_fail(-rc, "allocate %llu bytes for %s/%s",
			      (unsigned long long)reserve, env->home, name);
		goto fail;
	}
	/* The rest (the primary's unused table) is sized, not allocated:
	 * grow_primary allocates it before it is first written. */
	if (reserve < size && ftruncate(fd, (off_t)size) < 0) {
		rc = rgn_fail(-errno, "size %s/%s to %llu bytes", env->home,
			      name, (unsigned long long)size);
		goto fail;
	}
	if (!named) {
		/* Linking a descriptor by AT_EMPTY_PATH needs a capability;
		 * through /proc it needs none.  Never replaces a name. */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, proc, rgn_home_fd(env), name,
			   AT_SYMLINK_FOLLOW) < 0) {
			rc = errno == ENOENT && access("/proc/self/fd", X_OK)
				     ? -EOPNOTSUPP
				     : rgn_fail(-errno, "create %s/%s",
						env->home, name);
			goto fail;
		}
		named = 1;
	}
	*fdp = fd;
	return 0;
fail:
	if (named)
		unlinkat(rgn_home_fd(env), name, 0);
	close(fd);
	return rc;
}

static int files_create(struct rgn_env *env, uint32_t id, uint64_t size,
			uint64_t reserve, struct rgn_map *map)
{
	char name[RGN_FILE_NAME_MAX + 8];
	void *base;
	int fd, rc;

	if (rgn_home_fd(env) < 0)
		return -ESTALE; /* the home is not the one joined: detail set */
	if (id == 1) /* named __db.001.tmp until publish renames it */
		snprintf(name, sizeof(name), "%s", RGN_PRIMARY_TMP);
	else
		rgn_region_file(id, name, sizeof(name));
	if (reserve > size)
		reserve = size;
	rc = make_file(env, name, id != 1, reserve, size, &fd);
	if (rc == -EOPNOTSUPP)
		rc = make_file(env, name, 0, reserve, size, &fd);
	if (rc < 0)
		return rc;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		rc = rgn_fail(-errno, "mmap %s/%s", env->home, name);
		unlinkat(rgn_home_fd(env), name, 0);
		close(fd);
		return rc;
	}
	/*
	 * Pages not written above (fallocated, or the primary's unreserved
	 * table) are unwritten extents or holes: a fault with readahead
	 * would zero-fill and cache a whole window around each header
	 * written, which unlink would then have to evict.  Fault only the
	 * pages written.  Advice only: a failure changes nothing.
	 */
	if (reserve > RESERVE_BY_WRITE || reserve < size)
		(void)madvise(base, size, MADV_RANDOM);
	close(fd);
	*map = (struct rgn_map){.base = base, .size = size, .shmid = -1};
	return 0;
}

/*
 * Allocate more of the primary's table.  The handle keeps no descriptor
 * (growth is rare: a page holds 32 slots, and each step doubles), so
 * __db.001 is opened again and proved ours by its header before its
 * storage is touched.  Called under ev_mutex.
 */
static int files_grow_primary(struct rgn_env *env, uint64_t off, uint64_t len)
{
	struct rgn_shm_region rh;
	struct stat st;
	int fd, rc = 0;

	fd = open_region_file(env, RGN_PRIMARY_FILE, O_RDWR, &st);
	if (fd < 0)
		return fd;
	if (pread(fd, &rh, sizeof(rh), 0) != (ssize_t)sizeof(rh) ||
	    rh.rh_magic != RGN_REGION_MAGIC || rh.rh_id != 1 ||
	    rh.rh_env_id != env->env_id || (uint64_t)st.st_size < off + len) {
		rc = rgn_fail(RGN_ECORRUPT,
			      "%s/%s is not this environment's primary any "
			      "more",
			      env->home, RGN_PRIMARY_FILE);
		goto out;
	}
	rc = posix_fallocate(fd, (off_t)off, (off_t)len);
	if (rc)
		rc = rgn_fail(-rc, "allocate %llu more bytes of %s/%s",
			      (unsigned long long)len, env->home,
			      RGN_PRIMARY_FILE);
out:
	close(fd);
	return rc;
}

static int files_publish(struct rgn_env *env, struct rgn_map *map)
{
	(void)map;
	/* RENAME_NOREPLACE: never clobber a __db.001 someone else made. */
	if (renameat2(rgn_home_fd(env), RGN_PRIMARY_TMP, rgn_home_fd(env),
		      RGN_PRIMARY_FILE, RENAME_NOREPLACE) < 0)
		return rgn_fail(-errno, "publish %s/%s", env->home,
				RGN_PRIMARY_FILE);
	return 0;
}

static void files_discard(struct rgn_env *env, uint32_t id, struct rgn_map *map)
{
	char name[RGN_FILE_NAME_MAX + 8];

	if (id == 1)
		snprintf(name, sizeof(name), "%s", RGN_PRIMARY_TMP);
	else
		rgn_region_file(id, name, sizeof(name));
	if (map->base)
		munmap(map->base, map->size);
	map->base = NULL;
	unlinkat(rgn_home_fd(env), name, 0);
}

static int files_attach(struct rgn_env *env, const struct rgn_shm_slot *slot,
			int rdonly, struct rgn_map *map)
{
	char name[RGN_FILE_NAME_MAX];
	struct stat st;
	void *base;
	int fd;

	rgn_region_file(slot->sl_id, name, sizeof(name));
	fd = open_region_file(env, name, rdonly ? O_RDONLY : O_RDWR, &st);
	if (fd < 0)
		return fd;
	if ((uint64_t)st.st_size < slot->sl_size) {
		close(fd);
		return rgn_fail(RGN_ECORRUPT,
				"%s/%s is truncated: %lld of %llu bytes",
				env->home, name, (long long)st.st_size,
				(unsigned long long)slot->sl_size);
	}
	base = mmap(NULL, slot->sl_size,
		    rdonly ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    0);
	close(fd);
	if (base == MAP_FAILED)
		return rgn_fail(-errno, "mmap %s/%s", env->home, name);
	*map = (struct rgn_map){.base = base,
				.size = slot->sl_size,
				.shmid = -1,
				.rdonly = rdonly};
	return 0;
}

static void files_detach(struct rgn_env *env, struct rgn_map *map)
{
	(void)env;
	if (map->base)
		munmap(map->base, map->size);
	map->base = NULL;
}

static int files_destroy(struct rgn_env *env, const struct rgn_shm_slot *slot)
{
	char name[RGN_FILE_NAME_MAX];
	struct rgn_shm_region rh;
	struct stat st, again;
	ssize_t n;
	int fd, rc;

	rgn_region_file(slot->sl_id, name, sizeof(name));
	fd = open_region_file(env, name, O_RDONLY, &st);
	if (fd < 0)
		return fd;
	memset(&rh, 0, sizeof(rh));
	n = pread(fd, &rh, sizeof(rh), 0);
	close(fd);
	if (n < 0)
		return rgn_fail(-errno, "read %s/%s", env->home, name);
	/*
	 * Ours means: our header, our environment, this id.  The one
	 * exception is a region whose creator died before writing the header:
	 * the slot says it was being created, and the file holds only zeros.
	 */
	if (rh.rh_magic == 0 && slot->sl_state == RGN_SLOT_CREATING) {
		static const struct rgn_shm_region zero;
		if (memcmp(&rh, &zero, (size_t)n) != 0)
			return rgn_fail(RGN_EBADMAGIC,
					"%s/%s: not a half-created region",
					env->home, name);
	} else if ((rc = rgn_check_region_hdr(&rh, env->env_id, slot->sl_id,
					      0)) < 0) {
		return rgn_fail(rc, "refusing to remove %s/%s: %s", env->home,
				name, rgn_strerror(rc));
	}
	/* Re-check right before acting: still the very file we read. */
	if (fstatat(rgn_home_fd(env), name, &again, AT_SYMLINK_NOFOLLOW) < 0)
		return rgn_fail(-errno, "stat %s/%s", env->home, name);
	if (again.st_dev != st.st_dev || again.st_ino != st.st_ino)
		return rgn_fail(-EAGAIN, "%s/%s was replaced while removing",
				env->home, name);
	if (unlinkat(rgn_home_fd(env), name, 0) < 0)
		return rgn_fail(-errno, "unlink %s/%s", env->home, name);
	return 0;
}

/*
 * An observer's open: openat and nothing more.  Whether the name is a
 * regular file is left to the first read (a directory, pipe or device
 * fails it, and files_read_at then says which), and every caller checks
 * the header it reads before trusting a byte: a stat at 1000 regions paid
 * an fstat per region for what those already prove.  O_NONBLOCK keeps a
 * fifo planted in the home from stalling the open.  rd->size stays 0: a
 * file is read with pread, whose short count marks its end.
 */
static int files_read_open(struct rgn_env *env, const struct rgn_shm_slot *slot,
			   struct rgn_reader *rd)
{
	char name[RGN_FILE_NAME_MAX];
	int fd;

	if (rgn_home_fd(env) < 0)
		return -ESTALE; /* the home is not the one joined: detail set */
	rgn_region_file(slot->sl_id, name, sizeof(name));
	fd = openat(rgn_home_fd(env), name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ELOOP)
			return rgn_fail(-ELOOP, "%s/%s is a symbolic link",
					env->home, name);
		return rgn_fail(-errno, "open %s/%s", env->home, name);
	}
	rd->fd = fd;
	rd->size = 0;
	return 0;
}

/* pread, never a mapping: a file truncated under us yields a short read,
 * not SIGBUS.  A read refused because the name is not a regular file
 * says so, as the checked opens do. */
static ssize_t files_read_at(struct rgn_reader *rd, void *buf, size_t len,
			     uint64_t off)
{
	size_t done = 0;
	struct stat st;

	while (done < len) {
		ssize_t n = pread(rd->fd, (char *)buf + done, len - done,
				  (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 &&
		    (errno == EISDIR || errno == ESPIPE || errno == EINVAL ||
		     errno == EAGAIN) &&
		    fstat(rd->fd, &st) == 0 && !S_ISREG(st.st_mode))
			return rgn_fail(-EINVAL,
					"%s/" RGN_FILE_FMT
					" is not a regular file",
					rd->env->home, rd->id);
		if (n < 0)
			return rgn_fail(-errno, "read %s/" RGN_FILE_FMT,
					rd->env->home, rd->id);
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static void files_read_close(struct rgn_reader *rd)
{
	if (rd->fd >= 0)
		close(rd->fd);
	rd->fd = -1;
}

const struct rgn_backing_ops rgn_backing_files = {
	.name = "files",
	.create = files_create,
	.grow_primary = files_grow_primary,
	.publish = files_publish,
	.discard = files_discard,
	.attach = files_attach,
	.detach = files_detach,
	.destroy = files_destroy,
	.read_open = files_read_open,
	.read_at = files_read_at,
	.read_close = files_read_close,
	.region_key = rgn_no_key,
};
