/*
 * regionfs.h - what the files of the regionfs daemon share, layer by
 * layer.  Each file calls only the layers below its own, never one above,
 * so the daemon reads from the bottom up (in brackets: what it may call):
 *
 *   1 base.c      errno mapping and error replies, the refusal of writes,
 *                 the clock                               (nothing of fs/)
 *     passthrough.c  the kernel reading region files itself (nothing of
 *                 fs/)
 *   2 bdbtable.c  a Berkeley DB home: the probe, and its region table as
 *                 a view                                  (base)
 *   3 state.c     the daemon state, the handle on the home, the snapshot
 *                 caches, full snapshots, a request's snapshots
 *                                                         (bdbtable, base)
 *   4 attr.c      permissions, and the attributes of each kind of thing
 *                                                         (state, base)
 *   5 rendered.c  what opening a file does: renderings; our regions' and
 *     readers.c   segments' bytes; a Berkeley DB home's renderings and
 *     bdbview.c   regions (rendered.c may call bdbview.c) (attr, state,
 *                                                          base)
 *   6 entries.c   the tables that name every file and its behaviour
 *                                                         (the above)
 *   7 tree.c      inode numbers, lookup, listing, attributes and reach of
 *                 any node, through the tables            (entries, attr,
 *                                                          state)
 *   8 ops.c       the FUSE operations: names and directories and the ops
 *     open.c      table (ops.c names those of open.c and write.c); opened
 *     write.c     files; writes and extended attributes   (all the above)
 *   9 main.c      the command line and the mount          (ops, state,
 *                                                          bdbtable)
 *
 * Inodes are computed, not allocated: an inode number encodes what it names
 * (kind, table entry, region id or shmid), so lookup, getattr and forget
 * need no inode table and the daemon's memory does not grow with the
 * number of names the kernel has seen.
 */
#ifndef REGIONFS_H
#define REGIONFS_H

#define FUSE_USE_VERSION 314

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "bdb.h"
#include "fsview.h"
#include "leaks.h"
#include "render.h"
#include "rgn.h"

/* ---- what an inode names ------------------------------------------------- */

enum rfs_kind {
	RFS_ROOT = 1,	 /* MNT */
	RFS_REGION,	 /* MNT/__db.NNN; arg = region id */
	RFS_REGIONS,	 /* MNT/regions */
	RFS_REGION_DIR,	 /* MNT/regions/__db.NNN; arg = region id */
	RFS_SYSV,	 /* MNT/sysv */
	RFS_SEGMENT_DIR, /* MNT/sysv/<shmid>; arg = shmid */
	RFS_LEAKED,	 /* MNT/sysv/leaked */
	RFS_LEAK_LINK,	 /* MNT/sysv/leaked/<shmid>; arg = shmid */
	RFS_PSEUDO,	 /* a file of rfs_entries; arg = its parent's */
	RFS_NKINDS
};

struct rfs_node {
	enum rfs_kind kind;
	uint32_t entry; /* RFS_PSEUDO: index in rfs_entries */
	uint32_t arg;	/* region id or shmid, else 0 */
	uint32_t tag;	/* RFS_REGION: RFS_TAG of its file's inode number,
			   so that each file a region has had is an inode
			   of its own (see rfs_node_settle) */
};

/* 24 bits standing for a region file's inode number in the node's: a
 * hash of all of it, as file systems number inodes in their own ways
 * (XFS puts its allocation group above the low bits). */
#define RFS_TAG_BITS 24
#define RFS_TAG_MASK ((1u << RFS_TAG_BITS) - 1)
#define RFS_TAG(ino)                                                           \
	((uint32_t)(((uint64_t)(ino)*0x9e3779b97f4a7c15ull) >>                 \
		    (64 - RFS_TAG_BITS)))

#define RFS_NAME_MAX 32 /* longest name we produce, with NUL */

/*
 * Directory offsets are cookies, not positions: ascending in listing
 * order and fixed for a name while it exists, so a listing read in several
 * replies, each made from the snapshot of its moment, neither repeats nor
 * skips a name that stays.  "." is 1, ".." 2, the table's rows
 * RFS_COOKIE_ROWS + their index, a family's members RFS_COOKIE_MEMBERS +
 * their region id or shmid (both listed in ascending order).
 */
