/*
 * bdb.h - reading Berkeley DB 5.3 environments, strictly from outside.
 *
 * Three layers, each usable alone:
 *  - decoding (bdb_decode.c): pure functions on byte buffers, no I/O, every
 *    offset checked against the buffer's length, so they can be fuzzed.
 *    The fixed prefix of REGENV (magic, panic, version) is the same in every
 *    release; the rest is decoded only for 5.3 as laid out on 64-bit
 *    little-endian hosts, and otherwise reported as "version found, not
 *    decoded" rather than guessed.
 *  - the home reader (bdb_home.c): a snapshot of a home.  It never writes,
 *    locks, renames or unlinks anything there and never touches the
 *    reference count: files are read with pread, never mapped; a segment
 *    is attached read-only only while bytes are copied out of it.  It never
 *    sleeps or retries (Berkeley DB's own join waits 3+6+9 s).
 *  - who maps it (bdb_procs.c): /proc/PID/maps, by device and inode for a
 *    region file and by shmid for a segment; never the calling process.
 * Renderers are in render_bdb.c.  Offsets below were measured on libdb
 * 5.3.28 (Debian 12, x86_64) and checked against its sources.
 *
 * Conventions: 0 or a negative code (-errno, RGN_E*); the library never
 * prints; strings in snapshots are raw bytes from the system (renderers
 * escape them).
 */
#ifndef RGN_BDB_H
#define RGN_BDB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- layout facts (5.3.28, LP64 little-endian) ------------------------- */

#define RGN_BDB_MAGIC	   0x00120897u /* REGENV magic, offset 0, written last */
#define RGN_BDB_PREFIX_LEN 20	       /* magic, panic, major, minor, patch */
#define RGN_BDB_REGENV_LEN 160	       /* REGENV; the allocator head follows */
/* System memory __db.001: size, max, shmid of the primary segment. */
#define RGN_BDB_REF_LEN	    24
#define RGN_BDB_SLOT_LEN    48	/* one REGION slot of the table */
#define RGN_BDB_ALLOC_LEN   256 /* ALLOC_LAYOUT incl. its figures */
#define RGN_BDB_NPOW2	    11	/* size buckets: 1KB .. 1024KB and up */
#define RGN_BDB_MAX_REGIONS 64	/* used slots a snapshot keeps */

/* Region types as 5.3 numbers them. */
enum {
	RGN_BDB_TYPE_ENV = 1,
	RGN_BDB_TYPE_LOCK = 2,
	RGN_BDB_TYPE_LOG = 3,
	RGN_BDB_TYPE_MPOOL = 4,
	RGN_BDB_TYPE_MUTEX = 5,
	RGN_BDB_TYPE_TXN = 6,
};

/* ---- decoding: pure, on buffers ---------------------------------------- */

/* What a __db.001 (or a segment's first bytes) is. */
enum rgn_bdb_form {
	RGN_BDB_FORM_NONE = 0, /* not Berkeley DB's */
	RGN_BDB_FORM_REGENV,   /* a REGENV: the primary region itself */
	RGN_BDB_FORM_REF,      /* 24 bytes naming the primary segment */
	RGN_BDB_FORM_EMPTY,    /* 0 bytes: a creator died before writing */
};

/* One region's allocator figures, as db_stat -E prints them. */
struct rgn_bdb_alloc {
	uint32_t pow2[RGN_BDB_NPOW2]; /* allocations by size: [0] up to
					 1KB, [i] up to 1KB << i, [10]
					 1024KB and above */
	uint32_t success;	      /* allocations that succeeded */
	uint32_t failure;	      /* allocations that failed */
	uint32_t freed;		      /* frees */
	uint32_t longest;	      /* longest chunk walk of one search */
};

/* One used slot of the REGION table. */
struct rgn_bdb_slot {
	uint32_t id;	  /* region id: file __db.%03d of it */
	uint32_t type;	  /* RGN_BDB_TYPE_* */
	uint64_t size;	  /* current size in bytes */
	uint64_t max;	  /* maximum size in bytes */
	int64_t segid;	  /* shmid in system memory mode, else -1 */
	uint64_t primary; /* offset of the subsystem's head */
	uint64_t alloc;	  /* the slot's last field, as stored */
};

/* The system memory form of __db.001. */
struct rgn_bdb_ref {
	uint64_t size; /* primary segment's size */
	uint64_t max;  /* its maximum */
	int64_t shmid; /* its shmid (0 is a valid shmid) */
};

