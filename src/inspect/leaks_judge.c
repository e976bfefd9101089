/*
 * leaks_judge.c - the leak scanner's judgement: one class per segment,
 * with the evidence behind it, and the public scan calls.
 *
 * A scan lists segments (leaks_list.c), then judges each one here.
 * Judging costs a read-only attach for segments that could hold our
 * header, asked of the core's identity module (rgn_shm_identify) so that
 * an id recycled or marked for removal since the listing is named as such
 * and never judged by somebody else's bytes; for ours, one look at the
 * environment the header names (leaks_evidence.c, cached per scan).  That
 * look reads the environment's region table too, and a segment the table
 * names with its exact identity (shmid, key, creation time, creator pid)
 * is judged by the table, without an attach: in an environment of many
 * regions only the first segment seen is attached.
 *
 * Trade-off: the attach is the only way to read a segment's first bytes,
 * and it touches shm_atime/shm_dtime/shm_lpid.  We report the figures
 * stat'ed before the attach, and never attach segments marked for removal,
 * too small to hold our header, never written, or whose permissions would
 * refuse us.
 *
 * The remover, which judges once more with the same judge, is
 * leaks_remove.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>

#include "internal.h"
#include "leaks_int.h"
#include "proc.h"

_Static_assert(RGN_LEAK_HOME_MAX == RGN_HOME_MAX,
	       "leak records hold a whole home path");

static const char *const class_names[RGN_LEAK_NCLASSES] = {
	[RGN_LEAK_UNKNOWN] = "unknown",
	[RGN_LEAK_LIVE] = "live",
	[RGN_LEAK_ORPHANED] = "orphaned",
	[RGN_LEAK_FOREIGN_IN_USE] = "foreign-in-use",
	[RGN_LEAK_FOREIGN_IDLE] = "foreign-idle",
	[RGN_LEAK_REMOVING] = "removing",
	[RGN_LEAK_IDLE] = "idle",
	[RGN_LEAK_NEEDS_RECOVERY] = "needs-recovery",
};

static const char *const verdict_names[RGN_LEAK_NVERDICTS] = {
	[RGN_LEAK_REMOVED] = "removed",
	[RGN_LEAK_WOULD_REMOVE] = "would-remove",
	[RGN_LEAK_SKIP_GONE] = "gone",
	[RGN_LEAK_SKIP_CHANGED] = "changed",
	[RGN_LEAK_SKIP_PERM] = "not-owner",
	[RGN_LEAK_SKIP_REMOVING] = "removing",
	[RGN_LEAK_SKIP_ATTACHED] = "attached",
	[RGN_LEAK_SKIP_LIVE] = "live",
	[RGN_LEAK_SKIP_FOREIGN] = "foreign",
	[RGN_LEAK_SKIP_UNKNOWN] = "unknown",
	[RGN_LEAK_FAILED] = "failed",
	[RGN_LEAK_SKIP_BDB] = "berkeley-db",
};

const char *rgn_leak_class_name(enum rgn_leak_class cls)
{
	if ((unsigned)cls >= RGN_LEAK_NCLASSES)
		return "?";
	return class_names[cls];
}

const char *rgn_leak_program_name(enum rgn_leak_program prog)
{
	switch (prog) {
	case RGN_LEAK_PROG_NONE:
		return "-";
	case RGN_LEAK_PROG_REGIONFS:
		return "regionfs";
	case RGN_LEAK_PROG_BDB:
		return "berkeley-db";
	}
	return "?";
}

const char *rgn_leak_verdict_name(enum rgn_leak_verdict v)
{
	if ((unsigned)v >= RGN_LEAK_NVERDICTS)
		return "?";
	return verdict_names[v];
}

/* ---- judging ------------------------------------------------------------ */

static int64_t latest(int64_t a, int64_t b, int64_t c)
{
	int64_t m = a > b ? a : b;

	return m > c ? m : c;
}

/* snprintf for evidence lines: cutting a long line short is fine. */
static void say(char *buf, size_t len, const char *fmt, ...) RGN_PRINTF(3, 4);

