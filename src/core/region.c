/*
 * region.c - creating, attaching, detaching and removing regions, and the
 * allocator and mutex calls on an attached region.
 *
 * A region's life is a slot in the primary's table moving FREE -> CREATING
 * -> READY -> REMOVING -> FREE under ev_mutex.  The slow part (allocating
 * storage) runs outside the mutex, with the slot naming its actor; a slot
 * left in transition by a dead actor is finished by the next create.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "env.h"
#include "internal.h"
#include "proc.h"
#include "region_hdr.h"

static const char *const type_names[] = {
	[RGN_TYPE_ENV] = "env",	    [RGN_TYPE_LOCK] = "lock",
	[RGN_TYPE_LOG] = "log",	    [RGN_TYPE_MPOOL] = "mpool",
	[RGN_TYPE_MUTEX] = "mutex", [RGN_TYPE_TXN] = "txn",
	[RGN_TYPE_USER] = "user",
};

const char *rgn_type_name(enum rgn_region_type type)
{
	if (type >= RGN_TYPE_ENV && type <= RGN_TYPE_USER)
		return type_names[type];
	return "unknown";
}

int rgn_type_parse(const char *name, enum rgn_region_type *type)
{
	for (int t = RGN_TYPE_ENV; t <= RGN_TYPE_USER; t++) {
		if (name && strcmp(name, type_names[t]) == 0) {
			*type = (enum rgn_region_type)t;
			return 0;
		}
	}
	return rgn_fail(-EINVAL, "unknown region type \"%s\"",
			name ? name : "");
}

static int check_name(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0)
		return rgn_fail(-EINVAL, "region name is empty");
	if (len > RGN_NAME_MAX)
		return rgn_fail(-ENAMETOOLONG,
				"region name is %zu bytes; at most %d", len,
				RGN_NAME_MAX);
	for (const char *p = name; *p; p++) {
		if (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return rgn_fail(-EINVAL,
					"region name \"%s\" has '/' or a "
					"control character",
					name);
	}
	return 0;
}

static int writable(struct rgn_env *env)
{
	if (env->flags & RGN_INSPECT)
		return rgn_fail(-EROFS, "%s is open for inspection only",
				env->home);
	return 0;
}

/*
 * A slot left CREATING or REMOVING by a process that died: its storage is
 * half made or half gone.  Finish the removal.  Called with ev_mutex held.
 */
static void reclaim_dead_slots(struct rgn_env *env)
{
	for (uint32_t i = 1; i < rgn_slot_hwm(env->shenv); i++) {
		struct rgn_shm_slot *sl = &env->slots[i];

		if (sl->sl_state != RGN_SLOT_CREATING &&
		    sl->sl_state != RGN_SLOT_REMOVING)
			continue;
		if (rgn_proc_alive(sl->sl_actor_pid, sl->sl_actor_start))
			continue;
		int rc = env->ops->destroy(env, sl);
		if (rc == 0 || rc == -ENOENT) {
			memset(sl, 0, sizeof(*sl));
			env->shenv->ev_generation++;
			env->shenv->ev_mtime = time(NULL);
		}
	}
}

/*
 * Make sure slot HWM (the next one to be used) has storage, growing the
 * primary's reservation if it does not: the reservation is raised before
 * the mark, and the mark before the slot is written, so no slot is ever
 * written where nothing is reserved.  Each step doubles the table's
 * reservation, whole pages.  Called with ev_mutex held.
 */
static int reserve_slot(struct rgn_env *env, uint32_t hwm)
{
	const uint64_t slot = sizeof(struct rgn_shm_slot);
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), from, to;
	uint32_t resv = rgn_slot_resv(env->shenv), want;
	int rc;

	if (hwm < resv)
		return 0;
	if (!env->ops->grow_primary)
		return rgn_fail(RGN_ECORRUPT,
				"region table reservation of %u "
				"slots is damaged",
				resv);
	want = resv * 2 > hwm + 1 ? resv * 2 : hwm + 1;
	if (want > RGN_MAX_REGIONS)
		want = RGN_MAX_REGIONS;
	from = (RGN_TABLE_OFF + resv * slot) / page * page;
	to = rgn_round_up(RGN_TABLE_OFF + want * slot, page);
	if (to > env->primary.size)
		to = env->primary.size;
	rc = env->ops->grow_primary(env, from, to - from);
	if (rc < 0)
		return rc;
	want = (uint32_t)((to - RGN_TABLE_OFF) / slot);
	env->shenv->ev_slot_resv =
		want < RGN_MAX_REGIONS ? want : RGN_MAX_REGIONS;
	return 0;
}