/* A REGENV as far as it could be decoded. */
struct rgn_bdb_regenv {
	int big_endian; /* the magic read big-endian: prefix only */
	uint32_t magic; /* RGN_BDB_MAGIC, or 0 while being made */
	uint32_t panic; /* non-zero: the environment is dead */
	uint32_t major, minor, patch;
	int decoded;	     /* 1: everything below is valid (5.3,
				LP64 little-endian, table consistent);
				0: only the prefix, see why */
	char why[96];	     /* when !decoded, the reason */
	uint32_t env_id;     /* Environment ID */
	uint32_t signature;  /* structure signature of the build */
	int64_t ctime;	     /* creation time, seconds since the epoch */
	uint32_t init_flags; /* subsystems: lock 0x4 log 0x8 mpool 0x10
				rep 0x20 txn 0x40 */
	uint64_t mtx_regenv; /* mutex guarding refcnt */
	uint32_t refcnt;     /* References, as stored */
	uint32_t region_cnt; /* slots in the table */
	uint64_t region_off; /* offset of the table */
	int table_truncated; /* the buffer ended inside the table, or
				more than RGN_BDB_MAX_REGIONS were used */
	uint32_t nslots;     /* used slots kept in slots[] */
	struct rgn_bdb_slot slots[RGN_BDB_MAX_REGIONS];
	int has_alloc; /* the primary's allocator was in the buffer */
	struct rgn_bdb_alloc alloc; /* the primary's allocator */
};

/*
 * What BUF (the first LEN bytes of something whose whole length is
 * TOTAL) is: EMPTY when TOTAL is 0, REF when TOTAL is exactly 24, REGENV
 * when it starts with the magic in either byte order, or with 0 where the
 * magic goes and a 5.x version after it (a creator still at work, or dead).
 */
enum rgn_bdb_form rgn_bdb_classify(const void *buf, size_t len, uint64_t total);

/* The 24-byte record.  0, or -EINVAL when LEN is not 24. */
int rgn_bdb_decode_ref(const void *buf, size_t len, struct rgn_bdb_ref *ref);

/*
 * A REGENV from the first LEN bytes of a primary region.  0 with at least
 * the prefix filled (see ->decoded and ->why), or -EINVAL when LEN is
 * shorter than the prefix or the magic (or 0) is not at offset 0.
 */
int rgn_bdb_decode_regenv(const void *buf, size_t len,
			  struct rgn_bdb_regenv *env);

/* The allocator figures of the head at OFF (160 in the primary, 0 in the
 * others).  0, or -EINVAL when the head is not inside the buffer. */
int rgn_bdb_decode_alloc(const void *buf, size_t len, uint64_t off,
			 struct rgn_bdb_alloc *a);

/* "Environment", "Lock", "Log", "Mpool", "Mutex", "Txn", "Unknown". */
const char *rgn_bdb_type_name(uint32_t type);

/* The slot of region ID in ENV, or NULL. */
const struct rgn_bdb_slot *rgn_bdb_find_slot(const struct rgn_bdb_regenv *env,
					     uint32_t id);

/* ---- who maps it --------------------------------------------------------- */

/* What to look for: region files by device and inode, segments by shmid. */
struct rgn_bdb_target {
	int is_segment; /* 1: SHMID; 0: DEV and INO */
	dev_t dev;
	ino_t ino;
	int32_t shmid;
};

struct rgn_bdb_proc {
	pid_t pid;
	char command[16];     /* /proc/PID/comm, as the kernel gives it */
	uint64_t start_ticks; /* start time, clock ticks since boot */
	int64_t start;	      /* the same, seconds since the epoch */
	uint32_t nmaps;	      /* mappings of the targets it holds */
};

/*
 * Every process but the caller that maps one of the N targets, in pid
 * order.  *OUT is malloc'd (free()); *NOUT may be 0 with *OUT NULL.
 * Processes that vanish or hide their maps during the scan are skipped;
 * *DENIED (optional) counts those whose maps could not be read (EACCES).
 * 0, -ENOMEM, -errno when /proc cannot be listed.
 */
int rgn_bdb_procs_scan(const struct rgn_bdb_target *targets, size_t n,
		       struct rgn_bdb_proc **out, size_t *nout, size_t *denied);

/* ---- a home ------------------------------------------------------------ */

/* Returned (positive) by rgn_bdb_open when HOME is not a Berkeley DB home:
 * no __db.001, or one that is none of the three forms. */
#define RGN_BDB_NOT_BDB 1

enum rgn_bdb_verdict {
	RGN_BDB_AT_REST = 0,	/* References 0 */
	RGN_BDB_IN_USE,		/* References > 0, as many real mappers */
	RGN_BDB_NEEDS_RECOVERY, /* more References than mappers, panic set,
				   or its primary segment is gone */
	RGN_BDB_HALF_CREATED,	/* empty __db.001, or magic never written */
	RGN_BDB_UNDECODED,	/* another version: References unknown */
};

