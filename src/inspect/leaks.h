/*
 * leaks.h - find System V shared memory segments that nobody will ever
 * remove, and remove them safely.  Library code: it never prints; the
 * renderers in render.h turn a scan into text, JSON or Prometheus.
 *
 * A scan looks at every segment of the caller's IPC namespace and puts each
 * in exactly one class, with the evidence behind the verdict:
 *
 *   live            ours (the segment starts with our region header) and
 *                   its environment has a live attached process;
 *   orphaned        ours, and no live process is attached to its
 *                   environment: a process died attached (the registry has
 *                   stale entries), or the home named in the header is gone
 *                   or now holds another environment;
 *   idle            ours, its home still holds this very environment, and
 *                   nobody is attached because everyone closed cleanly: a
 *                   system-memory environment at rest, which persists by
 *                   design.  Not a leak; `regionctl remove` removes it whole
 *                   (segments and files), the leak remover never does;
 *   foreign-in-use  not ours, and some process has it attached;
 *   foreign-idle    not ours, nobody attached; the evidence says whether
 *                   its creator is dead (pid gone, or reused: the process
 *                   now holding that pid started after the segment was made);
 *   removing        marked for destruction (SHM_DEST): it disappears when
 *                   its last process detaches, whoever owns it;
 *   unknown         we could not read its header (no permission to attach)
 *                   or could not read its environment's registry, so we
 *                   cannot tell; never removed;
 *   needs-recovery  Berkeley DB's: References > 0 (or panic set) and
 *                   nobody maps any of its segments: a process died
 *                   holding it and db_recover must run.  Not a leak.
 *
 * Berkeley DB's segments are told by the region magic at offset 0 of the
 * primary (bdb.h); the primary's region table names its other segments,
 * which share its verdict: live (some segment attached), idle (References
 * 0, nobody attached: at rest), needs-recovery, or orphaned only when a
 * home named by the caller (struct rgn_leak_opts) proves that it made the
 * environment and no longer refers to it.  Without that proof never
 * orphaned, and never removed.
 *
 * "Ours" is decided by reading the header, which needs a read-only attach
 * for an instant.  That attach updates the segment's shm_atime, shm_dtime
 * and shm_lpid; every record reports the figures from before it.  Segments
 * that cannot hold our header are never attached: too small, marked for
 * removal, or never written (no resident or swapped page in
 * /proc/sysvipc/shm, while our header is written at create).  Nor is a
 * segment that the region table of an environment already looked up in
 * this scan names with its exact identity (shmid, key, creation time and
 * creator pid as recorded at create): the table says what its header
 * would, so of an environment's segments only the first one met is
 * attached.
 *
 * Removal re-checks everything right before IPC_RMID (same key, same
 * creation time, nobody attached, still orphaned, the requester owns it)
 * and explains every refusal.  A process may still attach between that last
 * check and IPC_RMID; the kernel then only marks the segment SHM_DEST and it
 * lives until that process detaches, so nothing in use is ever unmapped.
 *
 * Calls return 0 or a negative code (-errno or RGN_E*, see rgn.h) and leave
 * a detail for rgn_errdetail().  Thread safe: no global state.
 */
#ifndef RGN_LEAKS_H
#define RGN_LEAKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rgn.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef RGN_LEAK_HOME_MAX
#define RGN_LEAK_HOME_MAX 4096 /* == RGN_HOME_MAX of layout.h */
#endif
#define RGN_LEAK_EVIDENCE_MAX 256
/* A figure that could not be read. */
#define RGN_LEAK_LIMIT_UNKNOWN UINT64_MAX

enum rgn_leak_class {
	RGN_LEAK_UNKNOWN = 0,	     /* could not tell (see evidence) */
	RGN_LEAK_LIVE = 1,	     /* ours, environment in use */
	RGN_LEAK_ORPHANED = 2,	     /* ours, no live process: a leak */
	RGN_LEAK_FOREIGN_IN_USE = 3, /* not ours, nattch > 0 */
	RGN_LEAK_FOREIGN_IDLE = 4,   /* not ours, nattch == 0 */
	RGN_LEAK_REMOVING = 5,	     /* SHM_DEST: goes at the last detach */
	RGN_LEAK_IDLE = 6,	     /* ours or Berkeley DB's, intact and at
					rest */
	RGN_LEAK_NEEDS_RECOVERY = 7, /* Berkeley DB's, References left by a
					dead process: run db_recover */
	RGN_LEAK_NCLASSES = 8	     /* number of classes, for arrays */
};

