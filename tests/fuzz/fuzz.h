/*
 * fuzz.h - what the libFuzzer targets of tests/fuzz share: the check that
 * turns a broken invariant into a finding, a private scratch directory,
 * and the "windows" that spread a short fuzz input over the sparse image
 * of a region.
 *
 * Why windows: the primary region is 600 KB and a region header 8 KB, yet
 * the parsers read only a few hundred scattered bytes of them.  An input
 * that had to carry every byte would be mostly zeros that the fuzzer
 * mutates for nothing.  So each target declares the byte ranges of the
 * image that matter, the input fills them in order, and the rest of the
 * image stays zero.  mkseed.c gathers the same windows out of real files,
 * so the seeds are real environments, cut down to what is read.
 */
#ifndef RGN_FUZZ_H
#define RGN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A broken invariant is a finding: say which, and abort so libFuzzer keeps
 * the input as a crash artifact.  Not assert(): it must hold in every build.
 */
#define FZ_CHECK(cond, ...)                                                    \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr,                                        \
				"%s:%d: invariant broken: %s: ", __FILE__,     \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			fz_finding();                                          \
		}                                                              \
	} while (0)

/* Remove the run's scratch directory (atexit does not run on abort) and
 * abort. */
void fz_finding(void) __attribute__((noreturn));

/* A byte range of an image that an input fills. */
struct fz_window {
	size_t off; /* where in the image */
	size_t len; /* how many bytes at most */
};

/*
 * Copy IN over the windows of IMG in order, as far as IN goes; returns the
 * bytes of IN used.  The caller zeroed IMG (or the windows) before.
 */
static inline size_t fz_scatter(const struct fz_window *w, size_t nw,
				const uint8_t *in, size_t len, uint8_t *img)
{
	size_t used = 0;

	for (size_t i = 0; i < nw && used < len; i++) {
		size_t n = len - used < w[i].len ? len - used : w[i].len;

		memcpy(img + w[i].off, in + used, n);
		used += n;
	}
	return used;
}

/* The inverse, for seeds: the windows of IMG (LEN bytes) into OUT. */
static inline size_t fz_gather(const struct fz_window *w, size_t nw,
			       const uint8_t *img, size_t len, uint8_t *out)
{
	size_t used = 0;

	for (size_t i = 0; i < nw; i++) {
		size_t n = w[i].len;

		if (w[i].off >= len)
			break;
		if (n > len - w[i].off)
			n = len - w[i].off;
		memcpy(out + used, img + w[i].off, n);
		used += n;
	}
	return used;
}

/* Zero the windows of IMG, so one image serves every run. */
static inline void fz_clear(const struct fz_window *w, size_t nw, uint8_t *img)
{
	for (size_t i = 0; i < nw; i++)
		memset(img + w[i].off, 0, w[i].len);
}

/*
 * The windows of a region other than the primary (fz_image.c), in input
 * order: the header up to the home path (its fields, mutex and heap
 * header), the last 16 bytes of the arena (the last chunk's footer and
 * the end sentinel), and the start of the arena, last so that a seed can
 * leave out its trailing zeros.
 * The region's size is its header's rh_size when that is in
 * [FZ_REGION_MIN, FZ_REGION_MAX], else FZ_REGION_DEFAULT.
 */
#define FZ_REGION_MIN	  (8192u + 4096u)
#define FZ_REGION_MAX	  (1024u * 1024u)
#define FZ_REGION_DEFAULT (64u * 1024u)
#define FZ_ARENA_HEAD	  8192u /* most of a seed's arena lies here */

size_t fz_region_windows(uint64_t size, struct fz_window w[4]);
/* The size of the region whose header window is HDR (at least 8 bytes of
 * rh_size must be in it, else FZ_REGION_DEFAULT). */
uint64_t fz_region_size(const uint8_t *hdr, size_t len);

/* The primary's windows: header fields, environment header, the first
 * procs and slots of the registry and table. */
#define FZ_PRIMARY_PROCS 4
#define FZ_PRIMARY_SLOTS 8
size_t fz_primary_windows(struct fz_window w[4]);

/*
 * A directory of our own for the run (under $TMPDIR), removed at exit
 * with everything in it.  NULL when it cannot be made (the caller fails).
 */
const char *fz_tmpdir(void);

#endif /* RGN_FUZZ_H */