static void say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* How a segment's creator fares, put in words only for the verdicts that
 * quote it: most of a scan's segments never need the sentence. */
struct who {
	const struct rgn_leak *r; /* the segment; cpid_alive is set */
	int64_t late;		  /* reused: how long after the segment
				     the pid's process started, s */
	char text[160];		  /* "" until asked */
};

/* Is the creator still the process that made the segment? */
static void judge_creator(struct rgn_leaks_cache *c, struct rgn_leak *r,
			  struct who *w)
{
	uint64_t start;
	int64_t started;

	w->r = r;
	w->late = 0;
	w->text[0] = '\0';
	if (r->cpid <= 0) {
		r->cpid_alive = RGN_LEAK_UNSURE;
		return;
	}
	if (rgn_leaks_pid_get(c, r->cpid, &start) < 0) {
		r->cpid_alive = RGN_LEAK_NO;
		return;
	}
	started = rgn_ticks_to_epoch(start);
	/* Ticks convert to the second only roughly: allow one second. */
	if (started > r->ctime + 1) {
		r->cpid_alive = RGN_LEAK_NO;
		w->late = started - r->ctime;
		return;
	}
	r->cpid_alive = RGN_LEAK_YES;
}

static const char *who_text(struct who *w)
{
	const struct rgn_leak *r = w->r;

	if (w->text[0])
		return w->text;
	if (r->cpid <= 0)
		say(w->text, sizeof(w->text), "creator pid not visible here");
	else if (r->cpid_alive == RGN_LEAK_YES)
		say(w->text, sizeof(w->text), "creator pid %d still runs",
		    r->cpid);
	else if (w->late > 0)
		say(w->text, sizeof(w->text),
		    "creator pid %d was reused (that process started %" PRId64
		    " s after the segment was made)",
		    r->cpid, w->late);
	else
		say(w->text, sizeof(w->text), "creator pid %d is gone",
		    r->cpid);
	return w->text;
}

/* Could R hold our header, so that judging it means attaching?  Not when
 * it is too small, or never written (our header is written at create, so a
 * segment without a single page resident or swapped cannot be ours). */
static int may_hold_header(const struct rgn_leak *r)
{
	return r->size >= sizeof(struct rgn_shm_region) &&
	       !(r->rss == 0 && r->swap == 0);
}

/* The verdict on a segment whose header could not be read. */
static void cannot_attach(struct rgn_leak *r, int err)
{
	r->ours = RGN_LEAK_UNSURE;
	r->cls = RGN_LEAK_UNKNOWN;
	say(r->evidence, sizeof(r->evidence),
	    "cannot attach to read its header: %s", strerror(err));
}

/* What the header check copies out of a segment, while it is attached. */
struct hdr_copy {
	uint32_t format;	     /* rh_format */
	uint32_t id, type;	     /* rh_id, rh_type */
	uint64_t env_id;	     /* rh_env_id */
	int32_t creator_pid;	     /* rh_creator_pid */
	char name[RGN_NAME_MAX + 1]; /* rh_name */
	char *home;		     /* rh_home, into RGN_HOME_MAX bytes */
	int32_t key, shmid;	     /* of the segment, for bdb */
	int is_bdb;		     /* not ours: a Berkeley DB primary */
	struct rgn_bdb_segment *bdb; /* then what its REGENV says */
};

/* rgn_shm_check_fn: 1 when BASE starts with our magic (whatever its
 * format, which the caller then judges), 0 when it does not; then, while
 * it is still attached, whether it is a Berkeley DB primary (the decoder
 * touches only the bytes it reads, so handing it the whole size costs no
 * pages). */