/* "live", "orphaned", "foreign-in-use", "foreign-idle", "removing",
 * "idle", "needs-recovery", "unknown"; "?" for a value outside the enum. */
const char *rgn_leak_class_name(enum rgn_leak_class cls);

/* The program a segment belongs to, as far as the scanner can tell. */
enum rgn_leak_program {
	RGN_LEAK_PROG_NONE = 0,	    /* not recognised */
	RGN_LEAK_PROG_REGIONFS = 1, /* ours: our region header */
	RGN_LEAK_PROG_BDB = 2,	    /* Berkeley DB's: its region magic, or
				       named by such a primary */
};

/* "-", "regionfs", "berkeley-db"; "?" for a value outside the enum. */
const char *rgn_leak_program_name(enum rgn_leak_program prog);

/* Tri-state answers: the scanner says when it could not find out. */
#define RGN_LEAK_NO	0
#define RGN_LEAK_YES	1
#define RGN_LEAK_UNSURE (-1)

/* One segment as the scanner saw it. */
struct rgn_leak {
	/* From /proc/sysvipc/shm or shmctl(SHM_STAT_ANY / IPC_STAT),
	 * read before the scanner attached. */
	int32_t shmid;	    /* segment id */
	int32_t key;	    /* System V key; 0 is IPC_PRIVATE */
	uint64_t size;	    /* shm_segsz, bytes */
	uint32_t uid;	    /* owner uid (shm_perm.uid) */
	uint32_t gid;	    /* owner gid (shm_perm.gid) */
	uint32_t cuid;	    /* creator uid (shm_perm.cuid) */
	uint32_t cgid;	    /* creator gid (shm_perm.cgid) */
	uint32_t mode;	    /* shm_perm.mode: 0777 permission bits,
			       plus SHM_DEST and SHM_LOCKED */
	uint64_t nattch;    /* processes attached */
	int32_t cpid;	    /* creator pid */
	int32_t lpid;	    /* last shmat/shmdt pid */
	int64_t atime;	    /* last attach, epoch s; 0 = never */
	int64_t dtime;	    /* last detach, epoch s; 0 = never */
	int64_t ctime;	    /* creation or last IPC_SET, epoch s */
	int64_t idle;	    /* seconds from the latest of atime,
			       dtime and ctime to the scan */
	int32_t cpid_alive; /* RGN_LEAK_YES: cpid runs and started
			       before ctime; NO: gone or reused;
			       UNSURE: cannot tell */
	uint32_t pad2;	    /* zero */
	uint64_t rss;	    /* resident bytes (/proc/sysvipc/shm);
			       RGN_LEAK_LIMIT_UNKNOWN if unread */
	uint64_t swap;	    /* swapped bytes, same source */

	/* The verdict. */
	enum rgn_leak_class cls;	      /* one of the classes above */
	char evidence[RGN_LEAK_EVIDENCE_MAX]; /* why, in one line */

	/* Ours only (ours == 1): from the region header and the home. */
	int32_t ours;	      /* RGN_LEAK_YES: our header found; NO:
				 not ours; UNSURE: unreadable */
	uint32_t region_id;   /* id in its environment, 1 = primary */
	uint32_t region_type; /* enum rgn_region_type */
	uint64_t env_id;      /* environment id from the header */
	int32_t creator_pid;  /* creator recorded in the header */
	uint32_t pad0;	      /* zero */
	char region_name[RGN_NAME_MAX + 1]; /* region name from the header */
	int32_t home_matches;		    /* YES: the home's __db.001 is this
					       environment; NO: missing or another
					       one; UNSURE: could not open it */
	uint32_t env_live;		    /* live processes in its registry */
	uint32_t env_stale;		    /* dead entries in its registry */
	uint32_t pad1;			    /* zero */
	const char *home; /* home path from the header, "" when
			     not ours; owned by the scan (one
			     copy per home, freed with it).
			     Berkeley DB's: the named home that
			     refers to it or dropped it, or "" */

	/* Berkeley DB's only (program == RGN_LEAK_PROG_BDB): read from its
	 * environment's primary segment. */
	uint32_t program;   /* enum rgn_leak_program */
	uint32_t bdb_major; /* version of the environment */
	uint32_t bdb_minor;
	uint32_t bdb_patch;
	uint32_t bdb_region_id;	  /* region id, 1 = the primary */
	uint32_t bdb_region_type; /* RGN_BDB_TYPE_*, 0 if not known */
	int32_t bdb_primary;	  /* shmid of its primary segment */
	int32_t bdb_decoded;	  /* 1: References and panic are known */
	uint32_t bdb_refcnt;	  /* References, as stored */
	uint32_t bdb_panic;	  /* the panic flag */
	uint64_t bdb_nattch;	  /* attached, summed over every segment
				     of its environment */
};

