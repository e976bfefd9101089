/*
 * env_lock.c - __db.lck, the lock file of a home.
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
 * The file's text says who a private owner is, or what a creator of a
 * segment-backed primary was about to take (its intent), or, for an
 * environment whose primary is a segment, repeats what __db.001 records so
 * that a join reads it from the file it has open already.  __db.001 stays
 * the authority: the copy is used only while __db.001 is provably the file
 * it was copied from, and the segment it names must still prove itself by
 * its header (env.c).
 */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "env.h"
#include "env_home.h"
#include "env_parts.h"
#include "internal.h"
#include "layout.h"
#include "proc.h"

int rgn_lockfile_ofd(int fd, short type, off_t byte, int wait)
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
 *   "ready format V backing B flags F key K shmid S env E size Z ctime C
 *    dev D ino I csec S cnsec N"     a copy of __db.001's record, and the
 *                                    identity of the __db.001 it was copied
 *                                    from (rgn_lockfile_write_cache).
 * A shared environment at rest leaves the file empty or holding that copy.
 * Older readers look for "private" and "creating" only, so the copy reads
 * to them as no record at all.
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

/*
 * Replace the text of ENV's lock file (held with the setup lock) by the N
 * bytes of BUF: overwrite, then cut to length.  Never cut to zero first:
 * ext4 takes a file cut to zero and written again for a replaced file and
 * writes its data to disk at close (auto_da_alloc), which made every create
 * of a segment-backed environment wait for the disk once __db.lck kept the
 * record's copy.  The cut is skipped when this handle knows the file held
 * no more than N bytes (it made the file, or wrote it last): only writers
 * holding the setup lock change the file, so what we know stays true.
 */
static int replace_text(struct rgn_env *env, const char *buf, int n)
{
	if (pwrite(env->lockfd, buf, (size_t)n, 0) != n)
		return errno ? -errno : -EIO;
	if (env->lck_len < 0 || env->lck_len > n) {
		env->lck_len = -1;
		if (ftruncate(env->lockfd, n) < 0)
			return -errno;
	}
	env->lck_len = n;
	return 0;
}

