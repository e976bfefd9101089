/*
 * test_leaks_claims.c - the leak scanner judges the segments an
 * environment's region table names by the identity recorded there (shmid,
 * key, creation time, creator pid) instead of attaching each one, and
 * never lets a table claim a segment that merely took a region's key.
 * Real environments in a private IPC namespace; the scans that must not
 * attach run in a child, whose pid then shows in shm_lpid of any segment
 * it attached.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

#include "leaks_fx.h"
#include "rgn.h"
#include "testutil.h"

#define NREGIONS 6

/* Keys of our own, apart from the other leak tests'. */
static int32_t next_key = 0x7e5c0000;

static int32_t fresh_key(void)
{
	next_key += 0x100;
	return next_key;
}

/* An environment at KEY with NREGIONS regions besides the primary, all
 * detached: only the primary stays attached, by ENV. */
static rgn_env *env_with_regions(const char *home, int32_t key)
{
	rgn_env *env = open_sysv(home, key);

	for (int i = 0; i < NREGIONS; i++) {
		char name[16];
		rgn_region *r;

		snprintf(name, sizeof(name), "r%d", i);
		tu_ok(rgn_region_create(env, name, RGN_TYPE_USER, 64 * 1024,
					&r));
		rgn_region_detach(r);
	}
	return env;
}

static pid_t lpid_of(int32_t key)
{
	struct shmid_ds ds;
	int id = shmget(key, 0, 0);

	assert_true(id >= 0);
	assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
	return ds.shm_lpid;
}

/* A scan in a child, which exits 0 when it ran. */
static pid_t scan_in_child(void)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct rgn_leak_scan *s = NULL;
		int rc = rgn_leak_scan(0, &s);

		rgn_leak_free(s);
		_exit(rc == 0 ? 0 : 1);
	}
	assert_int_equal(tu_wait(pid), 0);
	return pid;
}

