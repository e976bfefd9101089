/*
 * fuzz_primary.c - the primary region (id 1) as an observer decodes it:
 * rgn_check_primary, then everything that walks a snapshot of it: the
 * region table and registry behind rgn_stat_env and rgn_stat_region, the
 * table behind the mount's rgn_fsview_snapshot, the generation probe.
 *
 * Those read the primary through the environment's backing ops table, so
 * the handle here is an observer's (RGN_INSPECT) whose table serves bytes
 * from memory: the input spread over the primary's windows (fuzz.h), and
 * what is left of it as the image of every other region (its header,
 * mutex and heap, as fuzz_region lays it).  No file or segment is read;
 * the home directory exists only so that the mount's view finds a
 * __db.001 to take its owner from.
 *
 * What must hold: a snapshot is taken only of a primary rgn_check_primary
 * accepts; it lists exactly the ready slots below the high-water mark that
 * hold their own id, each with a terminated name and its own file name;
 * every registry entry is judged live or stale once; rgn_stat_region gives
 * the same figures as the whole snapshot; the mount's view lists the same
 * regions, in ascending id order as fsview.h promises, each found by
 * rgn_fsview_find.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "env.h"
#include "fsview.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static uint8_t *primary; /* RGN_PRIMARY_BYTES */
static uint8_t *region;	 /* this run's other regions */
static uint64_t region_size;
static struct rgn_env *env;

static int mem_read_open(struct rgn_env *e, const struct rgn_shm_slot *slot,
			 struct rgn_reader *rd)
{
	(void)e;
	rd->base = slot->sl_id == 1 ? primary : region;
	rd->size = slot->sl_id == 1 ? RGN_PRIMARY_BYTES : region_size;
	return 0;
}

static void mem_read_close(struct rgn_reader *rd)
{
	(void)rd;
}

/* An observer's backing: only the read operations are ever called. */
static const struct rgn_backing_ops mem_ops = {
	.name = "memory",
	.read_open = mem_read_open,
	.read_at = rgn_reader_copy,
	.read_close = mem_read_close,
	.region_key = rgn_no_key,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fz_tmpdir();
	int fd;

	(void)argc;
	(void)argv;
	primary = calloc(1, RGN_PRIMARY_BYTES);
	env = calloc(1, sizeof(*env));
	if (!dir || !primary || !env)
		exit(1);
	pthread_mutex_init(&env->lock, NULL);
	snprintf(env->home, sizeof(env->home), "%s", dir);
	env->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = openat(env->dirfd, RGN_PRIMARY_FILE,
		    O_CREAT | O_WRONLY | O_CLOEXEC, 0640);
	if (env->dirfd < 0 || fd < 0) {
		perror(dir);
		exit(1);
	}
	close(fd);
	env->lockfd = -1;
	env->flags = RGN_INSPECT;
	env->backing = RGN_BACKING_FILES;
	env->ops = &mem_ops;
	env->primary_slot = (struct rgn_shm_slot){
		.sl_id = 1,
		.sl_state = RGN_SLOT_READY,
		.sl_type = RGN_TYPE_ENV,
		.sl_size = RGN_PRIMARY_BYTES,
		.sl_max = RGN_PRIMARY_BYTES,
		.sl_shmid = -1,
	};
	return 0;
}

static void same_region(const struct rgn_region_stat *a,
			const struct rgn_region_stat *b)
{
	FZ_CHECK(a->id == b->id && strcmp(a->name, b->name) == 0 &&
			 a->size == b->size && a->detail == b->detail &&
			 memcmp(&a->alloc, &b->alloc, sizeof(a->alloc)) == 0,
		 "region %u: rgn_stat_region differs from rgn_stat_env", a->id);
}

