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
 */
#include <inttypes.h>
#include <string.h>

#include "alloc.h"
#include "internal.h"

_Static_assert(sizeof(struct rgn_heap) < 1024, "heap header must stay small");
_Static_assert(RGN_HEAP_MAX_ARENA <= ((uint64_t)1 << 40),
	       "RGN_HEAP_FL_MAX covers chunks below 2^40 bytes");

/*
 * The chunk header word:
 *   bit 0       CH_FREE       this chunk is free
 *   bit 1       CH_PREV_FREE  the chunk before is free, so its footer is valid
 *   bits 2-3    zero
 *   bits 4-47   chunk size in bytes, header included, a multiple of 16
 *   bits 48-53  live chunk: log2 of the requested size (histogram bucket),
 *               kept because the chunk size cannot give it back exactly
 *   bits 54-55  zero
 *   bits 56-63  CH_TAG, so that free() can reject a non-header cheaply
 * A free chunk's body holds the next and previous chunk of its free list at
 * +8 and +16 (offsets, 0 ends the list) and its size in the last 8 bytes.
 */
#define CH_FREE		((uint64_t)1)
#define CH_PREV_FREE	((uint64_t)2)
#define CH_SIZE_MASK	((uint64_t)0x0000fffffffffff0)
#define CH_BUCKET_SHIFT 48
#define CH_BUCKET_MASK	((uint64_t)0x3f << CH_BUCKET_SHIFT)
#define CH_TAG		((uint64_t)0xa5 << 56)
#define CH_TAG_MASK	((uint64_t)0xff << 56)
#define CH_RESERVED	(((uint64_t)3 << 54) | (uint64_t)0xc)

#define HDR	   8u  /* header bytes in front of every block */
#define ALIGN	   16u /* block alignment and size granule */
#define ALIGN_LOG2 4u  /* log2(ALIGN) */
#define MIN_CHUNK  32u /* header, two links and a footer */
#define NEXT	   8u  /* free chunk: offset of the next-link word */
#define PREV	   16u /* free chunk: offset of the prev-link word */
#define SL_LOG2	   5u  /* 32 second-level classes per power of two */
#define SL_COUNT   (1u << SL_LOG2)
#define SMALL_LOG2 8u /* class 0 is linear: sizes below 2^(8+1) */
/* The word between the heads table and the first chunk. */
#define GUARD ((uint64_t)0x4452415547504e52)

/* Arena words are read and written with memcpy: one mov after inlining,
 * and no alignment or aliasing assumptions about BASE. */
static inline uint64_t get64(const uint8_t *base, uint64_t off)
{
	uint64_t v;

	memcpy(&v, base + off, sizeof(v));
	return v;
}

static inline void put64(uint8_t *base, uint64_t off, uint64_t v)
{
	memcpy(base + off, &v, sizeof(v));
}

/*
 * The holder may die at any instruction, so stores must reach memory in
 * program order around the points that matter.  The CPU already keeps them
 * (the memory is coherent, and the kernel's robust-futex hand-off orders
 * them for the next holder); a signal fence stops the compiler from moving
 * them, and costs no instruction.
 */
#define ORDER() __atomic_signal_fence(__ATOMIC_SEQ_CST)

/* The one store that changes the chunk sequence of an operation. */
static inline void commit(uint8_t *base, uint64_t off, uint64_t v)
{
	ORDER();
	put64(base, off, v);
	ORDER();
}

/* pending before busy: a set busy marker always names the current chunk. */
static inline void op_begin(struct rgn_heap *h, uint32_t op, uint64_t chunk)
{
	h->hp_pending = chunk;
	ORDER();
	h->hp_busy = op;
	ORDER();
}

static inline void op_end(struct rgn_heap *h)
{
	ORDER();
	h->hp_busy = 0;
}

static inline unsigned log2_floor(uint64_t v)
{
	return 63u - (unsigned)__builtin_clzll(v);
}

/* Bytes of chunk a request of SIZE bytes needs (SIZE below 2^48). */
static inline uint64_t chunk_need(uint64_t size)
{
	uint64_t need = (size + HDR + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);

	return need < MIN_CHUNK ? MIN_CHUNK : need;
}

/*
 * Width of the class SIZE falls in, as a shift.  Classes below 2^9 are 16
 * bytes wide (class 0 is linear); above, each power of two is split in 32.
 * Computed without a branch: the workload mixes small and large sizes, and
 * a mispredicted size test would cost more than the arithmetic.
 */
