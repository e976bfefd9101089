/*
 * test_remove.c - rgn_env_remove_report(): remove takes everything of the
 * environment that its records prove its own, even when the primary
 * segment was destroyed from outside (as Berkeley DB does at its key), and
 * reports every file or segment it leaves.  Another program's segment at
 * one of our keys is never touched, byte for byte.
 *
 * Real segments in this test's private IPC namespace; holders are tu_fork
 * children, killed and reaped at exit even when a test fails.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "rgn.h"
#include "testutil.h"

#define KEY 0x5eed0000
#define SEG 65536

/* ---- what a remove reported ---------------------------------------------- */

struct seen_item {
	char path[4300]; /* "" for a segment */
	int32_t shmid, key;
	uint32_t id;
	uint64_t nattch;
	int error;
	char reason[512];
};

struct report {
	struct seen_item it[16];
	int n;
};

static void collect(const struct rgn_remove_item *item, void *arg)
{
	struct report *r = arg;
	struct seen_item *s = &r->it[r->n];

	assert_true(r->n < 16);
	memset(s, 0, sizeof(*s));
	if (item->path)
		snprintf(s->path, sizeof(s->path), "%s", item->path);
	s->shmid = item->shmid;
	s->key = item->key;
	s->id = item->region_id;
	s->nattch = item->nattch;
	s->error = item->error;
	snprintf(s->reason, sizeof(s->reason), "%s", item->reason);
	r->n++;
}

/* ---- environments and segments ------------------------------------------- */

static int open_env(const char *home, enum rgn_backing backing, uint32_t flags,
		    rgn_env **env)
{
	struct rgn_env_config cfg;

	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE | flags;
	cfg.backing = backing;
	cfg.shm_key = backing == RGN_BACKING_SYSV ? KEY : 0;
	return rgn_env_open(home, &cfg, env);
}

/* A closed environment with regions r2..rN (ids 2..N). */
static void make_env(const char *home, enum rgn_backing backing, uint32_t flags,
		     int nregions)
{
	rgn_env *env;
	rgn_region *r;
	char name[16];

	tu_ok(open_env(home, backing, flags, &env));
	for (int id = 2; id < 2 + nregions; id++) {
		snprintf(name, sizeof(name), "r%d", id);
		tu_ok(rgn_region_create(env, name, RGN_TYPE_USER, SEG, &r));
		tu_ok(rgn_region_detach(r));
	}
	tu_ok(rgn_env_close(env));
}

static int shmid_at(int32_t key)
{
	int id = shmget(key, 0, 0);

	assert_true(id >= 0);
	return id;
}

/* Destroy the primary from outside, as ipcrm or Berkeley DB would. */
static void destroy_primary(const char *home)
{
	struct rgn_file_record fr;
	char path[4200];

	snprintf(path, sizeof(path), "%s/__db.001", home);
	assert_int_equal(tu_read_file(path, &fr, sizeof(fr)), sizeof(fr));
	assert_int_equal(fr.fr_magic, RGN_RECORD_MAGIC);
	assert_int_equal(shmctl(fr.fr_shmid, IPC_RMID, NULL), 0);
}

/* The home holds nothing at all. */
static void assert_home_empty(const char *home)
{
	assert_int_equal(rmdir(home), 0);
	assert_int_equal(mkdir(home, 0700), 0);
}

static int exists(const char *home, const char *name)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", home, name);
	return access(path, F_OK) == 0;
}

