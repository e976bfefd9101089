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
 * segment-backed primary was about to take (its intent).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "env.h"
#include "env_parts.h"
#include "internal.h"
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

int rgn_lockfile_private_owner(int fd, pid_t *pid)
{
	if (!ofd_write_locked(fd, RGN_LOCK_ATTACH))
		return -ENOENT;
	return read_owner(fd, pid);
}

int rgn_lockfile_read_intent(int fd, struct rgn_intent *rec)
{
	return read_record(fd, "creating", rec);
}

int rgn_lockfile_write_intent(int fd, int32_t key)
{
	return write_record(fd, "creating", key);
}

int rgn_lockfile_write_private(int fd)
{
	return write_record(fd, "private", 0);
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
		rc = rgn_lockfile_ofd(fd, F_WRLCK, RGN_LOCK_SETUP, 1);
		if (rc < 0) {
			close(fd);
			return rgn_fail(rc, "lock %s/%s", env->home,
					RGN_LOCK_FILE);
		}
		if (fstatat(env->dirfd, RGN_LOCK_FILE, &path_st,
			    AT_SYMLINK_NOFOLLOW) == 0 &&
		    path_st.st_dev == st.st_dev &&
		    path_st.st_ino == st.st_ino) {
			env->lockfd = fd;
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
	    fstatat(env->dirfd, RGN_LOCK_FILE, &path_st, AT_SYMLINK_NOFOLLOW) ==
		    0 &&
	    st.st_dev == path_st.st_dev && st.st_ino == path_st.st_ino)
		unlinkat(env->dirfd, RGN_LOCK_FILE, 0);
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