#define RFS_COOKIE_ROWS	   3
#define RFS_COOKIE_MEMBERS 1024

/* ---- the daemon state (its functions: state.c) --------------------------- */

/* A refcounted inspecting handle: replaced when the home is recreated. */
struct rfs_env {
	unsigned refs;	 /* atomic */
	uint64_t serial; /* which open of the home this is */
	rgn_env *env;
};

struct regionfs;

/* passthrough.c: one backing file the kernel reads for us, as an open
 * holds it. */
struct rfs_backing {
	struct regionfs *fs;
	int id; /* > 0: registered with the kernel */
	dev_t dev;
	ino_t ino;
};

/* One registered region file, shared by its opens. */
struct rfs_pt_file {
	uint32_t key; /* the region id: our inode */
	dev_t dev;
	ino_t ino;
	int id;
	unsigned refs;
};

enum rfs_pt_state {
	RFS_PT_OFF = 0, /* reads come to us */
	RFS_PT_UNSEEN,	/* watching for the kernel's INIT */
	RFS_PT_OFFERED, /* the kernel offered it; our reply will take it */
	RFS_PT_ON	/* asked for: opens of region files may use it */
};

struct rfs_passthrough {
	int state;	      /* enum rfs_pt_state; atomic */
	uint64_t init_unique; /* the INIT request's, to find our reply */
	pthread_mutex_t lock; /* guards the table */
	struct rfs_pt_file *v;
	size_t n, cap;
};

/*
 * What every cached snapshot starts with: immutable once published,
 * refcounted, and freed by its own FREE at the last put.
 */
struct rfs_snap {
	unsigned refs;	  /* atomic */
	int err;	  /* 0, or why there is no content */
	int64_t taken_ns; /* CLOCK_MONOTONIC when taken (a
			     re-stamp keeps it) */
	void (*free)(struct rfs_snap *s);
};

/* One cache of one snapshot kind: the current snapshot, when it was
 * published, and how to take a new one. */
struct rfs_cache {
	struct rfs_snap *cur;	 /* guarded by fs->lock */
	int64_t ns;		 /* guarded by fs->lock: publish time */
	pthread_mutex_t refresh; /* one refresh at a time */
	/* Take a new snapshot (or re-use CUR, referenced anew); called
	 * with refresh held.  NULL only when out of memory. */
	struct rfs_snap *(*take)(struct regionfs *fs, struct rfs_snap *cur);
	struct rfs_snap *oom; /* returned when even that fails */
};

/* The region table snapshot, or the reason there is none. */
struct rfs_view {
	struct rfs_snap s;   /* first: the generic part */
	uint64_t env_serial; /* the handle it was taken through */
	struct rgn_fsview *v;
};

/* One System V segment, as much of a leak record as the tree needs
 * (a full struct rgn_leak is 4.5 KiB; 4000 of them would be the daemon's
 * largest cost). */
struct rfs_seg {
	int32_t shmid;
	int32_t key; /* identity for removal, with ctime */
	int64_t ctime;
	int64_t mtime; /* latest of attach, detach, change */
	uint64_t size;
	uint32_t uid, gid;   /* owner */
	uint32_t cuid, cgid; /* creator */
	uint32_t mode;	     /* shm_perm.mode */
	uint8_t cls;	     /* enum rgn_leak_class */
	uint8_t leaked;	     /* listed under sysv/leaked */
	uint8_t blind;	     /* the verdict rests on the header:
				unknown to a requester who may
				not read the segment */
};

/* An index of segments, sorted by shmid. */
struct rfs_segs {
	struct rfs_snap s; /* first: the generic part */
	int64_t time;	   /* of the scan, epoch seconds */
	uint64_t digest;   /* of the kernel's index, taken right
			      before the scan (see state.c) */
	int has_digest;	   /* 0: could not be taken */
	size_t n;
	struct rfs_seg seg[];
};

/* Threads of one region file that may wait for their retry at once (see
 * rfs_region_stale); one more takes the place of one of them. */
#define RFS_STALE_WAITERS 8

