/*
 * alloc_check.c - the region allocator's checker, its repair after a
 * holder died mid-operation, and its statistics (see alloc.c for the heap
 * itself).  None of this is on the alloc/free path: a check walks every
 * chunk and list; a repair rebuilds the derived data (lists, bitmaps,
 * counters, footers) from the chunk sequence, the one thing every
 * operation keeps walkable.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "alloc_int.h"
#include "internal.h"

/* Spreads offsets so that a sum over a set of them fingerprints the set. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static const char *op_name(uint32_t op)
{
	switch (op) {
	case RGN_HEAP_OP_ALLOC:
		return "alloc";
	case RGN_HEAP_OP_FREE:
		return "free";
	}
	return "unknown";
}

/* The fields written once at init: if these are wrong nothing else can be
 * trusted, and nothing can be rebuilt. */
static int check_fixed(const struct rgn_heap *h, const uint8_t *base)
{
	uint64_t off = h->hp_arena_off, len = h->hp_arena_len;
	unsigned fl, sl;

	if (h->hp_magic != RGN_HEAP_MAGIC)
		return rgn_fail(RGN_ECORRUPT,
				"heap header: bad magic 0x%08" PRIx32,
				h->hp_magic);
	if (h->hp_version != RGN_HEAP_VERSION)
		return rgn_fail(RGN_ECORRUPT, "heap header: version %" PRIu32,
				h->hp_version);
	if (off % 64 || len % ALIGN || len < RGN_HEAP_MIN_ARENA ||
	    len > RGN_HEAP_MAX_ARENA || off > UINT64_MAX - len)
		return rgn_fail(RGN_ECORRUPT,
				"heap header: arena offset %" PRIu64
				" length %" PRIu64 " invalid",
				off, len);
	class_of(len - 2 * HDR - SL_COUNT * 8, &fl, &sl);
	if (h->hp_fl_count != fl + 1 ||
	    h->hp_first !=
		    off + (uint64_t)h->hp_fl_count * SL_COUNT * 8 + HDR ||
	    h->hp_end != off + len - HDR)
		return rgn_fail(RGN_ECORRUPT,
				"heap header: classes %" PRIu32
				", first chunk %" PRIu64 ", end %" PRIu64
				" do not match the arena",
				h->hp_fl_count, h->hp_first, h->hp_end);
	if (h->hp_untouched > 1)
		return rgn_fail(RGN_ECORRUPT,
				"heap header: untouched flag %" PRIu32
				" is neither 0 nor 1",
				h->hp_untouched);
	/* An untouched arena is not written yet, and must not be read. */
	if (!h->hp_untouched && get64(base, h->hp_first - HDR) != GUARD)
		return rgn_fail(RGN_ECORRUPT,
				"heap: guard word at offset %" PRIu64
				" overwritten (heads table overrun?)",
				h->hp_first - HDR);
	return 0;
}

/*
 * Why H, flagged untouched and with its fixed fields checked, is not
 * exactly the header rgn_heap_init_zeroed made (only hp_nfail may have
 * moved since: failed allocs write nothing), or NULL.  From the header
 * alone: the arena is not written yet.
 */
static const char *untouched_wrong(const struct rgn_heap *h)
{
	uint64_t span = h->hp_end - h->hp_first;
	unsigned fl, sl, f;

	/* Checked already, but stat reaches here from a bare snapshot. */
	if (h->hp_end < h->hp_first || span >= RGN_HEAP_MAX_ARENA)
		return "the chunks do not fit any arena";
	if (h->hp_busy || h->hp_pending)
		return "an operation is marked in progress";
	if (h->hp_live || h->hp_nalloc || h->hp_nfree)
		return "blocks are counted as allocated or freed";
	for (f = 0; f < RGN_HIST_BUCKETS; f++)
		if (h->hp_hist[f])
			return "the histogram counts live blocks";
	if (h->hp_used != h->hp_arena_len - span || h->hp_free != span ||
	    h->hp_free_chunks != 1)
		return "the byte and chunk counts are not one free chunk's";
	class_of(span, &fl, &sl);
	if (h->hp_fl_map != 1u << fl)
		return "the first-level bitmap is not one free chunk's";
	for (f = 0; f < RGN_HEAP_FL_MAX; f++)
		if (h->hp_sl_map[f] != (f == fl ? 1u << sl : 0))
			return "the second-level bitmaps are not one free "
			       "chunk's";
	return NULL;
}

