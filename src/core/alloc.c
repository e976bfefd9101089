/*
 * alloc.c - the allocator inside a region: a two-level segregated fit
 * (TLSF) heap that names every chunk by its offset from the mapping's base.
 *
 * Why TLSF: alloc and free are O(1) whatever the number of blocks (two
 * bitmap scans, no search, no division), which keeps the critical sections
 * of a heap that many processes share under one mutex short and bounded.
 * What it trades off: a request is rounded up to the next class boundary
 * before the search, so a free chunk that would just fit can be passed over
 * for a larger one (good fit, not best fit; the classes are 1/32 of a power
 * of two wide), and the free-list heads table costs 256 bytes per
 * first-level class at the start of the arena (2 KiB for 64 KiB, 8 KiB
 * for 1 TiB) because it does not fit in the 1 KiB heap header.
 *
 * Boundary tags: each chunk starts with an 8-byte header; only free chunks
 * also keep their size in a footer, where the body is unused anyway.  A
 * live block therefore costs 8 bytes plus rounding to 16.  Free chunks are
 * merged with their neighbours at once, so two free chunks are never
 * adjacent and a free chunk's predecessor is always live.
 *
 * Crash safety: the region mutex is robust, so a holder can die at any
 * instruction.  hp_busy is set before an operation's first write and
 * cleared after its last.  In between, the chunk sequence stays walkable:
 * every operation changes it with one header store (its commit point);
 * writes before that store are invisible to a walk, and what follows it is
 * derived data (lists, bitmaps, counters, footers, prev-free bits) that
 * rgn_heap_repair rebuilds from the walk.
 *
 * Untouched heaps: a region nobody allocated from yet should cost its
 * header page only, and every page of a segment or file is allocated (and
 * zeroed, then freed at removal) when first touched.  So
 * rgn_heap_init_zeroed writes only the header, flagged hp_untouched, and
 * the first alloc that succeeds writes the arena as init would have, then
 * clears the flag: fixed values only, redone whole by the next holder if
 * this one dies before the flag is cleared.  Until then every call answers
 * from the header alone, and never reads the arena (a read allocates too).
 *
 * This file holds the hot paths (init, alloc, free); the checker, the
 * repair after a crash and the statistics are in alloc_check.c, and what
 * both need (the chunk encoding, the classes, the free lists) is in
 * alloc_int.h.
 */
#include <inttypes.h>
#include <string.h>

#include "alloc.h"
#include "alloc_int.h"
#include "internal.h"

_Static_assert(sizeof(struct rgn_heap) < 1024, "heap header must stay small");
_Static_assert(RGN_HEAP_MAX_ARENA <= ((uint64_t)1 << 40),
	       "RGN_HEAP_FL_MAX covers chunks below 2^40 bytes");

/*
 * The header of a heap over [arena_off, arena_off + arena_len) of BASE that
 * is one free chunk, as init makes it, with no arena byte written: 0, or
 * -EINVAL (header untouched) for arguments init refuses.
 */
static int layout(struct rgn_heap *h, uint8_t *base, uint64_t arena_off,
		  uint64_t arena_len)
{
	uint64_t len = arena_len & ~(uint64_t)(ALIGN - 1);
	uint64_t table, first, end, span;
	uintptr_t a0, hs;
	unsigned fl, sl;

	if (!h || !base)
		return rgn_fail(-EINVAL, "heap init: no header or base");
	if (arena_off % 64)
		return rgn_fail(-EINVAL,
				"heap init: arena offset %" PRIu64
				" is not 64-byte aligned",
				arena_off);
	if (len < RGN_HEAP_MIN_ARENA || len > RGN_HEAP_MAX_ARENA)
		return rgn_fail(-EINVAL,
				"heap init: arena of %" PRIu64
				" bytes outside %u..%" PRIu64,
				arena_len, RGN_HEAP_MIN_ARENA,
				(uint64_t)RGN_HEAP_MAX_ARENA);
	if (arena_off > UINT64_MAX - len)
		return rgn_fail(-EINVAL, "heap init: arena wraps around");
	a0 = (uintptr_t)base + arena_off;
	hs = (uintptr_t)h;
	if (hs < a0 + len && hs + sizeof(*h) > a0)
		return rgn_fail(-EINVAL, "heap init: header inside the arena");

	/* One table row per first-level class a chunk of this arena can
	 * reach; the largest chunk is the arena less the sentinel, the guard
	 * and at least one row. */
	class_of(len - 2 * HDR - SL_COUNT * 8, &fl, &sl);
	table = (uint64_t)(fl + 1) * SL_COUNT * 8;
	first = arena_off + table + HDR;
	end = arena_off + len - HDR;
	span = end - first;

	memset(h, 0, sizeof(*h));
	h->hp_version = RGN_HEAP_VERSION;
	h->hp_arena_off = arena_off;
	h->hp_arena_len = len;
	h->hp_first = first;
	h->hp_end = end;
	h->hp_fl_count = fl + 1;
	class_of(span, &fl, &sl);
	h->hp_sl_map[fl] = 1u << sl;
	h->hp_fl_map = 1u << fl;
	h->hp_used = len - span;
	h->hp_free = span;
	h->hp_free_chunks = 1;
	return 0;
}

