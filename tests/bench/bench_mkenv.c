/*
 * bench_mkenv.c - make an environment for the FUSE benchmarks:
 *
 *   bench_mkenv HOME NREGIONS SIZE
 *
 * creates a files-backed environment in HOME with NREGIONS regions
 * ("r1", "r2", ...; __db.002 onwards) of SIZE bytes each, fills most of
 * the first one (one allocated block) so that reading it reads real data,
 * and closes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rgn.h"

int main(int argc, char **argv)
{
	struct rgn_env_config cfg;
	unsigned long long size;
	rgn_env *env;
	rgn_region *r;
	char name[32];
	long n;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: bench_mkenv HOME NREGIONS SIZE\n");
		return 2;
	}
	n = strtol(argv[2], NULL, 10);
	size = strtoull(argv[3], NULL, 10);
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE | RGN_EXCL;
	rc = rgn_env_open(argv[1], &cfg, &env);
	if (rc < 0) {
		fprintf(stderr, "bench_mkenv: create %s: %s (%s)\n", argv[1],
			rgn_strerror(rc), rgn_errdetail());
		return 1;
	}
	for (long i = 1; i <= n; i++) {
		snprintf(name, sizeof(name), "r%ld", i);
		rc = rgn_region_create(env, name, RGN_TYPE_USER, size, &r);
		if (rc < 0) {
			fprintf(stderr, "bench_mkenv: region %s: %s (%s)\n",
				name, rgn_strerror(rc), rgn_errdetail());
			rgn_env_close(env);
			return 1;
		}
		if (i == 1 && size > 2 * RGN_REGION_MIN) {
			uint64_t len = size - RGN_REGION_MIN, off;

			rc = rgn_alloc(r, len, &off);
			if (rc == 0)
				memset(rgn_ptr(r, off), 0x5a, len);
		}
		rgn_region_detach(r);
	}
	rc = rgn_env_close(env);
	if (rc < 0) {
		fprintf(stderr, "bench_mkenv: close: %s\n", rgn_strerror(rc));
		return 1;
	}
	return 0;
}