static struct rgn_region *new_handle(struct rgn_env *env, uint32_t id,
				     const struct rgn_map *map)
{
	struct rgn_region *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->env = env;
	r->map = *map;
	r->hdr = (struct rgn_shm_region *)map->base;
	r->id = id;
	pthread_mutex_lock(&env->lock);
	r->next = env->regions;
	env->regions = r;
	pthread_mutex_unlock(&env->lock);
	return r;
}

int rgn_region_create(rgn_env *env, const char *name, enum rgn_region_type type,
		      uint64_t size, rgn_region **regionp)
{
	struct rgn_shm_slot *sl = NULL;
	struct rgn_shm_region *rh;
	struct rgn_map map = {0};
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint32_t id = 0, hwm;
	int rc;

	rgn_clear_detail();
	if (!env || !regionp)
		return -EINVAL;
	*regionp = NULL;
	if ((rc = writable(env)) < 0 || (rc = check_name(name)) < 0)
		return rc;
	if (type < RGN_TYPE_LOCK || type > RGN_TYPE_USER)
		return rgn_fail(-EINVAL, "region type %d cannot be created",
				(int)type);
	if (size < RGN_REGION_MIN || size > RGN_REGION_MAX)
		return rgn_fail(-ERANGE,
				"region size %llu is outside %u..%llu bytes",
				(unsigned long long)size, RGN_REGION_MIN,
				(unsigned long long)RGN_REGION_MAX);
	size = rgn_round_up(size, page);

	rc = rgn_env_lock(env);
	if (rc < 0)
		return rc;
	reclaim_dead_slots(env);
	hwm = rgn_slot_hwm(env->shenv);
	for (uint32_t i = 0; i < hwm; i++) {
		struct rgn_shm_slot *s = &env->slots[i];

		if (s->sl_state == RGN_SLOT_FREE) {
			if (!sl && i > 0)
				sl = s, id = i + 1;
		} else if (strcmp(s->sl_name, name) == 0) {
			rgn_env_unlock(env);
			return rgn_fail(-EEXIST, "region \"%s\" exists (id %u)",
					name, s->sl_id);
		}
	}
	if (!sl && hwm < RGN_MAX_REGIONS) {
		rc = reserve_slot(env, hwm);
		if (rc < 0) {
			rgn_env_unlock(env);
			return rc;
		}
		/* Raise the mark before the slot is written, so a crash in
		 * between leaves a slot the loops still see. */
		env->shenv->ev_slot_hwm = hwm + 1;
		sl = &env->slots[hwm];
		id = hwm + 1;
	}
	if (!sl) {
		rgn_env_unlock(env);
		return rgn_fail(RGN_EFULL, "all %u region slots are in use",
				RGN_MAX_REGIONS);
	}
	memset(sl, 0, sizeof(*sl));
	sl->sl_id = id;
	sl->sl_state = RGN_SLOT_CREATING;
	sl->sl_type = type;
	sl->sl_size = sl->sl_max = size;
	sl->sl_shmid = -1;
	/* The key about to be taken: if we die before the segment's id is
	 * recorded, the next create still finds what we left. */
	sl->sl_key = env->ops->region_key(env, id);
	sl->sl_actor_pid = sl->sl_creator_pid = rgn_self_pid();
	sl->sl_actor_start = rgn_self_start();
	sl->sl_ctime = sl->sl_mtime = time(NULL);
	snprintf(sl->sl_name, sizeof(sl->sl_name), "%s", name);
	rgn_env_unlock(env);

	/* Outside the mutex: allocating a large file or segment is slow. */
	rc = env->ops->create(env, id, size, size, &map);
	if (rc < 0)
		goto fail_slot;
	/* Record the storage at once, so a crash from here on leaves a slot
	 * that names exactly what to reclaim. */
	rc = rgn_env_lock(env);
	if (rc < 0) {
		env->ops->discard(env, id, &map);
		goto fail_slot;
	}
	sl->sl_shmid = map.shmid;
	sl->sl_key = map.key;
	sl->sl_seg_ctime = map.seg_ctime;
	rgn_env_unlock(env);
	rgn_test_point("region-create:storage");
	rh = (struct rgn_shm_region *)map.base;
	rgn_init_region_hdr(env, rh, id, type, size, name, map.key);
	rc = rgn_mutex_init(&rh->rh_mutex);
	/* ops->create always gives fresh zero storage (a new segment, a new
	 * fallocated or zero-written file, new anonymous memory), so the heap
	 * need not write its arena until the first alloc: a region nobody
	 * allocates from costs its header page only. */
	if (rc == 0)
		rc = rgn_heap_init_zeroed(&rh->rh_heap, map.base, RGN_HDR_SIZE,
					  size - RGN_HDR_SIZE);
	if (rc < 0) {
		env->ops->discard(env, id, &map);
		goto fail_slot;
	}
	__atomic_store_n(&rh->rh_magic, RGN_REGION_MAGIC, __ATOMIC_RELEASE);

	rc = rgn_env_lock(env);
	if (rc < 0) {
		env->ops->discard(env, id, &map);
		return rc;
	}
	sl->sl_state = RGN_SLOT_READY;
	sl->sl_flags = env->ops->slot_flags | env->env_flags;
	sl->sl_actor_pid = 0;
	sl->sl_mtime = time(NULL);
	env->shenv->ev_generation++;
	env->shenv->ev_mtime = sl->sl_mtime;
	rgn_env_unlock(env);

	*regionp = new_handle(env, id, &map);
	if (!*regionp) {
		env->ops->detach(env, &map);
		return -ENOMEM;
	}
	return 0;
fail_slot:
	if (rgn_env_lock(env) == 0) {
		memset(sl, 0, sizeof(*sl));
		rgn_env_unlock(env);
	}
	return rc;
}