static void table_named_regions_are_judged_without_attaching(void **state)
{
	const char *home = tu_mkhome();
	int32_t key = fresh_key();
	rgn_env *env = env_with_regions(home, key);
	struct rgn_leak_scan *s;
	int attached = 0;
	pid_t child;

	(void)state;
	/* We made and detached every region: each one's lpid is ours. */
	for (int i = 1; i <= NREGIONS; i++)
		assert_int_equal(lpid_of(key + i), getpid());
	child = scan_in_child();
	/* The child attached the first segment of the environment it met
	 * (the only way to learn its home), and no other. */
	for (int i = 0; i <= NREGIONS; i++)
		attached += lpid_of(key + i) == child;
	assert_true(attached <= 1);

	/* And the verdicts are what the headers say. */
	tu_ok(rgn_leak_scan(0, &s));
	for (int i = 1; i <= NREGIONS; i++) {
		const struct rgn_leak *g = seg_at(s, key + i);
		char name[16];

		snprintf(name, sizeof(name), "r%d", i - 1);
		assert_int_equal(g->cls, RGN_LEAK_LIVE);
		assert_int_equal(g->ours, RGN_LEAK_YES);
		assert_int_equal(g->program, RGN_LEAK_PROG_REGIONFS);
		assert_int_equal(g->home_matches, RGN_LEAK_YES);
		assert_int_equal(g->region_id, (uint32_t)i + 1);
		assert_int_equal(g->region_type, RGN_TYPE_USER);
		assert_string_equal(g->region_name, name);
		assert_true(g->env_id == seg_at(s, key)->env_id);
		assert_ptr_equal(g->home, seg_at(s, key)->home);
		assert_int_equal(g->creator_pid, getpid());
	}
	assert_int_equal(s->count[RGN_LEAK_LIVE], NREGIONS + 1);
	rgn_leak_free(s);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void segment_taking_a_regions_key_is_not_claimed(void **state)
{
	const char *home = tu_mkhome();
	int32_t key = fresh_key();
	rgn_env *env = env_with_regions(home, key);
	int old = shmget(key + 2, 0, 0), id;
	struct rgn_leak_scan *s;
	const struct rgn_leak *g;
	pid_t pid;

	(void)state;
	/* Region 3's segment goes behind the environment's back (its slot
	 * still says READY), and another program makes one at its key. */
	assert_true(old >= 0);
	assert_int_equal(shmctl(old, IPC_RMID, NULL), 0);
	pid = tu_fork();
	if (pid == 0) {
		int fid =
			shmget(key + 2, 64 * 1024, IPC_CREAT | IPC_EXCL | 0600);
		char *p = fid < 0 ? (void *)-1 : shmat(fid, NULL, 0);

		if (p == (void *)-1)
			_exit(1);
		memset(p, 0x5a, 256);
		shmdt(p);
		_exit(0);
	}
	assert_int_equal(tu_wait(pid), 0);
	id = shmget(key + 2, 0, 0);
	assert_true(id >= 0);
	assert_int_not_equal(id, old);

	tu_ok(rgn_leak_scan(0, &s));
	g = seg_at(s, key + 2);
	assert_int_equal(g->shmid, id);
	assert_int_equal(g->ours, RGN_LEAK_NO);
	assert_int_equal(g->program, RGN_LEAK_PROG_NONE);
	assert_int_equal(g->cls, RGN_LEAK_FOREIGN_IDLE);
	assert_int_equal(g->cpid_alive, RGN_LEAK_NO);
	assert_string_equal(g->home, "");
	/* The rest of the environment is still its own. */
	assert_int_equal(seg_at(s, key + 1)->cls, RGN_LEAK_LIVE);
	assert_int_equal(seg_at(s, key + 3)->cls, RGN_LEAK_LIVE);
	rgn_leak_free(s);
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
	tu_ok(rgn_env_close(env));
	/* The missing region may make removal complain; the namespace takes
	 * whatever is left when this program exits. */
	(void)rgn_env_remove(home, 0);
}

static void orphans_judged_by_the_table_are_removable(void **state)
{
	const char *home = tu_mkhome();
	int32_t key = fresh_key();
	struct rgn_leak_removal res;
	struct rgn_leak_scan *s;
	pid_t pid = tu_fork();

	(void)state;
	if (pid == 0) {
		/* Dies holding it, as after kill -9. */
		env_with_regions(home, key);
		_exit(0);
	}
	assert_int_equal(tu_wait(pid), 0);
	tu_ok(rgn_leak_scan(0, &s));
	for (int i = 0; i <= NREGIONS; i++) {
		const struct rgn_leak *g = seg_at(s, key + i);

		assert_int_equal(g->cls, RGN_LEAK_ORPHANED);
		assert_int_equal(g->region_id, (uint32_t)i + 1);
		assert_int_equal(g->env_stale, 1);
	}
	/* The remover re-checks each one on its own, by its header. */
	for (int i = 1; i <= NREGIONS; i++) {
		const struct rgn_leak *g = seg_at(s, key + i);

		tu_ok(rgn_leak_remove(g->shmid, g, 0, 0, &res));
		assert_int_equal(res.verdict, RGN_LEAK_REMOVED);
	}
	rgn_leak_free(s);
	for (int i = 1; i <= NREGIONS; i++)
		assert_true(shmget(key + i, 0, 0) < 0 && errno == ENOENT);
	tu_ok(rgn_leak_scan(0, &s));
	tu_ok(rgn_leak_remove(seg_at(s, key)->shmid, seg_at(s, key), 0, 0,
			      &res));
	rgn_leak_free(s);
}

int main(void)
{
	tu_private_ipc();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			table_named_regions_are_judged_without_attaching),
		cmocka_unit_test(segment_taking_a_regions_key_is_not_claimed),
		cmocka_unit_test(orphans_judged_by_the_table_are_removable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
