/*
 * mkseed.c - cut real files (or a real segment) down to seeds for the
 * targets: each target reads a few windows of a large image (fuzz.h), so
 * a seed is those windows gathered out of what the library or Berkeley DB
 * really wrote, with trailing zeros of the arena left out.  mkcorpus.sh
 * runs it; it is not a fuzz target and needs no libFuzzer.
 *
 *   mkseed primary PRIMARY_FILE REGION_FILE OUT
 *   mkseed region  REGION OUT
 *   mkseed leakhdr REGION OUT [@]   (@: the home path becomes "@")
 *   mkseed bdb     BDB_FILE OUT
 *   mkseed record  RECORD OUT      (the env id becomes all ones, which
 *                                   fuzz_record reads as its own)
 * REGION is a file, or shm:SHMID for a segment (attached read-only).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>

#include "bdb.h"
#include "fuzz.h"
#include "layout.h"

static uint8_t *load(const char *spec, size_t *lenp)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;
	FILE *f;

	if (strncmp(spec, "shm:", 4) == 0) {
		int id = atoi(spec + 4);
		struct shmid_ds ds;
		void *p;

		if (shmctl(id, IPC_STAT, &ds) < 0 ||
		    (p = shmat(id, NULL, SHM_RDONLY)) == (void *)-1) {
			fprintf(stderr, "mkseed: segment %d: %s\n", id,
				strerror(errno));
			exit(1);
		}
		buf = malloc(ds.shm_segsz);
		if (!buf)
			exit(1);
		memcpy(buf, p, ds.shm_segsz);
		shmdt(p);
		*lenp = ds.shm_segsz;
		return buf;
	}
	f = fopen(spec, "rb");
	if (!f) {
		fprintf(stderr, "mkseed: %s: %s\n", spec, strerror(errno));
		exit(1);
	}
	do {
		if (len == cap) {
			cap = cap ? 2 * cap : 65536;
			buf = realloc(buf, cap);
			if (!buf)
				exit(1);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	*lenp = len;
	return buf;
}

/* The region's windows out of IMG, into OUT at *USED, the arena head
 * cut after its last non-zero 16 bytes. */
static void gather_region(const uint8_t *img, size_t len, uint8_t *out,
			  size_t *used)
{
	struct fz_window w[4];
	uint64_t size = fz_region_size(img, len);
	size_t nw = fz_region_windows(size, w);
	struct fz_window *head = &w[nw - 1]; /* the arena's start */

	if (size != len) {
		fprintf(stderr, "mkseed: region of %zu bytes says %llu\n", len,
			(unsigned long long)size);
		exit(1);
	}
	while (head->len >= 16 && !memcmp(img + head->off + head->len - 16,
					  (const uint8_t[16]){0}, 16))
		head->len -= 16;
	*used += fz_gather(w, nw, img, len, out + *used);
}

int main(int argc, char **argv)
{
	static uint8_t out[1 << 20];
	size_t used = 0, len, len2;
	uint8_t *img, *img2;
	FILE *f;

	if (argc < 4) {
		fprintf(stderr, "usage: see the comment of mkseed.c\n");
		return 2;
	}
	img = load(argv[2], &len);
	if (strcmp(argv[1], "primary") == 0 && argc == 5) {
		struct fz_window w[4];
		size_t nw = fz_primary_windows(w);

		if (len < RGN_PRIMARY_BYTES) {
			fprintf(stderr, "mkseed: %s is no files primary\n",
				argv[2]);
			return 1;
		}
		used = fz_gather(w, nw, img, len, out);
		img2 = load(argv[3], &len2);
		gather_region(img2, len2, out, &used);
		free(img2);
	} else if (strcmp(argv[1], "region") == 0) {
		/* fuzz_region's script first: alloc 100, alloc 4000 (large),
		 * free one, alloc 16, free one, then a bad free. */
		static const uint8_t script[] = {0x00, 100, 0, 0x81, 250, 0,
						 0x02, 1,   0, 0x00, 16,  0,
						 0x02, 0,   0, 0x03, 1,	  0};

		out[0] = sizeof(script);
		memcpy(out + 1, script, sizeof(script));
		used = 1 + sizeof(script);
		gather_region(img, len, out, &used);
	} else if (strcmp(argv[1], "leakhdr") == 0) {
		const struct rgn_shm_region *rh = (const void *)img;
		size_t at = offsetof(struct rgn_shm_region, rh_home);

		if (len < sizeof(*rh))
			return 1;
		memcpy(out, img, at);
		if (argc == 5 && strcmp(argv[4], "@") == 0) {
			memcpy(out + at, "@", 2);
			used = at + 2;
		} else {
			used = at + strnlen(rh->rh_home, RGN_HOME_MAX - 1) + 1;
			memcpy(out + at, rh->rh_home, used - at - 1);
			out[used - 1] = '\0';
		}
	} else if (strcmp(argv[1], "record") == 0) {
		struct rgn_file_record fr;

		if (len != sizeof(fr))
			return 1;
		memcpy(&fr, img, sizeof(fr));
		fr.fr_env_id = UINT64_MAX;
		memcpy(out, &fr, sizeof(fr));
		used = sizeof(fr);
	} else if (strcmp(argv[1], "bdb") == 0) {
		struct rgn_bdb_regenv env;

		/* Up to the end of the region table, or the REGENV and its
		 * allocator, whichever is longer; the record form whole. */
		used = len;
		if (len != RGN_BDB_REF_LEN &&
		    rgn_bdb_decode_regenv(img, len, &env) == 0 && env.decoded) {
			used = RGN_BDB_REGENV_LEN + RGN_BDB_ALLOC_LEN;
			if (env.region_off + (uint64_t)env.region_cnt *
						     RGN_BDB_SLOT_LEN >
			    used)
				used = (size_t)(env.region_off +
						(uint64_t)env.region_cnt *
							RGN_BDB_SLOT_LEN);
			if (used > len)
				used = len;
		}
		if (used > sizeof(out))
			used = sizeof(out);
		memcpy(out, img, used);
	} else {
		fprintf(stderr, "mkseed: unknown kind %s\n", argv[1]);
		return 2;
	}
	free(img);
	f = fopen(argv[argc == 5 && strcmp(argv[1], "primary") == 0 ? 4 : 3],
		  "wb");
	if (!f || fwrite(out, 1, used, f) != used || fclose(f) != 0) {
		perror("mkseed: write");
		return 1;
	}
	return 0;
}