static int copy_header(const void *base, uint64_t size, void *arg)
{
	const struct rgn_shm_region *rh = base;
	struct hdr_copy *h = arg;
	size_t n;

	if (size < sizeof(*rh) || rh->rh_magic != RGN_REGION_MAGIC) {
		h->is_bdb = rgn_bdb_segment_decode(
			base, size > SIZE_MAX ? SIZE_MAX : (size_t)size, size,
			h->key, h->shmid, h->bdb);
		return 0;
	}
	h->format = rh->rh_format;
	h->id = rh->rh_id;
	h->type = rh->rh_type;
	h->env_id = rh->rh_env_id;
	h->creator_pid = rh->rh_creator_pid;
	memcpy(h->name, rh->rh_name, sizeof(h->name));
	h->name[RGN_NAME_MAX] = '\0';
	n = strnlen(rh->rh_home, RGN_HOME_MAX - 1);
	memcpy(h->home, rh->rh_home, n);
	h->home[n] = '\0';
	return 1;
}

/* The verdict on a segment marked for removal: whoever owns it, it goes
 * at its last detach. */
static void removing(struct rgn_leak *r)
{
	r->cls = RGN_LEAK_REMOVING;
	r->ours = RGN_LEAK_UNSURE;
	say(r->evidence, sizeof(r->evidence),
	    "marked for removal; goes when its %" PRIu64
	    " attached process%s detach",
	    r->nattch, r->nattch == 1 ? "" : "es");
}

/*
 * Read the header of segment R: 1 ours (HOME gets the home path), 0 not
 * ours (*IS_BDB 1 when a Berkeley DB primary, described in *BDB), -1
 * cannot tell or marked for removal since it was listed (with the verdict
 * made), -ENOENT vanished (gone, or its id recycled).
 */
static int read_header(struct rgn_leaks_cache *c, struct rgn_leak *r,
		       char home[RGN_HOME_MAX], struct rgn_bdb_segment *bdb,
		       int *is_bdb)
{
	struct rgn_shm_seen sn = {r->shmid, r->key, r->ctime};
	struct hdr_copy hc = {.home = home,
			      .key = r->key,
			      .shmid = r->shmid,
			      .bdb = bdb},
			*h = &hc;
	const struct rgn_leaks_claim *cl;
	struct rgn_shm_info now;
	int err = 0;

	if (!may_hold_header(r))
		return 0;
	if (!rgn_leaks_may_attach(c, r)) {
		cannot_attach(r, EACCES);
		return -1;
	}
	/* Named by a table already read, with the identity its creator
	 * recorded: the slot says what the header would (and the header's
	 * format is the environment's, which opened). */
	cl = rgn_leaks_claim_find(c, r);
	if (cl) {
		r->region_id = cl->id;
		r->region_type = cl->type;
		r->env_id = cl->home->env_id;
		r->creator_pid = cl->creator_pid;
		memcpy(r->region_name, cl->name, sizeof(r->region_name));
		snprintf(home, RGN_HOME_MAX, "%s", cl->home->home);
		return 1;
	}
	switch (rgn_shm_identify(&sn, 0, copy_header, h, &now, &err)) {
	case RGN_SHM_GONE:
	case RGN_SHM_RECYCLED:
		return -ENOENT; /* the segment listed is no more */
	case RGN_SHM_REMOVING:
		/* Marked since it was listed (the identity check read that
		 * before any attach): what removal changed, and its class. */
		r->key = now.key;
		r->mode = now.mode;
		r->nattch = now.nattch;
		removing(r);
		return -1;
	case RGN_SHM_UNKNOWN:
		cannot_attach(r, err ? -err : EIO);
		return -1;
	case RGN_SHM_FOREIGN:
		*is_bdb = h->is_bdb;
		return 0;
	case RGN_SHM_ATTACHED:
	case RGN_SHM_UNATTACHED:
		break;
	}
	if (h->format != RGN_FORMAT) {
		r->ours = RGN_LEAK_UNSURE;
		r->cls = RGN_LEAK_UNKNOWN;
		say(r->evidence, sizeof(r->evidence),
		    "our magic, but format %u (this build reads %u)", h->format,
		    RGN_FORMAT);
		return -1;
	}
	r->region_id = h->id;
	r->region_type = h->type;
	r->env_id = h->env_id;
	r->creator_pid = h->creator_pid;
	memcpy(r->region_name, h->name, sizeof(r->region_name));
	return 1;
}