/* Why the header HDR of the chunk at X (below END) cannot be walked. */
static const char *bad_tag(uint64_t hdr, uint64_t x, uint64_t end)
{
	uint64_t size = hdr & CH_SIZE_MASK;

	if ((hdr & (CH_TAG_MASK | CH_RESERVED)) != CH_TAG)
		return "header has no valid tag";
	if (size < MIN_CHUNK || size > end - x)
		return "size runs outside the arena";
	if (hdr & CH_FREE) {
		if (hdr & CH_BUCKET_MASK)
			return "free chunk carries a size bucket";
	} else if ((hdr >> CH_BUCKET_SHIFT & 0x3f) >= RGN_HIST_BUCKETS) {
		return "live chunk's size bucket out of range";
	}
	return NULL;
}

/* Totals of one walk over the chunk sequence. */
struct walk {
	uint64_t wk_used;  /* bytes in live chunks */
	uint64_t wk_free;  /* bytes in free chunks */
	uint64_t wk_live;  /* live chunks */
	uint64_t wk_nfree; /* free chunks */
	uint64_t wk_hash;  /* sum of mix(offset) of free chunks */
	uint64_t wk_hist[RGN_HIST_BUCKETS]; /* live chunks per size bucket */
};

static int check_chunks(const struct rgn_heap *h, const uint8_t *base,
			struct walk *w)
{
	uint64_t x = h->hp_first, end = h->hp_end, hdr, size, lo, hi;
	uint64_t prev_free = 0;
	const char *why;
	unsigned b;

	memset(w, 0, sizeof(*w));
	for (; x < end; x += size) {
		hdr = get64(base, x);
		size = hdr & CH_SIZE_MASK;
		why = bad_tag(hdr, x, end);
		if (why)
			return rgn_fail(RGN_ECORRUPT,
					"heap chunk at offset %" PRIu64
					": %s (header 0x%016" PRIx64 ")",
					x, why, hdr);
		if ((hdr & CH_PREV_FREE) != prev_free)
			return rgn_fail(RGN_ECORRUPT,
					"heap chunk at offset %" PRIu64
					": prev-free bit disagrees with the "
					"chunk before it",
					x);
		if (hdr & CH_FREE) {
			if (prev_free)
				return rgn_fail(RGN_ECORRUPT,
						"heap chunk at offset %" PRIu64
						": free and next to a free "
						"chunk (not merged)",
						x);
			if (get64(base, x + size - 8) != size)
				return rgn_fail(
					RGN_ECORRUPT,
					"heap chunk at offset %" PRIu64
					": footer %" PRIu64 " != size %" PRIu64,
					x, get64(base, x + size - 8), size);
			w->wk_free += size;
			w->wk_nfree++;
			w->wk_hash += mix(x);
			prev_free = CH_PREV_FREE;
			continue;
		}
		b = (unsigned)((hdr & CH_BUCKET_MASK) >> CH_BUCKET_SHIFT);
		/* A block takes at most 16 spare bytes past its need. */
		lo = chunk_need((uint64_t)1 << b);
		hi = chunk_need(((uint64_t)2 << b) - 1) + ALIGN;
		if (size < lo || size > hi)
			return rgn_fail(RGN_ECORRUPT,
					"heap chunk at offset %" PRIu64
					": size %" PRIu64
					" cannot hold a request in bucket %u",
					x, size, b);
		w->wk_used += size;
		w->wk_live++;
		w->wk_hist[b]++;
		prev_free = 0;
	}
	hdr = get64(base, end);
	if (hdr != (CH_TAG | prev_free))
		return rgn_fail(RGN_ECORRUPT,
				"heap end sentinel at offset %" PRIu64
				": header 0x%016" PRIx64
				" (expected 0x%016" PRIx64 ")",
				end, hdr, CH_TAG | prev_free);
	return 0;
}

