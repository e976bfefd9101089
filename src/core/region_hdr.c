/*
 * region_hdr.c - the header every region and segment starts with: stamped
 * at create, checked before anything in it is trusted.  Its own file
 * because the backings (judging storage before removing it), the region
 * code and the environment code all need it, and none of them should need
 * each other for it.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "env.h"
#include "internal.h"
#include "proc.h"
#include "region_hdr.h"

int rgn_check_region_hdr(const struct rgn_shm_region *rh, uint64_t env_id,
			 uint32_t id, uint64_t size)
{
	if (rh->rh_magic != RGN_REGION_MAGIC)
		return rgn_fail(RGN_EBADMAGIC,
				"region %u: magic 0x%08x, expected 0x%08x", id,
				rh->rh_magic, RGN_REGION_MAGIC);
	if (rh->rh_format != RGN_FORMAT)
		return rgn_fail(RGN_EVERSION,
				"region %u has format %u; this library reads "
				"format %u",
				id, rh->rh_format, RGN_FORMAT);
	if (rh->rh_hdr_size != RGN_HDR_SIZE || rh->rh_id != id ||
	    rh->rh_env_id != env_id || (size && rh->rh_size != size))
		return rgn_fail(RGN_ECORRUPT,
				"region %u: header names region %u of "
				"environment %016llx",
				id, rh->rh_id,
				(unsigned long long)rh->rh_env_id);
	return 0;
}

void rgn_init_region_hdr(struct rgn_env *env, struct rgn_shm_region *rh,
			 uint32_t id, enum rgn_region_type type, uint64_t size,
			 const char *name, int32_t key)
{
	rh->rh_format = RGN_FORMAT;
	rh->rh_hdr_size = RGN_HDR_SIZE;
	rh->rh_id = id;
	rh->rh_env_id = env->env_id;
	rh->rh_size = size;
	rh->rh_type = type;
	rh->rh_creator_pid = rgn_self_pid();
	rh->rh_creator_start = rgn_self_start();
	rh->rh_ctime = time(NULL);
	rh->rh_key = key;
	rh->rh_backing = env->backing;
	snprintf(rh->rh_name, sizeof(rh->rh_name), "%s", name);
	snprintf(rh->rh_boot_id, sizeof(rh->rh_boot_id), "%s", rgn_boot_id());
	snprintf(rh->rh_home, sizeof(rh->rh_home), "%s", env->home);
	/* rh_magic is stored last by the caller, with release ordering. */
}

void rgn_region_copy(void *buf, const uint8_t *base, uint64_t size, size_t len,
		     uint64_t off)
{
	const size_t home = offsetof(struct rgn_shm_region, rh_home);
	uint64_t end = off + len, zlo, zhi;
	uint8_t *out = buf;

	/* A region smaller than its header is not ours: plain bytes. */
	if (size < RGN_HDR_SIZE || end <= home || off >= RGN_HDR_SIZE) {
		memcpy(out, base + off, len);
		return;
	}
	/* [zlo, zhi): the part of the unwritten tail asked for. */
	zlo = home + strnlen((const char *)base + home, RGN_HOME_MAX - 1) + 1;
	zlo = zlo > off ? zlo : off;
	zhi = end < RGN_HDR_SIZE ? end : RGN_HDR_SIZE;
	if (zlo >= zhi) {
		memcpy(out, base + off, len);
		return;
	}
	memcpy(out, base + off, zlo - off);
	memset(out + (zlo - off), 0, zhi - zlo);
	memcpy(out + (zhi - off), base + zhi, end - zhi);
}

void rgn_init_file_record(const struct rgn_env *env, int32_t shmid,
			  uint64_t size, int64_t ctime,
			  struct rgn_file_record *fr)
{
	*fr = (struct rgn_file_record){
		.fr_magic = RGN_RECORD_MAGIC,
		.fr_format = RGN_FORMAT,
		.fr_backing = env->backing,
		.fr_flags = env->env_flags,
		.fr_shm_key = env->shm_key,
		.fr_shmid = shmid,
		.fr_env_id = env->env_id,
		.fr_size = size,
		.fr_ctime = ctime,
	};
}
