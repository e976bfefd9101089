/*
 * leaks_int.h - what the parts of the leak scanner share, and nobody else
 * may use: the segment list (leaks_list.c), the per-scan caches of homes
 * and pids (leaks_evidence.c), and the judge that reads both (leaks_judge.c),
 * which the remover (leaks_remove.c) calls again.  The public contract is
 * leaks.h.
 *
 * Records (struct rgn_leak) flow one way: listing fills the kernel's
 * figures, judgement asks evidence about homes and pids and writes the
 * verdict.  Evidence never looks at a segment; listing never looks at a
 * home.
 */
#ifndef RGN_LEAKS_INT_H
#define RGN_LEAKS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "bdb.h"
#include "layout.h"
#include "leaks.h"
#include "shmid.h"

/* ---- listing (leaks_list.c) --------------------------------------------- */

struct rgn_leaks_list {
	struct rgn_leak *v; /* records */
	size_t n;	    /* used */
	size_t cap;	    /* allocated */
};

/* A record with nothing known: no home, residency unread. */
void rgn_leaks_rec_clear(struct rgn_leak *r);

/* The kernel's figures of IN into R (cleared first). */
void rgn_leaks_rec_from_info(struct rgn_leak *r, const struct rgn_shm_info *in);

/*
 * List every segment into L (empty) from /proc/sysvipc/shm: 0, -ENOMEM,
 * or another negative code when the file is missing, unreadable or in a
 * format we do not know (the caller may then walk the kernel index).
 */
int rgn_leaks_list_procfs(struct rgn_leaks_list *l);

/*
 * List every segment into L (empty) by the kernel index (rgn_shm_walk),
 * and with RESIDENCY add rss and swap from /proc when it can be read.
 * *SRC says which command listed them.  -EACCES when some segments could
 * not be listed.
 */
int rgn_leaks_list_shmctl(struct rgn_leaks_list *l, int residency,
			  enum rgn_leak_source *src);

/* Stat SHMID into R: 0, or -ENOENT / -EACCES / -errno with a detail. */
int rgn_leaks_stat_one(int32_t shmid, struct rgn_leak *r);

/* shmmni, shmall, shmmax, shm_rmid_forced and the page size into S. */
void rgn_leaks_read_limits(struct rgn_leak_scan *s);

/* ---- evidence (leaks_evidence.c) ---------------------------------------- */

/* What a home told us, once per scan. */
enum rgn_leaks_home_state {
	RGN_HOME_MATCHABLE = 1, /* an environment is there: compare
				   env_id */
	RGN_HOME_MISSING,	/* the directory is gone */
	RGN_HOME_NOENV,		/* directory without an environment */
	RGN_HOME_NOTOURS,	/* __db.001 of something else */
	RGN_HOME_INCOMPLETE,	/* creation interrupted */
	RGN_HOME_PRIVATE,	/* a private environment holds it */
	RGN_HOME_BROKEN,	/* __db.001 names a primary that is
				   gone */
	RGN_HOME_SKIPPED,	/* not looked up (RGN_LEAK_SCAN_NOENV) */
	RGN_HOME_REPLACED,	/* the home itself is now a symbolic
				   link */
	RGN_HOME_UNTRUSTED,	/* not entered: detail says why */
	RGN_HOME_ERROR		/* could not tell: err says why */
};

struct rgn_leaks_home {
	char *home;			 /* key; malloc'd */
	enum rgn_leaks_home_state state; /* what we found */
	int err;			 /* RGN_HOME_ERROR: the code */
	char detail[160];		 /* why, for UNTRUSTED and ERROR */
	uint64_t env_id;		 /* RGN_HOME_MATCHABLE */
	uint32_t live;	       /* RGN_HOME_MATCHABLE: live attachers */
	uint32_t stale;	       /* RGN_HOME_MATCHABLE: dead entries */
	int32_t private_owner; /* RGN_HOME_PRIVATE */
};

struct rgn_leaks_pid {
	int32_t pid;	/* key; 0 = empty slot */
	int err;	/* 0 or -ESRCH */
	uint64_t start; /* start ticks when err == 0 */
};

/*
 * A segment an environment's region table names, with the identity its
 * creator recorded there (shmid, key, creation time, creator pid: the
 * proof backing_sysv.c accepts of a region without attaching it).  A
 * listed segment with exactly that identity is that region, so judging it
 * needs no attach: the table says what its header would.
 */
struct rgn_leaks_claim {
	int32_t shmid;		     /* sl_shmid */
	int32_t key;		     /* sl_key */
	int32_t creator_pid;	     /* sl_creator_pid */
	uint32_t id;		     /* sl_id */
	uint32_t type;		     /* sl_type */
	uint32_t pad0;		     /* zero */
	int64_t seg_ctime;	     /* sl_seg_ctime */
	struct rgn_leaks_home *home; /* whose table names it (MATCHABLE) */
	char name[RGN_NAME_MAX + 1]; /* sl_name */
};

/* Who we are, for predicting whether a segment lets us attach. */
struct rgn_leaks_cred {
	int read; /* 1 once filled */
	uint32_t euid, egid;
	uint32_t *groups; /* supplementary groups, malloc'd */
	size_t ngroups;
	int cap_ipc_owner; /* 1: CAP_IPC_OWNER, or could not tell;
			      -1: not read yet */
};