/*
 * 1 if SEG is memory nobody will free: orphaned, or foreign-idle with a
 * creator known to be dead.  The one definition of "leaked" used by the
 * scan's leaked_bytes, regionctl and the regionfs sysv/leaked view.
 * Berkeley DB's segments are leaked only when proven orphaned; idle and
 * needs-recovery ones never are.
 */
int rgn_leak_is_leaked(const struct rgn_leak *seg);

/* Where a scan read the segment list from. */
enum rgn_leak_source {
	RGN_LEAK_SRC_STAT_ANY = 1, /* shmctl(SHM_STAT_ANY), Linux >= 4.17 */
	RGN_LEAK_SRC_STAT = 2,	   /* shmctl(SHM_STAT): readable ones */
	RGN_LEAK_SRC_PROC = 3	   /* /proc/sysvipc/shm (the default) */
};

/* A whole scan.  Allocated by rgn_leak_scan, freed by rgn_leak_free. */
struct rgn_leak_scan {
	int64_t time;			   /* when the scan ran, epoch s */
	enum rgn_leak_source source;	   /* how segments were listed */
	uint32_t pad0;			   /* zero */
	size_t nsegs;			   /* entries in segs */
	struct rgn_leak *segs;		   /* in kernel index order, the order
					      ipcs lists them */
	uint64_t count[RGN_LEAK_NCLASSES]; /* segments per class */
	uint64_t bytes[RGN_LEAK_NCLASSES]; /* shm_segsz summed per class */
	uint64_t leaked_bytes;		   /* held by orphaned segments plus
					      foreign-idle ones whose creator is
					      dead: memory nobody will free */
	uint64_t total_bytes;		   /* all segments */
	/* System limits from /proc/sys/kernel; RGN_LEAK_LIMIT_UNKNOWN when
	 * unreadable (the kernel's defaults for shmall and shmmax are
	 * close to 2^64, hence unsigned). */
	uint64_t shmmni;	 /* max number of segments */
	uint64_t shmall;	 /* max total pages of all segments */
	uint64_t shmmax;	 /* max bytes in one segment */
	int32_t shm_rmid_forced; /* 1: segments die with their last
				    process; -1 unreadable */
	uint32_t page_size;	 /* unit of shmall, bytes */
	void *strings;		 /* private: storage of the homes */
	/* Berkeley DB's segments, counted apart from the leaks: */
	uint64_t bdb_count;	    /* every Berkeley DB segment */
	uint64_t bdb_bytes;	    /* and their bytes */
	uint64_t bdb_at_rest;	    /* of them idle: References 0, nobody
				       attached (never leaked) */
	uint64_t bdb_at_rest_bytes; /* and their bytes; needs-recovery
				       ones are count[] and bytes[] of
				       RGN_LEAK_NEEDS_RECOVERY */
};

/* Scan flags.  By default segments are listed from /proc/sysvipc/shm
 * (one read gives every field plus residency), falling back to
 * shmctl(SHM_STAT_ANY, then SHM_STAT) over the kernel's indices. */
#define RGN_LEAK_SCAN_PROCFS 0x1u /* /proc/sysvipc/shm only: no fallback */
/* Shmctl only (residency is still read from /proc when it can be). */
#define RGN_LEAK_SCAN_SHMCTL 0x4u
/* Do not open homes: ours segments are then "unknown" unless removing. */
#define RGN_LEAK_SCAN_NOENV 0x2u

/*
 * Scan every segment of this IPC namespace.  Each home is looked up once,
 * however many segments name it: opened with RGN_INSPECT, its primary's
 * env id compared with the header's, and its registry counted the way
 * rgn_stat_env counts it (pid plus start time).  Segments that vanish
 * during the scan are left out.  *scanp is NULL on failure.
 *
 * A header's home is anybody's say (whoever can create a segment can
 * write one), so it is looked up without trusting it: homes are recorded
 * canonical, and one that is not, that leads through a symbolic link, or
 * that lies on a FUSE file system is never entered.  A FUSE daemon may
 * never answer, and one that scans (regionfs) would wait on itself.
 * Such a segment is unknown, except when the home itself has been replaced
 * by a symbolic link: the directory it was made in is gone, so it is
 * orphaned.
 * Errors: -ENOMEM; -EACCES/-ENOSYS when neither shmctl nor
 * /proc/sysvipc/shm can list segments; -EINVAL for a NULL scanp.
 */
