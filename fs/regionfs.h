/*
 * regionfs.h - the pieces of the regionfs daemon shared by its files:
 * the daemon state and its snapshot caches (state.c), the inode numbering
 * and the table of entries (entries.c), and the FUSE operations (ops.c).
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

#include "fsview.h"
#include "leaks.h"
#include "rgn.h"

/* ---- what an inode names ------------------------------------------------ */

enum rfs_kind {
	RFS_ROOT = 1,		/* MNT */
	RFS_REGION,		/* MNT/__db.NNN; arg = region id */
	RFS_REGIONS,		/* MNT/regions */
	RFS_REGION_DIR,		/* MNT/regions/__db.NNN; arg = region id */
	RFS_SYSV,		/* MNT/sysv */
	RFS_SEGMENT_DIR,	/* MNT/sysv/<shmid>; arg = shmid */
	RFS_LEAKED,		/* MNT/sysv/leaked */
	RFS_LEAK_LINK,		/* MNT/sysv/leaked/<shmid>; arg = shmid */
	RFS_PSEUDO,		/* a file of rfs_entries; arg = its parent's */
	RFS_NKINDS
};

struct rfs_node {
	enum rfs_kind kind;
	uint32_t entry;		/* RFS_PSEUDO: index in rfs_entries */
	uint32_t arg;		/* region id or shmid, else 0 */
};

/* Inode number <-> node.  The root is FUSE_ROOT_ID as the kernel expects;
 * rfs_node_of returns -1 for a number we never hand out. */
fuse_ino_t rfs_ino(struct rfs_node n);
int rfs_node_of(fuse_ino_t ino, struct rfs_node *n);

/* ---- daemon state and snapshot caches (state.c) ------------------------- */

/* A refcounted inspecting handle: replaced when the home is recreated. */
struct rfs_env {
	unsigned refs;			/* atomic */
	uint64_t serial;		/* which open of the home this is */
	rgn_env *env;
};

/* A refcounted table snapshot, or the reason there is none. */
struct rfs_view {
	unsigned refs;			/* atomic */
	int err;			/* 0, or why v is NULL */
	uint64_t env_serial;		/* the handle it was taken through */
	int64_t taken_ns;		/* CLOCK_MONOTONIC when taken (a
					   re-stamp keeps it) */
	struct rgn_fsview *v;
};

/* One System V segment, as much of a leak record as the tree needs
 * (a full struct rgn_leak is 4.5 KiB; 4000 of them would be the daemon's
 * largest cost). */
struct rfs_seg {
	int32_t shmid;
	int32_t key;			/* identity for removal, with ctime */
	int64_t ctime;
	int64_t mtime;			/* latest of attach, detach, change */
	uint64_t size;
	uint32_t uid, gid;		/* owner */
	uint32_t cuid, cgid;		/* creator */
	uint32_t mode;			/* shm_perm.mode */
	uint8_t cls;			/* enum rgn_leak_class */
	uint8_t leaked;			/* listed under sysv/leaked */
	uint8_t blind;			/* the verdict rests on the header:
					   unknown to a requester who may
					   not read the segment */
};

/* A refcounted index of segments, sorted by shmid. */
struct rfs_segs {
	unsigned refs;			/* atomic */
	int err;			/* 0, or why the scan failed */
	int64_t time;			/* of the scan, epoch seconds */
	size_t n;
	struct rfs_seg seg[];
};

struct regionfs {
	/* Set before the session starts, read-only afterwards. */
	char *home;			/* absolute: the daemon chdirs to / */
	int readwrite;			/* -o rw: leaked segments removable */
	int debug;			/* -d: log refused operations */
	uid_t uid;			/* the daemon's: owner of sysv/ */
	gid_t gid;
	time_t start;			/* the times of sysv/ and leaked/ */

	pthread_mutex_t lock;		/* guards the pointers and times
					   below, never held during I/O */
	struct rfs_env *env;
	uint64_t env_serial;		/* serial of the last handle made */
	struct rfs_view *view;
	int64_t view_ns;		/* CLOCK_MONOTONIC when taken */
	struct rfs_segs *segs;
	int64_t segs_ns;

	pthread_mutex_t view_refresh;	/* one table refresh at a time */
	pthread_mutex_t scan_lock;	/* one leak scan at a time: a scan of
					   4000 segments holds ~18 MiB */
};

/* How long a cached snapshot may answer lookup and getattr. */
#define RFS_CACHE_NS 1000000000LL

/* Take over ENV (an inspecting handle) and its home. */
int rfs_init(struct regionfs *fs, rgn_env *env);
void rfs_fini(struct regionfs *fs);
int64_t rfs_now_ns(void);

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
const struct rfs_seg *rfs_segs_find(const struct rfs_segs *segs,
				    int32_t shmid);

/* A full environment snapshot for rendering, reopening the home once if
 * it was recreated since the last look.  Free with rgn_stat_free. */