struct regionfs {
	/* Set before the session starts, read-only afterwards. */
	char *home;		 /* absolute: the daemon chdirs to / */
	int readwrite;		 /* -o rw: leaked segments removable */
	int debug;		 /* -d: log refused operations */
	int bdb;		 /* HOME is a Berkeley DB home: env is
				    NULL, bdbtable.c and bdbview.c
				    answer instead */
	int shared;		 /* -o allow_other or allow_root: requesters
				    of other users may share the kernel's caches */
	int kernel_lists;	 /* set by init: no opendir reaches us and
				    the kernel keeps listings (ops.c) */
	struct fuse_session *se; /* for notifications */
	struct rfs_passthrough pt;
	/* The threads told ESTALE about each region file whose retry has
	 * not come yet (rfs_region_stale); under lock. */
	struct rfs_stale {
		pid_t tid[RFS_STALE_WAITERS]; /* 0: a free entry */
		unsigned next;		      /* the entry taken when all are */
	} stale[RGN_MAX_REGIONS + 1];
	int stale_pending; /* entries in use, all regions; atomic */
	uid_t uid;	   /* the daemon's: owner of sysv/ */
	gid_t gid;
	time_t start; /* the times of sysv/ and leaked/ */

	pthread_mutex_t lock; /* guards env and the caches' cur
				 and ns, never held during I/O */
	struct rfs_env *env;
	uint64_t env_serial;	/* serial of the last handle made */
	struct rfs_cache views; /* the region table */
	struct rfs_cache segs;	/* the segment index; its refresh
				   lock is also the one-scan-at-a-
				   time lock (a scan of 4000
				   segments holds ~18 MiB) */
};

/* How long a cached snapshot may answer lookup and getattr. */
#define RFS_CACHE_NS 1000000000LL

/* What a request needs to answer: snapshots taken once per request, and
 * who asks. */
struct rfs_ctx {
	struct regionfs *fs;
	fuse_req_t req;	       /* the request: its credentials */
	struct rfs_view *view; /* NULL until needed */
	struct rfs_segs *segs; /* NULL until needed */
	int fresh_view;	       /* take a table newer than the
				  request */
	int fresh_segs;	       /* the same for the segment index:
				  sysv/ never refreshes the table,
				  nor regions/ the index */
	int opening;	       /* an open: staleness follows rfs_region_stale */
	int ngroups;	       /* groups[] entries, once read */
	int groups_read;       /* 1 once groups was read */
	gid_t *groups;	       /* the requester's supplementary groups */
};

/* ---- 1: base.c ----------------------------------------------------------- */

/* The one place where library codes become errno values for the kernel. */
int rfs_errno(int rc);
void rfs_reply_err(fuse_req_t req, int rc);
/* What a write gets: EROFS read-only, EACCES read-write. */
int rfs_refusal(const struct regionfs *fs);
/* CLOCK_MONOTONIC in nanoseconds: the age of snapshots. */
int64_t rfs_now_ns(void);

/* passthrough.c.  Install the watch on the connection (before the loop;
 * as root only); 0 always, as without it reads simply come to us. */
int rfs_passthrough_install(struct regionfs *fs, struct fuse_session *se);
/* With rfs_init and rfs_fini. */
void rfs_passthrough_init(struct regionfs *fs);
void rfs_passthrough_fini(struct regionfs *fs);
/* Register region file FD, of the region whose id is KEY, (or share its
 * registration) for the kernel to read: 0 and *B, or why not (then reads
 * come to us). */
int rfs_passthrough_get(struct regionfs *fs, uint32_t key, int fd,
			struct rfs_backing *b);
void rfs_passthrough_put(struct rfs_backing *b);
/* The reply to an open that the kernel serves from B. */
int rfs_passthrough_reply_open(fuse_req_t req, uint64_t fh,
			       const struct rfs_backing *b);

/* ---- 2: bdbtable.c ------------------------------------------------------- */

/*
 * Is HOME a Berkeley DB home (and not one of ours)?  1, 0, or a negative
 * code when HOME itself cannot be read.  Reads only, with pread.
 */
int rfs_bdb_probe(const char *home);

