/*
 * backing_heap.c - private regions in this process's memory.
 *
 * No file and no segment: the memory is anonymous and private to the one
 * handle that may open a private environment (env.c enforces "one").
 * Anonymous mappings rather than malloc: they come zeroed and page-aligned
 * like the other backings, and are returned to the system on destroy.
 */
#include <string.h>
#include <sys/mman.h>

#include "backing.h"
#include "env.h"
#include "internal.h"

static int heap_create(struct rgn_env *env, uint32_t id, uint64_t size,
		       struct rgn_map *map)
{
	void *base = mmap(NULL, size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (base == MAP_FAILED)
		return rgn_fail(-errno, "allocate %llu bytes for region %u",
				(unsigned long long)size, id);
	env->heap_mem[id - 1] = base;
	map->base = base;
	map->size = size;
	map->shmid = -1;
	map->key = 0;
	map->rdonly = 0;
	return 0;
}

static int heap_publish(struct rgn_env *env, struct rgn_map *map)
{
	(void)env;
	(void)map;
	return 0;
}

static void heap_discard(struct rgn_env *env, uint32_t id, struct rgn_map *map)
{
	if (map->base)
		munmap(map->base, map->size);
	map->base = NULL;
	env->heap_mem[id - 1] = NULL;
}

static int heap_attach(struct rgn_env *env, const struct rgn_shm_slot *slot,
		       int rdonly, struct rgn_map *map)
{
	uint8_t *base = env->heap_mem[slot->sl_id - 1];

	if (!base)
		return rgn_fail(-ENOENT, "private region %u has no memory",
				slot->sl_id);
	map->base = base;
	map->size = slot->sl_size;
	map->shmid = -1;
	map->key = 0;
	map->rdonly = rdonly;
	return 0;
}

static void heap_detach(struct rgn_env *env, struct rgn_map *map)
{
	/* The memory belongs to the environment until destroy. */
	(void)env;
	map->base = NULL;
}

static int heap_destroy(struct rgn_env *env, const struct rgn_shm_slot *slot)
{
	uint8_t *base = env->heap_mem[slot->sl_id - 1];

	if (!base)
		return -ENOENT;
	munmap(base, slot->sl_size);
	env->heap_mem[slot->sl_id - 1] = NULL;
	return 0;
}

static int heap_read_open(struct rgn_env *env, const struct rgn_shm_slot *slot,
			  struct rgn_reader *rd)
{
	const uint8_t *base = env->heap_mem[slot->sl_id - 1];

	if (!base)
		return -ENOENT;
	rd->base = base;
	rd->size = slot->sl_size;
	return 0;
}

static void heap_read_close(struct rgn_reader *rd)
{
	rd->base = NULL;
}

const struct rgn_backing_ops rgn_backing_heap = {
	.name = "private",
	.create = heap_create,
	.publish = heap_publish,
	.discard = heap_discard,
	.attach = heap_attach,
	.detach = heap_detach,
	.destroy = heap_destroy,
	.read_open = heap_read_open,
	.read_at = rgn_reader_copy,
	.read_close = heap_read_close,
	.pread = rgn_backing_pread,
};