/* R is ours: judge it by its environment's registry.  W says how its
 * creator fares, for the evidence. */
static void judge_ours(struct rgn_leaks_cache *c, struct rgn_leak *r,
		       const char *home, uint32_t flags, struct who *w)
{
	struct rgn_leaks_home *hi =
		rgn_leaks_home_get(c, home, !(flags & RGN_LEAK_SCAN_NOENV));

	r->home_matches = RGN_LEAK_UNSURE;
	if (!hi) {
		r->cls = RGN_LEAK_UNKNOWN;
		say(r->evidence, sizeof(r->evidence),
		    "out of memory looking up its home");
		return;
	}
	r->home = hi->home;
	r->cls = RGN_LEAK_ORPHANED;
	r->home_matches = RGN_LEAK_NO;
	switch (hi->state) {
	case RGN_HOME_MISSING:
		say(r->evidence, sizeof(r->evidence),
		    "home no longer exists; %s", who_text(w));
		break;
	case RGN_HOME_NOENV:
		say(r->evidence, sizeof(r->evidence),
		    "home holds no environment any more; %s", who_text(w));
		break;
	case RGN_HOME_BROKEN:
		say(r->evidence, sizeof(r->evidence),
		    "home's __db.001 names a primary segment that is gone; %s",
		    who_text(w));
		break;
	case RGN_HOME_NOTOURS:
		say(r->evidence, sizeof(r->evidence),
		    "home's __db.001 is not a regionfs environment; %s",
		    who_text(w));
		break;
	case RGN_HOME_INCOMPLETE:
		say(r->evidence, sizeof(r->evidence),
		    "environment creation in home was interrupted; %s",
		    who_text(w));
		break;
	case RGN_HOME_PRIVATE:
		say(r->evidence, sizeof(r->evidence),
		    "home is now held by a private environment (pid %d); %s",
		    (int)hi->private_owner, who_text(w));
		break;
	case RGN_HOME_REPLACED:
		say(r->evidence, sizeof(r->evidence),
		    "home is now a symbolic link, not the directory it was "
		    "made in (not followed); %s",
		    who_text(w));
		break;
	case RGN_HOME_UNTRUSTED:
		r->cls = RGN_LEAK_UNKNOWN;
		r->home_matches = RGN_LEAK_UNSURE;
		say(r->evidence, sizeof(r->evidence),
		    "ours; its home was not entered: %s", hi->detail);
		break;
	case RGN_HOME_SKIPPED:
		r->cls = RGN_LEAK_UNKNOWN;
		r->home_matches = RGN_LEAK_UNSURE;
		say(r->evidence, sizeof(r->evidence),
		    "ours; its registry was not read");
		break;
	case RGN_HOME_ERROR:
		r->cls = RGN_LEAK_UNKNOWN;
		r->home_matches = RGN_LEAK_UNSURE;
		say(r->evidence, sizeof(r->evidence),
		    "cannot read the registry in home: %s%s%s",
		    rgn_strerror(hi->err), hi->detail[0] ? ": " : "",
		    hi->detail);
		break;
	case RGN_HOME_MATCHABLE:
		if (hi->env_id != r->env_id) {
			say(r->evidence, sizeof(r->evidence),
			    "home now holds another environment "
			    "(0x%016" PRIx64 "); %s",
			    hi->env_id, who_text(w));
			break;
		}
		r->home_matches = RGN_LEAK_YES;
		r->env_live = hi->live;
		r->env_stale = hi->stale;
		if (hi->live > 0) {
			r->cls = RGN_LEAK_LIVE;
			say(r->evidence, sizeof(r->evidence),
			    "its environment has %u live process%s", hi->live,
			    hi->live == 1 ? "" : "es");
		} else if (hi->stale > 0) {
			/* Somebody died attached and nobody came back. */
			say(r->evidence, sizeof(r->evidence),
			    "its environment in home has no live process (%u "
			    "stale), so one died attached; `regionctl remove "
			    "-h HOME` removes it whole",
			    hi->stale);
		} else {
			/* Closed cleanly: an environment at rest, whose
			 * __db.001 still points here.  Removing only its
			 * segments would destroy its data and leave the
			 * home dangling, so it is not a leak. */
			r->cls = RGN_LEAK_IDLE;
			say(r->evidence, sizeof(r->evidence),
			    "its environment in home is intact and closed "
			    "cleanly; `regionctl remove -h HOME` removes it");
		}
		break;
	}
}