/* The region table of a Berkeley DB home as the tree's view (state.c calls
 * it in place of the core's): re-read when __db.001 changed or CUR is
 * older than RFS_CACHE_NS; NULL only when out of memory. */
struct rfs_snap *rfs_bdb_view_take(struct regionfs *fs, struct rfs_snap *cur);

/* ---- 3: state.c ---------------------------------------------------------- */

/* Take over ENV (an inspecting handle) and its home; with ENV NULL, mount
 * the Berkeley DB home BDB_HOME (see bdbtable.c). */
int rfs_init(struct regionfs *fs, rgn_env *env, const char *bdb_home);
void rfs_fini(struct regionfs *fs);

struct rfs_env *rfs_env_get(struct regionfs *fs);
void rfs_env_put(struct rfs_env *e);

/* The table: cached up to RFS_CACHE_NS, or taken after this call began
 * when FRESH; but never waits behind a refresh in progress, answering
 * from the previous table then.  Never NULL (v is NULL and err set when
 * unreadable). */
struct rfs_view *rfs_view_get(struct regionfs *fs, int fresh);
void rfs_view_put(struct rfs_view *view);

/* The segment index, with the same freshness rule and the same refusal
 * to wait behind a scan in progress (once there is any index).  Never
 * NULL. */
struct rfs_segs *rfs_segs_get(struct regionfs *fs, int fresh);
void rfs_segs_put(struct rfs_segs *segs);
const struct rfs_seg *rfs_segs_find(const struct rfs_segs *segs, int32_t shmid);

/* A full environment snapshot for rendering, reopening the home once if
 * it was recreated since the last look.  Free with rgn_stat_free. */
int rfs_stat_env(struct regionfs *fs, struct rgn_env_stat **stp);
/* The same holding region ID alone (see rgn_stat_region). */
int rfs_stat_region(struct regionfs *fs, uint32_t id,
		    struct rgn_env_stat **stp);

/* A full leak scan for rendering; also refreshes the segment index.
 * Called without segs.refresh; returns with it held on success, and
 * rfs_scan_release frees the scan and drops the lock. */
int rfs_scan(struct regionfs *fs, struct rgn_leak_scan **scanp);
void rfs_scan_release(struct regionfs *fs, struct rgn_leak_scan *scan);

/* Drop a reference to any cached snapshot. */
void rfs_snap_put(struct rfs_snap *s);

/* Forget the segment index (after a removal). */
void rfs_segs_invalidate(struct regionfs *fs);

/* A request's snapshots, each taken once, when first needed: done drops
 * them and the requester's groups; drop the snapshots only (a renderer
 * takes its own), the requester stays. */
void rfs_ctx_done(struct rfs_ctx *c);
void rfs_ctx_drop(struct rfs_ctx *c);
const struct rgn_fsview *rfs_ctx_view(struct rfs_ctx *c);
const struct rfs_segs *rfs_ctx_segs(struct rfs_ctx *c);
/* Is the environment, as the request sees it, a private one? */
int rfs_is_private(struct rfs_ctx *c);

/* ---- 4: attr.c ----------------------------------------------------------- */

/*
 * May the requester of C do MASK (R_OK, W_OK, X_OK) to something with
 * owner UID/GID, creator CUID/CGID (a segment's; else the owner again)
 * and MODE (type and permission bits)?  0 or -EACCES: the kernel's rules
 * for a file, which are ipcperms()'s for a segment, creator counted as
 * owner.  Root may do anything but execute a file with no x bit.
 */
int rfs_perm(struct rfs_ctx *c, uid_t uid, gid_t gid, uid_t cuid, gid_t cgid,
	     mode_t mode, int mask);

/* May the requester of C read segment G (or record SEG)?  1 or 0. */
int rfs_seg_readable(struct rfs_ctx *c, const struct rfs_seg *g);
int rfs_leak_readable(struct rfs_ctx *c, const struct rgn_leak *seg);

/* Is G listed under sysv/leaked for the requester of C? */
int rfs_seg_leaked(struct rfs_ctx *c, const struct rfs_seg *g);

