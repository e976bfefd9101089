/*
 * bdb_decode.c - Berkeley DB 5.3's region structures from byte buffers.
 *
 * Pure: no I/O, no allocation, no global state, so a fuzzer can drive it
 * with any bytes.  Every read goes through rd32/rd64, which check the
 * offset against the buffer's length; a table whose count or offset is
 * damaged is cut at the buffer's end, never followed past it.  Values are
 * assembled byte by byte in the file's byte order, so the result does not
 * depend on the host's.
 *
 * Only the prefix (magic, panic, version) is trusted for every release;
 * the rest is decoded for 5.3 in its LP64 little-endian layout and only
 * when the region table is where that layout says and starts with the
 * primary's own slot.  Anything else is reported with the version found.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bdb.h"

/* REGENV, 5.3.28 LP64 (measured; the prefix is fixed across releases). */
#define OFF_MAGIC      0x00
#define OFF_PANIC      0x04
#define OFF_MAJOR      0x08
#define OFF_MINOR      0x0c
#define OFF_PATCH      0x10
#define OFF_ENVID      0x14
#define OFF_SIGNATURE  0x18
#define OFF_TIMESTAMP  0x20
#define OFF_INIT_FLAGS 0x28
#define OFF_MTX_REGENV 0x30
#define OFF_REFCNT     0x38
#define OFF_REGION_CNT 0x3c
#define OFF_REGION_OFF 0x40

/* REGION slot, 48 bytes. */
#define SLOT_SIZE    0
#define SLOT_MAX     8
#define SLOT_SEGID   16
#define SLOT_ID	     24
#define SLOT_TYPE    28
#define SLOT_PRIMARY 32
#define SLOT_ALLOC   40

/* ALLOC_LAYOUT: 12 shared list heads of 16 bytes (the address queue and
 * 11 size queues), then the statistics, all u32. */
#define ALLOC_POW2    192
#define ALLOC_SUCCESS (ALLOC_POW2 + 4 * RGN_BDB_NPOW2)
#define ALLOC_FAILURE (ALLOC_SUCCESS + 4)
#define ALLOC_FREED   (ALLOC_SUCCESS + 8)
#define ALLOC_LONGEST (ALLOC_SUCCESS + 12)
#define ALLOC_END     (ALLOC_SUCCESS + 16)

/* A sane ceiling for a table's slot count: 5.3 sizes it from the
 * configured subsystems and caches, a few dozen at most. */
#define MAX_REGION_CNT 100000u

struct rd {
	const unsigned char *p;
	size_t len;
	int be; /* big-endian byte order */
};

static int in_bounds(const struct rd *r, uint64_t off, uint64_t n)
{
	return off <= r->len && n <= r->len - off;
}

static uint32_t rd32(const struct rd *r, uint64_t off)
{
	const unsigned char *b;

	if (!in_bounds(r, off, 4))
		return 0;
	b = r->p + off;
	if (r->be)
		return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
		       (uint32_t)b[2] << 8 | b[3];
	return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[1] << 8 | b[0];
}

static uint64_t rd64(const struct rd *r, uint64_t off)
{
	uint64_t lo, hi;

	if (!in_bounds(r, off, 8))
		return 0;
	lo = rd32(r, off);
	hi = rd32(r, off + 4);
	return r->be ? lo << 32 | hi : hi << 32 | lo;
}

enum rgn_bdb_form rgn_bdb_classify(const void *buf, size_t len, uint64_t total)
{
	struct rd le = {buf, len, 0}, be = {buf, len, 1};

	if (total == 0)
		return RGN_BDB_FORM_EMPTY;
	if (total == RGN_BDB_REF_LEN)
		return RGN_BDB_FORM_REF;
	if (!buf || len < RGN_BDB_PREFIX_LEN)
		return RGN_BDB_FORM_NONE;
	if (rd32(&le, OFF_MAGIC) == RGN_BDB_MAGIC ||
	    rd32(&be, OFF_MAGIC) == RGN_BDB_MAGIC)
		return RGN_BDB_FORM_REGENV;
	/* The creator writes the magic last: zero there and a 5.x version
	 * behind it is a primary that was never finished. */
	if (rd32(&le, OFF_MAGIC) == 0 && rd32(&le, OFF_MAJOR) == 5 &&
	    rd32(&le, OFF_MINOR) < 100)
		return RGN_BDB_FORM_REGENV;
	return RGN_BDB_FORM_NONE;
}

int rgn_bdb_decode_ref(const void *buf, size_t len, struct rgn_bdb_ref *ref)
{
	struct rd r = {buf, len, 0};

	if (!buf || !ref || len != RGN_BDB_REF_LEN)
		return -EINVAL;
	ref->size = rd64(&r, 0);
	ref->max = rd64(&r, 8);
	ref->shmid = (int64_t)rd64(&r, 16);
	return 0;
}

