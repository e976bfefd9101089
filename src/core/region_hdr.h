/*
 * region_hdr.h - stamp and check the common header of a region or segment
 * (struct rgn_shm_region in layout.h).
 */
#ifndef RGN_REGION_HDR_H
#define RGN_REGION_HDR_H

#include <stdint.h>

#include "layout.h"
#include "rgn.h"

struct rgn_env;

/* Check a region header read from storage against what the table says
 * (SIZE 0: any size).  Returns 0, RGN_EBADMAGIC, RGN_EVERSION or
 * RGN_ECORRUPT with a detail. */
int rgn_check_region_hdr(const struct rgn_shm_region *rh, uint64_t env_id,
			 uint32_t id, uint64_t size);

/* Fill the common region header at create from ENV's identity (magic is
 * left for the caller to store last, with release ordering). */
void rgn_init_region_hdr(struct rgn_env *env, struct rgn_shm_region *rh,
			 uint32_t id, enum rgn_region_type type, uint64_t size,
			 const char *name, int32_t key);

/*
 * Copy LEN bytes at OFF of a mapped region (BASE, SIZE bytes; OFF + LEN at
 * most SIZE) into BUF, serving the header's tail after the home path's NUL
 * as the zeros it is by construction (rgn_init_region_hdr writes the path
 * alone into zeroed storage) instead of reading it.  Reading a segment's
 * page that nobody wrote allocates it, so a stat or scan that copied the
 * whole header would grow every segment it looked at by that page.  A
 * region smaller than a header is not ours: its bytes are copied as they
 * are.
 */
void rgn_region_copy(void *buf, const uint8_t *base, uint64_t size, size_t len,
		     uint64_t off);

/* The record of a segment-backed primary (SHMID, SIZE, CTIME its header's)
 * that __db.001 publishes and __db.lck keeps a copy of: made here alone,
 * so the copy compares equal to what was published. */
void rgn_init_file_record(const struct rgn_env *env, int32_t shmid,
			  uint64_t size, int64_t ctime,
			  struct rgn_file_record *fr);

#endif /* RGN_REGION_HDR_H */