/* Where a rendering's owner, group, mode and times come from. */
enum rfs_attrs {
	RFS_AT_ENV = 1, /* __db.001: readable as the environment */
	RFS_AT_REGION,	/* the region's file or segment */
	RFS_AT_DAEMON,	/* the daemon, since the mount (sysv/) */
};

/*
 * rfs_region_stale: what an open through the inode of a file region ID no
 * longer has gets (the kernel kept the name from before the region was
 * made again).  The first time for a thread: ESTALE, and the kernel walks
 * the path once more, asking us, and retries from the same thread.  If
 * that retry meets a stale inode again, the region is being made again
 * and again: ENOENT, as for a region gone at open.  Known by the thread,
 * not by a time window, so that a retry on a busy machine is still known.
 * rfs_region_fresh: a request of that thread for region ID succeeded, so
 * its retry, if it was one, is over.
 */
int rfs_region_stale(struct rfs_ctx *c, uint32_t id);
void rfs_region_fresh(struct rfs_ctx *c, uint32_t id);

/* Attributes (into a zeroed ST) of: a directory N, with its existence
 * (-ENOTDIR for a node that is none); a region file or a region's
 * directory; sysv/SHMID/data; a link under leaked/; a rendering with
 * permission bits MODE whose attributes come from ATTRS, for node
 * argument ARG.  0, or -ENOENT (or why the environment cannot be read). */
int rfs_stat_dir(struct rfs_ctx *c, const struct rfs_node *n, struct stat *st);
int rfs_stat_region_file(struct rfs_ctx *c, const struct rfs_node *n,
			 struct stat *st);
int rfs_stat_segment_data(struct rfs_ctx *c, const struct rfs_node *n,
			  struct stat *st);
int rfs_stat_link(struct rfs_ctx *c, const struct rfs_node *n, struct stat *st);
int rfs_stat_rendering(struct rfs_ctx *c, enum rfs_attrs attrs, mode_t mode,
		       uint32_t arg, struct stat *st);

/* The target of a symbolic link node (leaked/SHMID). */
int rfs_readlink(const struct rfs_node *n, char *buf, size_t len);

/* ---- 5: what opening a file does (rendered.c, readers.c, bdbview.c) ------ */

struct rfs_open;

/*
 * What an openable node does: its attributes (STAT, optional: else the
 * pseudo-file defaults of its directory), who may read it (PERM,
 * optional: else the kernel's rules on those attributes), and OPEN, READ
 * and RELEASE of the open file.  Four do the work: a rendering
 * (rfs_rendered), a region's bytes (rfs_region_file), a segment's
 * (rfs_segment_data) and a Berkeley DB region's (rfs_bdb_region_file);
 * entries.c adds one that picks between the two kinds of region.
 */
struct rfs_file_ops {
	int (*stat)(struct rfs_ctx *c, const struct rfs_node *n,
		    struct stat *st);
	int (*perm)(struct rfs_ctx *c, const struct rfs_node *n,
		    const struct stat *st, int mask);
	int (*open)(struct rfs_ctx *c, const struct rfs_node *n,
		    struct rfs_open *h);
	void (*read)(fuse_req_t req, struct rfs_open *h, size_t size,
		     off_t off);
	void (*release)(struct rfs_open *h);
};

/* What a rendering is made from: the snapshot its renderer takes. */
enum rfs_source {
	RFS_SRC_ENV = 1, /* the environment: env(st, now) */
	RFS_SRC_PROCS,	 /* the environment: procs(st) */
	RFS_SRC_REGION,	 /* one region: region(st, rs) */
	RFS_SRC_SCAN,	 /* a leak scan, as the requester may see it */
	RFS_SRC_LEAK,	 /* one segment, classified afresh */
	RFS_SRC_OWN	 /* own(c, arg): a renderer of the row's own */
};

/* A rendering: which snapshot, which renderer of src/inspect/ (or of
 * ours), and the same file for a Berkeley DB home. */
