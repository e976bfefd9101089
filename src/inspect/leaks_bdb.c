/*
 * leaks_bdb.c - the leak scanner's view of Berkeley DB's System V
 * segments: a primary is told by its region magic (bdb.h decodes it while
 * the judge has it attached), and the segments its region table names
 * share its verdict, so a whole environment is live, idle (at rest),
 * needs-recovery or, only when a home named by the caller proves it,
 * orphaned.
 *
 * Trade-off: the other segments carry no mark of their own, so they are
 * recognised only after every segment has been judged (a second pass over
 * the records), and a one-segment question (rgn_leak_stat, the remover)
 * that may concern Berkeley DB asks a whole scan.  Both are rare next to
 * the scan itself.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leaks_int.h"

int rgn_leaks_bdb_keep(struct rgn_leaks_cache *c,
		       const struct rgn_bdb_segment *seg)
{
	if (c->nbdb == c->bdb_cap) {
		size_t cap = c->bdb_cap ? c->bdb_cap * 2 : 4;
		struct rgn_bdb_segment *v = realloc(c->bdb, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->bdb = v;
		c->bdb_cap = cap;
	}
	c->bdb[c->nbdb++] = *seg;
	return 0;
}

int rgn_leaks_bdb_maybe(const struct rgn_leak *r)
{
	return r->program == RGN_LEAK_PROG_BDB ||
	       (r->ours == RGN_LEAK_NO && (r->cls == RGN_LEAK_FOREIGN_IDLE ||
					   r->cls == RGN_LEAK_FOREIGN_IN_USE));
}

void rgn_leaks_bdb_mark(struct rgn_leak *r, const struct rgn_bdb_segment *seg,
			uint32_t region_id, enum rgn_bdb_seg_class bc,
			const char *home)
{
	const struct rgn_bdb_regenv *e = &seg->env;
	const struct rgn_bdb_slot *slot =
		e->decoded ? rgn_bdb_find_slot(e, region_id) : NULL;
	const char *h = home ? home : "HOME";
	char head[96];
	size_t n;

	r->program = RGN_LEAK_PROG_BDB;
	r->bdb_major = e->major;
	r->bdb_minor = e->minor;
	r->bdb_patch = e->patch;
	r->bdb_region_id = region_id;
	r->bdb_region_type = slot ? slot->type : 0;
	r->bdb_primary = seg->shmid;
	r->bdb_decoded = e->decoded;
	r->bdb_refcnt = e->decoded ? e->refcnt : 0;
	r->bdb_panic = e->panic;
	if (r->bdb_nattch < r->nattch)
		r->bdb_nattch = r->nattch;
	snprintf(head, sizeof(head),
		 "Berkeley DB %u.%u.%u region %u, primary "
		 "shmid %d",
		 e->major, e->minor, e->patch, region_id, seg->shmid);
	n = sizeof(r->evidence);
	switch (bc) {
	case RGN_BDB_SEG_LIVE:
		r->cls = RGN_LEAK_LIVE;
		snprintf(r->evidence, n,
			 "%s: its environment is in use (%" PRIu64
			 " attached to its segments)",
			 head, r->bdb_nattch);
		break;
	case RGN_BDB_SEG_IDLE:
		r->cls = RGN_LEAK_IDLE;
		snprintf(r->evidence, n,
			 "%s: nobody attached, References 0: "
			 "an environment at rest, not a leak",
			 head);
		break;
	case RGN_BDB_SEG_NEEDS_RECOVERY:
		r->cls = RGN_LEAK_NEEDS_RECOVERY;
		if (e->panic)
			snprintf(r->evidence, n,
				 "%s: nobody attached, panic "
				 "set: run db_recover -h %s (db5.3_recover on "
				 "Debian)",
				 head, h);
		else
			snprintf(r->evidence, n,
				 "%s: nobody attached but "
				 "References %u: a process died holding it; "
				 "run db_recover -h %s (db5.3_recover on "
				 "Debian)",
				 head, e->refcnt, h);
		break;
	case RGN_BDB_SEG_ORPHANED:
		r->cls = RGN_LEAK_ORPHANED;
		snprintf(r->evidence, n,
			 "%s: nobody attached, and home %s, "
			 "whose DB_CONFIG gives its key, no longer refers to "
			 "it",
			 head, h);
		break;
	case RGN_BDB_SEG_UNDECODED:
	default:
		/* Its References are not known: never called a leak. */
		r->cls = RGN_LEAK_UNKNOWN;
		snprintf(r->evidence, n,
			 "%s: nobody attached; this version "
			 "is not decoded, so References are not known",
			 head);
		break;
	}
}

