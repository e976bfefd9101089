/*
 * tree.c - the tree regionfs shows, walked through the tables of
 * entries.c: inode numbers, lookup of a name, listing of a directory, and
 * the attributes and reach of any node.
 *
 * Every question about a node comes here first and is answered by its
 * table row or family: the row says where a pseudo-file's attributes come
 * from and the family what a member is; the attributes themselves and the
 * permission rules are attr.c's.  Nothing here knows what a file holds.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "regionfs.h"

/* st_blksize of region files: cat and cp size their buffers by it, so
 * one read(2) becomes one maximal FUSE request. */
#define RFS_BLKSIZE (1024 * 1024)

/*
 * How long the kernel may trust a name and its attributes: as long as the
 * daemon may reuse its own snapshot, so a region or segment that goes is
 * gone from every path within a second (and from listings at once: the
 * kernel never keeps the listing of a directory whose names come and go,
 * see any_readdir).  Not 0: `ls -l` would then pay a getattr round trip
 * per name after readdirplus already gave the attributes.  A leaked link
 * kept a second too long is harmless: rm re-checks before it removes.
 */
#define RFS_TIMEOUT_STATIC  1.0
#define RFS_TIMEOUT_DYNAMIC 1.0

/* ---- inode numbers ------------------------------------------------------- */

#define INO_KIND_SHIFT	56
#define INO_ENTRY_SHIFT 40

/* A region file has no entry: its tag takes the bits above its id. */
#define INO_TAG_SHIFT 32

fuse_ino_t rfs_ino(struct rfs_node n)
{
	if (n.kind == RFS_ROOT)
		return FUSE_ROOT_ID;
	if (n.kind == RFS_REGION)
		return ((uint64_t)n.kind << INO_KIND_SHIFT) |
		       ((uint64_t)(n.tag & RFS_TAG_MASK) << INO_TAG_SHIFT) |
		       n.arg;
	return ((uint64_t)n.kind << INO_KIND_SHIFT) |
	       ((uint64_t)(n.entry & 0xffffu) << INO_ENTRY_SHIFT) | n.arg;
}

int rfs_node_of(fuse_ino_t ino, struct rfs_node *n)
{
	uint64_t kind = (uint64_t)ino >> INO_KIND_SHIFT;

	memset(n, 0, sizeof(*n));
	if (ino == FUSE_ROOT_ID) {
		n->kind = RFS_ROOT;
		return 0;
	}
	if (kind <= RFS_ROOT || kind >= RFS_NKINDS)
		return -1;
	n->kind = (enum rfs_kind)kind;
	n->arg = (uint32_t)ino;
	if (n->kind == RFS_REGION) {
		n->tag = (uint32_t)(ino >> INO_TAG_SHIFT) & RFS_TAG_MASK;
		return 0;
	}
	n->entry = (uint32_t)((ino >> INO_ENTRY_SHIFT) & 0xffffu);
	if (n->kind == RFS_PSEUDO && n->entry >= rfs_nentries)
		return -1;
	return 0;
}

/* ---- rows and families --------------------------------------------------- */

const struct rfs_file_ops *rfs_node_ops(const struct rfs_node *n)
{
	if (n->kind == RFS_PSEUDO)
		return rfs_entries[n->entry].ops;
	for (size_t i = 0; i < rfs_nfamilies; i++)
		if (rfs_families[i].child == n->kind)
			return rfs_families[i].ops;
	return NULL;
}

int rfs_entry_visible(struct rfs_ctx *c, const struct rfs_entry *e)
{
	return !e->shared || !rfs_is_private(c);
}

/* ---- names --------------------------------------------------------------- */

void rfs_node_settle(struct rfs_ctx *c, struct rfs_node *n)
{
	const struct rgn_fsview_region *rg;

	if (n->kind != RFS_REGION)
		return;
	rg = rgn_fsview_find(rfs_ctx_view(c), n->arg);
	n->tag = rg ? RFS_TAG(rg->file_ino) : 0;
}

