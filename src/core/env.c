/*
 * env.c - opening, closing and removing environments: the public calls,
 * built from the lock file (env_lock.c), the primary region
 * (env_primary.c) and the home (env_home.c).
 *
 * An open joins an existing environment by the fast path when it can (no
 * setup lock, one open of __db.001), else takes the setup lock and joins,
 * creates or recovers.  Every handle is listed so that a fork()ed child's
 * copy never releases or unlinks what belongs to its parent.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env.h"
#include "env_parts.h"
#include "internal.h"
#include "proc.h"
#include "region_hdr.h"
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
	fd = openat(rgn_home_fd(env), RGN_LOCK_FILE,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0) {
		pid_t pid;

		if (rgn_lockfile_private_owner(fd, &pid) == 0) {
			env->backing = RGN_BACKING_PRIVATE;
			env->private_owner = pid;
			close(fd);
			return 0;
		}
		close(fd);
	}
	rc = rgn_primary_probe(env, 0);
	if (rc == -ENOENT)
		return rgn_primary_has_debris(env)
			       ? rgn_fail(RGN_EINCOMPLETE,
					  "%s has %s but no %s", env->home,
					  RGN_PRIMARY_TMP, RGN_PRIMARY_FILE)
			       : rgn_fail(RGN_ENOTENV, "%s has no %s",
					  env->home, RGN_PRIMARY_FILE);
	return rc;
}

static int open_private(struct rgn_env *env)
{
	int rc;

	rc = rgn_primary_probe(env, 0);
	if (rc == 0)
		return rgn_fail(RGN_EBACKING,
				"%s holds a shared environment; a private one "
				"cannot open there",
				env->home);
	if (rc != -ENOENT)
		return rc;
	rc = rgn_lockfile_write_private(env);
	if (rc < 0)
		return rgn_fail(rc, "write %s/%s", env->home, RGN_LOCK_FILE);
	rc = rgn_home_canonical(env);
	if (rc < 0)
		return rc;
	env->heap_mem = calloc(RGN_MAX_REGIONS, sizeof(*env->heap_mem));
	if (!env->heap_mem)
		return -ENOMEM;
	env->backing = RGN_BACKING_PRIVATE;
	env->ops = rgn_backing_select(env->backing, 0);
	return rgn_primary_create(env);
}

/*
 * Berkeley DB names its files as we do, so a home may hold its environment.
 * It coordinates only through the bytes of its own files (an O_EXCL create
 * of __db.001, its magic written last), so anything we create, lock or
 * rename there could disturb it: a create must refuse such a home before
 * it makes even __db.lck.  Ours is recognised by our magic; Berkeley DB's
 * by its REGENV magic in native order (the other order too, for a home on
 * a shared disk), by its 24-byte system memory record (ours is a 48-byte
 * struct rgn_file_record), and by an empty file, which only a creator that
 * died leaves: we publish __db.001 by rename, complete, never empty.
 */
#define BDB_REGENV_MAGIC      0x00120897u
#define BDB_SYSMEM_RECORD_LEN 24