/* The caches of one scan (or one removal): one thread, one scan. */
struct rgn_leaks_cache {
	struct rgn_leaks_home **homes; /* open addressing, NULL = empty */
	size_t nhome_slots;	       /* power of two */
	size_t nhomes;		       /* entries in homes */
	struct rgn_leaks_pid *pids;    /* open addressing */
	size_t npid_slots;	       /* power of two */
	size_t npids;		       /* entries in pids */
	uint8_t *buf;		       /* registry reads */
	char **fuse_mnts;	       /* FUSE mount points, read at the
					  first home lookup */
	size_t nfuse_mnts;
	int fuse_read;		     /* 1 once fuse_mnts was read */
	struct rgn_leaks_cred cred;  /* read at the first attach */
	struct rgn_bdb_segment *bdb; /* Berkeley DB primaries judged,
					malloc'd, for grouping */
	size_t nbdb, bdb_cap;
	struct rgn_leaks_claim *claims; /* from the tables read, malloc'd */
	size_t nclaims, claims_cap;
	int32_t *claim_at;   /* open addressing by shmid: index into
				claims, -1 = empty */
	size_t nclaim_slots; /* power of two */
};

/* The home strings a scan's records point to (scan->strings). */
struct rgn_leaks_pool {
	size_t n;  /* strings in s */
	char *s[]; /* malloc'd, one per home */
};

size_t rgn_leaks_pow2(size_t n);

/* Caches for NSEGS segments: 0 or -ENOMEM (then call fini all the same). */
int rgn_leaks_cache_init(struct rgn_leaks_cache *c, size_t nsegs);

/* Free the caches.  With POOLP, the home strings move to a new pool that
 * the records keep pointing at; -ENOMEM (and every string freed) when the
 * pool cannot be made, after which the records must not be used. */
int rgn_leaks_cache_fini(struct rgn_leaks_cache *c,
			 struct rgn_leaks_pool **poolp);

void rgn_leaks_pool_free(struct rgn_leaks_pool *pool);

/* HOME's evidence, looked up once per cache (LOOKUP 0: only remember the
 * string, state RGN_HOME_SKIPPED).  NULL only on ENOMEM. */
struct rgn_leaks_home *rgn_leaks_home_get(struct rgn_leaks_cache *c,
					  const char *home, int lookup);

/* The claim that proves R (as listed) is a region of an environment whose
 * table was read in this cache, or NULL: attach to find out. */
const struct rgn_leaks_claim *rgn_leaks_claim_find(
	const struct rgn_leaks_cache *c, const struct rgn_leak *r);

/* Start ticks of PID: 0, or -ESRCH when there is no such process. */
int rgn_leaks_pid_get(struct rgn_leaks_cache *c, int32_t pid, uint64_t *start);

/* 0 when the kernel's permission check (ipcperms) would refuse us a
 * read-only attach of R, 1 when it would allow it or we cannot tell. */
int rgn_leaks_may_attach(struct rgn_leaks_cache *c, const struct rgn_leak *r);

/* ---- judgement (leaks_judge.c) ----------------------------------------- */

/* Classify R, whose stat fields are filled, with the caches C (FLAGS are
 * the scan's; NOW is the scan's time).  0, or -ENOENT when it vanished or
 * its id was recycled since it was listed. */
int rgn_leaks_judge(struct rgn_leaks_cache *c, struct rgn_leak *r,
		    uint32_t flags, int64_t now);

/* ---- Berkeley DB's segments (leaks_bdb.c) ------------------------------ */

/* Remember primary SEG for grouping: 0 or -ENOMEM. */
int rgn_leaks_bdb_keep(struct rgn_leaks_cache *c,
		       const struct rgn_bdb_segment *seg);

/* R is region REGION_ID of the Berkeley DB environment whose primary is
 * SEG, in class BC (WHY: rgn_bdb_segment_class's sentence): fill its
 * Berkeley DB fields, class and evidence.  HOME: the named home that
 * refers to it or dropped it, or NULL. */
void rgn_leaks_bdb_mark(struct rgn_leak *r, const struct rgn_bdb_segment *seg,
			uint32_t region_id, enum rgn_bdb_seg_class bc,
			const char *home);

/* 1 if R, judged alone, may belong to a Berkeley DB environment: a
 * primary, or a segment of another program that a primary may name. */
int rgn_leaks_bdb_maybe(const struct rgn_leak *r);

/*
 * Give every segment of each Berkeley DB environment in C (its primary
 * and the segments its region table names, found among the N records V)
 * the environment's verdict: attached summed over them all, and the
 * strongest claim of OPTS's homes.  0 or -ENOMEM.
 */
int rgn_leaks_bdb_group(struct rgn_leaks_cache *c, struct rgn_leak *v, size_t n,
			const struct rgn_leak_opts *opts);

/* Count R into the figures of S. */
void rgn_leaks_count(struct rgn_leak_scan *s, const struct rgn_leak *r);

/* SHMID's record from a fresh whole scan made with OPTS, copied into *OUT
 * with its home copied into HOME (RGN_HOME_MAX bytes; NULL: *OUT's home
 * becomes "", right for a scan without homes named): 1 found, 0 not in
 * the scan, negative when the scan failed. */
int rgn_leaks_rescan_one(int32_t shmid, const struct rgn_leak_opts *opts,
			 struct rgn_leak *out, char *home);

#endif /* RGN_LEAKS_INT_H */