static int check_counters(const struct rgn_heap *h, const struct walk *w)
{
	uint64_t meta = h->hp_arena_len - (h->hp_end - h->hp_first);

	if (h->hp_used != w->wk_used + meta || h->hp_free != w->wk_free ||
	    h->hp_live != w->wk_live || h->hp_free_chunks != w->wk_nfree)
		return rgn_fail(RGN_ECORRUPT,
				"heap counters: used %" PRIu64 " free %" PRIu64
				" live %" PRIu64 " free chunks %" PRIu64
				"; the chunks say %" PRIu64 " %" PRIu64
				" %" PRIu64 " %" PRIu64,
				h->hp_used, h->hp_free, h->hp_live,
				h->hp_free_chunks, w->wk_used + meta,
				w->wk_free, w->wk_live, w->wk_nfree);
	for (unsigned b = 0; b < RGN_HIST_BUCKETS; b++)
		if (h->hp_hist[b] != w->wk_hist[b])
			return rgn_fail(RGN_ECORRUPT,
					"heap histogram bucket %u: %" PRIu64
					" blocks, the chunks say %" PRIu64,
					b, h->hp_hist[b], w->wk_hist[b]);
	return 0;
}

/* Every list holds exactly the free chunks of its class, doubly linked, and
 * the lists together hold exactly the free chunks the walk found. */
static int check_lists(const struct rgn_heap *h, const uint8_t *base,
		       const struct walk *w)
{
	uint64_t seen = 0, hash = 0, node, prev, hdr, size;
	unsigned fl, sl, cfl, csl;

	for (fl = 0; fl < RGN_HEAP_FL_MAX; fl++) {
		if ((h->hp_sl_map[fl] != 0) != (int)(h->hp_fl_map >> fl & 1))
			return rgn_fail(RGN_ECORRUPT,
					"heap bitmaps: first-level bit %u "
					"disagrees with its second level",
					fl);
		if (fl >= h->hp_fl_count && h->hp_sl_map[fl])
			return rgn_fail(RGN_ECORRUPT,
					"heap bitmaps: class %u beyond the "
					"table is marked non-empty",
					fl);
	}
	for (fl = 0; fl < h->hp_fl_count; fl++) {
		for (sl = 0; sl < SL_COUNT; sl++) {
			node = get64(base, slot_of(h, fl, sl));
			if ((node != 0) != (int)(h->hp_sl_map[fl] >> sl & 1))
				return rgn_fail(
					RGN_ECORRUPT,
					"heap list %u.%u: head %" PRIu64
					" disagrees with its bitmap bit",
					fl, sl, node);
			for (prev = 0; node;
			     prev = node, node = get64(base, node + NEXT)) {
				if (++seen > w->wk_nfree)
					return rgn_fail(RGN_ECORRUPT,
							"heap list %u.%u: more "
							"entries than free "
							"chunks (a cycle?)",
							fl, sl);
				if (node < h->hp_first || node >= h->hp_end ||
				    (node & (ALIGN - 1)) != HDR)
					return rgn_fail(RGN_ECORRUPT,
							"heap list %u.%u: link "
							"to offset %" PRIu64
							" outside the chunks",
							fl, sl, node);
				hdr = get64(base, node);
				size = hdr & CH_SIZE_MASK;
				if (hdr != (size | CH_FREE | CH_TAG))
					return rgn_fail(
						RGN_ECORRUPT,
						"heap list %u.%u: entry "
						"at offset %" PRIu64
						" is not a free chunk",
						fl, sl, node);
				class_of(size, &cfl, &csl);
				if (cfl != fl || csl != sl)
					return rgn_fail(
						RGN_ECORRUPT,
						"heap list %u.%u: chunk "
						"at offset %" PRIu64
						" of %" PRIu64
						" bytes belongs in %u.%u",
						fl, sl, node, size, cfl, csl);
				if (get64(base, node + PREV) != prev)
					return rgn_fail(
						RGN_ECORRUPT,
						"heap list %u.%u: chunk "
						"at offset %" PRIu64
						" has back link %" PRIu64
						", expected %" PRIu64,
						fl, sl, node,
						get64(base, node + PREV), prev);
				hash += mix(node);
			}
		}
	}
	if (seen != w->wk_nfree || hash != w->wk_hash)
		return rgn_fail(RGN_ECORRUPT,
				"heap lists hold %" PRIu64 " chunks, the walk "
				"found %" PRIu64 " free chunks%s",
				seen, w->wk_nfree,
				seen == w->wk_nfree ? " (different ones)" : "");
	return 0;
}

