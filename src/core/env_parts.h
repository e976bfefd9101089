/*
 * env_parts.h - what the three parts of the environment code give each
 * other: the lock file (env_lock.c), the primary region (env_primary.c)
 * and open/close/remove (env.c).  Only those files include it.
 */
#ifndef RGN_ENV_PARTS_H
#define RGN_ENV_PARTS_H

#include <stdint.h>
#include <sys/types.h>

#include "rgn.h"

struct rgn_env;
struct rgn_file_record;
struct rgn_intent;

/* ---- __db.lck (env_lock.c) ---------------------------------------------- */

/* Lock (F_RDLCK, F_WRLCK) or unlock byte BYTE of FD with an OFD lock,
 * waiting if WAIT.  0 or -errno (-EAGAIN, -EACCES when held). */
int rgn_lockfile_ofd(int fd, short type, off_t byte, int wait);

/* 0 with *PID when a private owner holds the attach byte and its record
 * names a live process; -ENOENT otherwise. */
int rgn_lockfile_private_owner(int fd, pid_t *pid);

/* The intent record ("creating ...") of a creator, or -ENOENT. */
int rgn_lockfile_read_intent(struct rgn_env *env, struct rgn_intent *rec);
/* Replace the file's text with our intent to take KEY, or with our
 * private owner record.  0 or -errno. */
int rgn_lockfile_write_intent(struct rgn_env *env, int32_t key);
int rgn_lockfile_write_private(struct rgn_env *env);
/* 1 if the private owner record is this process's. */
int rgn_lockfile_owns_private(struct rgn_env *env);

/*
 * Open __db.lck with the setup lock into env->lockfd, creating it if
 * CREATE.  Without CREATE a missing lock file is made again only for a
 * home that provably holds one of our environments (or, with DEBRIS_OK, a
 * dead creator's __db.001.tmp): a directory with no environment is left
 * exactly as it was (RGN_ENOTENV).
 */
int rgn_lockfile_open_home(struct rgn_env *env, int create, int debris_ok);
void rgn_lockfile_setup_unlock(struct rgn_env *env);
/* Take the attach byte (write if EXCLUSIVE), or say who holds the home:
 * RGN_EPRIVATE, -EBUSY. */
int rgn_lockfile_attach(struct rgn_env *env, int exclusive);
/* Unlink __db.lck, which we hold locked, if the path still names it. */
void rgn_lockfile_unlink(struct rgn_env *env);
/*
 * The join's copy of __db.001's record (segment-backed primaries only).
 * Write: under the setup lock, replacing any intent; FR was published or
 * read under that lock, or with VERIFY is checked against __db.001 again
 * (-ESTALE if it differs).  Read: 0 with *FR when the copy is there and
 * __db.001 is provably the very file it was copied from (same inode, size
 * and change time); -ENOENT otherwise (then read __db.001 itself).
 */
int rgn_lockfile_write_cache(struct rgn_env *env,
			     const struct rgn_file_record *fr, int verify);
int rgn_lockfile_read_cache(struct rgn_env *env, struct rgn_file_record *fr);

/* ---- the primary (env_primary.c) ---------------------------------------- */

/*
 * Find out what __db.001 is and how to reach the primary: fills
 * env->primary_slot, env->ops, backing, key, flags and env_id.  With MAP,
 * a primary that is __db.001 itself is also mapped read-write into
 * env->primary from the same descriptor (the join's fast path).  Changes
 * nothing on disk.  -ENOENT when there is no __db.001.
 */
int rgn_primary_probe(struct rgn_env *env, int map);
/* Take record FR of __db.001 as the way to the primary (as the probe does
 * with a record it reads); RGN_EVERSION, RGN_ECORRUPT on a bad record. */
int rgn_primary_use_record(struct rgn_env *env,
			   const struct rgn_file_record *fr);
/* Make, initialise and publish a fresh primary with env->ops. */
int rgn_primary_create(struct rgn_env *env);
/* Map the probed primary (unless mapped) and prove it this environment's;
 * -ENOENT (with a detail) when a record names a primary that is gone. */
int rgn_primary_attach(struct rgn_env *env);
/* Attach and check the probed primary against CFG.  Only a caller holding
 * the setup lock may ADOPT a primary left by another boot; others get
 * -EAGAIN. */
int rgn_primary_join(struct rgn_env *env, const struct rgn_env_config *cfg,
		     int adopt);
/* The recovery callback of ev_mutex (CTX is the env): re-establish the
 * table's shape after a holder died. */
int rgn_primary_recover(void *ctx);
/* A dead creator's __db.001.tmp: is there one; remove it if ours. */
int rgn_primary_has_debris(struct rgn_env *env);
int rgn_primary_clear_debris(struct rgn_env *env);

/* ---- open and remove (env.c, env_remove.c) ------------------------------ */

/* A bare handle with nothing open (NULL on ENOMEM), and its release, which
 * closes whatever was opened into it. */
struct rgn_env *rgn_env_new(void);
void rgn_env_free(struct rgn_env *env);
/* 0 when the home's __db.001 is missing or starts with our magic; else
 * RGN_EFOREIGNENV (Berkeley DB's: its magic, its 24-byte system memory
 * record, or empty) or RGN_EBADMAGIC, with a detail.  Reads only. */
int rgn_home_refuse_foreign(struct rgn_env *env);

#endif /* RGN_ENV_PARTS_H */
