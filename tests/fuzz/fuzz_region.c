/*
 * fuzz_region.c - a region's header and the allocator inside it, on a
 * buffer exactly as large as the region claims to be (so AddressSanitizer
 * sees any read past its end, as a mapping would fault there).
 *
 * The input is a byte N, N bytes of a script of allocator operations, and
 * then the region's windows (fuzz.h).  What must hold:
 *  - rgn_check_region_hdr accepts only a header with our magic, format,
 *    header size, the id and env id asked for and the region's size, and
 *    says RGN_EBADMAGIC for a wrong magic;
 *  - on a heap rgn_heap_check accepts, rgn_heap_stat succeeds with the
 *    header's figures, and any script of alloc, free and usable keeps it
 *    accepted, hands out aligned blocks inside the arena, never the same
 *    block twice, and frees what it handed out;
 *  - rgn_heap_repair of a heap interrupted mid-operation either fails or
 *    leaves a heap rgn_heap_check accepts; it never writes outside the
 *    region;
 *  - a heap accepted while flagged untouched (its arena not written yet)
 *    is exactly the heap rgn_heap_init makes over the same bytes: one
 *    alloc on each gives the same block and the same image, but for the
 *    flag; until that alloc nothing writes its arena.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "fuzz.h"
#include "layout.h"
#include "region_hdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* The heap calls trust the arena the header names; the region code runs
 * them only after rgn_heap_fits() says the arena lies inside the region
 * (finding F1 in README.md, now fixed), and so does this target.  The
 * check itself sees every input. */
static int arena_inside(const struct rgn_heap *h, uint64_t size)
{
	return rgn_heap_fits(h, RGN_HDR_SIZE, size) == 0;
}

static void check_header(const struct rgn_shm_region *rh, uint64_t size)
{
	int rc = rgn_check_region_hdr(rh, rh->rh_env_id, rh->rh_id, size);

	FZ_CHECK(rc == 0 || rc == RGN_EBADMAGIC || rc == RGN_EVERSION ||
			 rc == RGN_ECORRUPT,
		 "rgn_check_region_hdr returned %d", rc);
	if (rh->rh_magic != RGN_REGION_MAGIC)
		FZ_CHECK(rc == RGN_EBADMAGIC, "bad magic gave %d", rc);
	if (rc == 0)
		FZ_CHECK(rh->rh_format == RGN_FORMAT &&
				 rh->rh_hdr_size == RGN_HDR_SIZE &&
				 rh->rh_size == size,
			 "accepted format %u hdr %u size %llu of %llu",
			 rh->rh_format, rh->rh_hdr_size,
			 (unsigned long long)rh->rh_size,
			 (unsigned long long)size);
	/* Another environment's, another id: never accepted. */
	rc = rgn_check_region_hdr(rh, rh->rh_env_id ^ 1, rh->rh_id, size);
	FZ_CHECK(rc < 0, "a header accepted for another environment");
	rc = rgn_check_region_hdr(rh, rh->rh_env_id, rh->rh_id + 1, size);
	FZ_CHECK(rc < 0, "a header accepted for another region id");
}

struct span {
	const uint8_t *base;
	uint64_t size;
};

static int read_span(void *ctx, uint64_t off, void *buf, size_t len)
{
	const struct span *s = ctx;

	if (off > s->size || len > s->size - off)
		return -EFAULT;
	memcpy(buf, s->base + off, len);
	return 0;
}

static void check_stat(const struct rgn_heap *h, const uint8_t *base,
		       uint64_t size)
{
	struct span s = {base, size};
	struct rgn_alloc_stat st;
	int rc = rgn_heap_stat(h, read_span, &s, &st);

	FZ_CHECK(rc == 0, "stat of a checked heap: %d (%s)", rc,
		 rgn_errdetail());
	FZ_CHECK(st.used_bytes == h->hp_used && st.free_bytes == h->hp_free &&
			 st.live_blocks == h->hp_live &&
			 st.free_chunks == h->hp_free_chunks,
		 "stat figures differ from the header");
	FZ_CHECK(st.used_bytes + st.free_bytes == h->hp_arena_len,
		 "used %llu + free %llu != arena %llu",
		 (unsigned long long)st.used_bytes,
		 (unsigned long long)st.free_bytes,
		 (unsigned long long)h->hp_arena_len);
	FZ_CHECK(st.largest_free <= st.free_bytes &&
			 (st.largest_free > 0) == (st.free_chunks > 0),
		 "largest free %llu of %llu free in %llu chunks",
		 (unsigned long long)st.largest_free,
		 (unsigned long long)st.free_bytes,
		 (unsigned long long)st.free_chunks);
}

/*
 * H, accepted and flagged untouched, against its eager twin: rgn_heap_init
 * over a copy of the same image (the arena's bytes included: the first
 * alloc must write all that init writes, whatever was there).  WANT bytes
 * are allocated from each.  Works on copies; IMG is left as it was.
 */
