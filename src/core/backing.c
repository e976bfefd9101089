/*
 * backing.c - what every backing shares: the selector that picks a table
 * once per environment, and the generic read helpers built on the
 * read_open / read_at / read_close operations.
 */
#include <string.h>

#include "backing.h"
#include "env.h"
#include "internal.h"
#include "region_hdr.h"

const struct rgn_backing_ops *rgn_backing_select(enum rgn_backing backing,
						 uint32_t rf_flags)
{
	if (backing == RGN_BACKING_PRIVATE)
		return &rgn_backing_heap;
	if (backing == RGN_BACKING_SYSV ||
	    (rf_flags & (RGN_RF_SYSV | RGN_RF_FALLBACK)))
		return &rgn_backing_sysv;
	return &rgn_backing_files;
}

int32_t rgn_no_key(const struct rgn_env *env, uint32_t id)
{
	(void)env;
	(void)id;
	return 0;
}

ssize_t rgn_reader_copy(struct rgn_reader *rd, void *buf, size_t len,
			uint64_t off)
{
	if (off >= rd->size)
		return 0;
	if (len > rd->size - off)
		len = (size_t)(rd->size - off);
	if (rd->exact)
		memcpy(buf, rd->base + off, len);
	else
		rgn_region_copy(buf, rd->base, rd->size, len, off);
	return (ssize_t)len;
}

ssize_t rgn_backing_pread(struct rgn_env *env, const struct rgn_shm_slot *slot,
			  void *buf, size_t len, uint64_t off, int exact)
{
	struct rgn_reader rd = {.ops = env->ops,
				.env = env,
				.id = slot->sl_id,
				.fd = -1,
				.exact = exact};
	ssize_t n;
	int rc = env->ops->read_open(env, slot, &rd);

	if (rc < 0)
		return rc;
	n = env->ops->read_at(&rd, buf, len, off);
	env->ops->read_close(&rd);
	return n;
}
