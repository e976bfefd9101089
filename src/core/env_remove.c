/*
 * env_remove.c - removing a whole environment, and saying exactly what of
 * it was left.
 *
 * The region table in the primary names every region, so a remove walks it
 * and asks each backing to destroy what a slot describes (re-checked right
 * before it acts), the primary last.  Two things make that not enough:
 *  - the primary segment can be destroyed from outside (an ipcrm, or
 *    Berkeley DB, which removes whatever sits at its key), and its table
 *    with it.  __db.001 still records the environment id and the base key,
 *    and every segment we make starts with a header naming its environment
 *    id and home, so the kernel's index is searched for segments whose
 *    header names this environment and this home; those nobody has
 *    attached are removed, each re-identified right before IPC_RMID.  A
 *    segment that is merely at one of our keys proves nothing: another
 *    program's is never touched.
 *  - something may refuse to go (attached, not ours to remove, replaced).
 *    Each such file or segment is handed to the caller's callback, with
 *    why, and __db.001 (with the primary) stays while anything is left, so
 *    that the environment is still findable and a later remove finishes
 *    the job instead of leaving strays for the leak scanner.
 * The library never prints: the callback and the return code carry it all.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include "env.h"
#include "env_parts.h"
#include "internal.h"
#include "proc.h"
#include "shmid.h"

/* What this remove has left so far, and whom to tell. */
struct left {
	rgn_remove_fn fn;     /* the caller's callback, or NULL */
	void *arg;	      /* its argument */
	unsigned n;	      /* items reported */
	int first;	      /* the code of the first */
	char first_text[320]; /* the first, in words, for the detail */
};

static void report(struct left *lf, const struct rgn_remove_item *it)
{
	if (lf->n++ == 0) {
		lf->first = it->error;
		if (it->path)
			snprintf(lf->first_text, sizeof(lf->first_text),
				 "%s: %s", it->path, it->reason);
		else
			snprintf(lf->first_text, sizeof(lf->first_text),
				 "shmid %d key 0x%08x: %s", (int)it->shmid,
				 (unsigned)it->key, it->reason);
	}
	if (lf->fn)
		lf->fn(it, lf->arg);
}

static void RGN_PRINTF(7, 8)
	left_segment(struct left *lf, int32_t shmid, int32_t key, uint32_t id,
		     uint64_t nattch, int error, const char *fmt, ...)
{
	char reason[RGN_HOME_MAX + 256];
	struct rgn_remove_item it = {.shmid = shmid,
				     .key = key,
				     .region_id = id,
				     .nattch = nattch,
				     .error = error,
				     .reason = reason};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	report(lf, &it);
}

static void left_file(struct left *lf, const struct rgn_env *env,
		      const char *name, uint32_t id, int error,
		      const char *reason)
{
	char path[PATH_MAX + RGN_FILE_NAME_MAX + 8];
	struct rgn_remove_item it = {.path = path,
				     .shmid = -1,
				     .region_id = id,
				     .error = error,
				     .reason = reason};

	snprintf(path, sizeof(path), "%s/%s", env->home, name);
	report(lf, &it);
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "es";
}

/* A region the table names could not be destroyed: RC and the backing's
 * detail say why. */
static void left_region(struct left *lf, struct rgn_env *env,
			const struct rgn_shm_slot *sl, int rc)
{
	char why[512];
	struct rgn_shm_info in;

	snprintf(why, sizeof(why), "%s",
		 rgn_errdetail()[0] ? rgn_errdetail() : rgn_strerror(rc));
	if (env->ops->in_segments) {
		if (rgn_shm_stat(sl->sl_shmid, &in) < 0)
			in.nattch = 0;
		left_segment(lf, sl->sl_shmid, sl->sl_key, sl->sl_id, in.nattch,
			     rc, "%s", why);
	} else {
		char name[RGN_FILE_NAME_MAX];

		rgn_region_file(sl->sl_id, name, sizeof(name));
		left_file(lf, env, name, sl->sl_id, rc, why);
	}
}

static const char kept_reason[] =
	"kept while anything else of the environment is left, so that "
	"remove can finish later";