/* Copy the READY slot with NAME (or ID when NAME is NULL). */
static int find_slot(struct rgn_env *env, const char *name, uint32_t id,
		     struct rgn_shm_slot *out)
{
	uint8_t *snap = NULL;
	const struct rgn_shm_slot *slots;
	uint32_t hwm;
	int rc, found = 0;

	if (env->backing == RGN_BACKING_PRIVATE && !env->shenv)
		return rgn_fail(RGN_EPRIVATE,
				"%s is a private environment of pid %d",
				env->home, (int)env->private_owner);
	if (env->shenv) {
		rc = rgn_env_lock(env);
		if (rc < 0)
			return rc;
		slots = env->slots;
	} else {
		rc = rgn_primary_snapshot(env, &snap);
		if (rc < 0)
			return rc;
		slots = (const void *)(snap + RGN_TABLE_OFF);
	}
	hwm = rgn_slot_hwm(env->shenv ? env->shenv
				      : (const void *)(snap + RGN_ENV_OFF));
	if (!name && id >= 1 && id <= hwm) {
		if (slots[id - 1].sl_state == RGN_SLOT_READY) {
			*out = slots[id - 1];
			found = 1;
		}
	} else if (name) {
		for (uint32_t i = 0; i < hwm && !found; i++) {
			if (slots[i].sl_state == RGN_SLOT_READY &&
			    strcmp(slots[i].sl_name, name) == 0) {
				*out = slots[i];
				found = 1;
			}
		}
	}
	if (env->shenv)
		rgn_env_unlock(env);
	free(snap);
	if (!found)
		return name ? rgn_fail(-ENOENT, "no region \"%s\" in %s", name,
				       env->home)
			    : rgn_fail(-ENOENT, "no region %u in %s", id,
				       env->home);
	return 0;
}

/* A region mutex frozen by a reboot cannot be recovered by the kernel:
 * reinitialise it, once, under ev_mutex. */
static void adopt_region_boot(struct rgn_env *env, struct rgn_shm_region *rh)
{
	const char *boot = rgn_boot_id();

	if (!boot[0] || strncmp(rh->rh_boot_id, boot, RGN_BOOT_ID_LEN) == 0)
		return;
	if (rgn_env_lock(env) < 0)
		return;
	if (strncmp(rh->rh_boot_id, boot, RGN_BOOT_ID_LEN) != 0) {
		rgn_mutex_init(&rh->rh_mutex);
		snprintf(rh->rh_boot_id, sizeof(rh->rh_boot_id), "%s", boot);
	}
	rgn_env_unlock(env);
}