int rfs_stat_env(struct regionfs *fs, struct rgn_env_stat **stp);
/* The same holding region ID alone (see rgn_fsview_stat_region). */
int rfs_stat_region(struct regionfs *fs, uint32_t id,
		    struct rgn_env_stat **stp);

/* A full leak scan for rendering; also refreshes the segment index.
 * Called without scan_lock; returns with it held on success, and
 * rfs_scan_release frees the scan and drops the lock. */
int rfs_scan(struct regionfs *fs, struct rgn_leak_scan **scanp);
void rfs_scan_release(struct regionfs *fs, struct rgn_leak_scan *scan);

/* Forget the segment index (after a removal). */
void rfs_segs_invalidate(struct regionfs *fs);

/* ---- the tree (entries.c) ------------------------------------------------ */

struct rfs_ctx;

/* Render a pseudo-file into a malloc'd buffer, for the requester of C.
 * ARG as in struct rfs_node. */
typedef int (*rfs_render_fn)(struct rfs_ctx *c, uint32_t arg, char **out,
			     size_t *len);

#define RFS_E_SHARED 0x1u	/* not shown for a private environment */
#define RFS_E_SEGDATA 0x2u	/* a segment's bytes, not a rendering */

/* A fixed name in a directory of some kind: a pseudo-file or a
 * subdirectory.  One line of rfs_entries per name. */
struct rfs_entry {
	enum rfs_kind parent;		/* the directory kind it appears in */
	const char *name;
	enum rfs_kind dir;		/* subdirectories: their kind; else 0 */
	rfs_render_fn render;		/* pseudo-files: content, at open */
	unsigned flags;			/* RFS_E_* */
};

extern const struct rfs_entry rfs_entries[];
extern const size_t rfs_nentries;

/* Names that come and go: the members of a directory kind. */
struct rfs_family {
	enum rfs_kind parent;		/* the directory */
	enum rfs_kind child;		/* the kind of every member */
	int (*parse)(const char *name, uint32_t *arg);
	void (*format)(uint32_t arg, char *buf, size_t len);
};

extern const struct rfs_family rfs_families[];
extern const size_t rfs_nfamilies;

#define RFS_NAME_MAX 32		/* longest name we produce, with NUL */

/* What a request needs to answer: snapshots taken once per request, and
 * who asks. */
struct rfs_ctx {
	struct regionfs *fs;
	fuse_req_t req;			/* the request: its credentials */
	struct rfs_view *view;		/* NULL until needed */
	struct rfs_segs *segs;		/* NULL until needed */
	int fresh;			/* take snapshots newer than the request */
	int ngroups;			/* groups[] entries, once read */
	int groups_read;		/* 1 once groups was read */
	gid_t *groups;			/* the requester's supplementary groups */
};

void rfs_ctx_done(struct rfs_ctx *c);
const struct rgn_fsview *rfs_ctx_view(struct rfs_ctx *c);
const struct rfs_segs *rfs_ctx_segs(struct rfs_ctx *c);

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

/*
 * Attributes of N, if it exists now: 0, or -ENOENT (or the reason the
 * environment cannot be read).  *TIMEOUT gets how long the kernel may
 * cache them (and the name that led there).
 */
int rfs_node_stat(struct rfs_ctx *c, const struct rfs_node *n,
		  struct stat *st, double *timeout);

/* Find NAME in directory DIR: 0 and *CHILD, or -ENOENT. */
int rfs_lookup_name(struct rfs_ctx *c, const struct rfs_node *dir,
		    const char *name, struct rfs_node *child);

/* Call FN for every name in directory DIR (without "." and ".."), in a
 * stable order; stops early when FN returns non-zero. */
int rfs_list(struct rfs_ctx *c, const struct rfs_node *dir,
	     int (*fn)(void *arg, const char *name, const struct rfs_node *n),
	     void *arg);

/* The target of a symbolic link node. */
int rfs_readlink(const struct rfs_node *n, char *buf, size_t len);

/* Is N visible at all for the environment as it is now (entries marked
 * RFS_E_SHARED vanish for a private one)? */
int rfs_entry_visible(struct rfs_ctx *c, const struct rfs_entry *e);

/* ---- extended attributes of region files (entries.c) -------------------- */

/* Write the value of xattr NAME of region RG into BUF: the length, or
 * -ENODATA. */
int rfs_xattr_get(const struct rgn_fsview *v, const struct rgn_fsview_region *rg,
		  const char *name, char *buf, size_t len);
/* The NUL-separated list of names of RG: its length. */
size_t rfs_xattr_list(const struct rgn_fsview_region *rg, char *buf,
		      size_t len);

/* ---- the operations (ops.c) ---------------------------------------------- */

extern const struct fuse_lowlevel_ops regionfs_ops;

#endif /* REGIONFS_H */