/* The primary (and __db.001) stay while anything else is left. */
static void left_primary(struct left *lf, struct rgn_env *env)
{
	if (env->ops->unpublish)
		left_segment(lf, env->primary_slot.sl_shmid,
			     env->primary_slot.sl_key, 1, 0, -EAGAIN,
			     "the primary region, named by %s/%s: %s",
			     env->home, RGN_PRIMARY_FILE, kept_reason);
	else
		left_file(lf, env, RGN_PRIMARY_FILE, 1, -EAGAIN, kept_reason);
}

/* ---- the primary is gone: find the rest by their headers ---------------- */

struct hdr_check {
	const struct rgn_env *env; /* whose segments we look for */
	int32_t key;		   /* the segment's key */
	uint32_t id;		   /* out: region its header names */
	int other_home;		   /* out: our environment id, but
				      another home */
	char home[RGN_HOME_MAX];   /* out: that home */
};

/* A check for rgn_shm_identify(): 1 when the header names this environment
 * id and this home, for a region whose key is the one it sits at. */
static int names_this_env(const void *base, uint64_t size, void *arg)
{
	const struct rgn_shm_region *rh = base;
	struct hdr_check *c = arg;
	const struct rgn_env *env = c->env;

	if (size < sizeof(*rh) || rh->rh_magic != RGN_REGION_MAGIC ||
	    rh->rh_format != RGN_FORMAT || rh->rh_env_id != env->env_id ||
	    rh->rh_id == 0 || rh->rh_id > RGN_MAX_REGIONS ||
	    rh->rh_key != c->key)
		return 0;
	if (env->shm_key != IPC_PRIVATE &&
	    (uint32_t)c->key != (uint32_t)env->shm_key + rh->rh_id - 1)
		return 0;
	c->id = rh->rh_id;
	if (!memchr(rh->rh_home, '\0', sizeof(rh->rh_home)) ||
	    strcmp(rh->rh_home, env->home) != 0) {
		size_t n = strnlen(rh->rh_home, sizeof(c->home) - 1);

		/* Only the path's bytes: the header past its NUL is never
		 * written, and reading it would grow the segment. */
		c->other_home = 1;
		memcpy(c->home, rh->rh_home, n);
		c->home[n] = '\0';
		return 0;
	}
	return 1;
}

struct sweep {
	struct rgn_env *env;
	struct left *lf;
};

/* Could this segment be one of ours?  At one of our keys (or, for the
 * files backing without mmap, any IPC_PRIVATE key), not already marked for
 * removal, and large enough to hold our header. */
static int candidate(const struct rgn_env *env, const struct rgn_shm_info *in)
{
	if ((in->mode & SHM_DEST) || in->size < sizeof(struct rgn_shm_region))
		return 0;
	if (env->shm_key == IPC_PRIVATE)
		return in->key == IPC_PRIVATE;
	return (uint32_t)in->key - (uint32_t)env->shm_key < RGN_MAX_REGIONS;
}