static int attach(rgn_env *env, const char *name, uint32_t id,
		  rgn_region **regionp)
{
	struct rgn_shm_slot sl;
	struct rgn_map map = {0};
	int rc;

	rgn_clear_detail();
	if (!env || !regionp)
		return -EINVAL;
	*regionp = NULL;
	/* An observer must never take SIGBUS from a file truncated under
	 * it, so it never maps a region: it reads with rgn_region_pread. */
	if (env->flags & RGN_INSPECT)
		return rgn_fail(-EROFS,
				"%s is open for inspection: read regions with "
				"rgn_region_pread",
				env->home);
	rc = find_slot(env, name, id, &sl);
	if (rc < 0)
		return rc;
	rc = env->ops->attach(env, &sl, 0, &map);
	if (rc < 0)
		return rc;
	rc = rgn_check_region_hdr((struct rgn_shm_region *)map.base,
				  env->env_id, sl.sl_id, sl.sl_size);
	/* The slot was copied under the lock, the mapping made after it: a
	 * remove and a create reusing the id in between are told apart by
	 * the name. */
	if (rc == 0 && strncmp(((struct rgn_shm_region *)map.base)->rh_name,
			       sl.sl_name, sizeof(sl.sl_name)) != 0)
		rc = rgn_fail(-ENOENT,
			      "region %u of %s was replaced while "
			      "attaching",
			      sl.sl_id, env->home);
	if (rc < 0) {
		env->ops->detach(env, &map);
		return rc;
	}
	if (sl.sl_id > 1)
		adopt_region_boot(env, (struct rgn_shm_region *)map.base);
	*regionp = new_handle(env, sl.sl_id, &map);
	if (!*regionp) {
		env->ops->detach(env, &map);
		return -ENOMEM;
	}
	return 0;
}

int rgn_region_attach(rgn_env *env, const char *name, rgn_region **regionp)
{
	if (!name)
		return -EINVAL;
	return attach(env, name, 0, regionp);
}

int rgn_region_attach_id(rgn_env *env, uint32_t id, rgn_region **regionp)
{
	return attach(env, NULL, id, regionp);
}

int rgn_region_detach(rgn_region *region)
{
	struct rgn_env *env;
	struct rgn_region **pp;

	rgn_clear_detail();
	if (!region)
		return -EINVAL;
	env = region->env;
	pthread_mutex_lock(&env->lock);
	for (pp = &env->regions; *pp; pp = &(*pp)->next) {
		if (*pp == region) {
			*pp = region->next;
			break;
		}
	}
	pthread_mutex_unlock(&env->lock);
	env->ops->detach(env, &region->map);
	free(region);
	return 0;
}

int rgn_region_remove(rgn_env *env, const char *name)
{
	struct rgn_shm_slot *sl = NULL, copy;
	int rc;

	rgn_clear_detail();
	if (!env)
		return -EINVAL;
	if ((rc = writable(env)) < 0 || (rc = check_name(name)) < 0)
		return rc;
	rc = rgn_env_lock(env);
	if (rc < 0)
		return rc;
	for (uint32_t i = 1; i < rgn_slot_hwm(env->shenv); i++) {
		if (env->slots[i].sl_state == RGN_SLOT_READY &&
		    strcmp(env->slots[i].sl_name, name) == 0) {
			sl = &env->slots[i];
			break;
		}
	}
	if (!sl) {
		rgn_env_unlock(env);
		return rgn_fail(-ENOENT, "no region \"%s\" in %s", name,
				env->home);
	}
	sl->sl_state = RGN_SLOT_REMOVING;
	sl->sl_actor_pid = rgn_self_pid();
	sl->sl_actor_start = rgn_self_start();
	copy = *sl;
	rgn_env_unlock(env);

	/* Handles on the region keep their mapping until they detach (the
	 * heap backing keeps removed memory until close). */
	rgn_test_point("region-remove:before-destroy");
	rc = env->ops->destroy(env, &copy);
	if (rc < 0 && rc != -ENOENT)
		goto restore;
	rc = rgn_env_lock(env);
	if (rc < 0)
		return rc;
	memset(sl, 0, sizeof(*sl));
	env->shenv->ev_generation++;
	env->shenv->ev_mtime = time(NULL);
	rgn_env_unlock(env);
	return 0;
restore:
	if (rgn_env_lock(env) == 0) {
		sl->sl_state = RGN_SLOT_READY;
		sl->sl_actor_pid = 0;
		rgn_env_unlock(env);
	}
	return rc;
}

uint32_t rgn_region_id(const rgn_region *region)
{
	return region->id;
}

uint64_t rgn_region_size(const rgn_region *region)
{
	return region->map.size;
}

