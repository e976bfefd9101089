/*
 * fuzz_fspath.c - the names of the regionfs tree (fs/entries.c): a path
 * such as "regions/__db.0042/stat.json" or "sysv/leaked/123" walked
 * component by component through rfs_lookup_name, the inode numbers of
 * what it finds, and the region and segment name families.
 *
 * Compiled with the daemon's own sources (all of fs/ but main.c); the
 * request context carries a region table made from the input, so lookup
 * and listing never reach the daemon's state or the kernel.
 *
 * What must hold: every name found is the one name of its node (a table
 * row's own name, or exactly what the family prints for that id: no
 * "__db.1" or "0042" aliases), parse(format(id)) == id over each family's
 * whole range, an inode number leads back to the same node, nothing is
 * found below a file, a private environment hides the shared rows, and
 * every name a directory lists is found by lookup as the node listed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "regionfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

#define MAX_REGIONS 8

static int same_node(const struct rfs_node *a, const struct rfs_node *b)
{
	return a->kind == b->kind && a->entry == b->entry && a->arg == b->arg &&
	       a->tag == b->tag;
}

static int is_dir(enum rfs_kind k)
{
	return k == RFS_ROOT || k == RFS_REGIONS || k == RFS_REGION_DIR ||
	       k == RFS_SYSV || k == RFS_SEGMENT_DIR || k == RFS_LEAKED;
}

static const struct rfs_family *family_of(enum rfs_kind child)
{
	for (size_t i = 0; i < rfs_nfamilies; i++)
		if (rfs_families[i].child == child)
			return &rfs_families[i];
	return NULL;
}

/* The range of a family's ids: regions 1..RGN_MAX_REGIONS, segments
 * 0..INT32_MAX. */
static int in_range(enum rfs_kind child, uint32_t arg)
{
	if (child == RFS_REGION || child == RFS_REGION_DIR)
		return arg >= 1 && arg <= RGN_MAX_REGIONS;
	return arg <= INT32_MAX;
}

static void check_found(const struct rfs_node *dir, const char *name,
			const struct rfs_node *n, int private_env)
{
	struct rfs_node back;
	char again[RFS_NAME_MAX];

	FZ_CHECK(rfs_node_of(rfs_ino(*n), &back) == 0 && same_node(&back, n),
		 "\"%s\": inode %llx does not lead back", name,
		 (unsigned long long)rfs_ino(*n));
	if (n->kind == RFS_PSEUDO) {
		const struct rfs_entry *e = &rfs_entries[n->entry];

		FZ_CHECK(e->parent == dir->kind && strcmp(e->name, name) == 0,
			 "\"%s\" found as row \"%s\"", name, e->name);
		FZ_CHECK(!(private_env && e->shared),
			 "\"%s\" shown for a private environment", name);
		return;
	}
	for (size_t i = 0; i < rfs_nentries; i++)
		if (rfs_entries[i].dir == n->kind &&
		    rfs_entries[i].parent == dir->kind &&
		    strcmp(rfs_entries[i].name, name) == 0)
			return; /* a subdirectory row */
	const struct rfs_family *f = family_of(n->kind);

	FZ_CHECK(f && f->parent == dir->kind, "\"%s\": kind %d under %d", name,
		 n->kind, dir->kind);
	FZ_CHECK(in_range(n->kind, n->arg), "\"%s\": id %u out of range", name,
		 n->arg);
	f->format(n->arg, again, sizeof(again));
	FZ_CHECK(strcmp(again, name) == 0, "\"%s\" is an alias of \"%s\"", name,
		 again);
}

struct listed {
	struct rfs_ctx *c;
	const struct rfs_node *dir;
	int private_env;
	off_t last; /* the previous name's cookie */
};

/* Every listed name is found again, and cookies ascend: a readdir that
 * continues past a cookie relies on it. */
static int check_listed(void *arg, const char *name, const struct rfs_node *n,
			off_t cookie)
{
	struct listed *l = arg;
	struct rfs_node found;

	FZ_CHECK(cookie > l->last && cookie > 2,
		 "\"%s\": cookie %lld after %lld", name, (long long)cookie,
		 (long long)l->last);
	l->last = cookie;

	FZ_CHECK(rfs_lookup_name(l->c, l->dir, name, &found) == 0 &&
			 same_node(&found, n),
		 "listed \"%s\" is not found as listed", name);
	check_found(l->dir, name, n, l->private_env);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct rgn_fsview *tv;
	struct rfs_view view;
	struct rfs_ctx c = {.view = &view};
	struct rfs_node dir = {.kind = RFS_ROOT}, n;
	char path[256], *comp, *save = NULL;
	uint32_t id = 0;
	int private_env;

	if (len < 1 || len >= sizeof(path))
		return 0;
	if (!tv)
		tv = malloc(sizeof(*tv) + MAX_REGIONS * sizeof(tv->regions[0]));
	if (!tv)
		return 0;
	memset(tv, 0, sizeof(*tv) + MAX_REGIONS * sizeof(tv->regions[0]));
	memset(&view, 0, sizeof(view));
	view.v = tv;
	/* First byte: a private environment, and the regions the table
	 * holds (ascending ids, as a snapshot gives them). */
	private_env = data[0] & 1;
	tv->backing = private_env ? RGN_BACKING_PRIVATE : RGN_BACKING_FILES;
	for (size_t i = 0; !private_env && i < (data[0] >> 1) % MAX_REGIONS;
	     i++) {
		id += 1 + (uint32_t)data[(i + 1) % len] * 16;
		if (id > RGN_MAX_REGIONS)
			break;
		tv->regions[tv->nregions++].id = id;
	}

	/* Each family over its whole range, at an id the input picks. */
	if (len >= 5) {
		uint32_t arg;
		char name[RFS_NAME_MAX];

		memcpy(&arg, data + 1, sizeof(arg));
		for (size_t i = 0; i < rfs_nfamilies; i++) {
			const struct rfs_family *f = &rfs_families[i];
			uint32_t a = f->child == RFS_REGION ||
						     f->child == RFS_REGION_DIR
					     ? arg % RGN_MAX_REGIONS + 1
					     : arg & INT32_MAX;
			uint32_t back = ~a;

			f->format(a, name, sizeof(name));
			FZ_CHECK(f->parse(name, &back) == 0 && back == a,
				 "%u printed as \"%s\" parses as %u", a, name,
				 back);
		}
	}

	/* The rest is a path, walked from the root. */
	memcpy(path, data + 1, len - 1);
	path[len - 1] = '\0';
	for (comp = strtok_r(path, "/", &save); comp;
	     comp = strtok_r(NULL, "/", &save)) {
		int rc = rfs_lookup_name(&c, &dir, comp, &n);

		if (!is_dir(dir.kind)) {
			FZ_CHECK(rc == -ENOENT, "\"%s\" found below a file",
				 comp);
			break;
		}
		FZ_CHECK(rc == 0 || rc == -ENOENT, "lookup gave %d", rc);
		if (rc < 0)
			break;
		check_found(&dir, comp, &n, private_env);
		dir = n;
	}

	/* What the root and regions/ list (the others list the kernel's
	 * segments), each name found again. */
	{
		struct rfs_node root = {.kind = RFS_ROOT},
				regs = {.kind = RFS_REGIONS};
		struct listed l = {&c, &root, private_env, 0};

		rfs_list(&c, &root, check_listed, &l);
		l.dir = &regs;
		l.last = 0;
		rfs_list(&c, &regs, check_listed, &l);
	}
	return 0;
}