int rfs_lookup_name(struct rfs_ctx *c, const struct rfs_node *dir,
		    const char *name, struct rfs_node *child)
{
	for (size_t i = 0; i < rfs_nentries; i++) {
		const struct rfs_entry *e = &rfs_entries[i];

		if (e->parent != dir->kind || strcmp(e->name, name) != 0)
			continue;
		if (!rfs_entry_visible(c, e))
			return -ENOENT;
		if (e->dir)
			*child = (struct rfs_node){.kind = e->dir,
						   .arg = dir->arg};
		else
			*child = (struct rfs_node){.kind = RFS_PSEUDO,
						   .entry = (uint32_t)i,
						   .arg = dir->arg};
		return 0;
	}
	for (size_t i = 0; i < rfs_nfamilies; i++) {
		const struct rfs_family *f = &rfs_families[i];
		uint32_t arg;

		if (f->parent != dir->kind || f->parse(name, &arg) < 0)
			continue;
		*child = (struct rfs_node){.kind = f->child, .arg = arg};
		rfs_node_settle(c, child);
		return 0;
	}
	return -ENOENT;
}

typedef int (*list_fn)(void *arg, const char *name, const struct rfs_node *n,
		       off_t cookie);

/* The current members of family F. */
static int list_family(struct rfs_ctx *c, const struct rfs_family *f,
		       list_fn fn, void *arg)
{
	char name[RFS_NAME_MAX];
	int rc = 0;

	if (f->child == RFS_REGION || f->child == RFS_REGION_DIR) {
		const struct rgn_fsview *v = rfs_ctx_view(c);

		for (size_t i = 0; v && i < v->nregions && !rc; i++) {
			struct rfs_node n = {
				.kind = f->child,
				.arg = v->regions[i].id,
				.tag = f->child == RFS_REGION
					       ? RFS_TAG(v->regions[i].file_ino)
					       : 0};

			f->format(n.arg, name, sizeof(name));
			rc = fn(arg, name, &n, RFS_COOKIE_MEMBERS + n.arg);
		}
		return rc;
	}
	{
		const struct rfs_segs *s = rfs_ctx_segs(c);

		for (size_t i = 0; i < s->n && !rc; i++) {
			struct rfs_node n = {.kind = f->child,
					     .arg = (uint32_t)s->seg[i].shmid};

			if (f->child == RFS_LEAK_LINK &&
			    !rfs_seg_leaked(c, &s->seg[i]))
				continue;
			f->format(n.arg, name, sizeof(name));
			rc = fn(arg, name, &n, RFS_COOKIE_MEMBERS + n.arg);
		}
	}
	return rc;
}

int rfs_list(struct rfs_ctx *c, const struct rfs_node *dir, list_fn fn,
	     void *arg)
{
	int rc = 0;

	for (size_t i = 0; i < rfs_nentries && !rc; i++) {
		const struct rfs_entry *e = &rfs_entries[i];
		struct rfs_node n;

		if (e->parent != dir->kind || !rfs_entry_visible(c, e))
			continue;
		if (e->dir)
			n = (struct rfs_node){.kind = e->dir, .arg = dir->arg};
		else
			n = (struct rfs_node){.kind = RFS_PSEUDO,
					      .entry = (uint32_t)i,
					      .arg = dir->arg};
		rc = fn(arg, e->name, &n, RFS_COOKIE_ROWS + (off_t)i);
	}
	for (size_t i = 0; i < rfs_nfamilies && !rc; i++)
		if (rfs_families[i].parent == dir->kind)
			rc = list_family(c, &rfs_families[i], fn, arg);
	return rc;
}

/* ---- attributes ---------------------------------------------------------- */

/* A pseudo-file: its directory must exist, then its row decides: the
 * stat of its reader, or the attributes of a rendering (see
 * rfs_stat_rendering). */
static int stat_pseudo(struct rfs_ctx *c, const struct rfs_node *n,
		       struct stat *st)
{
	const struct rfs_entry *e = &rfs_entries[n->entry];
	struct rfs_node parent = {.kind = e->parent, .arg = n->arg};
	int rc;