const char *rgn_region_name(const rgn_region *region)
{
	return region->hdr->rh_name;
}

void *rgn_ptr(const rgn_region *region, uint64_t off)
{
	if (off == 0 || off >= region->map.size)
		return NULL;
	return region->map.base + off;
}

uint64_t rgn_off(const rgn_region *region, const void *ptr)
{
	const uint8_t *p = ptr;

	if (p <= region->map.base || p >= region->map.base + region->map.size)
		return 0;
	return (uint64_t)(p - region->map.base);
}

uint64_t rgn_region_root(const rgn_region *region)
{
	return __atomic_load_n(&region->hdr->rh_root, __ATOMIC_ACQUIRE);
}

void rgn_region_set_root(rgn_region *region, uint64_t off)
{
	__atomic_store_n(&region->hdr->rh_root, off, __ATOMIC_RELEASE);
}

/* A damaged heap header must never send the allocator outside the
 * mapping: every heap call first checks the arena lies inside it (two
 * comparisons, under the region mutex like the calls themselves). */
static int heap_fits(const struct rgn_region *r)
{
	int rc = rgn_heap_fits(&r->hdr->rh_heap, RGN_HDR_SIZE, r->map.size);
	char why[256];

	if (rc < 0) {
		snprintf(why, sizeof(why), "%s", rgn_errdetail());
		rgn_fail(rc, "region %u of %s: %s", r->id, r->env->home, why);
	}
	return rc;
}

static int heap_recover(void *ctx)
{
	struct rgn_region *r = ctx;
	int rc = heap_fits(r);

	return rc < 0 ? rc : rgn_heap_repair(&r->hdr->rh_heap, r->map.base);
}

int rgn_region_lock(rgn_region *region)
{
	return rgn_mutex_lock(&region->hdr->rh_mutex, heap_recover, region);
}

int rgn_region_unlock(rgn_region *region)
{
	rgn_mutex_unlock(&region->hdr->rh_mutex);
	return 0;
}

int rgn_alloc(rgn_region *region, uint64_t size, uint64_t *offp)
{
	int rc = rgn_region_lock(region);

	if (rc < 0)
		return rc;
	rc = heap_fits(region);
	if (rc == 0)
		rc = rgn_heap_alloc(&region->hdr->rh_heap, region->map.base,
				    size, offp);
	rgn_mutex_unlock(&region->hdr->rh_mutex);
	return rc;
}

int rgn_free(rgn_region *region, uint64_t off)
{
	int rc = rgn_region_lock(region);

	if (rc < 0)
		return rc;
	rc = heap_fits(region);
	if (rc == 0)
		rc = rgn_heap_free(&region->hdr->rh_heap, region->map.base,
				   off);
	rgn_mutex_unlock(&region->hdr->rh_mutex);
	return rc;
}

int rgn_alloc_check(rgn_region *region)
{
	int rc = rgn_region_lock(region);

	if (rc < 0)
		return rc;
	rc = heap_fits(region);
	if (rc == 0)
		rc = rgn_heap_check(&region->hdr->rh_heap, region->map.base);
	rgn_mutex_unlock(&region->hdr->rh_mutex);
	return rc;
}

static int read_mapping(void *ctx, uint64_t off, void *buf, size_t len)
{
	const struct rgn_region *r = ctx;

	if (off > r->map.size || len > r->map.size - off)
		return -EFAULT;
	memcpy(buf, r->map.base + off, len);
	return 0;
}

int rgn_alloc_stat(rgn_region *region, struct rgn_alloc_stat *st)
{
	int rc = rgn_region_lock(region);

	if (rc < 0)
		return rc;
	rc = rgn_heap_stat(&region->hdr->rh_heap, read_mapping, region, st);
	rgn_mutex_unlock(&region->hdr->rh_mutex);
	return rc;
}

ssize_t rgn_region_pread(rgn_env *env, uint32_t id, void *buf, size_t len,
			 uint64_t off)
{
	struct rgn_shm_slot sl;
	int rc;

	rgn_clear_detail();
	if (!env || (!buf && len))
		return -EINVAL;
	rc = find_slot(env, NULL, id, &sl);
	if (rc < 0)
		return rc;
	if (off >= sl.sl_size)
		return 0;
	if (len > sl.sl_size - off)
		len = (size_t)(sl.sl_size - off);
	/* The bytes as they are: the caller asked for them all. */
	return rgn_backing_pread(env, &sl, buf, len, off, 1);
}