static int sweep_one(const struct rgn_shm_info *in, void *arg)
{
	struct sweep *sw = arg;
	struct rgn_env *env = sw->env;
	struct rgn_shm_seen seen = {
		.shmid = in->shmid, .key = in->key, .ctime = in->ctime};
	struct hdr_check *c;
	struct rgn_shm_info now;
	uid_t me = geteuid();
	int err, rc;

	if (!candidate(env, in))
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->env = env;
	c->key = in->key;
	switch (rgn_shm_identify(&seen, 0, names_this_env, c, &now, &err)) {
	case RGN_SHM_GONE:
	case RGN_SHM_RECYCLED:
	case RGN_SHM_REMOVING:
		goto done;
	case RGN_SHM_UNKNOWN:
		/* At one of our keys and made by our user, yet unreadable:
		 * it may be ours, so say so.  A private key of anyone's
		 * proves nothing, and is not mentioned. */
		if (env->shm_key != IPC_PRIVATE &&
		    (in->cuid == me || in->uid == me))
			left_segment(sw->lf, in->shmid, in->key, 0, in->nattch,
				     err,
				     "its header could not be read (%s): it "
				     "may be this environment's",
				     rgn_strerror(err));
		goto done;
	case RGN_SHM_FOREIGN:
		if (c->other_home)
			left_segment(sw->lf, in->shmid, in->key, c->id,
				     now.nattch, RGN_EFOREIGN,
				     "its header names this environment (id "
				     "%016llx) but the home %s; not proven "
				     "ours, left untouched",
				     (unsigned long long)env->env_id, c->home);
		goto done; /* another program's: never touched */
	case RGN_SHM_ATTACHED:
		left_segment(sw->lf, in->shmid, in->key, c->id, now.nattch,
			     -EBUSY, "%llu process%s attached",
			     (unsigned long long)now.nattch,
			     plural(now.nattch));
		goto done;
	case RGN_SHM_UNATTACHED:
		break;
	}
	/* Right before IPC_RMID: the same segment, still nobody attached. */
	switch (rgn_shm_identify(&seen, 0, NULL, NULL, &now, &err)) {
	case RGN_SHM_UNATTACHED:
		break;
	case RGN_SHM_ATTACHED:
		left_segment(sw->lf, in->shmid, in->key, c->id, now.nattch,
			     -EBUSY, "%llu process%s attached",
			     (unsigned long long)now.nattch,
			     plural(now.nattch));
		goto done;
	case RGN_SHM_UNKNOWN:
		left_segment(sw->lf, in->shmid, in->key, c->id, in->nattch, err,
			     "could not check it again: %s", rgn_strerror(err));
		goto done;
	default: /* gone, recycled or marked meanwhile: not ours to act on */
		goto done;
	}
	if (shmctl(seen.shmid, IPC_RMID, NULL) < 0) {
		rc = rgn_shm_errno(errno);
		if (rc != -ENOENT)
			left_segment(sw->lf, in->shmid, in->key, c->id, 0, rc,
				     "IPC_RMID: %s", rgn_strerror(rc));
	}
done:
	free(c);
	return 0;
}

/* Remove the segments of ENV that its lost table named, as their headers
 * prove; report the rest. */