static void check_untouched(const uint8_t *img, uint64_t size, uint64_t want)
{
	const size_t hoff = offsetof(struct rgn_shm_region, rh_heap);
	const struct rgn_heap *h = (const void *)(img + hoff);
	uint8_t *lazy = malloc(size), *eager = malloc(size);
	struct rgn_heap *hl, *he;
	uint64_t ol = 0, oe = 0;
	int rl, re;

	if (!lazy || !eager)
		goto out;
	memcpy(lazy, img, size);
	memcpy(eager, img, size);
	hl = (void *)(lazy + hoff);
	he = (void *)(eager + hoff);
	rl = rgn_heap_init(he, eager, h->hp_arena_off, h->hp_arena_len);
	FZ_CHECK(rl == 0, "init refused an accepted untouched heap's arena: %s",
		 rgn_errdetail());
	he->hp_nfail = h->hp_nfail;
	he->hp_untouched = 1;
	FZ_CHECK(memcmp(he, hl, sizeof(*he)) == 0,
		 "untouched header differs from init's");
	he->hp_untouched = 0;
	rl = rgn_heap_alloc(hl, lazy, want, &ol);
	re = rgn_heap_alloc(he, eager, want, &oe);
	FZ_CHECK(rl == re && ol == oe,
		 "alloc of %llu: untouched gave %d at %llu, init's %d at %llu",
		 (unsigned long long)want, rl, (unsigned long long)ol, re,
		 (unsigned long long)oe);
	if (rl)
		FZ_CHECK(hl->hp_untouched == 1 && memcmp(lazy + h->hp_arena_off,
							 img + h->hp_arena_off,
							 h->hp_arena_len) == 0,
			 "a failed alloc wrote the untouched arena");
	else
		FZ_CHECK(hl->hp_untouched == 0 &&
				 memcmp(lazy, eager, size) == 0,
			 "the first alloc's image differs from init's");
out:
	free(lazy);
	free(eager);
}

#define MAX_BLOCKS 64

/* Run the script S on a heap rgn_heap_check accepted. */
static void run_script(struct rgn_heap *h, uint8_t *base, uint64_t size,
		       const uint8_t *s, size_t n)
{
	uint64_t blocks[MAX_BLOCKS];
	size_t nb = 0;

	for (size_t i = 0; i + 3 <= n; i += 3) {
		uint32_t arg = (uint32_t)s[i + 1] | (uint32_t)s[i + 2] << 8;
		uint64_t off;
		int rc;

		switch (s[i] % 4) {
		case 0: /* alloc a small size, or a large one */
		case 1: {
			uint64_t want = s[i] & 0x80 ? (uint64_t)arg << 4 : arg;

			rc = rgn_heap_alloc(h, base, want, &off);
			if (want == 0) {
				FZ_CHECK(rc == -EINVAL, "alloc(0) gave %d", rc);
				break;
			}
			FZ_CHECK(rc == 0 || rc == -ENOMEM, "alloc gave %d", rc);
			if (rc)
				break;
			FZ_CHECK(
				off % 16 == 0 && off >= h->hp_first &&
					off + want <= h->hp_end,
				"block %llu of %llu bytes outside [%llu, %llu)",
				(unsigned long long)off,
				(unsigned long long)want,
				(unsigned long long)h->hp_first,
				(unsigned long long)h->hp_end);
			FZ_CHECK(rgn_heap_usable(h, base, off) >= want,
				 "usable below the request");
			for (size_t b = 0; b < nb; b++)
				FZ_CHECK(blocks[b] != off,
					 "block %llu handed out twice",
					 (unsigned long long)off);
			/* The block is the caller's to scribble on. */
			memset(base + off, 0x5a, want);
			if (nb < MAX_BLOCKS)
				blocks[nb++] = off;
			break;
		}
		case 2: /* free one of ours */
			if (!nb)
				break;
			off = blocks[arg % nb];
			blocks[arg % nb] = blocks[nb - 1];
			nb--;
			rc = rgn_heap_free(h, base, off);
			FZ_CHECK(rc == 0, "free of our block %llu gave %d (%s)",
				 (unsigned long long)off, rc, rgn_errdetail());
			break;
		case 3: /* an offset that cannot be a block: misaligned, or
			   outside the chunks; one that could be is left
			   alone, as a forged header inside a block would
			   fool any allocator */
			off = (uint64_t)arg << 3;
			if (off % 16 == 0 && off >= h->hp_first &&
			    off < h->hp_end)
				continue;
			rc = rgn_heap_free(h, base, off);
			FZ_CHECK(rc == -EINVAL, "free of %llu gave %d",
				 (unsigned long long)off, rc);
			break;
		}
		rc = rgn_heap_check(h, base);
		FZ_CHECK(rc == 0, "heap broken by op %u at %zu: %s", s[i] % 4,
			 i, rgn_errdetail());
	}
	check_stat(h, base, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct fz_window w[4];
	size_t nscript = len ? data[0] : 0, nw;
	const uint8_t *script = data + 1;
	uint64_t size;
	uint8_t *img;
	struct rgn_shm_region *rh;
	struct rgn_heap *h;
	int rc;

	if (len < 1 + nscript)
		return 0;
	data += 1 + nscript;
	len -= 1 + nscript;
	size = fz_region_size(data, len);
	nw = fz_region_windows(size, w);
	img = calloc(1, size);
	if (!img)
		return 0;
	rh = (void *)img;
	h = &rh->rh_heap;
	fz_scatter(w, nw, data, len, img);
	check_header(rh, size);
	if (!arena_inside(h, size))
		goto out;
	rc = rgn_heap_check(h, img);
	FZ_CHECK(rc == 0 || rc == RGN_ECORRUPT, "heap check gave %d", rc);
	if (rc == 0) {
		check_stat(h, img, size);
		if (h->hp_untouched)
			check_untouched(img, size,
					nscript >= 2
						? (uint64_t)script[0] << 8 |
							  script[1]
						: 100);
		run_script(h, img, size, script, nscript);
	} else if (h->hp_busy) {
		rc = rgn_heap_repair(h, img);
		FZ_CHECK(rc == 0 || rc == RGN_ECORRUPT, "repair gave %d", rc);
		if (rc == 0) {
			FZ_CHECK(rgn_heap_check(h, img) == 0,
				 "repair said 0 but the check says %s",
				 rgn_errdetail());
			check_stat(h, img, size);
		}
	}
out:
	free(img);
	return 0;
}
