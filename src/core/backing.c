/*
 * backing.c - what every backing shares: the generic read helpers built
 * on the read_open / read_at / read_close operations.
 */
#include <string.h>

#include "backing.h"
#include "env.h"
#include "internal.h"

ssize_t rgn_reader_copy(struct rgn_reader *rd, void *buf, size_t len,
			uint64_t off)
{
	if (off >= rd->size)
		return 0;
	if (len > rd->size - off)
		len = (size_t)(rd->size - off);
	memcpy(buf, rd->base + off, len);
	return (ssize_t)len;
}

ssize_t rgn_backing_pread(struct rgn_env *env, const struct rgn_shm_slot *slot,
			  void *buf, size_t len, uint64_t off)
{
	struct rgn_reader rd = {
		.ops = env->ops, .env = env, .id = slot->sl_id, .fd = -1};
	ssize_t n;
	int rc = env->ops->read_open(env, slot, &rd);

	if (rc < 0)
		return rc;
	n = env->ops->read_at(&rd, buf, len, off);
	env->ops->read_close(&rd);
	return n;
}
