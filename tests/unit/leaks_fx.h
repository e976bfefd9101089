/*
 * leaks_fx.h - what the leak scanner's tests (test_leaks.c,
 * test_leaks_claims.c) both need: a system-memory environment made at a
 * key, and the verdict a scan gave the segment at a key.  Static inline,
 * like alloc_fx.h.
 */
#ifndef RGN_LEAKS_FX_H
#define RGN_LEAKS_FX_H

#include <stddef.h>
#include <stdint.h>

#include "leaks.h"
#include "rgn.h"
#include "testutil.h"

/* A system-memory environment created at base KEY in HOME; fails the test
 * if it cannot be. */
static inline rgn_env *open_sysv(const char *home, int32_t key)
{
	struct rgn_env_config cfg;
	rgn_env *env;

	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	cfg.backing = RGN_BACKING_SYSV;
	cfg.shm_key = key;
	tu_ok(rgn_env_open(home, &cfg, &env));
	return env;
}

/* The verdict of scan S on the segment at KEY (fails the test if none). */
static inline const struct rgn_leak *seg_at(const struct rgn_leak_scan *s,
					    int32_t key)
{
	for (size_t i = 0; i < s->nsegs; i++)
		if (s->segs[i].key == key)
			return &s->segs[i];
	fail_msg("no segment at key 0x%08x", (unsigned)key);
	return NULL;
}

#endif /* RGN_LEAKS_FX_H */