/* Marked for removal needs no attach; everything else is judged by its
 * header, and ours by the environment the header names. */
int rgn_leaks_judge(struct rgn_leaks_cache *c, struct rgn_leak *r,
		    uint32_t flags, int64_t now)
{
	char home[RGN_HOME_MAX];
	struct rgn_bdb_segment bdb;
	struct who w;
	int rc, is_bdb = 0;

	r->idle = now - latest(r->atime, r->dtime, r->ctime);
	if (r->idle < 0)
		r->idle = 0;
	judge_creator(c, r, &w);
	r->home_matches = RGN_LEAK_UNSURE;
	if (r->mode & SHM_DEST) {
		removing(r);
		return 0;
	}
	rc = read_header(c, r, home, &bdb, &is_bdb);
	if (rc == -ENOENT)
		return rc;
	if (rc < 0)
		return 0; /* unknown, and read_header said why */
	if (rc == 0) {
		r->ours = RGN_LEAK_NO;
		/* A Berkeley DB primary: judged with the rest of its
		 * environment once every segment is listed.  Until then, the
		 * verdict of its own attach count and References. */
		if (is_bdb) {
			enum rgn_bdb_seg_class bc = rgn_bdb_segment_class(
				&bdb, r->nattch, RGN_BDB_CLAIM_UNRELATED, NULL);

			rgn_leaks_bdb_mark(r, &bdb, 1, bc, NULL);
			return rgn_leaks_bdb_keep(c, &bdb) < 0 ? -ENOMEM : 0;
		}
		if (r->nattch > 0) {
			r->cls = RGN_LEAK_FOREIGN_IN_USE;
			say(r->evidence, sizeof(r->evidence),
			    "not ours; %" PRIu64 " attached; %s", r->nattch,
			    who_text(&w));
		} else {
			r->cls = RGN_LEAK_FOREIGN_IDLE;
			say(r->evidence, sizeof(r->evidence),
			    "not ours; nobody attached; %s", who_text(&w));
		}
		return 0;
	}
	r->ours = RGN_LEAK_YES;
	r->program = RGN_LEAK_PROG_REGIONFS;
	judge_ours(c, r, home, flags, &w);
	return 0;
}

void rgn_leaks_count(struct rgn_leak_scan *s, const struct rgn_leak *r)
{
	s->count[r->cls]++;
	s->bytes[r->cls] += r->size;
	s->total_bytes += r->size;
	if (rgn_leak_is_leaked(r))
		s->leaked_bytes += r->size;
	if (r->program == RGN_LEAK_PROG_BDB) {
		s->bdb_count++;
		s->bdb_bytes += r->size;
		if (r->cls == RGN_LEAK_IDLE) {
			s->bdb_at_rest++;
			s->bdb_at_rest_bytes += r->size;
		}
	}
}

int rgn_leak_is_leaked(const struct rgn_leak *seg)
{
	return seg->cls == RGN_LEAK_ORPHANED ||
	       (seg->cls == RGN_LEAK_FOREIGN_IDLE &&
		seg->cpid_alive == RGN_LEAK_NO);
}

/* ---- public ------------------------------------------------------------- */

int rgn_leak_needs_header(const struct rgn_leak *seg)
{
	return !(seg->mode & SHM_DEST) && may_hold_header(seg);
}