int rgn_heap_fits(const struct rgn_heap *h, uint64_t lo, uint64_t size)
{
	uint64_t off = h->hp_arena_off, len = h->hp_arena_len;

	if (off < lo || off > size || len > size - off)
		return rgn_fail(RGN_ECORRUPT,
				"heap header: arena at offset %" PRIu64
				" of %" PRIu64
				" bytes lies outside the region's "
				"%" PRIu64 " bytes",
				off, len, size);
	return 0;
}

int rgn_heap_check(const struct rgn_heap *h, const uint8_t *base)
{
	struct walk w;
	int rc;

	rc = check_fixed(h, base);
	if (rc)
		return rc;
	if (h->hp_untouched) {
		const char *why = untouched_wrong(h);

		return why ? rgn_fail(RGN_ECORRUPT,
				      "heap header: flagged untouched, but %s",
				      why)
			   : 0;
	}
	if (h->hp_busy)
		return rgn_fail(RGN_ECORRUPT,
				"heap: %s of chunk at offset %" PRIu64
				" was interrupted (needs repair)",
				op_name(h->hp_busy), h->hp_pending);
	rc = check_chunks(h, base, &w);
	if (!rc)
		rc = check_counters(h, &w);
	if (!rc)
		rc = check_lists(h, base, &w);
	return rc;
}

/*
 * Make the run of free chunks [RUN, RUN+LEN), whose first chunk is FIRST
 * bytes long, one free chunk.  The run's header is committed before the
 * headers it swallows are cleared, so that a repair cut short by another
 * death leaves a walkable heap for the next one.
 */
static void close_run(struct rgn_heap *h, uint8_t *base, uint64_t run,
		      uint64_t first, uint64_t len)
{
	uint64_t x, size;

	put64(base, run + len - 8, len);
	commit(base, run, len | CH_FREE | CH_TAG);
	for (x = run + first; x < run + len; x += size) {
		size = get64(base, x) & CH_SIZE_MASK;
		put64(base, x, 0);
	}
	list_insert(h, base, run, len);
	h->hp_free += len;
	h->hp_free_chunks++;
}

int rgn_heap_repair(struct rgn_heap *h, uint8_t *base)
{
	uint64_t x, end = h->hp_end, hdr, size, pending;
	uint64_t run = 0, first = 0, len = 0;
	const char *why;
	int rc;

	rc = check_fixed(h, base);
	if (rc)
		return rc;
	/* No operation starts on an untouched heap (the first alloc writes
	 * the arena and clears the flag before it begins), so a busy marker
	 * there was never ours; a materializing that died half-way needs no
	 * repair, as the next alloc does it again whole. */
	if (!h->hp_busy || h->hp_untouched)
		return rgn_heap_check(h, base);
	if (h->hp_busy != RGN_HEAP_OP_ALLOC && h->hp_busy != RGN_HEAP_OP_FREE)
		return rgn_fail(RGN_ECORRUPT,
				"heap: busy marker %" PRIu32
				" names no operation",
				h->hp_busy);

	/* Only the boundary tags are trusted: make sure they can be walked
	 * before anything is rewritten from them. */
	for (x = h->hp_first; x < end; x += hdr & CH_SIZE_MASK) {
		hdr = get64(base, x);
		why = bad_tag(hdr, x, end);
		if (why)
			return rgn_fail(RGN_ECORRUPT,
					"heap repair: chunk at offset %" PRIu64
					": %s (header 0x%016" PRIx64 ")",
					x, why, hdr);
	}
	if ((get64(base, end) & ~CH_PREV_FREE) != CH_TAG)
		return rgn_fail(RGN_ECORRUPT,
				"heap repair: end sentinel at offset %" PRIu64
				" overwritten",
				end);

	memset(base + h->hp_arena_off, 0,
	       (uint64_t)h->hp_fl_count * SL_COUNT * 8);
	h->hp_fl_map = 0;
	memset(h->hp_sl_map, 0, sizeof(h->hp_sl_map));
	memset(h->hp_hist, 0, sizeof(h->hp_hist));
	h->hp_used = h->hp_arena_len - (end - h->hp_first);
	h->hp_free = 0;
	h->hp_live = 0;
	h->hp_free_chunks = 0;

	/* The chunk of an interrupted alloc was never handed out and the one
	 * of an interrupted free was given up: both end up free.  Runs of
	 * free chunks (there are none unless a merge was cut short) become
	 * one chunk, as free() would have made them.  hp_busy stays set
	 * until the end, so a repairer that dies too is repaired again. */
	pending = h->hp_pending;
	for (x = h->hp_first;; x += size) {
		hdr = get64(base, x);
		size = hdr & CH_SIZE_MASK;
		if (x < end && ((hdr & CH_FREE) || x == pending)) {
			if (!run) {
				run = x;
				first = size;
				len = 0;
			}
			len += size;
			continue;
		}
		hdr &= ~CH_PREV_FREE;
		if (run) {
			close_run(h, base, run, first, len);
			hdr |= CH_PREV_FREE;
			run = 0;
		}
		put64(base, x, hdr);
		if (x == end)
			break;
		h->hp_used += size;
		h->hp_live++;
		h->hp_hist[(hdr & CH_BUCKET_MASK) >> CH_BUCKET_SHIFT]++;
	}
	h->hp_pending = 0;
	op_end(h);
	return rgn_heap_check(h, base);
}

