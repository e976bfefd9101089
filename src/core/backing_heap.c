/*
 * backing_heap.c - private regions in this process's memory.
 *
 * No file and no segment: the memory is anonymous and private to the one
 * handle that may open a private environment (env.c enforces "one").
 * Anonymous mappings rather than malloc: they come zeroed and page-aligned
 * like the other backings.  Another thread of the process may be reading a
 * region (a stat, a pread) while one removes it, so a removed region's
 * memory is kept in a graveyard until the environment closes: a reader
 * sees old bytes, never an unmapped page.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "backing.h"
#include "env.h"
#include "internal.h"

static int heap_create(struct rgn_env *env, uint32_t id, uint64_t size,
		       uint64_t reserve, struct rgn_map *map)
{
	(void)reserve; /* memory: all of it is usable */
	void *base = mmap(NULL, size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (base == MAP_FAILED)
		return rgn_fail(-errno, "allocate %llu bytes for region %u",
				(unsigned long long)size, id);
	__atomic_store_n(&env->heap_mem[id - 1], base, __ATOMIC_RELEASE);
	*map = (struct rgn_map){.base = base, .size = size, .shmid = -1};
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

static uint8_t *heap_base(struct rgn_env *env, uint32_t id)
{
	return __atomic_load_n(&env->heap_mem[id - 1], __ATOMIC_ACQUIRE);
}

static int heap_attach(struct rgn_env *env, const struct rgn_shm_slot *slot,
		       int rdonly, struct rgn_map *map)
{
	uint8_t *base = heap_base(env, slot->sl_id);

	if (!base)
		return rgn_fail(-ENOENT, "private region %u has no memory",
				slot->sl_id);
	*map = (struct rgn_map){.base = base,
				.size = slot->sl_size,
				.shmid = -1,
				.rdonly = rdonly};
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
	uint8_t *base = heap_base(env, slot->sl_id);
	struct rgn_map *grave;
	int rc = 0;

	if (!base)
		return -ENOENT;
	pthread_mutex_lock(&env->lock);
	grave = realloc(env->heap_graveyard,
			(env->heap_ngrave + 1) * sizeof(*grave));
	if (grave) {
		env->heap_graveyard = grave;
		grave[env->heap_ngrave++] = (struct rgn_map){
			.base = base, .size = slot->sl_size, .shmid = -1};
		__atomic_store_n(&env->heap_mem[slot->sl_id - 1], NULL,
				 __ATOMIC_RELEASE);
	} else {
		rc = -ENOMEM;
	}
	pthread_mutex_unlock(&env->lock);
	return rc;
}

static int heap_read_open(struct rgn_env *env, const struct rgn_shm_slot *slot,
			  struct rgn_reader *rd)
{
	const uint8_t *base = heap_base(env, slot->sl_id);

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
	.region_key = rgn_no_key,
};