static int refuse_foreign_home(struct rgn_env *env)
{
	uint32_t magic = 0;
	struct stat st;
	ssize_t n;
	int fd = rgn_open_in_home(env, RGN_PRIMARY_FILE, O_RDONLY, 0, &st);

	if (fd == -ENOENT) {
		rgn_clear_detail();
		return 0;
	}
	if (fd == -EINVAL) /* a directory, fifo or device: not ours */
		return rgn_fail(RGN_EBADMAGIC, "%s/%s is not a regular file",
				env->home, RGN_PRIMARY_FILE);
	if (fd < 0)
		return fd;
	n = pread(fd, &magic, sizeof(magic), 0);
	close(fd);
	if (n < 0)
		return rgn_fail(-errno, "read %s/%s", env->home,
				RGN_PRIMARY_FILE);
	if (n == sizeof(magic) &&
	    (magic == RGN_REGION_MAGIC || magic == RGN_RECORD_MAGIC))
		return 0; /* ours: the probe judges the rest */
	if (n == sizeof(magic) &&
	    (magic == BDB_REGENV_MAGIC ||
	     magic == __builtin_bswap32(BDB_REGENV_MAGIC)))
		return rgn_fail(RGN_EFOREIGNENV,
				"%s holds a Berkeley DB environment (%s starts "
				"with its magic 0x%08x%s); regionfs never "
				"writes to it",
				env->home, RGN_PRIMARY_FILE, BDB_REGENV_MAGIC,
				magic == BDB_REGENV_MAGIC
					? ""
					: ", in the other byte order");
	if (st.st_size == BDB_SYSMEM_RECORD_LEN)
		return rgn_fail(RGN_EFOREIGNENV,
				"%s holds a Berkeley DB environment in system "
				"memory (%s is its %d-byte record of the "
				"primary segment); regionfs never writes to it",
				env->home, RGN_PRIMARY_FILE,
				BDB_SYSMEM_RECORD_LEN);
	if (st.st_size == 0)
		return rgn_fail(RGN_EFOREIGNENV,
				"%s/%s is empty, as a Berkeley DB creator that "
				"died leaves it (regionfs publishes %s whole, "
				"never empty); regionfs never writes to it",
				env->home, RGN_PRIMARY_FILE, RGN_PRIMARY_FILE);
	return rgn_fail(RGN_EBADMAGIC,
			"%s/%s starts with 0x%08x, not a regionfs environment",
			env->home, RGN_PRIMARY_FILE, magic);
}

/*
 * Under the setup lock, with the primary of a record joined or created:
 * leave __db.lck holding a copy of the record for the next join's fast
 * path, in place of any intent.  The copy only saves later joins work.
 * HOW: CACHE_CHECK leaves a copy that is already right alone;
 * CACHE_VERIFY (a fast join, whose record was read without the setup
 * lock) re-reads __db.001 and, if anything fails, leaves the file as it
 * was.  Otherwise a failure to write the copy empties the file (a files
 * primary, no record, always does), so no intent outlives its creator.
 */
#define CACHE_CHECK  1
#define CACHE_VERIFY 2

static int refresh_cache(struct rgn_env *env, int how)
{
	struct rgn_file_record fr, now;

	/* ev_ctime is the primary's rh_ctime, on the page a join uses. */
	rgn_init_file_record(env, env->primary_slot.sl_shmid,
			     env->primary_slot.sl_size, env->shenv->ev_ctime,
			     &fr);

	if (env->ops->unpublish) {
		if ((how & CACHE_CHECK) &&
		    rgn_lockfile_read_cache(env, &now) == 0 &&
		    memcmp(&now, &fr, sizeof(fr)) == 0)
			return 0;
		if (rgn_lockfile_write_cache(env, &fr, how & CACHE_VERIFY) == 0)
			return 0;
		rgn_clear_detail();
	}
	if (how & CACHE_VERIFY)
		return 0;
	if (env->lck_len != 0 && ftruncate(env->lockfd, 0) < 0)
		return rgn_fail(-errno, "truncate %s/%s", env->home,
				RGN_LOCK_FILE);
	env->lck_len = 0;
	return 0;
}

/* The primary mapped through __db.lck's copy of the record is the one that
 * copy describes: its environment header (whose id rgn_primary_attach
 * checked already) has the recorded base key and creation time.  The
 * environment header, not the region header, so that a join touches one
 * page of the primary. */