/* ---- statistics ---------------------------------------------------------- */

int rgn_heap_stat(const struct rgn_heap *h, rgn_heap_read_fn rd, void *ctx,
		  struct rgn_alloc_stat *st)
{
	uint64_t node, word[2], size, seen = 0, largest = 0;
	unsigned fl, sl, cfl, csl;
	int rc;

	memset(st, 0, sizeof(*st));
	if (h->hp_magic != RGN_HEAP_MAGIC || h->hp_version != RGN_HEAP_VERSION)
		return rgn_fail(RGN_ECORRUPT,
				"heap stat: header not initialised (magic "
				"0x%08" PRIx32 ")",
				h->hp_magic);
	st->arena_bytes = h->hp_arena_len;
	st->used_bytes = h->hp_used;
	st->free_bytes = h->hp_free;
	st->live_blocks = h->hp_live;
	st->free_chunks = h->hp_free_chunks;
	st->nalloc = h->hp_nalloc;
	st->nfail = h->hp_nfail;
	st->nfree = h->hp_nfree;
	memcpy(st->hist, h->hp_hist, sizeof(st->hist));
	if (h->hp_untouched) {
		/* The arena is not written yet: the one free chunk is in the
		 * header's figures, and reading it would allocate it.  A
		 * snapshot taken as the first alloc ran may mix the two. */
		if (h->hp_untouched != 1 || untouched_wrong(h))
			goto changed;
		st->largest_free = h->hp_free;
		return 0;
	}
	if (!h->hp_fl_map)
		return 0;

	/* Classes partition sizes, so the largest free chunk is on the list
	 * of the highest non-empty class; only that list is read.  Against a
	 * live heap read without the lock every step is validated, and a
	 * list that no longer matches the snapshot means "try again". */
	fl = log2_floor(h->hp_fl_map);
	if (fl >= h->hp_fl_count || !h->hp_sl_map[fl])
		goto changed;
	sl = log2_floor(h->hp_sl_map[fl]);
	rc = rd(ctx, slot_of(h, fl, sl), &node, sizeof(node));
	if (rc < 0)
		return rgn_fail(rc, "heap stat: reading list head %u.%u", fl,
				sl);
	while (node) {
		if (++seen > h->hp_free_chunks || node < h->hp_first ||
		    node >= h->hp_end || (node & (ALIGN - 1)) != HDR)
			goto changed;
		rc = rd(ctx, node, word, sizeof(word));
		if (rc < 0)
			return rgn_fail(
				rc,
				"heap stat: reading chunk at offset %" PRIu64,
				node);
		size = word[0] & CH_SIZE_MASK;
		class_of(size, &cfl, &csl);
		if (word[0] != (size | CH_FREE | CH_TAG) || cfl != fl ||
		    csl != sl)
			goto changed;
		if (size > largest)
			largest = size;
		node = word[1];
	}
	if (!largest)
		goto changed;
	st->largest_free = largest;
	return 0;

changed:
	return rgn_fail(-EAGAIN,
			"heap stat: the heap changed while it was read");
}