static int sweep_segments(struct rgn_env *env, struct left *lf)
{
	struct sweep sw = {.env = env, .lf = lf};
	int rc;

	/* Headers record the home by its canonical path. */
	rc = rgn_home_canonical(env);
	if (rc < 0)
		return rc;
	rc = rgn_shm_walk(sweep_one, &sw, NULL);
	if (rc < 0)
		return rgn_fail(rc,
				"walk the System V segments looking for "
				"those of %s",
				env->home);
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

/* The last steps, once nothing else is left: __db.001 (a record: the
 * primary itself was destroyed already), a dead creator's __db.001.tmp,
 * and __db.lck. */
static void remove_home_files(struct rgn_env *env, struct left *lf)
{
	int rc = env->ops->unpublish ? env->ops->unpublish(env) : 0;

	if (rc < 0) {
		left_file(lf, env, RGN_PRIMARY_FILE, 1, rc, rgn_errdetail());
		return;
	}
	rc = rgn_primary_clear_debris(env);
	if (rc < 0) {
		left_file(lf, env, RGN_PRIMARY_TMP, 1, rc, rgn_errdetail());
		return;
	}
	rgn_lockfile_unlink(env);
}

/* The primary is attached: destroy the regions its table names, highest
 * id first, then the primary, then the files of the home. */
static int remove_by_table(struct rgn_env *env, uint32_t flags, int busy,
			   struct left *lf)
{
	char pids[256];
	int rc;

	if (busy) {
		int n = live_pids(env, pids, sizeof(pids));

		if (!(flags & RGN_FORCE)) {
			env->ops->detach(env, &env->primary);
			return rgn_fail(-EBUSY,
					"%s is in use by %d attached process%s "
					"(pid %s); use force to remove anyway",
					env->home, n, plural((uint64_t)n),
					n ? pids : "unknown");
		}
		/* Tell the processes still attached that it is gone. */
		__atomic_store_n(&env->shenv->ev_panic, 1, __ATOMIC_RELEASE);
	}
	for (uint32_t i = rgn_slot_hwm(env->shenv); i-- > 1;) {
		struct rgn_shm_slot sl;

		if (env->slots[i].sl_state == RGN_SLOT_FREE)
			continue;
		sl = env->slots[i];
		rgn_clear_detail();
		rc = env->ops->destroy(env, &sl);
		/* RGN_EFOREIGN: the slot's segment id now names another
		 * program's segment, so ours is gone; that one stays
		 * untouched. */
		if (rc < 0 && rc != -ENOENT && rc != RGN_EFOREIGN) {
			left_region(lf, env, &sl, rc);
			continue;
		}
		memset(&env->slots[i], 0, sizeof(env->slots[i]));
	}
	if (lf->n) {
		left_primary(lf, env);
		env->ops->detach(env, &env->primary);
		return 0;
	}
	/* The table's own slot for the primary knows the segment's identity
	 * (creation time, creator), which spares destroy an attach. */
	if (env->slots[0].sl_shmid == env->primary_slot.sl_shmid) {
		env->primary_slot.sl_seg_ctime = env->slots[0].sl_seg_ctime;
		env->primary_slot.sl_creator_pid = env->slots[0].sl_creator_pid;
	}
	env->ops->detach(env, &env->primary);
	rgn_clear_detail();
	rc = env->ops->destroy(env, &env->primary_slot);
	if (rc < 0 && rc != -ENOENT) {
		left_region(lf, env, &env->primary_slot, rc);
		return 0;
	}
	remove_home_files(env, lf);
	return 0;
}

int rgn_env_remove_report(const char *home, uint32_t flags, rgn_remove_fn fn,
			  void *arg)
{
	struct left lf = {.fn = fn, .arg = arg};
	struct rgn_env *env;
	int rc, busy;

	rgn_clear_detail();
	if (flags & ~RGN_FORCE)
		return rgn_fail(-EINVAL, "unknown remove flags 0x%x", flags);
	env = rgn_env_new();
	if (!env)
		return -ENOMEM;
	rc = rgn_home_open(env, home);
	if (rc == 0)
		rc = rgn_home_anchor(env);
	if (rc == 0)
		rc = rgn_lockfile_open_home(env, 0, 1);
	if (rc < 0)
		goto out_foreign;
	busy = rgn_lockfile_ofd(env->lockfd, F_WRLCK, RGN_LOCK_ATTACH, 0) < 0;
	if (busy) {
		pid_t owner;

		if (rgn_lockfile_private_owner(env->lockfd, &owner) == 0) {
			rc = rgn_fail(RGN_EPRIVATE,
				      "%s is open as a private environment by "
				      "pid %d",
				      env->home, (int)owner);
			goto out;
		}
	}
	rc = rgn_primary_probe(env, 0);
	if (rc == RGN_EBADMAGIC)
		goto out_foreign;
	if (rc == -ENOENT) {
		/* Nothing but a lock file and perhaps a dead creator's
		 * debris: finish the job. */
		rc = rgn_primary_clear_debris(env);
		if (rc == 0)
			rgn_lockfile_unlink(env);
		goto out;
	}
	if (rc < 0)
		goto out;
	rc = rgn_primary_attach(env);
	if ((rc == -ENOENT || rc == RGN_ECORRUPT) && env->ops->unpublish) {
		/* The primary segment is gone (a reboot, an ipcrm, Berkeley
		 * DB at its key), and its table with it. */
		rc = sweep_segments(env, &lf);
		if (rc == 0 && lf.n)
			left_file(&lf, env, RGN_PRIMARY_FILE, 1, -EAGAIN,
				  kept_reason);
		else if (rc == 0)
			remove_home_files(env, &lf);
		goto out;
	}
	if (rc == 0)
		rc = remove_by_table(env, flags, busy, &lf);
	goto out;
out_foreign:
	/*
	 * Nothing was changed (a lock is no change): only now, when __db.001
	 * is not ours, say whether it is Berkeley DB's.  Asked before
	 * anything else, this cost every remove an open of __db.001.
	 */
	if (rc == RGN_EBADMAGIC) {
		int foreign = rgn_home_refuse_foreign(env);

		if (foreign < 0)
			rc = foreign;
	}
out:
	if (rc == 0 && lf.n) {
		rc = lf.first;
		rgn_fail(rc,
			 "%u thing%s of the environment in %s left; the "
			 "first: %s",
			 lf.n, lf.n == 1 ? "" : "s", env->home, lf.first_text);
	}
	rgn_env_free(env);
	return rc;
}

int rgn_env_remove(const char *home, uint32_t flags)
{
	return rgn_env_remove_report(home, flags, NULL, NULL);
}