/* One region of a home as read now. */
struct rgn_bdb_region {
	struct rgn_bdb_slot slot; /* from the table */
	char file[16];		  /* "__db.003" */
	int present;		  /* its file or segment exists */
	uint64_t bytes;		  /* readable bytes now: the file's
				     length or the segment's size */
	dev_t dev;		  /* files mode: the file's identity */
	ino_t ino;
	int64_t mtime;
	int32_t key;	   /* system memory: the segment's key */
	int64_t shm_ctime; /* and creation time */
	uint64_t nattch;   /* and attach count */
	int has_alloc;	   /* allocator figures were read */
	struct rgn_bdb_alloc alloc;
	int error; /* why it could not be read, or 0 */
};

/* A snapshot of a home: everything renderers and the mount need. */
struct rgn_bdb {
	char home[4096];	/* as given */
	int dirfd;		/* the home, O_PATH, for reads */
	enum rgn_bdb_form form; /* of __db.001 */
	uint64_t file_len;	/* __db.001's length */
	dev_t file_dev;		/* __db.001's identity */
	ino_t file_ino;
	int sysmem;		   /* system memory mode */
	struct rgn_bdb_ref ref;	   /* when sysmem */
	int primary_error;	   /* sysmem: why the primary segment
				      could not be read, or 0 */
	struct rgn_bdb_regenv env; /* decoded primary (prefix at least
				      when form is REGENV or sysmem
				      read it) */
	int have_env;		   /* env holds something */
	uint32_t nregions;
	struct rgn_bdb_region regions[RGN_BDB_MAX_REGIONS];
	struct rgn_bdb_proc *procs; /* who maps it (malloc'd) */
	size_t nprocs;
	size_t procs_denied; /* processes whose maps we could not
				read */
	enum rgn_bdb_verdict verdict;
	char reason[512]; /* says why, and what to run */
};

/*
 * Read HOME as it is now.  0 with *OUT (free with rgn_bdb_close),
 * RGN_BDB_NOT_BDB (and *OUT NULL) when it is not a Berkeley DB home, or
 * -ENOENT / -ENOTDIR / -EACCES / -ENOMEM / -errno for HOME itself.
 * Failures reading one region are recorded in that region, not returned.
 */
int rgn_bdb_open(const char *home, struct rgn_bdb **out);
void rgn_bdb_close(struct rgn_bdb *bdb);

/* rgn_bdb_open without the scan of /proc: no processes, and a verdict
 * that counts none (so never trust it).  For callers that only need the
 * regions and their bytes (the mount's listing and region files), where
 * reading every process's maps on each look would cost more than the
 * rest together. */
#define RGN_BDB_OPEN_NOPROCS 0x1u
int rgn_bdb_open_flags(const char *home, unsigned flags, struct rgn_bdb **out);

/*
 * Up to LEN bytes of region ID from offset OFF, read now: the file through
 * pread (the same file as at open: -ESTALE if it was replaced), or the
 * segment through a momentary read-only attach (-ENOENT when it is gone or
 * its id was reused).  Returns the bytes copied (0 at or past the end), or
 * -ENOENT (no such region), -errno.
 */
int64_t rgn_bdb_read_region(const struct rgn_bdb *bdb, uint32_t id,
			    uint64_t off, void *buf, size_t len);

/* "at-rest", "in-use", "needs-recovery", "half-created", "undecoded". */
const char *rgn_bdb_verdict_name(enum rgn_bdb_verdict v);

/* ---- for the leak scanner ------------------------------------------------ */

/* A System V segment seen as a Berkeley DB primary. */
struct rgn_bdb_segment {
	int32_t shmid, key;
	uint64_t size;
	struct rgn_bdb_regenv env; /* prefix always; all when decoded */
	uint32_t nothers;	   /* its other regions' segments */
	int32_t other_shmids[RGN_BDB_MAX_REGIONS];
	uint32_t other_ids[RGN_BDB_MAX_REGIONS];
};

/*
 * Is the segment whose first LEN bytes are HEAD (and whose size, key and
 * shmid are given) a Berkeley DB primary?  1 with *SEG filled (its version,
 * refcnt, panic, the shmids of its other regions when decoded), 0 if not.
 */
int rgn_bdb_segment_decode(const void *head, size_t len, uint64_t size,
			   int32_t key, int32_t shmid,
			   struct rgn_bdb_segment *seg);

/* What a named home says of a primary segment. */
enum rgn_bdb_claim {
	RGN_BDB_CLAIM_UNRELATED = 0, /* nothing ties it to this home */
	RGN_BDB_CLAIM_REFERS,	     /* its __db.001 names this shmid */
	RGN_BDB_CLAIM_DROPPED,	     /* proven made here (DB_CONFIG's
					set_shm_key gives its key) and
					__db.001 is gone or names
					another segment */
};