	if (e->dir || !rfs_entry_visible(c, e))
		return -ENOENT; /* a subdirectory is never a pseudo node */
	rc = rfs_stat_dir(c, &parent, st);
	if (rc < 0)
		return rc;
	memset(st, 0, sizeof(*st));
	if (e->ops->stat)
		return e->ops->stat(c, n, st);
	return rfs_stat_rendering(c, e->attrs, e->mode, n->arg, st);
}

int rfs_node_stat(struct rfs_ctx *c, const struct rfs_node *n, struct stat *st,
		  double *timeout)
{
	const struct rfs_file_ops *ops;
	int rc;

	memset(st, 0, sizeof(*st));
	*timeout = RFS_TIMEOUT_DYNAMIC;
	switch (n->kind) {
	case RFS_LEAK_LINK:
		rc = rfs_stat_link(c, n, st);
		break;
	case RFS_PSEUDO:
		rc = stat_pseudo(c, n, st);
		if (rfs_entries[n->entry].parent == RFS_ROOT)
			*timeout = RFS_TIMEOUT_STATIC;
		break;
	case RFS_REGION_DIR:
	case RFS_SEGMENT_DIR:
		rc = rfs_stat_dir(c, n, st);
		break;
	default:
		/* Family members that are files: as their reader says. */
		ops = rfs_node_ops(n);
		if (ops && ops->stat) {
			rc = ops->stat(c, n, st);
			break;
		}
		rc = rfs_stat_dir(c, n, st);
		*timeout = RFS_TIMEOUT_STATIC;
		break;
	}
	st->st_ino = rfs_ino(*n);
	st->st_blksize = RFS_BLKSIZE;
	return rc;
}

/* ---- reaching a node ----------------------------------------------------- */

int rfs_node_perm(struct rfs_ctx *c, const struct rfs_node *n,
		  const struct stat *st, int mask)
{
	const struct rfs_file_ops *ops = rfs_node_ops(n);

	if (ops && ops->perm)
		return ops->perm(c, n, st, mask);
	return rfs_perm(c, st->st_uid, st->st_gid, st->st_uid, st->st_gid,
			st->st_mode, mask);
}

int rfs_node_parent(const struct rfs_node *n, struct rfs_node *p)
{
	memset(p, 0, sizeof(*p));
	switch (n->kind) {
	case RFS_ROOT:
		return -1;
	case RFS_REGION_DIR:
		p->kind = RFS_REGIONS;
		return 0;
	case RFS_SEGMENT_DIR:
	case RFS_LEAKED:
		p->kind = RFS_SYSV;
		return 0;
	case RFS_LEAK_LINK:
		p->kind = RFS_LEAKED;
		return 0;
	case RFS_PSEUDO:
		p->kind = rfs_entries[n->entry].parent;
		p->arg = n->arg;
		return 0;
	default:
		p->kind = RFS_ROOT;
		return 0;
	}
}

/*
 * Search permission on every directory above N, as path resolution would
 * demand.  Checked by every operation on an inode, not only at lookup: the
 * kernel keeps names another user looked up, and hands them to the next
 * user without asking us.
 */
int rfs_reach_perm(struct rfs_ctx *c, const struct rfs_node *n)
{
	struct rfs_node cur = *n, up;
	struct stat st;
	double timeout;
	int rc = 0;

	while (rc == 0 && rfs_node_parent(&cur, &up) == 0) {
		rc = rfs_node_stat(c, &up, &st, &timeout);
		if (rc == 0)
			rc = rfs_node_perm(c, &up, &st, X_OK);
		cur = up;
	}
	return rc;
}

int rfs_ino_stat(struct rfs_ctx *c, fuse_ino_t ino, struct rfs_node *n,
		 struct stat *st, double *timeout)
{
	int rc;

	if (rfs_node_of(ino, n) < 0)
		return -ENOENT;
	rc = rfs_node_stat(c, n, st, timeout);
	if (rc == 0)
		rc = rfs_reach_perm(c, n);
	return rc;
}