int rgn_leak_scan(uint32_t flags, struct rgn_leak_scan **scanp);

/* How to scan, for rgn_leak_scan_opts and rgn_leak_remove_opts. */
struct rgn_leak_opts {
	uint32_t flags;		  /* RGN_LEAK_SCAN_* */
	uint32_t pad0;		  /* zero */
	const char *const *homes; /* Berkeley DB homes to check (only
				     read: DB_CONFIG and __db.001), or
				     NULL */
	size_t nhomes;		  /* entries in homes */
};

/*
 * rgn_leak_scan with options: OPTS->flags as FLAGS there, and
 * OPTS->homes the Berkeley DB homes that may prove a Berkeley DB segment
 * orphaned (the home's DB_CONFIG sets the segment's key and its __db.001
 * is gone or names another segment).  A home that cannot be read proves
 * nothing.  OPTS NULL is rgn_leak_scan(0, ...).  Same errors.
 */
int rgn_leak_scan_opts(const struct rgn_leak_opts *opts,
		       struct rgn_leak_scan **scanp);

/* Free a scan; NULL is fine. */
void rgn_leak_free(struct rgn_leak_scan *scan);

/*
 * Classify one segment by id, exactly as a scan would, into a scan of one
 * segment (*scanp, free with rgn_leak_free; its limits are filled too).
 * Errors: -ENOENT (-EINVAL/-EIDRM from the kernel are mapped to it) when
 * there is no such segment, -EACCES when it cannot even be stat'ed,
 * -ENOMEM, -EINVAL.
 */
int rgn_leak_stat(int32_t shmid, struct rgn_leak_scan **scanp);

/* The segment in SCAN with id SHMID, or NULL (a linear search). */
const struct rgn_leak *rgn_leak_find(const struct rgn_leak_scan *scan,
				     int32_t shmid);

/*
 * What a scan run by somebody without read permission on SEG would have
 * recorded: that caller cannot attach, so wherever the verdict rests on
 * the header (every segment but those marked for removal, too small for
 * our header, or never written) the record becomes class unknown with the
 * scanner's own evidence, and everything read from the header or the home
 * is cleared.  A service that scans with more privilege than the caller
 * it answers (the regionfs daemon, attached as root) shows the caller this,
 * so that it and `regionctl leaks` run by that caller agree.
 * 1 if SEG changed, 0 if the verdict never needed the header.
 */
int rgn_leak_redact(struct rgn_leak *seg);

/* 1 if the verdict on SEG rests on its header: what rgn_leak_redact
 * would change. */
int rgn_leak_needs_header(const struct rgn_leak *seg);

/*
 * rgn_leak_redact every segment of SCAN for which MAY_READ(ARG, seg)
 * returns 0, and recount the per-class figures.
 */
void rgn_leak_scan_redact(struct rgn_leak_scan *scan,
			  int (*may_read)(void *arg,
					  const struct rgn_leak *seg),
			  void *arg);

/* Removal flags. */
#define RGN_LEAK_DRY_RUN 0x1u /* check everything, remove nothing */
/* Allow foreign-idle and foreign-in-use (still only with nattch == 0); the
 * caller must have been given this shmid explicitly.
 */
#define RGN_LEAK_FORCE_FOREIGN 0x2u

/* What rgn_leak_remove decided. */
enum rgn_leak_verdict {
	RGN_LEAK_REMOVED = 0,	    /* IPC_RMID done */
	RGN_LEAK_WOULD_REMOVE = 1,  /* dry run: every check passed */
	RGN_LEAK_SKIP_GONE = 2,	    /* no such segment any more */
	RGN_LEAK_SKIP_CHANGED = 3,  /* key or ctime differ from SEEN:
				       another segment took the id */
	RGN_LEAK_SKIP_PERM = 4,	    /* requester neither owns nor created
				       it, and is not root */
	RGN_LEAK_SKIP_REMOVING = 5, /* already marked SHM_DEST */
	RGN_LEAK_SKIP_ATTACHED = 6, /* nattch > 0 */
	RGN_LEAK_SKIP_LIVE = 7,	    /* its environment has live processes */
	RGN_LEAK_SKIP_FOREIGN = 8,  /* not ours and no force-foreign */
	RGN_LEAK_SKIP_UNKNOWN = 9,  /* could not classify it */
	RGN_LEAK_FAILED = 10,	    /* IPC_RMID itself failed */
	RGN_LEAK_SKIP_BDB = 11,	    /* Berkeley DB's and not proven
				       orphaned: the reason says what to
				       run instead */
	RGN_LEAK_NVERDICTS = 12
};

