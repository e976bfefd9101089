/*
 * env_home.h - the home directory of an environment (env_home.c).
 */
#ifndef RGN_ENV_HOME_H
#define RGN_ENV_HOME_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct rgn_env;

/* Region file name of an id ("__db.%03u"). */
void rgn_region_file(uint32_t id, char *buf, size_t len);

/*
 * Open NAME in the home without following a symlink, and only if it is a
 * regular file (*ST gets its stat).  Returns the descriptor, or -ELOOP for
 * a symlink, -EINVAL for anything not a regular file, -errno, each with a
 * detail naming the path.
 */
int rgn_open_in_home(struct rgn_env *env, const char *name, int flags,
		     mode_t mode, struct stat *st);

/* Record HOME in ENV (absolute; a relative one resolved).  -EINVAL,
 * -ENAMETOOLONG, -errno with a detail.  Opens nothing: a fast join reaches
 * the lock file and __db.001 by path (rgn_home_at), and everything else
 * opens the directory first (rgn_home_anchor, rgn_home_fd). */
int rgn_home_open(struct rgn_env *env, const char *home);

/* Open the home's directory as env->dirfd now, if it is not open yet:
 * the careful paths (create, join under the setup lock, remove, inspect)
 * anchor themselves before their first step.  0, or -errno with a detail
 * naming the home. */
int rgn_home_anchor(struct rgn_env *env);

/*
 * The home's directory descriptor for *at calls, opened on first use by a
 * handle that joined by path.  Such a handle proves the directory is the
 * home it joined: it must hold the very __db.lck the handle holds (else
 * the home was moved or replaced under it: -1 with a detail, and every
 * *at call on -1 fails with EBADF, never touching anything).  Never
 * AT_FDCWD.
 */
int rgn_home_fd(const struct rgn_env *env);

/* Where NAME in the home is reached from: during a fast join that has not
 * opened the directory, the absolute path built in BUF (*DIRFD AT_FDCWD);
 * else the directory (*DIRFD from rgn_home_fd, NAME).  BUF holds
 * RGN_HOME_AT_MAX bytes. */
const char *rgn_home_at(const struct rgn_env *env, const char *name, char *buf,
			int *dirfd);
#define RGN_HOME_AT_MAX (PATH_MAX + 32)

/* Resolve env->home to its canonical path, as headers record it: called
 * before creating anything. */
int rgn_home_canonical(struct rgn_env *env);

#endif /* RGN_ENV_HOME_H */