static void check_snapshot(const struct rgn_env_stat *st)
{
	const struct rgn_shm_region *rh = (const void *)primary;
	const struct rgn_shm_env *ev = (const void *)(primary + RGN_ENV_OFF);
	const struct rgn_shm_slot *slots =
		(const void *)(primary + RGN_TABLE_OFF);
	size_t ready = 0, r = 0;
	char file[RGN_STAT_FILE_MAX];

	FZ_CHECK(rgn_check_primary(primary, RGN_PRIMARY_BYTES) == 0,
		 "a snapshot of a primary rgn_check_primary refuses");
	FZ_CHECK(st->env_id == ev->ev_env_id && st->primary_size == rh->rh_size,
		 "env id or primary size not the header's");
	for (uint32_t i = 0; i < rgn_slot_hwm(ev); i++) {
		/* A ready slot naming another id (or 0) is not listed
		 * (finding F2 in README.md). */
		if (slots[i].sl_state != RGN_SLOT_READY ||
		    slots[i].sl_id != i + 1)
			continue;
		ready++;
		FZ_CHECK(r < st->nregions, "ready slot %u not listed", i);
		FZ_CHECK(st->regions[r].id == slots[i].sl_id,
			 "listed %u for slot %u", st->regions[r].id, i);
		r++;
	}
	FZ_CHECK(st->nregions == ready, "%zu regions for %zu ready slots",
		 st->nregions, ready);
	for (size_t k = 0; k < st->nregions; k++) {
		const struct rgn_region_stat *rs = &st->regions[k];

		FZ_CHECK(strnlen(rs->name, sizeof(rs->name)) <= RGN_NAME_MAX,
			 "name of region %u not terminated", rs->id);
		snprintf(file, sizeof(file), RGN_FILE_FMT, rs->id);
		FZ_CHECK(strcmp(rs->file, file) == 0,
			 "region %u in file \"%s\"", rs->id, rs->file);
		FZ_CHECK(rs->detail <= 0, "detail %d", rs->detail);
	}
	FZ_CHECK(st->nprocs == (size_t)st->live + st->stale,
		 "%zu processes listed, %u live + %u stale", st->nprocs,
		 st->live, st->stale);
	for (size_t k = 0; k < st->nprocs; k++)
		FZ_CHECK(st->procs[k].pid != 0 && (st->procs[k].live == 0 ||
						   st->procs[k].live == 1),
			 "process %zu: pid %d live %d", k, st->procs[k].pid,
			 st->procs[k].live);
}

static void check_view(const struct rgn_env_stat *st)
{
	struct rgn_fsview *v = NULL;
	int rc = rgn_fsview_snapshot(env, &v);

	FZ_CHECK(rc == 0, "the mount's view failed where stat did not: %d (%s)",
		 rc, rgn_errdetail());
	FZ_CHECK(v->nregions == st->nregions, "view %zu regions, stat %zu",
		 v->nregions, st->nregions);
	for (size_t k = 0; k < v->nregions; k++) {
		FZ_CHECK(v->regions[k].id == st->regions[k].id &&
				 strcmp(v->regions[k].name,
					st->regions[k].name) == 0,
			 "view and stat disagree on entry %zu", k);
		FZ_CHECK(k == 0 || v->regions[k - 1].id < v->regions[k].id,
			 "view not in ascending id order: %u then %u",
			 v->regions[k - 1].id, v->regions[k].id);
		FZ_CHECK(rgn_fsview_find(v, v->regions[k].id) == &v->regions[k],
			 "rgn_fsview_find misses region %u", v->regions[k].id);
	}
	rgn_fsview_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct fz_window pw[4], rw[4];
	size_t npw = fz_primary_windows(pw), nrw, used;
	const struct rgn_shm_env *ev = (const void *)(primary + RGN_ENV_OFF);
	struct rgn_env_stat *st = NULL, *one = NULL;
	uint64_t gen;
	int rc, ok;

	fz_clear(pw, npw, primary);
	used = fz_scatter(pw, npw, data, len, primary);
	region_size = fz_region_size(data + used, len - used);
	nrw = fz_region_windows(region_size, rw);
	region = calloc(1, region_size);
	if (!region)
		return 0;
	fz_scatter(rw, nrw, data + used, len - used, region);
	env->env_id = ev->ev_env_id; /* as the probe takes it */

	ok = rgn_check_primary(primary, RGN_PRIMARY_BYTES) == 0;
	FZ_CHECK(rgn_check_primary(primary, RGN_ENV_OFF +
						    sizeof(struct rgn_shm_env) -
						    1) == RGN_ECORRUPT,
		 "a truncated primary accepted");
	rc = rgn_fsview_generation(env, &gen);
	FZ_CHECK((rc == 0) == ok, "generation %d, check %d", rc, ok);
	FZ_CHECK(rc < 0 || gen == ev->ev_generation, "generation %llu",
		 (unsigned long long)gen);

	rc = rgn_stat_env(env, &st);
	FZ_CHECK((rc == 0) == ok, "stat %d (%s), check %d", rc, rgn_errdetail(),
		 ok);
	if (rc == 0) {
		/* Every id listed is in ascending order and can be looked up
		 * alone, whatever the table holds (a slot that does not hold
		 * its own id is not listed). */
		check_snapshot(st);
		check_view(st);
		if (st->nregions) {
			const struct rgn_region_stat *rs =
				&st->regions[data[len - 1] % st->nregions];

			rc = rgn_stat_region(env, rs->id, &one);
			FZ_CHECK(rc == 0 && one->nregions >= 1,
				 "region %u listed but not found alone: %d",
				 rs->id, rc);
			same_region(&one->regions[0], rs);
			rgn_stat_free(one);
		}
		rgn_stat_free(st);
	}
	free(region);
	region = NULL;
	return 0;
}