struct rfs_renderer {
	enum rfs_source src;
	union {
		int (*env)(const struct rgn_env_stat *st, time_t now,
			   char **out, size_t *len);
		int (*procs)(const struct rgn_env_stat *st, char **out,
			     size_t *len);
		int (*region)(const struct rgn_env_stat *st,
			      const struct rgn_region_stat *rs, char **out,
			      size_t *len);
		int (*scan)(const struct rgn_leak_scan *scan, char **out,
			    size_t *len);
		int (*leak)(const struct rgn_leak *seg, char **out,
			    size_t *len);
		int (*own)(struct rfs_ctx *c, uint32_t arg, char **out,
			   size_t *len);
	} fn;
	/* From a fresh snapshot of a Berkeley DB home (ARG: the region id
	 * under regions/); NULL where the row renders no environment
	 * (sysv/). */
	int (*bdb)(const struct rgn_bdb *b, uint32_t arg, char **out,
		   size_t *len);
};

/*
 * Refcounted: a read holds its open file until its reply is sent.  The
 * kernel wakes the reader as soon as it has copied the reply, so the reader
 * may close and a release run on another worker while the read handler is
 * still returning from fuse_reply_buf().
 */
struct rfs_open {
	unsigned refs;			     /* atomic */
	const struct rfs_file_ops *ops;	     /* what it is */
	const struct rfs_renderer *renderer; /* renderings: their row's */
	char *buf;			     /* renderings: the bytes */
	size_t len;			     /* their count */
	struct rfs_env *env;		     /* regions: the handle read */
	struct rgn_fsview_reader reader;     /* regions */
	struct rfs_backing backing;	     /* regions the kernel reads */
	struct rgn_fsview_segment seg;	     /* sysv/SHMID/data */
	struct rgn_bdb *bdb;		     /* a Berkeley DB region: the
						snapshot that found it */
};

/* rendered.c: renderings, each made at open into the open file; R says
 * from what.  rfs_render_metrics is the OWN renderer of MNT/metrics. */
extern const struct rfs_file_ops rfs_rendered;
int rfs_render(struct rfs_ctx *c, const struct rfs_renderer *r, uint32_t arg,
	       char **out, size_t *len);
int rfs_render_metrics(struct rfs_ctx *c, uint32_t arg, char **out,
		       size_t *len);

/* readers.c: the bytes of one of our regions, and of a segment. */
extern const struct rfs_file_ops rfs_region_file, rfs_segment_data;

/* bdbview.c: a Berkeley DB home. */
/* Render R for node argument ARG from a fresh snapshot of the home. */
int rfs_bdb_render(struct rfs_ctx *c, const struct rfs_renderer *r,
		   uint32_t arg, char **out, size_t *len);

/* A region of a Berkeley DB home: its bytes, read from the file with pread
 * or copied from the segment attached read-only for each read. */
extern const struct rfs_file_ops rfs_bdb_region_file;

/* The renderers the table's rows name for a Berkeley DB home. */
int rfs_bdb_stat_text(const struct rgn_bdb *b, uint32_t arg, char **out,
		      size_t *len);
int rfs_bdb_stat_json(const struct rgn_bdb *b, uint32_t arg, char **out,
		      size_t *len);
int rfs_bdb_procs(const struct rgn_bdb *b, uint32_t arg, char **out,
		  size_t *len);
int rfs_bdb_metrics(const struct rgn_bdb *b, uint32_t arg, char **out,
		    size_t *len);
int rfs_bdb_region_text(const struct rgn_bdb *b, uint32_t arg, char **out,
			size_t *len);
int rfs_bdb_region_json(const struct rgn_bdb *b, uint32_t arg, char **out,
			size_t *len);

/* ---- 6: entries.c -------------------------------------------------------- */

/*
 * One row per fixed name (pseudo-file or subdirectory), as Linux's
 * pid_entry: the directory kind it appears in, its name, the kind of a
 * subdirectory or its mode bits (masked by its attributes' source), and
 * what it does when opened.  Lookup, getattr, readdir and open all walk
 * rfs_entries (tree.c), so adding a file is one line.
 */
struct rfs_entry {
	enum rfs_kind parent; /* the directory it appears in */
	const char *name;
	enum rfs_kind dir;		/* subdirectories: their kind; else 0 */
	mode_t mode;			/* permission bits, masked by ATTRS */
	enum rfs_attrs attrs;		/* pseudo-files: attribute source */
	int shared;			/* hidden for a private environment */
	const struct rfs_file_ops *ops; /* pseudo-files: what open does */
	struct rfs_renderer renderer;	/* renderings: what from, by whom */
};