/* "removed", "would-remove", "gone", "changed", "not-owner", "removing",
 * "attached", "live", "foreign", "unknown", "failed", "berkeley-db"; "?"
 * otherwise. */
const char *rgn_leak_verdict_name(enum rgn_leak_verdict v);

struct rgn_leak_removal {
	enum rgn_leak_verdict verdict; /* what happened */
	int err;		       /* the code rgn_leak_remove returned */
	struct rgn_leak seg;	       /* the segment as re-checked last
					  (shmid -1 when gone); seg.home
					  points at home[] below, so it is
					  valid only while *res is */
	char home[RGN_LEAK_HOME_MAX];  /* home named by its header, or "" */
	char reason[RGN_LEAK_EVIDENCE_MAX + 128]; /* one line, for people */
};

/*
 * Remove segment SHMID if, re-checked right now, it is safe:
 *  - it still exists, and when SEEN (a record from an earlier scan or
 *    rgn_leak_stat; may be NULL) is given, key and ctime are unchanged;
 *  - UID is 0 or the segment's owner or creator uid (regionctl passes
 *    getuid(); regionfs passes the uid of the process asking);
 *  - it is not already SHM_DEST, and nattch == 0;
 *  - its class is orphaned, or with RGN_LEAK_FORCE_FOREIGN foreign-idle
 *    or foreign-in-use (still nattch == 0 by the check above);
 *    live and unknown segments are never removed.
 * With RGN_LEAK_DRY_RUN every check runs and nothing is removed.
 * RES (required) always gets the verdict, the re-checked segment and a
 * reason.  Returns 0 when removed or, in a dry run, removable; otherwise:
 * -ENOENT gone, -ESTALE changed, -EPERM not owner, -EALREADY removing,
 * -EBUSY attached or live, RGN_EFOREIGN foreign, -EAGAIN unknown,
 * -EINVAL bad arguments, or IPC_RMID's own -errno (verdict failed).
 */
int rgn_leak_remove(int32_t shmid, const struct rgn_leak *seen, uid_t uid,
		    uint32_t flags, struct rgn_leak_removal *res);

/*
 * rgn_leak_remove, where a segment that is not ours is first looked up in
 * a fresh scan made with OPTS (NULL: no homes), so that every segment of a
 * Berkeley DB environment is known as such.  A Berkeley DB segment is
 * removed only when proven orphaned by one of OPTS->homes (then as an
 * orphaned one: no force needed); live, idle and needs-recovery ones are
 * refused, with or without RGN_LEAK_FORCE_FOREIGN: verdict
 * RGN_LEAK_SKIP_BDB, -EBUSY, and a reason naming what to run instead.
 * rgn_leak_remove(...) is rgn_leak_remove_opts(..., NULL, res).
 */
int rgn_leak_remove_opts(int32_t shmid, const struct rgn_leak *seen, uid_t uid,
			 uint32_t flags, const struct rgn_leak_opts *opts,
			 struct rgn_leak_removal *res);

/*
 * Lend the bytes of segment SEEN (a record from a scan or rgn_leak_stat:
 * its shmid, key and ctime say which segment) from offset OFF, at most LEN
 * of them, to FN: the segment is re-identified, attached read-only for the
 * length of the call and detached before returning, so the caller never
 * counts as attached between calls.  The range is clamped to the
 * segment's size (FN gets N == 0 and P == NULL at or past its end) and
 * its pages populated in one call before FN copies them.  A segment
 * marked for removal still lends its bytes while it lives.  Returns FN's
 * result, or -ENOENT (gone, or its id now names another segment),
 * -EACCES (no read permission), -EINVAL (NULL SEEN or FN), -errno.
 * Used by regionfs for sysv/SHMID/data, so that fs/ never attaches.
 */
int rgn_leak_data_lend(const struct rgn_leak *seen, uint64_t off, size_t len,
		       int (*fn)(const void *p, size_t n, void *arg),
		       void *arg);

#ifdef __cplusplus
}
#endif
#endif /* RGN_LEAKS_H */