static int cache_matches(const struct rgn_env *env,
			 const struct rgn_file_record *fr)
{
	const struct rgn_shm_env *ev = env->shenv;

	return ev->ev_ctime == fr->fr_ctime &&
	       ev->ev_shm_key == fr->fr_shm_key &&
	       env->primary.size == fr->fr_size;
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
static int join_by_path(struct rgn_env *env, const struct rgn_env_config *cfg)
{
	char at_buf[RGN_HOME_AT_MAX];
	struct rgn_file_record fr;
	const char *at_name;
	struct stat st;
	int fd, at, rc, cached;

	/* By path: a join that finds what it expects never opens the home
	 * itself (rgn_home_fd opens it later if anything needs it, and
	 * proves it by this very lock file). */
	at_name = rgn_home_at(env, RGN_LOCK_FILE, at_buf, &at);
	fd = openat(at, at_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		env->lck_absent = errno == ENOENT;
		return -EAGAIN;
	}
	if (rgn_lockfile_ofd(fd, F_RDLCK, RGN_LOCK_ATTACH, 0) < 0 ||
	    fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink == 0) {
		close(fd);
		return -EAGAIN;
	}
	env->lockfd = fd;
	env->lck_dev = st.st_dev;
	env->lck_ino = st.st_ino;
	/* __db.lck's copy of the record saves opening __db.001; the segment
	 * it names must then match it in its header too. */
	cached = rgn_lockfile_read_cache(env, &fr) == 0;
	rc = cached ? rgn_primary_use_record(env, &fr)
		    : rgn_primary_probe(env, 1);
	if (rc == 0)
		rc = rgn_primary_join(env, cfg, 0);
	if (rc == 0 && cached && !cache_matches(env, &fr))
		rc = -EAGAIN;
	if (rc == 0) {
		rc = rgn_env_lock(env);
		if (rc == 0) {
			rc = rgn_registry_add(env->shenv, env->procs,
					      &env->reg);
			rgn_env_unlock(env);
		}
		if (rc == 0) {
			/* A record read from __db.001 itself (a home last
			 * written by an older library, or a copy gone
			 * stale): leave a copy for the next join, if the
			 * setup lock is free this instant. */
			if (!cached && env->ops->unpublish &&
			    rgn_lockfile_ofd(fd, F_WRLCK, RGN_LOCK_SETUP, 0) ==
				    0) {
				refresh_cache(env, CACHE_VERIFY);
				rgn_lockfile_setup_unlock(env);
			}
			return 0;
		}
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
	env->lck_dev = 0;
	env->lck_ino = 0;
	rgn_clear_detail();
	return -EAGAIN;
}

/* The fast join reaches the lock file and __db.001 by the home's path;
 * whatever runs after it opens the directory (rgn_home_fd). */
static int fast_join(struct rgn_env *env, const struct rgn_env_config *cfg)
{
	int rc;

	env->by_path = 1;
	rc = join_by_path(env, cfg);
	env->by_path = 0;
	return rc;
}

static int open_shared(struct rgn_env *env, const struct rgn_env_config *cfg)
{
	int fallback, rc = rgn_primary_probe(env, 0);

	if (rc == 0) {
		if ((cfg->flags & RGN_CREATE) && (cfg->flags & RGN_EXCL))
			return rgn_fail(-EEXIST,
					"%s already holds an "
					"environment",
					env->home);
		rc = rgn_primary_join(env, cfg, 1);
		if (rc == 0 && env->ops->unpublish)
			return refresh_cache(env, CACHE_CHECK);
		if (rc != -ENOENT || !(cfg->flags & RGN_CREATE) ||
		    !env->ops->unpublish)
			return rc;
		/* The record names a primary segment that is gone: nothing
		 * is left to join (and with the setup lock held nobody is
		 * using it).  A creator starts afresh. */
		rc = env->ops->unpublish(env);
		if (rc < 0)
			return rc;
		env->env_flags = 0;
		env->shm_key = 0;
	} else if (rc != -ENOENT) {
		return rc;
	}
	if (!(cfg->flags & RGN_CREATE))
		return rgn_primary_has_debris(env)
			       ? rgn_fail(RGN_EINCOMPLETE,
					  "%s: creator died before finishing "
					  "(%s left); open with create to "
					  "recover",
					  env->home, RGN_PRIMARY_TMP)
			       : rgn_fail(RGN_ENOTENV, "%s has no %s",
					  env->home, RGN_PRIMARY_FILE);
	rc = rgn_primary_clear_debris(env);
	if (rc == 0)
		rc = rgn_home_canonical(env);
	if (rc < 0)
		return rc;
	env->backing = cfg->backing ? cfg->backing : RGN_BACKING_FILES;
	fallback = env->backing == RGN_BACKING_FILES &&
		   (!RGN_HAVE_MMAP || (cfg->flags & RGN_NOMMAP));
	if (env->backing == RGN_BACKING_SYSV) {
		env->shm_key = cfg->shm_key;
	} else if (fallback) {
		/* Files without mmap: the data lives in segments with
		 * private keys, and __db.001 records that it did. */
		env->shm_key = IPC_PRIVATE;
		env->env_flags |= RGN_RF_FALLBACK;
	}
	env->ops = rgn_backing_select(env->backing,
				      fallback ? RGN_RF_FALLBACK : 0);
	/* A dead creator's intent lets the sysv backing reclaim what it left
	 * at the base key; then ours replaces it until we are published.
	 * Only segments outlive their creator unnamed: a files primary is
	 * built as __db.001.tmp, which is its own evidence. */
	if (env->ops->in_segments) {
		if (rgn_lockfile_read_intent(env, &env->crashed) < 0 ||
		    rgn_proc_alive(env->crashed.pid, env->crashed.start))
			memset(&env->crashed, 0, sizeof(env->crashed));
		rc = rgn_lockfile_write_intent(env, env->shm_key);
		if (rc < 0)
			return rgn_fail(rc, "write %s/%s", env->home,
					RGN_LOCK_FILE);
	}
	rc = rgn_primary_create(env);
	if (rc < 0)
		return rc;
	/* Published: the intent is done with. */
	rgn_test_point("env-create:published");
	return refresh_cache(env, 0);
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
	env->lck_len = -1;
	env->reg.slot = -1;
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
	rc = rgn_home_open(env, home);
	if (rc < 0)
		goto fail;
	if (cfg->flags & RGN_INSPECT) {
		rc = rgn_home_anchor(env);
		if (rc == 0)
			rc = open_inspect(env);
		if (rc < 0)
			goto fail;
		goto done;
	}

	private_env = cfg->backing == RGN_BACKING_PRIVATE;
	/* An exclusive create expects an empty home. */
	env->lck_absent = (cfg->flags & RGN_EXCL) != 0;
	if (!private_env && !(cfg->flags & RGN_EXCL)) {
		rc = fast_join(env, cfg);
		if (rc == 0)
			goto done;
		if (rc != -EAGAIN)
			goto fail;
	}
	/* The careful path works in the directory it opens now. */
	rc = rgn_home_anchor(env);
	if (rc < 0)
		goto fail;
	/* Before anything is created in the home, not even __db.lck. */
	if ((cfg->flags & RGN_CREATE) || private_env) {
		rc = refuse_foreign_home(env);
		if (rc < 0)
			goto fail;
	}
	rc = rgn_lockfile_open_home(
		env, (cfg->flags & RGN_CREATE) || private_env, 0);
	if (rc < 0)
		goto fail;
	rc = rgn_lockfile_attach(env, private_env);
	if (rc < 0)
		goto fail;
	rc = private_env ? open_private(env) : open_shared(env, cfg);
	if (rc < 0)
		goto fail_unlock;
	rc = rgn_env_lock(env);
	if (rc == 0) {
		rc = rgn_registry_add(env->shenv, env->procs, &env->reg);
		rgn_env_unlock(env);
	}
	if (rc < 0) {
		if (private_env)
			env->ops->discard(env, 1, &env->primary);
		else
			env->ops->detach(env, &env->primary);
		goto fail_unlock;
	}
	rgn_lockfile_setup_unlock(env);
done:
	list_open(env);
	rgn_clear_detail(); /* what the careful path tried is no failure */
	*envp = env;
	return 0;
fail_unlock:
	/* A private owner's lock file goes with a failed open only if this
	 * open wrote the owner record into it. */
	if (private_env && rgn_lockfile_owns_private(env))
		rgn_lockfile_unlink(env);
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
		if (rgn_mutex_lock(&env->shenv->ev_mutex, rgn_primary_recover,
				   env) == 0) {
			rgn_registry_remove(env->procs, &env->reg);
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
		if (!env->forked && rgn_lockfile_ofd(env->lockfd, F_WRLCK,
						     RGN_LOCK_SETUP, 1) == 0) {
			if (ftruncate(env->lockfd, 0) == 0)
				rgn_lockfile_unlink(env);
		}
	} else if (env->primary.base) {
		env->ops->detach(env, &env->primary);
	}
	env_free(env);
	return 0;
}

/* ---- for remove (env_remove.c) ------------------------------------------ */

struct rgn_env *rgn_env_new(void)
{
	return env_alloc();
}

void rgn_env_free(struct rgn_env *env)
{
	env_free(env);
}

int rgn_home_refuse_foreign(struct rgn_env *env)
{
	return refuse_foreign_home(env);
}
