/*
 * leaks_remove.c - rgn_leak_remove: IPC_RMID for a segment only when,
 * re-checked right now, it is a leak and the requester may remove it.
 *
 * Removal never trusts the scan that named the segment: it asks the core's
 * identity module whether the id still names the segment seen (same key,
 * same creation time; marked for removal is its own answer), judges it
 * afresh with a cache of its own, and asks once more immediately before
 * IPC_RMID.  A process may still attach between that last look and
 * IPC_RMID; the kernel then only marks the segment for removal, so nothing
 * in use is ever unmapped.  Every refusal is a verdict with a reason.
 *
 * A segment that is not ours may be one of Berkeley DB's, which only a
 * whole scan can tell (its primary's table names it): those are asked of
 * a fresh scan, and refused unless a named home proves them orphaned.
 * Removing a segment of a Berkeley DB environment breaks it (its next
 * open fails "shmat: unable to attach"), so the refusal says what
 * Berkeley DB itself offers instead.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>

#include "internal.h"
#include "leaks_int.h"

/* Judge R afresh (a cache of its own, so nothing is older than this call)
 * and keep its home in HOME, which R->home then points to. */
static int judge_fresh(struct rgn_leak *r, char home[RGN_HOME_MAX])
{
	struct rgn_leaks_cache c;
	int rc = rgn_leaks_cache_init(&c, 1);

	if (rc == 0)
		rc = rgn_leaks_judge(&c, r, 0, time(NULL));
	snprintf(home, RGN_HOME_MAX, "%s", r->home);
	r->home = home;
	rgn_leaks_cache_fini(&c, NULL);
	return rc;
}

/* Record a skip: the verdict, the code to return and the reason. */
static int skip(struct rgn_leak_removal *res, enum rgn_leak_verdict v, int err,
		const char *fmt, ...) RGN_PRINTF(4, 5);

static int skip(struct rgn_leak_removal *res, enum rgn_leak_verdict v, int err,
		const char *fmt, ...)
{
	va_list ap;

	res->verdict = v;
	res->err = err;
	res->seg.home = res->home;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	if (err < 0)
		rgn_fail(err, "shmid %d: %s", res->seg.shmid, res->reason);
	return err;
}

/*
 * Who SHMID is now, asked of the identity module against SEEN (its key and
 * creation time; NULL: whichever segment holds the id now), and the checks
 * that need no attach: identity, ownership, removal, attachment.  NOW gets
 * the kernel's figures.  0 when every check passes, otherwise the skip
 * recorded in RES; GONE says how a vanished segment is explained.
 */
static int recheck(int32_t shmid, const struct rgn_leak *seen, uid_t uid,
		   struct rgn_leak *now, const char *gone,
		   struct rgn_leak_removal *res)
{
	struct rgn_shm_seen sn = {.shmid = shmid};
	struct rgn_shm_info in;
	enum rgn_shm_state st;
	int err = 0;