/*
 * Write the arena of a heap whose header says untouched: everything init
 * writes, the whole heads table included, so nothing that was in the
 * arena before matters.  Every store is a fixed value, so a holder that
 * dies half-way leaves the flag set and the next one simply does it all
 * again; the flag is cleared only after the last store.  The pages this
 * touches (the table's, the first chunk's header, the last one's footer
 * and the sentinel) are the ones init would have touched.
 */
static void materialize(struct rgn_heap *h, uint8_t *base)
{
	uint64_t first = h->hp_first, end = h->hp_end, span = end - first;
	unsigned fl, sl;

	class_of(span, &fl, &sl);
	memset(base + h->hp_arena_off, 0,
	       (uint64_t)h->hp_fl_count * SL_COUNT * 8);
	rgn_test_point("heap-materialize:table");
	put64(base, first - HDR, GUARD);
	put64(base, first, span | CH_FREE | CH_TAG);
	put64(base, first + NEXT, 0);
	put64(base, first + PREV, 0);
	rgn_test_point("heap-materialize:first");
	put64(base, end - 8, span);
	put64(base, end, CH_TAG | CH_PREV_FREE);
	rgn_test_point("heap-materialize:end");
	put64(base, slot_of(h, fl, sl), first);
	rgn_test_point("heap-materialize:head");
	ORDER();
	h->hp_untouched = 0;
	ORDER();
}

int rgn_heap_init(struct rgn_heap *h, uint8_t *base, uint64_t arena_off,
		  uint64_t arena_len)
{
	int rc = layout(h, base, arena_off, arena_len);

	if (rc)
		return rc;
	materialize(h, base);
	ORDER();
	h->hp_magic = RGN_HEAP_MAGIC;
	return 0;
}

int rgn_heap_init_zeroed(struct rgn_heap *h, uint8_t *base, uint64_t arena_off,
			 uint64_t arena_len)
{
	int rc = layout(h, base, arena_off, arena_len);

	if (rc)
		return rc;
	h->hp_untouched = 1;
	ORDER();
	h->hp_magic = RGN_HEAP_MAGIC;
	return 0;
}

/*
 * Turn free chunk C of CSIZE bytes, already off its list, into the block
 * for a request of SIZE bytes needing NEED: split off the rest if it can
 * stand alone, commit, count.
 */
static inline uint64_t take(struct rgn_heap *h, uint8_t *base, uint64_t c,
			    uint64_t csize, uint64_t need, uint64_t size)
{
	unsigned b = log2_floor(size);
	uint64_t tag = CH_TAG | (uint64_t)b << CH_BUCKET_SHIFT;
	uint64_t rest = csize - need;

	if (rest >= MIN_CHUNK) {
		/* The remainder's tags are written inside C before C
		 * shrinks, so a walk sees either one chunk or both. */
		put64(base, c + need, rest | CH_FREE | CH_TAG);
		put64(base, c + csize - 8, rest);
		commit(base, c, need | tag);
		list_insert(h, base, c + need, rest);
	} else {
		/* Too little left to stand alone: the block takes it. */
		need = csize;
		commit(base, c, need | tag);
		put64(base, c + need, get64(base, c + need) & ~CH_PREV_FREE);
		h->hp_free_chunks--;
	}
	h->hp_used += need;
	h->hp_free -= need;
	h->hp_live++;
	h->hp_nalloc++;
	h->hp_hist[b]++;
	op_end(h);
	return c + HDR;
}