int rgn_leak_redact(struct rgn_leak *seg)
{
	if (!rgn_leak_needs_header(seg))
		return 0;
	seg->region_id = 0;
	seg->region_type = 0;
	seg->env_id = 0;
	seg->creator_pid = 0;
	memset(seg->region_name, 0, sizeof(seg->region_name));
	seg->home_matches = RGN_LEAK_UNSURE;
	seg->env_live = 0;
	seg->env_stale = 0;
	seg->home = "";
	/* Berkeley DB's too rest on a header (its primary's). */
	seg->program = RGN_LEAK_PROG_NONE;
	seg->bdb_major = seg->bdb_minor = seg->bdb_patch = 0;
	seg->bdb_region_id = seg->bdb_region_type = 0;
	seg->bdb_primary = 0;
	seg->bdb_decoded = 0;
	seg->bdb_refcnt = seg->bdb_panic = 0;
	seg->bdb_nattch = 0;
	cannot_attach(seg, EACCES);
	return 1;
}

void rgn_leak_scan_redact(struct rgn_leak_scan *scan,
			  int (*may_read)(void *arg,
					  const struct rgn_leak *seg),
			  void *arg)
{
	if (!scan)
		return;
	memset(scan->count, 0, sizeof(scan->count));
	memset(scan->bytes, 0, sizeof(scan->bytes));
	scan->leaked_bytes = 0;
	scan->total_bytes = 0;
	scan->bdb_count = scan->bdb_bytes = 0;
	scan->bdb_at_rest = scan->bdb_at_rest_bytes = 0;
	for (size_t i = 0; i < scan->nsegs; i++) {
		if (!may_read(arg, &scan->segs[i]))
			rgn_leak_redact(&scan->segs[i]);
		rgn_leaks_count(scan, &scan->segs[i]);
	}
}

int rgn_leak_scan(uint32_t flags, struct rgn_leak_scan **scanp)
{
	struct rgn_leak_opts o = {.flags = flags};

	return rgn_leak_scan_opts(&o, scanp);
}

int rgn_leak_scan_opts(const struct rgn_leak_opts *opts,
		       struct rgn_leak_scan **scanp)
{
	static const struct rgn_leak_opts none = {0};
	uint32_t flags;
	struct rgn_leak_scan *s;
	struct rgn_leaks_pool *pool = NULL;
	struct rgn_leaks_list l = {0};
	struct rgn_leaks_cache c = {0};
	size_t kept = 0;
	int rc = -ENOSYS;

	rgn_clear_detail();
	if (!scanp)
		return -EINVAL;
	*scanp = NULL;
	if (!opts)
		opts = &none;
	if (opts->nhomes && !opts->homes)
		return -EINVAL;
	flags = opts->flags;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->time = time(NULL);
	/* /proc/sysvipc/shm first: one read gives every stat field and the
	 * residency that spares attaching never-written segments.  Where it
	 * is missing or unreadable, walk the kernel indices with shmctl. */
	if (!(flags & RGN_LEAK_SCAN_SHMCTL)) {
		s->source = RGN_LEAK_SRC_PROC;
		rc = rgn_leaks_list_procfs(&l);
		if (rc < 0 && rc != -ENOMEM && !(flags & RGN_LEAK_SCAN_PROCFS))
			rc = -ENOSYS;
	}
	if (rc == -ENOSYS) {
		l.n = 0;
		rc = rgn_leaks_list_shmctl(&l, !!(flags & RGN_LEAK_SCAN_SHMCTL),
					   &s->source);
	}
	if (rc == 0)
		rc = rgn_leaks_cache_init(&c, l.n);
	if (rc < 0)
		goto fail;

	for (size_t i = 0; i < l.n && rc == 0; i++) {
		rc = rgn_leaks_judge(&c, &l.v[i], flags, s->time);
		if (rc == -ENOENT) {
			rc = 0;
			continue; /* vanished while we looked */
		}
		if (kept != i)
			l.v[kept] = l.v[i];
		kept++;
	}
	/* Berkeley DB's other segments are known only by their primary's
	 * table, so they are judged once everything has been seen. */
	if (rc == 0)
		rc = rgn_leaks_bdb_group(&c, l.v, kept, opts);
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < kept; i++)
		rgn_leaks_count(s, &l.v[i]);
	rc = rgn_leaks_cache_fini(&c, &pool);
	if (rc < 0)
		goto fail;
	s->segs = l.v;
	s->nsegs = kept;
	s->strings = pool;
	rgn_leaks_read_limits(s);
	*scanp = s;
	return 0;
