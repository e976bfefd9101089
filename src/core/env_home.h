/*
 * env_home.h - the home directory of an environment (env_home.c).
 */
#ifndef RGN_ENV_HOME_H
#define RGN_ENV_HOME_H

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

/* Record HOME in ENV (absolute; a relative one resolved) and open it as
 * env->dirfd.  -EINVAL, -ENAMETOOLONG, -errno with a detail. */
int rgn_home_open(struct rgn_env *env, const char *home);

/* Resolve env->home to its canonical path, as headers record it: called
 * before creating anything. */
int rgn_home_canonical(struct rgn_env *env);

#endif /* RGN_ENV_HOME_H */