static void decode_alloc(const struct rd *r, uint64_t off,
			 struct rgn_bdb_alloc *a)
{
	for (int i = 0; i < RGN_BDB_NPOW2; i++)
		a->pow2[i] = rd32(r, off + ALLOC_POW2 + 4 * (uint64_t)i);
	a->success = rd32(r, off + ALLOC_SUCCESS);
	a->failure = rd32(r, off + ALLOC_FAILURE);
	a->freed = rd32(r, off + ALLOC_FREED);
	a->longest = rd32(r, off + ALLOC_LONGEST);
}

int rgn_bdb_decode_alloc(const void *buf, size_t len, uint64_t off,
			 struct rgn_bdb_alloc *a)
{
	struct rd r = {buf, len, 0};

	if (!buf || !a || !in_bounds(&r, off, ALLOC_END))
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	decode_alloc(&r, off, a);
	return 0;
}

static void not_decoded(struct rgn_bdb_regenv *env, const char *why)
{
	env->decoded = 0;
	snprintf(env->why, sizeof(env->why), "%s", why);
}

/* The table, slot by slot, as far as the buffer holds it.  Unused slots
 * (id 0) are skipped. */
static void decode_table(const struct rd *r, struct rgn_bdb_regenv *env)
{
	uint64_t off;

	for (uint32_t i = 0; i < env->region_cnt; i++) {
		off = env->region_off + (uint64_t)i * RGN_BDB_SLOT_LEN;
		if (!in_bounds(r, off, RGN_BDB_SLOT_LEN)) {
			env->table_truncated = 1;
			return;
		}
		if (rd32(r, off + SLOT_ID) == 0)
			continue;
		if (env->nslots == RGN_BDB_MAX_REGIONS) {
			env->table_truncated = 1;
			return;
		}
		struct rgn_bdb_slot *s = &env->slots[env->nslots++];
		s->size = rd64(r, off + SLOT_SIZE);
		s->max = rd64(r, off + SLOT_MAX);
		s->segid = (int64_t)rd64(r, off + SLOT_SEGID);
		s->id = rd32(r, off + SLOT_ID);
		s->type = rd32(r, off + SLOT_TYPE);
		s->primary = rd64(r, off + SLOT_PRIMARY);
		s->alloc = rd64(r, off + SLOT_ALLOC);
	}
}

int rgn_bdb_decode_regenv(const void *buf, size_t len,
			  struct rgn_bdb_regenv *env)
{
	struct rd r = {buf, len, 0};
	uint64_t first;

	if (!buf || !env || len < RGN_BDB_PREFIX_LEN)
		return -EINVAL;
	memset(env, 0, sizeof(*env));
	if (rd32(&r, OFF_MAGIC) != RGN_BDB_MAGIC) {
		r.be = 1;
		if (rd32(&r, OFF_MAGIC) != RGN_BDB_MAGIC) {
			r.be = 0;
			if (rd32(&r, OFF_MAGIC) != 0)
				return -EINVAL;
		}
	}
	env->big_endian = r.be;
	env->magic = rd32(&r, OFF_MAGIC);
	env->panic = rd32(&r, OFF_PANIC);
	env->major = rd32(&r, OFF_MAJOR);
	env->minor = rd32(&r, OFF_MINOR);
	env->patch = rd32(&r, OFF_PATCH);

	if (env->big_endian) {
		not_decoded(env, "big-endian layout: prefix only");
		return 0;
	}
	if (env->major != 5 || env->minor != 3) {
		snprintf(env->why, sizeof(env->why),
			 "version %u.%u.%u: only 5.3 is decoded", env->major,
			 env->minor, env->patch);
		return 0;
	}
	if (len < RGN_BDB_REGENV_LEN) {
		not_decoded(env, "shorter than a 5.3 REGENV");
		return 0;
	}

	env->env_id = rd32(&r, OFF_ENVID);
	env->signature = rd32(&r, OFF_SIGNATURE);
	env->ctime = (int64_t)rd64(&r, OFF_TIMESTAMP);
	env->init_flags = rd32(&r, OFF_INIT_FLAGS);
	env->mtx_regenv = rd64(&r, OFF_MTX_REGENV);
	env->refcnt = rd32(&r, OFF_REFCNT);
	env->region_cnt = rd32(&r, OFF_REGION_CNT);
	env->region_off = rd64(&r, OFF_REGION_OFF);
	env->has_alloc = rgn_bdb_decode_alloc(buf, len, RGN_BDB_REGENV_LEN,
					      &env->alloc) == 0;

	/* The layout holds only if the table is where LP64 puts its offset,
	 * aligned, after REGENV, and its first slot is the primary itself
	 * (id 1, type env).  A 32-bit build puts other values there. */
	first = env->region_off;
	if (env->region_cnt == 0 || env->region_cnt > MAX_REGION_CNT ||
	    first < RGN_BDB_REGENV_LEN || first % 8 != 0 ||
	    !in_bounds(&r, first, RGN_BDB_SLOT_LEN) ||
	    rd32(&r, first + SLOT_ID) != 1 ||
	    rd32(&r, first + SLOT_TYPE) != RGN_BDB_TYPE_ENV) {
		not_decoded(env, "5.3 on 64-bit little-endian does not match "
				 "(region table not found)");
		env->has_alloc = 0;
		memset(&env->alloc, 0, sizeof(env->alloc));
		return 0;
	}
	decode_table(&r, env);
	env->decoded = 1;
	return 0;
}