fail:
	rgn_leaks_cache_fini(&c, NULL);
	free(l.v);
	free(s);
	return rc;
}

void rgn_leak_free(struct rgn_leak_scan *scan)
{
	if (!scan)
		return;
	rgn_leaks_pool_free(scan->strings);
	free(scan->segs);
	free(scan);
}

const struct rgn_leak *rgn_leak_find(const struct rgn_leak_scan *scan,
				     int32_t shmid)
{
	if (!scan)
		return NULL;
	for (size_t i = 0; i < scan->nsegs; i++)
		if (scan->segs[i].shmid == shmid)
			return &scan->segs[i];
	return NULL;
}

int rgn_leak_stat(int32_t shmid, struct rgn_leak_scan **scanp)
{
	struct rgn_leak_scan *s;
	struct rgn_leaks_pool *pool = NULL;
	struct rgn_leaks_cache c;
	int rc;

	rgn_clear_detail();
	if (!scanp)
		return -EINVAL;
	*scanp = NULL;
	if (shmid < 0)
		return rgn_fail(-EINVAL, "%d is not a segment id", shmid);
	s = calloc(1, sizeof(*s));
	if (s)
		s->segs = calloc(1, sizeof(*s->segs));
	if (!s || !s->segs) {
		free(s);
		return -ENOMEM;
	}
	s->time = time(NULL);
	s->source = RGN_LEAK_SRC_STAT_ANY;
	rc = rgn_leaks_stat_one(shmid, &s->segs[0]);
	if (rc == 0)
		rc = rgn_leaks_cache_init(&c, 1);
	else
		memset(&c, 0, sizeof(c));
	if (rc == 0) {
		rc = rgn_leaks_judge(&c, &s->segs[0], 0, s->time);
		if (rc == -ENOENT)
			rc = rgn_fail(-ENOENT, "segment %d vanished", shmid);
	}
	if (rgn_leaks_cache_fini(&c, rc == 0 ? &pool : NULL) < 0 && rc == 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(s->segs);
		free(s);
		return rc;
	}
	s->nsegs = 1;
	s->strings = pool;
	/* One of Berkeley DB's segments is judged with its whole
	 * environment, which only a whole scan sees: a primary's verdict
	 * needs its other segments' attach counts, and the others are
	 * known only by their primary. */
	if (rgn_leaks_bdb_maybe(&s->segs[0])) {
		struct rgn_leak whole;

		if (rgn_leaks_rescan_one(shmid, NULL, &whole, NULL) == 1 &&
		    whole.program == RGN_LEAK_PROG_BDB)
			s->segs[0] = whole;
	}
	rgn_leaks_count(s, &s->segs[0]);
	rgn_leaks_read_limits(s);
	*scanp = s;
	return 0;
}

/* One segment judged as a whole scan judges it: a segment of Berkeley DB
 * is known only by the primary that names it, which a scan of one id
 * cannot see.  1 with *OUT (its home copied into HOME when given), 0 when
 * the scan has no such id, or a negative code. */
int rgn_leaks_rescan_one(int32_t shmid, const struct rgn_leak_opts *opts,
			 struct rgn_leak *out, char *home)
{
	struct rgn_leak_scan *s = NULL;
	const struct rgn_leak *r;
	int rc = rgn_leak_scan_opts(opts, &s);

	if (rc < 0)
		return rc;
	r = rgn_leak_find(s, shmid);
	if (r) {
		*out = *r;
		if (home) {
			snprintf(home, RGN_HOME_MAX, "%s", r->home);
			out->home = home;
		} else {
			out->home = "";
		}
	}
	rgn_leak_free(s);
	return r ? 1 : 0;
}