	if (!seen) {
		err = rgn_leaks_stat_one(shmid, now);
		if (err == -ENOENT) {
			res->seg.shmid = -1;
			return skip(res, RGN_LEAK_SKIP_GONE, -ENOENT, "%s",
				    gone);
		}
		if (err < 0)
			return skip(res, RGN_LEAK_SKIP_UNKNOWN, err,
				    "cannot stat it: %s", rgn_strerror(err));
		seen = now;
	}
	sn.key = seen->key;
	sn.ctime = seen->ctime;
	st = rgn_shm_identify(&sn, 0, NULL, NULL, &in, &err);
	/* Without read permission the kernel's index still showed it, and
	 * its figures are all these checks need: whose it is stays for the
	 * header read to say. */
	if (st == RGN_SHM_UNKNOWN && err == -EACCES && in.shmid == shmid &&
	    in.ctime == sn.ctime)
		st = in.mode & SHM_DEST ? RGN_SHM_REMOVING
		     : in.nattch	? RGN_SHM_ATTACHED
					: RGN_SHM_UNATTACHED;
	switch (st) {
	case RGN_SHM_GONE:
		res->seg.shmid = -1;
		return skip(res, RGN_LEAK_SKIP_GONE, -ENOENT, "%s", gone);
	case RGN_SHM_RECYCLED:
		return skip(res, RGN_LEAK_SKIP_CHANGED, -ESTALE,
			    "changed since it was examined (key 0x%08x ctime "
			    "%" PRId64 ", was key 0x%08x ctime %" PRId64 ")",
			    (unsigned)in.key, in.ctime, (unsigned)sn.key,
			    sn.ctime);
	case RGN_SHM_UNKNOWN:
		err = rgn_fail(err ? err : -EIO, "shmctl %d IPC_STAT: %s",
			       shmid, rgn_strerror(err ? err : -EIO));
		return skip(res, RGN_LEAK_SKIP_UNKNOWN, err,
			    "cannot stat it: %s", rgn_strerror(err));
	case RGN_SHM_REMOVING:
	case RGN_SHM_FOREIGN: /* not asked: no check given */
	case RGN_SHM_ATTACHED:
	case RGN_SHM_UNATTACHED:
		break;
	}
	rgn_leaks_rec_from_info(now, &in);
	if (uid != 0 && uid != now->uid && uid != now->cuid)
		return skip(res, RGN_LEAK_SKIP_PERM, -EPERM,
			    "uid %u neither owns nor created it (owner uid "
			    "%u, creator uid %u)",
			    (unsigned)uid, now->uid, now->cuid);
	/* Marked for removal (its key already IPC_PRIVATE): the kernel
	 * frees it at the last detach, there is nothing left to do. */
	if (st == RGN_SHM_REMOVING)
		return skip(res, RGN_LEAK_SKIP_REMOVING, -EALREADY,
			    "already marked for removal");
	if (now->nattch > 0)
		return skip(res, RGN_LEAK_SKIP_ATTACHED, -EBUSY,
			    "%" PRIu64 " process%s attached", now->nattch,
			    now->nattch == 1 ? "" : "es");
	return 0;
}

/* The refusal of Berkeley DB segment SEG (not orphaned), with what to run
 * instead: facts of Berkeley DB 5.3, its home named when known. */
static int refuse_bdb(struct rgn_leak_removal *res)
{
	const struct rgn_leak *g = &res->seg;
	const char *h = g->home[0] ? g->home : "HOME";

	switch (g->cls) {
	case RGN_LEAK_IDLE:
		return skip(res, RGN_LEAK_SKIP_BDB, -EBUSY,
			    "not a leak: segment of a Berkeley DB environment "
			    "at rest (References 0), which needs it; Berkeley "
			    "DB discards an environment with DB_ENV->remove "
			    "on %s, which removes its segments and __db.* "
			    "files",
			    h);
	case RGN_LEAK_NEEDS_RECOVERY:
		return skip(res, RGN_LEAK_SKIP_BDB, -EBUSY,
			    "segment of a Berkeley DB environment that needs "
			    "recovery (References %u, nobody attached): run "
			    "db_recover -h %s (db5.3_recover on Debian); to "
			    "discard it instead, DB_ENV->remove with DB_FORCE "
			    "removes its segments and __db.* files",
			    g->bdb_refcnt, h);
	case RGN_LEAK_LIVE:
		return skip(res, RGN_LEAK_SKIP_BDB, -EBUSY, "in use: %s",
			    g->evidence);
	default:
		return skip(res, RGN_LEAK_SKIP_BDB, -EBUSY,
			    "segment of a Berkeley DB environment, not proven "
			    "orphaned: %s",
			    g->evidence);
	}
}

int rgn_leak_remove(int32_t shmid, const struct rgn_leak *seen, uid_t uid,
		    uint32_t flags, struct rgn_leak_removal *res)
{
	return rgn_leak_remove_opts(shmid, seen, uid, flags, NULL, res);
}

int rgn_leak_remove_opts(int32_t shmid, const struct rgn_leak *seen, uid_t uid,
			 uint32_t flags, const struct rgn_leak_opts *opts,
			 struct rgn_leak_removal *res)
{
	struct rgn_leak last;
	int rc;