/*
 * What HOME says of the primary segment SHMID at KEY.  The home is only
 * read (DB_CONFIG and __db.001, with pread).  0 with *CLAIM, or -errno
 * when the home could not be read (then nothing is proven).
 */
int rgn_bdb_home_claim(const char *home, int32_t shmid, int32_t key,
		       enum rgn_bdb_claim *claim);

enum rgn_bdb_seg_class {
	RGN_BDB_SEG_LIVE = 0,	    /* some segment of it is attached */
	RGN_BDB_SEG_IDLE,	    /* References 0, nobody attached */
	RGN_BDB_SEG_NEEDS_RECOVERY, /* References > 0 or panic, nobody
				       attached */
	RGN_BDB_SEG_ORPHANED,	    /* a named home dropped it */
	RGN_BDB_SEG_UNDECODED,	    /* nobody attached, another version:
				       References not known */
};

/*
 * The class of SEG given NATTCH (the sum over its primary and other
 * segments) and the strongest claim of the named homes (UNRELATED when
 * none were named).  *WHY (optional) gets a static sentence of evidence.
 */
enum rgn_bdb_seg_class rgn_bdb_segment_class(const struct rgn_bdb_segment *seg,
					     uint64_t nattch,
					     enum rgn_bdb_claim claim,
					     const char **why);

/* ---- renderers (render_bdb.c) ------------------------------------------- */

/*
 * BDB in db_stat -e's words, "VALUE\tLABEL" lines: Local time (NOW), Magic
 * number, Panic value, Environment version, Creation time, Environment ID,
 * References (as stored), Current and Maximum region size; then one
 * section per region, the attached processes and the verdict with its
 * reason.  Names and paths are escaped so that a record stays one line.
 * Output as render.h's renderers: malloc'd *OUT of *LEN bytes plus a NUL.
 * 0, -EINVAL, -ENOMEM.
 */
int rgn_render_bdb_text(const struct rgn_bdb *bdb, time_t now, char **out,
			size_t *len);

/*
 * The same as one JSON object: {"program": "berkeley-db", "home",
 * "local_time", "mode" ("files"|"system-memory"), "form", "magic",
 * "version" ("5.3.28"), "decoded", "undecoded_reason", "panic", "env_id",
 * "env_id_hex", "ctime", "init_flags", "references", "region_size",
 * "region_max", "primary_shmid", "regions": [{"id", "type", "file",
 * "shmid", "size", "max", "bytes", "present", "error", "alloc": null |
 * {"allocations", "failures", "frees", "longest", "pow2": [11 counts]}}],
 * "attached": [{"pid", "command", "start"}], "procs_denied", "verdict",
 * "reason"}, closed by a newline.  Unknown figures are null.
 */
int rgn_render_bdb_json(const struct rgn_bdb *bdb, time_t now, char **out,
			size_t *len);

/*
 * One region of BDB (region ID) alone, as its section of
 * rgn_render_bdb_text ("VALUE\tLABEL" lines, preceded by the home and
 * mode), or as the JSON object of its "regions" entry with "program" and
 * "home" added.  0, -ENOENT (no such region), -EINVAL, -ENOMEM.
 */
int rgn_render_bdb_region_text(const struct rgn_bdb *bdb, uint32_t id,
			       char **out, size_t *len);
int rgn_render_bdb_region_json(const struct rgn_bdb *bdb, uint32_t id,
			       char **out, size_t *len);

/*
 * The processes that map it, as the "Attached processes" section of
 * rgn_render_bdb_text without its separator: a count line, then one line
 * per process "PID\tCOMMAND, started TIME, N mappings".
 */
int rgn_render_bdb_procs_text(const struct rgn_bdb *bdb, char **out,
			      size_t *len);

/*
 * Prometheus text exposition 0.0.4 of BDB, every series labelled with
 * home and program="berkeley-db": regionfs_env_info (version, mode,
 * verdict), regionfs_env_references, regionfs_env_panic,
 * regionfs_env_live_processes (that map it now), regionfs_env_regions, and per
 * region (region, id, type labels) regionfs_region_size_bytes,
 * regionfs_region_max_bytes and, where 5.3 keeps them, the counters
 * regionfs_region_allocations_total, regionfs_region_allocation_failures_total
 * and regionfs_region_frees_total.  Figures that were not decoded are
 * left out, never shown as 0.  0, -EINVAL, -ENOMEM.
 */
int rgn_render_bdb_prom(const struct rgn_bdb *bdb, char **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* RGN_BDB_H */