/* The record of SHMID among the N records V, or NULL. */
static struct rgn_leak *find(struct rgn_leak *v, size_t n, int32_t shmid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].shmid == shmid)
			return &v[i];
	return NULL;
}

/* What OPTS's homes say of primary SEG: the strongest claim, and *HOME the
 * home that made it.  A home that cannot be read proves nothing. */
static enum rgn_bdb_claim claim_of(const struct rgn_bdb_segment *seg,
				   const struct rgn_leak_opts *opts,
				   const char **home)
{
	enum rgn_bdb_claim best = RGN_BDB_CLAIM_UNRELATED, cl;

	*home = NULL;
	for (size_t i = 0; opts && i < opts->nhomes; i++) {
		const char *h = opts->homes[i];

		if (!h || rgn_bdb_home_claim(h, seg->shmid, seg->key, &cl) < 0)
			continue;
		if (cl == RGN_BDB_CLAIM_REFERS) {
			*home = h;
			return cl; /* still its home: nothing is dropped */
		}
		if (cl == RGN_BDB_CLAIM_DROPPED && !*home) {
			best = cl;
			*home = h;
		}
	}
	return best;
}

int rgn_leaks_bdb_group(struct rgn_leaks_cache *c, struct rgn_leak *v, size_t n,
			const struct rgn_leak_opts *opts)
{
	for (size_t i = 0; i < c->nbdb; i++) {
		const struct rgn_bdb_segment *seg = &c->bdb[i];
		struct rgn_leak *p = find(v, n, seg->shmid);
		struct rgn_leak *others[RGN_BDB_MAX_REGIONS];
		const char *home = NULL;
		enum rgn_bdb_claim claim;
		enum rgn_bdb_seg_class bc;
		uint64_t nattch;

		if (!p || p->program != RGN_LEAK_PROG_BDB)
			continue; /* vanished while we looked */
		nattch = p->nattch;
		for (uint32_t k = 0; k < seg->nothers; k++) {
			struct rgn_leak *o = find(v, n, seg->other_shmids[k]);

			/* Only a segment of no known program: a slot that
			 * names ours, or one marked for removal, is not
			 * believed. */
			others[k] =
				o && o->ours == RGN_LEAK_NO &&
						o->program ==
							RGN_LEAK_PROG_NONE &&
						(o->cls ==
							 RGN_LEAK_FOREIGN_IDLE ||
						 o->cls ==
							 RGN_LEAK_FOREIGN_IN_USE)
					? o
					: NULL;
			if (others[k])
				nattch += others[k]->nattch;
		}
		claim = claim_of(seg, opts, &home);
		if (home) {
			struct rgn_leaks_home *hi =
				rgn_leaks_home_get(c, home, 0);

			if (!hi)
				return -ENOMEM;
			home = hi->home; /* kept by the scan */
		}
		bc = rgn_bdb_segment_class(seg, nattch, claim, NULL);
		p->bdb_nattch = nattch;
		p->home = home ? home : "";
		rgn_leaks_bdb_mark(p, seg, 1, bc, home);
		for (uint32_t k = 0; k < seg->nothers; k++) {
			if (!others[k])
				continue;
			others[k]->bdb_nattch = nattch;
			others[k]->home = home ? home : "";
			rgn_leaks_bdb_mark(others[k], seg, seg->other_ids[k],
					   bc, home);
		}
	}
	return 0;
}