extern const struct rfs_entry rfs_entries[];
extern const size_t rfs_nentries;

/* Names that come and go: the members of a directory kind, and what
 * opening one does (NULL for directories). */
struct rfs_family {
	enum rfs_kind parent; /* the directory */
	enum rfs_kind child;  /* the kind of every member */
	int (*parse)(const char *name, uint32_t *arg);
	void (*format)(uint32_t arg, char *buf, size_t len);
	const struct rfs_file_ops *ops; /* members that are files */
};

extern const struct rfs_family rfs_families[];
extern const size_t rfs_nfamilies;

/* ---- 7: tree.c ----------------------------------------------------------- */

/* Inode number <-> node.  The root is FUSE_ROOT_ID as the kernel expects;
 * rfs_node_of returns -1 for a number we never hand out. */
fuse_ino_t rfs_ino(struct rfs_node n);
int rfs_node_of(fuse_ino_t ino, struct rfs_node *n);

/* What opening N does, or NULL for a directory or a link. */
const struct rfs_file_ops *rfs_node_ops(const struct rfs_node *n);

/* Is E visible for the environment as it is now (shared rows vanish for
 * a private one)? */
int rfs_entry_visible(struct rfs_ctx *c, const struct rfs_entry *e);

/*
 * Give a region file's node N the tag of the file the region has now (as
 * the request's table snapshot says).  The kernel lets an inode read
 * through one backing file at a time (passthrough.c): a region removed
 * and made again, while its old file is still open, must come back as
 * another inode.
 */
void rfs_node_settle(struct rfs_ctx *c, struct rfs_node *n);

/* Find NAME in directory DIR: 0 and *CHILD, or -ENOENT. */
int rfs_lookup_name(struct rfs_ctx *c, const struct rfs_node *dir,
		    const char *name, struct rfs_node *child);

/* Call FN for every name in directory DIR (without "." and ".."), with its
 * cookie, in ascending cookie order; stops early when FN returns
 * non-zero. */
int rfs_list(struct rfs_ctx *c, const struct rfs_node *dir,
	     int (*fn)(void *arg, const char *name, const struct rfs_node *n,
		       off_t cookie),
	     void *arg);

/*
 * Attributes of N, if it exists now: 0, or -ENOENT (or the reason the
 * environment cannot be read).  *TIMEOUT gets how long the kernel may
 * cache them (and the name that led there).
 */
int rfs_node_stat(struct rfs_ctx *c, const struct rfs_node *n, struct stat *st,
		  double *timeout);

/* Check N (with attributes ST) for MASK, as its file ops say. */
int rfs_node_perm(struct rfs_ctx *c, const struct rfs_node *n,
		  const struct stat *st, int mask);

/* May the requester reach N: search permission on every directory above
 * it? */
int rfs_reach_perm(struct rfs_ctx *c, const struct rfs_node *n);

/* Attributes of inode INO (into *N) if the requester may reach it. */
int rfs_ino_stat(struct rfs_ctx *c, fuse_ino_t ino, struct rfs_node *n,
		 struct stat *st, double *timeout);

/* The directory N appears in; 0, or -1 for the root. */
int rfs_node_parent(const struct rfs_node *n, struct rfs_node *p);

/* ---- 8: the operations (ops.c, open.c, write.c) -------------------------- */

void rfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void rfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi);
void rfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

void rfs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void rfs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		     size_t size);
void rfs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
/* Every other write: refused (rfs_refusal). */
void rfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		    int to_set, struct fuse_file_info *fi);
void rfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, dev_t rdev);
void rfs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode);
void rfs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void rfs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		    const char *name);
void rfs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		   fuse_ino_t newparent, const char *newname,
		   unsigned int flags);
void rfs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		 const char *newname);
void rfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		   mode_t mode, struct fuse_file_info *fi);
void rfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		  off_t off, struct fuse_file_info *fi);
void rfs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		     const char *value, size_t size, int flags);
void rfs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

extern const struct fuse_lowlevel_ops regionfs_ops;

#endif /* REGIONFS_H */