static int write_record(struct rgn_env *env, const char *what, int32_t key)
{
	char buf[160];
	int n = snprintf(buf, sizeof(buf),
			 "%s pid %d start %" PRIu64 " key %x time %lld\n", what,
			 (int)rgn_self_pid(), rgn_self_start(), (unsigned)key,
			 (long long)time(NULL));

	return replace_text(env, buf, n);
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

int rgn_lockfile_private_owner(int fd, pid_t *pid)
{
	if (!ofd_write_locked(fd, RGN_LOCK_ATTACH))
		return -ENOENT;
	return read_owner(fd, pid);
}

int rgn_lockfile_read_intent(struct rgn_env *env, struct rgn_intent *rec)
{
	/* A file this handle made is empty: nothing to read. */
	if (env->lck_len == 0)
		return -ENOENT;
	return read_record(env->lockfd, "creating", rec);
}

int rgn_lockfile_write_intent(struct rgn_env *env, int32_t key)
{
	return write_record(env, "creating", key);
}

int rgn_lockfile_write_private(struct rgn_env *env)
{
	return write_record(env, "private", 0);
}

/*
 * Open __db.lck and take the setup lock.  The file may be unlinked by a
 * remover between our open and our lock, so after locking we check that the
 * path still names the inode we locked, and start over if not.
 */
static int open_lockfile(struct rgn_env *env, int create)
{
	/* A creator that expects no lock file (an exclusive create, or a
	 * fast join that found none) tries to make it first: one open
	 * instead of a failed one and the creating one. */
	int make_first = create && env->lck_absent;

	for (;;) {
		struct stat st, path_st;
		int fd = -ENOENT, made = 0, rc;

		if (!make_first)
			fd = rgn_open_in_home(env, RGN_LOCK_FILE, O_RDWR, 0,
					      &st);
		if (fd == -ENOENT && create) {
			fd = rgn_open_in_home(env, RGN_LOCK_FILE,
					      O_RDWR | O_CREAT | O_EXCL,
					      env->mode, &st);
			made = fd >= 0;
			make_first = 0;
			if (fd == -EEXIST) {
				rgn_clear_detail();
				continue;
			}
		}
		if (fd < 0)
			return fd;
		if (made)
			fchmod(fd, env->mode);
		rc = rgn_lockfile_ofd(fd, F_WRLCK, RGN_LOCK_SETUP, 1);
		if (rc < 0) {
			close(fd);
			return rgn_fail(rc, "lock %s/%s", env->home,
					RGN_LOCK_FILE);
		}
		if (fstatat(rgn_home_fd(env), RGN_LOCK_FILE, &path_st,
			    AT_SYMLINK_NOFOLLOW) == 0 &&
		    path_st.st_dev == st.st_dev &&
		    path_st.st_ino == st.st_ino) {
			env->lockfd = fd;
			/* Made by us with O_EXCL, locked before anyone
			 * could write it: empty. */
			env->lck_len = made ? 0 : -1;
			return 0;
		}
		close(fd); /* lost a race with remove: the file is gone */
	}
}

void rgn_lockfile_setup_unlock(struct rgn_env *env)
{
	struct flock fl = {
		.l_type = F_UNLCK,
		.l_whence = SEEK_SET,
		.l_start = RGN_LOCK_SETUP,
		.l_len = 1,
	};

	fcntl(env->lockfd, F_OFD_SETLK, &fl);
	env->lck_len = -1; /* others may write it now */
}

int rgn_lockfile_owns_private(struct rgn_env *env)
{
	struct rgn_intent rec;

	return read_record(env->lockfd, "private", &rec) == 0 &&
	       rec.pid == rgn_self_pid() && rec.start == rgn_self_start();
}

/* Unlink __db.lck, which we hold locked, if the path still names it. */
void rgn_lockfile_unlink(struct rgn_env *env)
{
	struct stat st, path_st;

	if (fstat(env->lockfd, &st) == 0 &&
	    fstatat(rgn_home_fd(env), RGN_LOCK_FILE, &path_st,
		    AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_dev == path_st.st_dev && st.st_ino == path_st.st_ino)
		unlinkat(rgn_home_fd(env), RGN_LOCK_FILE, 0);
}

/*
 * Open __db.lck with the setup lock, creating it if CREATE.  Without
 * CREATE a missing lock file is made again only for a home that provably
 * holds one of our environments (or, with DEBRIS_OK, a dead creator's
 * __db.001.tmp): a directory with no environment is left exactly as it was.
 */
int rgn_lockfile_open_home(struct rgn_env *env, int create, int debris_ok)
{
	int rc = open_lockfile(env, create);

	if (rc != -ENOENT)
		return rc;
	rc = rgn_primary_probe(env, 0);
	if (rc == -ENOENT)
		rc = debris_ok && rgn_primary_has_debris(env)
			     ? 0
			     : rgn_fail(RGN_ENOTENV, "%s has no %s", env->home,
					RGN_PRIMARY_FILE);
	if (rc < 0)
		return rc;
	return open_lockfile(env, 1);
}

/* Take the attach lock, or say who holds the home. */
int rgn_lockfile_attach(struct rgn_env *env, int exclusive)
{
	pid_t owner;
	int rc = rgn_lockfile_ofd(env->lockfd, exclusive ? F_WRLCK : F_RDLCK,
				  RGN_LOCK_ATTACH, 0);

	if (rc == 0)
		return 0;
	if (rc != -EAGAIN && rc != -EACCES)
		return rgn_fail(rc, "lock %s/%s", env->home, RGN_LOCK_FILE);
	if (rgn_lockfile_private_owner(env->lockfd, &owner) == 0)
		return rgn_fail(RGN_EPRIVATE,
				"%s is open as a private environment by pid %d",
				env->home, (int)owner);
	return rgn_fail(-EBUSY, "%s has attached processes", env->home);
}

/* ---- the join's copy of __db.001 ---------------------------------------- */

/*
 * The copy is one line of "label value" pairs after "ready", every value
 * unsigned (the key in hex, as `ipcs` shows it); read back with strtoull,
 * which a join pays a fraction of what sscanf costs.
 */
enum cache_field {
	CF_FORMAT,
	CF_BACKING,
	CF_FLAGS,
	CF_KEY,
	CF_SHMID,
	CF_ENV,
	CF_SIZE,
	CF_CTIME,
	CF_DEV, /* identity of __db.001: st_dev, st_ino, st_ctim */
	CF_INO,
	CF_CSEC,
	CF_CNSEC,
	CF_COUNT
};

static const struct {
	const char *label;
	int base;
} cache_fields[CF_COUNT] = {
	[CF_FORMAT] = {"format", 10}, [CF_BACKING] = {"backing", 10},
	[CF_FLAGS] = {"flags", 10},   [CF_KEY] = {"key", 16},
	[CF_SHMID] = {"shmid", 10},   [CF_ENV] = {"env", 16},
	[CF_SIZE] = {"size", 10},     [CF_CTIME] = {"ctime", 10},
	[CF_DEV] = {"dev", 10},	      [CF_INO] = {"ino", 10},
	[CF_CSEC] = {"csec", 10},     [CF_CNSEC] = {"cnsec", 10},
};

static int cache_format(char *buf, size_t len, const uint64_t *v)
{
	size_t off = (size_t)snprintf(buf, len, "ready");

	for (int i = 0; i < CF_COUNT && off < len; i++)
		off += (size_t)snprintf(
			buf + off, len - off,
			cache_fields[i].base == 16 ? " %s %llx" : " %s %llu",
			cache_fields[i].label, (unsigned long long)v[i]);
	if (off + 1 >= len)
		return -EOVERFLOW;
	buf[off++] = '\n';
	return (int)off;
}

static int cache_parse(const char *p, uint64_t *v)
{
	if (strncmp(p, "ready", 5) != 0)
		return -ENOENT;
	p += 5;
	for (int i = 0; i < CF_COUNT; i++) {
		size_t n = strlen(cache_fields[i].label);
		char *end;

		if (*p++ != ' ' || strncmp(p, cache_fields[i].label, n) != 0 ||
		    p[n] != ' ')
			return -ENOENT;
		p += n + 1;
		if (!(cache_fields[i].base == 16 ? isxdigit((unsigned char)*p)
						 : isdigit((unsigned char)*p)))
			return -ENOENT;
		errno = 0;
		v[i] = strtoull(p, &end, cache_fields[i].base);
		if (errno)
			return -ENOENT;
		p = end;
	}
	return *p == '\n' ? 0 : -ENOENT;
}

int rgn_lockfile_write_cache(struct rgn_env *env,
			     const struct rgn_file_record *fr, int verify)
{
	uint64_t v[CF_COUNT];
	struct stat st;
	char buf[320];
	int n;

	if (verify) {
		/* FR was read without the setup lock: take the identity
		 * from the very file whose bytes are FR. */
		struct rgn_file_record now;
		ssize_t got;
		int fd = rgn_open_in_home(env, RGN_PRIMARY_FILE, O_RDONLY, 0,
					  &st);

		if (fd < 0)
			return fd;
		got = pread(fd, &now, sizeof(now), 0);
		close(fd);
		if (got != (ssize_t)sizeof(now) ||
		    memcmp(&now, fr, sizeof(now)) != 0)
			return -ESTALE;
	} else if (fstatat(rgn_home_fd(env), RGN_PRIMARY_FILE, &st,
			   AT_SYMLINK_NOFOLLOW) < 0) {
		/* Under the setup lock, FR just written or read: the
		 * identity of __db.001 as it is now will do. */
		return rgn_fail(-errno, "stat %s/%s", env->home,
				RGN_PRIMARY_FILE);
	}
	if (fr->fr_shmid < 0 || fr->fr_ctime < 0 || st.st_ctim.tv_sec < 0)
		return -ERANGE; /* not expressible; joins read __db.001 */
	v[CF_FORMAT] = fr->fr_format;
	v[CF_BACKING] = fr->fr_backing;
	v[CF_FLAGS] = fr->fr_flags;
	v[CF_KEY] = (uint32_t)fr->fr_shm_key;
	v[CF_SHMID] = (uint64_t)fr->fr_shmid;
	v[CF_ENV] = fr->fr_env_id;
	v[CF_SIZE] = fr->fr_size;
	v[CF_CTIME] = (uint64_t)fr->fr_ctime;
	v[CF_DEV] = (uint64_t)st.st_dev;
	v[CF_INO] = (uint64_t)st.st_ino;
	v[CF_CSEC] = (uint64_t)st.st_ctim.tv_sec;
	v[CF_CNSEC] = (uint64_t)st.st_ctim.tv_nsec;
	n = cache_format(buf, sizeof(buf), v);
	if (n < 0)
		return n;
	/* Overwrite, then cut: whatever the file held (an intent) is
	 * replaced, and a crash in between leaves the whole line first. */
	n = replace_text(env, buf, n);
	if (n < 0)
		return rgn_fail(n, "write %s/%s", env->home, RGN_LOCK_FILE);
	return 0;
}

int rgn_lockfile_read_cache(struct rgn_env *env, struct rgn_file_record *fr)
{
	char at_buf[RGN_HOME_AT_MAX];
	uint64_t v[CF_COUNT];
	const char *at_name;
	struct stat st;
	char buf[320];
	ssize_t n = pread(env->lockfd, buf, sizeof(buf) - 1, 0);
	int at;

	if (n <= 0 || buf[0] != 'r')
		return -ENOENT;
	buf[n] = '\0';
	if (cache_parse(buf, v) < 0 || v[CF_SHMID] > INT32_MAX ||
	    v[CF_KEY] > UINT32_MAX || v[CF_CTIME] > INT64_MAX)
		return -ENOENT;
	/* The copy stands for __db.001 only while __db.001 is the very
	 * file it was copied from: any rewrite, replacement or removal
	 * changes its inode or its change time. */
	at_name = rgn_home_at(env, RGN_PRIMARY_FILE, at_buf, &at);
	if (fstatat(at, at_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_size != sizeof(*fr) ||
	    (uint64_t)st.st_dev != v[CF_DEV] ||
	    (uint64_t)st.st_ino != v[CF_INO] ||
	    (uint64_t)st.st_ctim.tv_sec != v[CF_CSEC] ||
	    (uint64_t)st.st_ctim.tv_nsec != v[CF_CNSEC])
		return -ENOENT;
	*fr = (struct rgn_file_record){
		.fr_magic = RGN_RECORD_MAGIC,
		.fr_format = (uint32_t)v[CF_FORMAT],
		.fr_backing = (uint32_t)v[CF_BACKING],
		.fr_flags = (uint32_t)v[CF_FLAGS],
		.fr_shm_key = (int32_t)(uint32_t)v[CF_KEY],
		.fr_shmid = (int32_t)v[CF_SHMID],
		.fr_env_id = v[CF_ENV],
		.fr_size = v[CF_SIZE],
		.fr_ctime = (int64_t)v[CF_CTIME],
	};
	return 0;
}