static int no_fit(struct rgn_heap *h, uint64_t size)
{
	h->hp_nfail++;
	return rgn_fail(-ENOMEM,
			"heap alloc of %" PRIu64
			" bytes: no free chunk fits (%" PRIu64
			" bytes free in %" PRIu64 " chunks)",
			size, h->hp_free, h->hp_free_chunks);
}

/*
 * The good-fit search found nothing: the only chunks that may still fit
 * are in NEED's own class, which the search skips because not all of them
 * fit.  Scan it first-fit, so that a request for the largest free chunk
 * succeeds.  Linear in that list, but only on the way to -ENOMEM.
 */
static int alloc_tight(struct rgn_heap *h, uint8_t *base, uint64_t size,
		       uint64_t need, uint64_t *offp)
{
	uint64_t c, csize = 0;
	unsigned fl, sl;

	class_of(need, &fl, &sl);
	if (fl >= h->hp_fl_count)
		goto nomem;
	for (c = get64(base, slot_of(h, fl, sl)); c;
	     c = get64(base, c + NEXT)) {
		csize = get64(base, c) & CH_SIZE_MASK;
		if (csize >= need)
			break;
	}
	if (!c)
		goto nomem;
	op_begin(h, RGN_HEAP_OP_ALLOC, c);
	list_unlink(h, base, c, csize);
	*offp = take(h, base, c, csize, need, size);
	return 0;

nomem:
	return no_fit(h, size);
}

int rgn_heap_alloc(struct rgn_heap *h, uint8_t *base, uint64_t size,
		   uint64_t *offp)
{
	uint64_t need, c, next, slot;
	uint32_t slmap, flmap;
	unsigned fl, sl;

	if (size == 0)
		return rgn_fail(-EINVAL, "heap alloc: size 0");
	if (__builtin_expect(h->hp_untouched != 0, 0)) {
		/* The one free chunk spans the chunks: what it cannot hold
		 * fails as it would on the written heap, without writing. */
		if (size > h->hp_end - h->hp_first - HDR)
			return no_fit(h, size);
		materialize(h, base);
	}
	/* Bounds SIZE, so NEED cannot overflow nor its class leave 2^40. */
	if (size > h->hp_end - h->hp_first - HDR)
		return alloc_tight(h, base, size, UINT64_MAX, offp);
	need = chunk_need(size);
	class_for(need, &fl, &sl);
	if (fl >= h->hp_fl_count)
		return alloc_tight(h, base, size, need, offp);
	slmap = h->hp_sl_map[fl] & (~0u << sl);
	if (!slmap) {
		flmap = h->hp_fl_map & (uint32_t)(~(uint64_t)0 << (fl + 1));
		if (!flmap)
			return alloc_tight(h, base, size, need, offp);
		fl = (unsigned)__builtin_ctz(flmap);
		slmap = h->hp_sl_map[fl];
	}
	sl = (unsigned)__builtin_ctz(slmap);
	slot = slot_of(h, fl, sl);
	c = get64(base, slot);

	/* Pop the head: the common case, cheaper than a general unlink. */
	op_begin(h, RGN_HEAP_OP_ALLOC, c);
	next = get64(base, c + NEXT);
	put64(base, slot, next);
	if (next) {
		put64(base, next + PREV, 0);
	} else {
		h->hp_sl_map[fl] &= ~(1u << sl);
		if (!h->hp_sl_map[fl])
			h->hp_fl_map &= ~(1u << fl);
	}
	*offp = take(h, base, c, get64(base, c) & CH_SIZE_MASK, need, size);
	return 0;
}

/*
 * Why OFF is visibly not a live block, or NULL (and its header in *hdrp).
 * Cheap checks only: a header with our tag, not free, a size that stays in
 * the arena, and a successor whose tag agrees that this chunk is live.
 */