static inline unsigned class_shift(uint64_t size, unsigned *t)
{
	unsigned lg = log2_floor(size | ((uint64_t)1 << SMALL_LOG2));
	unsigned shift = lg - SL_LOG2;

	*t = lg;
	return shift < ALIGN_LOG2 ? ALIGN_LOG2 : shift;
}

/* The class a free chunk of SIZE bytes is filed under. */
static inline void class_of(uint64_t size, unsigned *fl, unsigned *sl)
{
	unsigned t, shift = class_shift(size, &t);

	*fl = t - SMALL_LOG2;
	*sl = (unsigned)(size >> shift) & (SL_COUNT - 1);
}

/* The first class whose every chunk holds NEED bytes. */
static inline void class_for(uint64_t need, unsigned *fl, unsigned *sl)
{
	unsigned t, shift = class_shift(need, &t);

	class_of(need + ((uint64_t)1 << shift) - 1, fl, sl);
}

static inline uint64_t slot_of(const struct rgn_heap *h, unsigned fl,
			       unsigned sl)
{
	return h->hp_arena_off + (((uint64_t)fl << SL_LOG2) | sl) * 8;
}

/* File free chunk C of SIZE bytes at the head of its class's list. */
static void list_insert(struct rgn_heap *h, uint8_t *base, uint64_t c,
			uint64_t size)
{
	unsigned fl, sl;
	uint64_t slot, head;

	class_of(size, &fl, &sl);
	slot = slot_of(h, fl, sl);
	head = get64(base, slot);
	put64(base, c + NEXT, head);
	put64(base, c + PREV, 0);
	if (head)
		put64(base, head + PREV, c);
	put64(base, slot, c);
	h->hp_sl_map[fl] |= 1u << sl;
	h->hp_fl_map |= 1u << fl;
}

/* Take free chunk C of SIZE bytes off its list, wherever it is in it. */
static void list_unlink(struct rgn_heap *h, uint8_t *base, uint64_t c,
			uint64_t size)
{
	uint64_t next = get64(base, c + NEXT), prev = get64(base, c + PREV);
	unsigned fl, sl;

	if (next)
		put64(base, next + PREV, prev);
	if (prev) {
		put64(base, prev + NEXT, next);
		return;
	}
	class_of(size, &fl, &sl);
	put64(base, slot_of(h, fl, sl), next);
	if (!next) {
		h->hp_sl_map[fl] &= ~(1u << sl);
		if (!h->hp_sl_map[fl])
			h->hp_fl_map &= ~(1u << fl);
	}
}

int rgn_heap_init(struct rgn_heap *h, uint8_t *base, uint64_t arena_off,
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
	memset(base + arena_off, 0, table);
	put64(base, first - HDR, GUARD);
	put64(base, first, span | CH_FREE | CH_TAG);
	put64(base, end - 8, span);
	put64(base, end, CH_TAG | CH_PREV_FREE);
	list_insert(h, base, first, span);
	h->hp_used = len - span;
	h->hp_free = span;
	h->hp_free_chunks = 1;
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
	h->hp_nfail++;
	return rgn_fail(-ENOMEM,
			"heap alloc of %" PRIu64
			" bytes: no free chunk fits (%" PRIu64
			" bytes free in %" PRIu64 " chunks)",
			size, h->hp_free, h->hp_free_chunks);
}

int rgn_heap_alloc(struct rgn_heap *h, uint8_t *base, uint64_t size,
		   uint64_t *offp)
{
	uint64_t need, c, next, slot;
	uint32_t slmap, flmap;
	unsigned fl, sl;

	if (size == 0)
		return rgn_fail(-EINVAL, "heap alloc: size 0");
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

	if (live_block(h, base, off, &hdr))
		return 0;
	return (hdr & CH_SIZE_MASK) - HDR;
}

/* ---- verification and repair --------------------------------------------- */

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
	if (get64(base, h->hp_first - HDR) != GUARD)
		return rgn_fail(RGN_ECORRUPT,
				"heap: guard word at offset %" PRIu64
				" overwritten (heads table overrun?)",
				h->hp_first - HDR);
	return 0;
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
					    "at offset %" PRIu64 " of %" PRIu64
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

int rgn_heap_check(const struct rgn_heap *h, const uint8_t *base)
{
	struct walk w;
	int rc;

	rc = check_fixed(h, base);
	if (rc)
		return rc;
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
	if (!h->hp_busy)
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
			    rc, "heap stat: reading chunk at offset %" PRIu64,
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