const char *rgn_bdb_type_name(uint32_t type)
{
	static const char *const names[] = {
		[RGN_BDB_TYPE_ENV] = "Environment",
		[RGN_BDB_TYPE_LOCK] = "Lock",
		[RGN_BDB_TYPE_LOG] = "Log",
		[RGN_BDB_TYPE_MPOOL] = "Mpool",
		[RGN_BDB_TYPE_MUTEX] = "Mutex",
		[RGN_BDB_TYPE_TXN] = "Txn",
	};

	if (type >= sizeof(names) / sizeof(names[0]) || !names[type])
		return "Unknown";
	return names[type];
}

const struct rgn_bdb_slot *rgn_bdb_find_slot(const struct rgn_bdb_regenv *env,
					     uint32_t id)
{
	if (!env || !env->decoded)
		return NULL;
	for (uint32_t i = 0; i < env->nslots && i < RGN_BDB_MAX_REGIONS; i++)
		if (env->slots[i].id == id)
			return &env->slots[i];
	return NULL;
}

int rgn_bdb_segment_decode(const void *head, size_t len, uint64_t size,
			   int32_t key, int32_t shmid,
			   struct rgn_bdb_segment *seg)
{
	struct rd r = {head, len, 0};

	if (!head || !seg || len < RGN_BDB_PREFIX_LEN)
		return 0;
	/* A primary is only one whose magic is written: a zero there is
	 * anybody's empty segment. */
	if (rd32(&r, OFF_MAGIC) != RGN_BDB_MAGIC) {
		r.be = 1;
		if (rd32(&r, OFF_MAGIC) != RGN_BDB_MAGIC)
			return 0;
	}
	memset(seg, 0, sizeof(*seg));
	seg->shmid = shmid;
	seg->key = key;
	seg->size = size;
	if (rgn_bdb_decode_regenv(head, len < size ? len : (size_t)size,
				  &seg->env) < 0)
		return 0;
	for (uint32_t i = 0; seg->env.decoded && i < seg->env.nslots; i++) {
		const struct rgn_bdb_slot *s = &seg->env.slots[i];

		/* Its own slot, and slots without a segment, name nothing. */
		if (s->id == 1 || s->segid < 0 || s->segid > INT32_MAX)
			continue;
		seg->other_shmids[seg->nothers] = (int32_t)s->segid;
		seg->other_ids[seg->nothers] = s->id;
		seg->nothers++;
	}
	return 1;
}

enum rgn_bdb_seg_class rgn_bdb_segment_class(const struct rgn_bdb_segment *seg,
					     uint64_t nattch,
					     enum rgn_bdb_claim claim,
					     const char **why)
{
	const char *w;
	enum rgn_bdb_seg_class c;

	if (nattch > 0) {
		c = RGN_BDB_SEG_LIVE;
		w = "attached: a Berkeley DB environment in use";
	} else if (claim == RGN_BDB_CLAIM_DROPPED) {
		c = RGN_BDB_SEG_ORPHANED;
		w = "nobody attached and the home that made it (its DB_CONFIG "
		    "key) no longer refers to it";
	} else if (seg && seg->env.panic) {
		c = RGN_BDB_SEG_NEEDS_RECOVERY;
		w = "nobody attached and the panic flag is set: run "
		    "db_recover -h HOME (db5.3_recover on Debian)";
	} else if (!seg || !seg->env.decoded) {
		c = RGN_BDB_SEG_UNDECODED;
		w = "nobody attached; another Berkeley DB version: References "
		    "not decoded";
	} else if (seg->env.refcnt == 0) {
		c = RGN_BDB_SEG_IDLE;
		w = "nobody attached, References 0: an environment at rest, "
		    "not a leak";
	} else {
		c = RGN_BDB_SEG_NEEDS_RECOVERY;
		w = "nobody attached but References > 0: a process died "
		    "attached; run db_recover -h HOME (db5.3_recover on "
		    "Debian)";
	}
	if (why)
		*why = w;
	return c;
}

const char *rgn_bdb_verdict_name(enum rgn_bdb_verdict v)
{
	static const char *const names[] = {
		[RGN_BDB_AT_REST] = "at-rest",
		[RGN_BDB_IN_USE] = "in-use",
		[RGN_BDB_NEEDS_RECOVERY] = "needs-recovery",
		[RGN_BDB_HALF_CREATED] = "half-created",
		[RGN_BDB_UNDECODED] = "undecoded",
	};

	if ((unsigned)v >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[v];
}