	rgn_clear_detail();
	if (!res)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	rgn_leaks_rec_clear(&res->seg);
	res->seg.shmid = shmid;
	if (shmid < 0)
		return skip(res, RGN_LEAK_SKIP_GONE, -EINVAL,
			    "%d is not a segment id", shmid);

	rc = recheck(shmid, seen, uid, &res->seg,
		     "no such segment (already removed?)", res);
	if (rc < 0)
		return rc;

	rc = judge_fresh(&res->seg, res->home);
	if (rc == -ENOENT) {
		res->seg.shmid = -1;
		return skip(res, RGN_LEAK_SKIP_GONE, -ENOENT,
			    "vanished while being examined");
	}
	if (rc < 0)
		return skip(res, RGN_LEAK_SKIP_UNKNOWN, rc,
			    "cannot examine it: %s", rgn_strerror(rc));
	if (rgn_leaks_bdb_maybe(&res->seg)) {
		struct rgn_leak whole;

		rc = rgn_leaks_rescan_one(shmid, opts, &whole, res->home);
		if (rc < 0)
			return skip(res, RGN_LEAK_SKIP_UNKNOWN, rc,
				    "cannot scan for Berkeley DB environments: "
				    "%s",
				    rgn_strerror(rc));
		if (rc == 0) {
			res->seg.shmid = -1;
			return skip(res, RGN_LEAK_SKIP_GONE, -ENOENT,
				    "vanished while being examined");
		}
		if (whole.program == RGN_LEAK_PROG_BDB ||
		    res->seg.program == RGN_LEAK_PROG_BDB)
			res->seg = whole;
		else
			snprintf(res->home, sizeof(res->home), "%s", "");
	}
	if (res->seg.program == RGN_LEAK_PROG_BDB &&
	    res->seg.cls != RGN_LEAK_ORPHANED)
		return refuse_bdb(res);
	switch (res->seg.cls) {
	case RGN_LEAK_ORPHANED:
		break;
	case RGN_LEAK_FOREIGN_IDLE:
	case RGN_LEAK_FOREIGN_IN_USE:
		if (flags & RGN_LEAK_FORCE_FOREIGN)
			break;
		return skip(res, RGN_LEAK_SKIP_FOREIGN, RGN_EFOREIGN,
			    "not a regionfs segment (%s); removing it needs "
			    "force-foreign and its explicit shmid",
			    res->seg.evidence);
	case RGN_LEAK_LIVE:
		return skip(res, RGN_LEAK_SKIP_LIVE, -EBUSY, "in use: %s",
			    res->seg.evidence);
	case RGN_LEAK_IDLE:
		return skip(res, RGN_LEAK_SKIP_LIVE, -EBUSY, "not a leak: %s",
			    res->seg.evidence);
	case RGN_LEAK_REMOVING:
		return skip(res, RGN_LEAK_SKIP_REMOVING, -EALREADY,
			    "already marked for removal");
	default:
		return skip(res, RGN_LEAK_SKIP_UNKNOWN, -EAGAIN,
			    "cannot tell whose it is: %s", res->seg.evidence);
	}

	/* Judging took time: look once more right before acting. */
	rc = recheck(shmid, &res->seg, uid, &last,
		     "vanished while being examined", res);
	if (rc < 0)
		return rc;
	if (flags & RGN_LEAK_DRY_RUN)
		return skip(res, RGN_LEAK_WOULD_REMOVE, 0, "would remove: %s",
			    res->seg.evidence);
	if (shmctl(shmid, IPC_RMID, NULL) < 0) {
		int err = rgn_shm_errno(errno);

		if (err == -ENOENT)
			return skip(res, RGN_LEAK_SKIP_GONE, -ENOENT,
				    "vanished before removal");
		return skip(res, RGN_LEAK_FAILED, err, "IPC_RMID failed: %s",
			    strerror(-err));
	}
	return skip(res, RGN_LEAK_REMOVED, 0, "removed: %s", res->seg.evidence);
}