/* A child attached to segment ID until killed; returns once it is. */
static pid_t hold_segment(int id)
{
	int fds[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(fds), 0);
	pid = tu_fork();
	if (pid == 0) {
		if (shmat(id, NULL, SHM_RDONLY) == (void *)-1 ||
		    write(fds[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	return pid;
}

static void kill_holder(pid_t pid)
{
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(tu_wait(pid), 128 + SIGKILL);
}

/* Another program's segment at KEY, SIZE bytes of BYTES (or a pattern). */
static int make_foreign(int32_t key, size_t size, const void *bytes,
			uint8_t **copy)
{
	int id = shmget(key, size, IPC_CREAT | IPC_EXCL | 0600);
	uint8_t *p;

	assert_true(id >= 0);
	p = shmat(id, NULL, 0);
	assert_true(p != (void *)-1);
	for (size_t i = 0; i < size; i++)
		p[i] = (uint8_t)(i * 31 + 7);
	if (bytes)
		memcpy(p, bytes, sizeof(struct rgn_shm_region));
	*copy = malloc(size);
	memcpy(*copy, p, size);
	shmdt(p);
	return id;
}

static void assert_segment_is(int id, const uint8_t *copy, size_t size)
{
	struct shmid_ds ds;
	uint8_t *p;

	assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
	assert_int_equal(ds.shm_segsz, size);
	p = shmat(id, NULL, SHM_RDONLY);
	assert_true(p != (void *)-1);
	assert_memory_equal(p, copy, size);
	shmdt(p);
}

/* ---- the tests ----------------------------------------------------------- */

static void primary_destroyed_from_outside_the_rest_is_removed(void **state)
{
	const char *home = tu_mkhome();
	struct report rep = {.n = 0};

	(void)state;
	make_env(home, RGN_BACKING_SYSV, 0, 4);
	assert_int_equal(tu_count_segments(), 5);
	destroy_primary(home);
	assert_int_equal(tu_count_segments(), 4);

	tu_ok(rgn_env_remove_report(home, 0, collect, &rep));
	assert_int_equal(rep.n, 0);
	assert_int_equal(tu_count_segments(), 0);
	assert_home_empty(home);
}

static void primary_destroyed_attached_region_is_reported_and_kept(void **state)
{
	const char *home = tu_mkhome();
	struct report rep = {.n = 0};
	int held, other;
	pid_t holder;

	(void)state;
	make_env(home, RGN_BACKING_SYSV, 0, 3);
	held = shmid_at(KEY + 2); /* region 3 */
	other = shmid_at(KEY + 1);
	holder = hold_segment(held);
	destroy_primary(home);

	assert_int_equal(rgn_env_remove_report(home, 0, collect, &rep), -EBUSY);
	assert_non_null(strstr(rgn_errdetail(), "2 things"));
	assert_int_equal(rep.n, 2);
	/* the attached segment, by key and shmid, and why */
	assert_string_equal(rep.it[0].path, "");
	assert_int_equal(rep.it[0].shmid, held);
	assert_int_equal(rep.it[0].key, KEY + 2);
	assert_int_equal(rep.it[0].id, 3);
	assert_int_equal(rep.it[0].nattch, 1);
	assert_int_equal(rep.it[0].error, -EBUSY);
	assert_string_equal(rep.it[0].reason, "1 process attached");
	/* and __db.001, kept so that a later remove can finish */
	assert_non_null(strstr(rep.it[1].path, "/__db.001"));
	assert_int_equal(rep.it[1].error, -EAGAIN);
	assert_true(exists(home, "__db.001"));
	/* the unattached ones went */
	assert_int_equal(shmctl(other, IPC_STAT, &(struct shmid_ds){0}), -1);
	assert_int_equal(tu_count_segments(), 1);

	/* once it is free, the next remove finishes the job */
	kill_holder(holder);
	rep.n = 0;
	tu_ok(rgn_env_remove_report(home, 0, collect, &rep));
	assert_int_equal(rep.n, 0);
	assert_int_equal(tu_count_segments(), 0);
	assert_home_empty(home);
}

static void foreign_segments_at_our_keys_are_never_touched(void **state)
{
	const char *home = tu_mkhome();
	struct report rep = {.n = 0};
	struct rgn_shm_region hdr;
	uint8_t *at_base, *at_region, *beyond;
	int id_base, id_region, id_beyond;
	uint8_t *p;

	(void)state;
	make_env(home, RGN_BACKING_SYSV, 0, 3);
	/* region 3 removed from outside and its key taken by another
	 * program, which also took the base key once the primary went */
	assert_int_equal(shmctl(shmid_at(KEY + 2), IPC_RMID, NULL), 0);
	id_region = make_foreign(KEY + 2, 3 * SEG, NULL, &at_region);
	destroy_primary(home);
	id_base = make_foreign(KEY, SEG, NULL, &at_base);
	/* one that copies the header of region 2 (so its environment id
	 * is ours) at a key of ours it does not belong to */
	p = shmat(shmid_at(KEY + 1), NULL, SHM_RDONLY);
	memcpy(&hdr, p, sizeof(hdr));
	shmdt(p);
	id_beyond = make_foreign(KEY + 40, SEG, &hdr, &beyond);

	tu_ok(rgn_env_remove_report(home, 0, collect, &rep));
	assert_int_equal(rep.n, 0);
	assert_segment_is(id_base, at_base, SEG);
	assert_segment_is(id_region, at_region, 3 * SEG);
	assert_segment_is(id_beyond, beyond, SEG);
	assert_int_equal(tu_count_segments(), 3);
	assert_home_empty(home);
	assert_int_equal(shmctl(id_base, IPC_RMID, NULL), 0);
	assert_int_equal(shmctl(id_region, IPC_RMID, NULL), 0);
	assert_int_equal(shmctl(id_beyond, IPC_RMID, NULL), 0);
	free(at_base);
	free(at_region);
	free(beyond);
}

static void our_id_with_another_home_is_reported_not_removed(void **state)
{
	const char *home = tu_mkhome();
	struct report rep = {.n = 0};
	struct rgn_shm_region *rh;
	uint64_t rss;
	uint8_t *copy;
	int id;

	(void)state;
	make_env(home, RGN_BACKING_SYSV, 0, 2);
	/* region 3's header claims another home: not proven ours */
	id = shmid_at(KEY + 2);
	rh = shmat(id, NULL, 0);
	assert_true(rh != (void *)-1);
	snprintf(rh->rh_home, sizeof(rh->rh_home), "/elsewhere");
	/* Only its first page was ever written: keep a copy of that, and
	 * check the rest is zero after the remove (reading it now would
	 * allocate it). */
	copy = calloc(1, SEG);
	memcpy(copy, rh, 4096);
	shmdt(rh);
	rss = tu_segment_rss(id);
	assert_int_equal(rss, 4096);
	destroy_primary(home);

	assert_int_equal(rgn_env_remove_report(home, 0, collect, &rep),
			 RGN_EFOREIGN);
	/* Judging it read nothing it never wrote. */
	assert_int_equal(tu_segment_rss(id), rss);
	assert_int_equal(rep.n, 2);
	assert_int_equal(rep.it[0].shmid, id);
	assert_int_equal(rep.it[0].key, KEY + 2);
	assert_int_equal(rep.it[0].error, RGN_EFOREIGN);
	assert_non_null(strstr(rep.it[0].reason, "/elsewhere"));
	rh = shmat(id, NULL, SHM_RDONLY);
	assert_memory_equal(rh, copy, SEG);
	shmdt(rh);
	assert_int_equal(tu_count_segments(), 1);
	assert_true(exists(home, "__db.001"));
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
	tu_ok(rgn_env_remove(home, 0));
	assert_home_empty(home);
	free(copy);
}

static void files_without_mmap_primary_destroyed_rest_is_removed(void **state)
{
	const char *home = tu_mkhome();
	struct report rep = {.n = 0};
	uint8_t *copy;
	int foreign;

	(void)state;
	/* an unrelated private segment: same key (IPC_PRIVATE) as ours */
	foreign = make_foreign(IPC_PRIVATE, SEG, NULL, &copy);
	make_env(home, RGN_BACKING_FILES, RGN_NOMMAP, 3);
	assert_int_equal(tu_count_segments(), 5);
	destroy_primary(home);

	tu_ok(rgn_env_remove_report(home, 0, collect, &rep));
	assert_int_equal(rep.n, 0);
	assert_int_equal(tu_count_segments(), 1);
	assert_segment_is(foreign, copy, SEG);
	assert_home_empty(home);
	assert_int_equal(shmctl(foreign, IPC_RMID, NULL), 0);
	free(copy);
}

static void region_file_that_is_not_ours_is_reported_by_path(void **state)
{
	const char *home = tu_mkhome();
	struct report rep = {.n = 0};
	char path[4200];

	(void)state;
	make_env(home, RGN_BACKING_FILES, 0, 3);
	snprintf(path, sizeof(path), "%s/__db.003", home);
	assert_int_equal(unlink(path), 0);
	tu_write_file(path, "not a region", 12);

	assert_int_equal(rgn_env_remove_report(home, 0, collect, &rep),
			 RGN_EBADMAGIC);
	assert_int_equal(rep.n, 2);
	assert_string_equal(rep.it[0].path, path);
	assert_int_equal(rep.it[0].shmid, -1);
	assert_int_equal(rep.it[0].id, 3);
	assert_int_equal(rep.it[0].error, RGN_EBADMAGIC);
	assert_non_null(strstr(rep.it[0].reason, "__db.003"));
	assert_non_null(strstr(rep.it[1].path, "/__db.001"));
	/* every other region went; the stranger and __db.001 stayed */
	assert_false(exists(home, "__db.002"));
	assert_false(exists(home, "__db.004"));
	assert_true(exists(home, "__db.003"));
	assert_true(exists(home, "__db.001"));

	/* once the stranger is dealt with, a remove finishes */
	assert_int_equal(unlink(path), 0);
	tu_ok(rgn_env_remove_report(home, 0, collect, &rep));
	assert_home_empty(home);
}

static void refused_remove_reports_nothing(void **state)
{
	const char *home = tu_mkhome();
	struct report rep = {.n = 0};
	rgn_env *env;

	(void)state;
	tu_ok(open_env(home, RGN_BACKING_SYSV, 0, &env));
	assert_int_equal(rgn_env_remove_report(home, 0, collect, &rep), -EBUSY);
	assert_int_equal(rep.n, 0);
	assert_int_equal(tu_count_segments(), 1);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove_report(home, 0, NULL, NULL));
	assert_int_equal(tu_count_segments(), 0);
	assert_home_empty(home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			primary_destroyed_from_outside_the_rest_is_removed),
		cmocka_unit_test(
			primary_destroyed_attached_region_is_reported_and_kept),
		cmocka_unit_test(
			foreign_segments_at_our_keys_are_never_touched),
		cmocka_unit_test(
			our_id_with_another_home_is_reported_not_removed),
		cmocka_unit_test(
			files_without_mmap_primary_destroyed_rest_is_removed),
		cmocka_unit_test(
			region_file_that_is_not_ours_is_reported_by_path),
		cmocka_unit_test(refused_remove_reports_nothing),
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