static const char *live_block(const struct rgn_heap *h, const uint8_t *base,
			      uint64_t off, uint64_t *hdrp)
{
	uint64_t c = off - HDR, hdr, size, nh;

	if (off & (ALIGN - 1))
		return "not 16-byte aligned";
	if (off < h->hp_first + HDR || off >= h->hp_end)
		return "outside the arena";
	hdr = get64(base, c);
	if ((hdr & (CH_TAG_MASK | CH_RESERVED)) != CH_TAG)
		return "no block header there (never allocated, or freed)";
	if (hdr & CH_FREE)
		return "block already free";
	if ((hdr & CH_BUCKET_MASK) >= (uint64_t)RGN_HIST_BUCKETS
					      << CH_BUCKET_SHIFT)
		return "block header has a bad size bucket";
	size = hdr & CH_SIZE_MASK;
	if (size < MIN_CHUNK || size > h->hp_end - c)
		return "block header has a size outside the arena";
	nh = get64(base, c + size);
	if ((nh & (CH_TAG_MASK | CH_RESERVED | CH_PREV_FREE)) != CH_TAG)
		return "the next chunk's header disagrees";
	*hdrp = hdr;
	return NULL;
}

int rgn_heap_free(struct rgn_heap *h, uint8_t *base, uint64_t off)
{
	uint64_t c = off - HDR, hdr = 0, size, n, nh, nsize = 0;
	uint64_t p = 0, psize = 0, start, total;
	const char *why;
	unsigned b;

	if (h->hp_untouched)
		return rgn_fail(-EINVAL,
				"heap free of offset %" PRIu64
				": nothing was ever allocated from this heap",
				off);
	why = live_block(h, base, off, &hdr);
	if (why)
		return rgn_fail(-EINVAL, "heap free of offset %" PRIu64 ": %s",
				off, why);
	size = hdr & CH_SIZE_MASK;
	n = c + size;
	nh = get64(base, n);
	if (hdr & CH_PREV_FREE) {
		psize = get64(base, c - 8);
		if (psize < MIN_CHUNK || psize > c - h->hp_first ||
		    (psize & (ALIGN - 1)) ||
		    get64(base, c - psize) != (psize | CH_FREE | CH_TAG))
			return rgn_fail(RGN_ECORRUPT,
					"heap free of offset %" PRIu64
					": footer %" PRIu64
					" before it names no free chunk",
					off, psize);
		p = c - psize;
	}
	if (nh & CH_FREE) {
		nsize = nh & CH_SIZE_MASK;
		if (nh != (nsize | CH_FREE | CH_TAG) || nsize < MIN_CHUNK ||
		    nsize > h->hp_end - n)
			return rgn_fail(RGN_ECORRUPT,
					"heap free of offset %" PRIu64
					": free chunk at offset %" PRIu64
					" after it has a bad header",
					off, n);
	}

	op_begin(h, RGN_HEAP_OP_FREE, c);
	b = (unsigned)((hdr & CH_BUCKET_MASK) >> CH_BUCKET_SHIFT);
	h->hp_hist[b]--;
	h->hp_live--;
	h->hp_used -= size;
	h->hp_free += size;
	h->hp_nfree++;
	start = c;
	total = size;
	if (p) {
		list_unlink(h, base, p, psize);
		h->hp_free_chunks--;
		start = p;
		total += psize;
	}
	if (nsize) {
		list_unlink(h, base, n, nsize);
		h->hp_free_chunks--;
		total += nsize;
	}
	put64(base, start + total - 8, total);
	commit(base, start, total | CH_FREE | CH_TAG);
	/* Headers swallowed by the merge are cleared, so that freeing them
	 * again is caught as "no block header". */
	if (p)
		put64(base, c, 0);
	if (nsize)
		put64(base, n, 0);
	put64(base, start + total, get64(base, start + total) | CH_PREV_FREE);
	list_insert(h, base, start, total);
	h->hp_free_chunks++;
	op_end(h);
	return 0;
}

uint64_t rgn_heap_usable(const struct rgn_heap *h, const uint8_t *base,
			 uint64_t off)
{
	uint64_t hdr = 0;

	if (h->hp_untouched || live_block(h, base, off, &hdr))
		return 0;
	return (hdr & CH_SIZE_MASK) - HDR;
}
