/*
 * env_home.c - the home directory of an environment: resolving it, and
 * opening names inside it safely.  Every name is opened relative to the
 * home's directory descriptor (or, before a fast join has needed it, by
 * the home's absolute path), never following a symbolic link, and must
 * be a regular file: a link planted in the home can never redirect us
 * outside it.  The environment code owns this; the backings use it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env.h"
#include "internal.h"

/* RGN_FILE_FMT, formatted by hand: a stat names every region twice, and
 * snprintf was a tenth of a 1000-region stat's instructions.  A buffer too
 * small for the name gets snprintf's truncation. */
void rgn_region_file(uint32_t id, char *buf, size_t len)
{
	char digits[10];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + id % 10);
		id /= 10;
	} while (id);
	while (n < 3)
		digits[n++] = '0';
	if (len < 5 + n + 1) {
		uint32_t v = 0;

		for (size_t i = n; i-- > 0;)
			v = v * 10 + (uint32_t)(digits[i] - '0');
		snprintf(buf, len, RGN_FILE_FMT, v);
		return;
	}
	memcpy(buf, "__db.", 5);
	for (size_t i = 0; i < n; i++)
		buf[5 + i] = digits[n - 1 - i];
	buf[5 + n] = '\0';
}

const char *rgn_home_at(const struct rgn_env *env, const char *name, char *buf,
			int *dirfd)
{
	int fd = __atomic_load_n(&env->dirfd, __ATOMIC_ACQUIRE);

	if (fd >= 0 || !env->by_path) {
		*dirfd = fd >= 0 ? fd : rgn_home_fd(env);
		return name;
	}
	/* env->home is absolute (rgn_home_open), so AT_FDCWD never means
	 * the working directory here. */
	snprintf(buf, RGN_HOME_AT_MAX, "%s/%s", env->home, name);
	*dirfd = AT_FDCWD;
	return buf;
}

int rgn_home_anchor(struct rgn_env *env)
{
	int fd = -1;

	if (__atomic_load_n(&env->dirfd, __ATOMIC_ACQUIRE) >= 0)
		return 0;
	/* O_PATH: the descriptor only anchors the *at calls (and fstat); it
	 * is never read, and a path open skips the directory's open and
	 * release. */
	fd = open(env->home, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return rgn_fail(-errno, "home %s", env->home);
	__atomic_store_n(&env->dirfd, fd, __ATOMIC_RELEASE);
	return 0;
}

int rgn_home_fd(const struct rgn_env *env)
{
	/* The descriptor is a cache of the handle's home, filled once with
	 * one atomic store: readers of a const handle may fill it too. */
	int *slot = (int *)&env->dirfd;
	int fd = __atomic_load_n(slot, __ATOMIC_ACQUIRE), expect = -1;
	struct stat st;

	if (fd >= 0)
		return fd;
	fd = open(env->home, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rgn_fail(-errno, "home %s", env->home);
		return -1;
	}
	if (env->lck_ino &&
	    (fstatat(fd, RGN_LOCK_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	     st.st_dev != env->lck_dev || st.st_ino != env->lck_ino)) {
		close(fd);
		rgn_fail(-ESTALE,
			 "home %s is no longer the directory this handle "
			 "joined (moved or replaced)",
			 env->home);
		return -1;
	}
	/* Threads may race to open it: the first one's stays. */
	if (!__atomic_compare_exchange_n(slot, &expect, fd, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		close(fd);
		return expect;
	}
	return fd;
}

int rgn_open_in_home(struct rgn_env *env, const char *name, int flags,
		     mode_t mode, struct stat *st)
{
	char buf[RGN_HOME_AT_MAX];
	int at;
	const char *p = rgn_home_at(env, name, buf, &at);
	int fd;

	if (at == -1)
		return -ESTALE; /* the home is not the one joined: detail set */
	fd = openat(at, p, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode);

	if (fd < 0) {
		if (errno == ELOOP)
			return rgn_fail(-ELOOP, "%s/%s is a symbolic link",
					env->home, name);
		return rgn_fail(-errno, "open %s/%s", env->home, name);
	}
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return rgn_fail(-EINVAL, "%s/%s is not a regular file",
				env->home, name);
	}
	return fd;
}

/*
 * An absolute home is used as given (a join must not pay for resolving
 * every component); a relative one is resolved so that rgn_env_home() is
 * always absolute.  Creation resolves it fully (rgn_home_canonical).
 */
int rgn_home_open(struct rgn_env *env, const char *home)
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
	return 0;
}

/* Headers record the home by its canonical path: resolve it before
 * creating anything. */
int rgn_home_canonical(struct rgn_env *env)
{
	char real[PATH_MAX], link[64];
	ssize_t n;

	/* The directory we hold open, resolved by the kernel in one call;
	 * realpath() where /proc is not mounted. */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", rgn_home_fd(env));
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
