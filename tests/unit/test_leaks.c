/*
 * test_leaks.c - the leak scanner's classes made for real in a private IPC
 * namespace (live, orphaned three ways, foreign idle and in use, removing),
 * and safe removal with each of its refusals.  The lending of a segment's
 * bytes is in test_leaks_data.c.  Berkeley DB's own segments, made by the
 * real library, are judged in tests/cli/bdb_leaks.sh.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

#include "leaks_fx.h"
#include "rgn.h"
#include "testutil.h"

/* Each test gets its own keys so leftovers of one never meet another. */
static int32_t next_key = 0x7e570000;

static int32_t fresh_key(void)
{
	next_key += 0x100;
	return next_key;
}

/* A foreign segment: created, written, and (unless HOLD) detached. */
static int foreign(int32_t key, size_t size, int write, int hold)
{
	int id = shmget(key, size, IPC_CREAT | IPC_EXCL | 0600);
	char *p;

	assert_true(id >= 0);
	if (!write && !hold)
		return id;
	p = shmat(id, NULL, 0);
	assert_true(p != (void *)-1);
	if (write)
		memset(p, 0x5a, 128);
	if (!hold)
		shmdt(p);
	return id;
}

/* The same, made by a child that then exits: its creator is dead. */
static int foreign_orphan(int32_t key, size_t size)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		foreign(key, size, 1, 0);
		_exit(0);
	}
	assert_int_equal(tu_wait(pid), 0);
	return shmget(key, 0, 0);
}

/* A child makes a sysv environment with one region and dies without
 * closing it, as after kill -9. */
static void crash_env(const char *home, int32_t key)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		rgn_env *env = open_sysv(home, key);
		rgn_region *r;

		if (rgn_region_create(env, "data", RGN_TYPE_USER, 64 * 1024,
				      &r) != 0)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(tu_wait(pid), 0);
}

static struct rgn_leak_scan *scan(void)
{
	struct rgn_leak_scan *s;

	tu_ok(rgn_leak_scan(0, &s));
	return s;
}

static void remove_home(const char *home)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
	assert_int_equal(system(cmd), 0);
}

/* ---- classes ------------------------------------------------------------- */

static void names_of_classes_and_verdicts(void **state)
{
	(void)state;
	assert_string_equal(rgn_leak_class_name(RGN_LEAK_LIVE), "live");
	assert_string_equal(rgn_leak_class_name(RGN_LEAK_ORPHANED), "orphaned");
	assert_string_equal(rgn_leak_class_name(RGN_LEAK_FOREIGN_IN_USE),
			    "foreign-in-use");
	assert_string_equal(rgn_leak_class_name(RGN_LEAK_FOREIGN_IDLE),
			    "foreign-idle");
	assert_string_equal(rgn_leak_class_name(RGN_LEAK_REMOVING), "removing");
	assert_string_equal(rgn_leak_class_name(RGN_LEAK_IDLE), "idle");
	assert_string_equal(rgn_leak_class_name(RGN_LEAK_UNKNOWN), "unknown");
	assert_string_equal(rgn_leak_class_name(RGN_LEAK_NEEDS_RECOVERY),
			    "needs-recovery");
	assert_string_equal(rgn_leak_class_name(RGN_LEAK_NCLASSES), "?");
	assert_string_equal(rgn_leak_class_name((enum rgn_leak_class)99), "?");
	assert_string_equal(rgn_leak_verdict_name(RGN_LEAK_SKIP_PERM),
			    "not-owner");
	assert_string_equal(rgn_leak_verdict_name(RGN_LEAK_SKIP_BDB),
			    "berkeley-db");
	assert_string_equal(rgn_leak_verdict_name(RGN_LEAK_NVERDICTS), "?");
	assert_string_equal(rgn_leak_program_name(RGN_LEAK_PROG_NONE), "-");
	assert_string_equal(rgn_leak_program_name(RGN_LEAK_PROG_REGIONFS),
			    "regionfs");
	assert_string_equal(rgn_leak_program_name(RGN_LEAK_PROG_BDB),
			    "berkeley-db");
	assert_string_equal(rgn_leak_program_name((enum rgn_leak_program)9),
			    "?");
}

/* Berkeley DB's segments are leaked only when proven orphaned: the one
 * definition every view uses says so for each class. */
static void berkeley_db_segments_are_leaked_only_when_orphaned(void **state)
{
	struct rgn_leak g;

	(void)state;
	memset(&g, 0, sizeof(g));
	g.program = RGN_LEAK_PROG_BDB;
	g.ours = RGN_LEAK_NO;
	g.cpid_alive = RGN_LEAK_NO; /* its creator exited, as they do */
	g.cls = RGN_LEAK_IDLE;
	assert_false(rgn_leak_is_leaked(&g));
	g.cls = RGN_LEAK_NEEDS_RECOVERY;
	assert_false(rgn_leak_is_leaked(&g));
	g.cls = RGN_LEAK_LIVE;
	assert_false(rgn_leak_is_leaked(&g));
	g.cls = RGN_LEAK_ORPHANED;
	assert_true(rgn_leak_is_leaked(&g));
}

/* Homes named for Berkeley DB change nothing for segments that are not
 * Berkeley DB's, and a home that does not exist proves nothing. */
static void scan_with_homes_keeps_other_verdicts(void **state)
{
	int32_t key = fresh_key();
	int id = foreign_orphan(key, 100000);
	const char *home = tu_mkhome();
	const char *homes[] = {home, "/nonexistent/rgn-test-home"};
	struct rgn_leak_opts o = {.homes = homes, .nhomes = 2};
	struct rgn_leak_opts bad = {.nhomes = 1};
	struct rgn_leak_scan *s = NULL;
	const struct rgn_leak *g;

	(void)state;
	tu_ok(rgn_leak_scan_opts(&o, &s));
	g = rgn_leak_find(s, id);
	assert_non_null(g);
	assert_int_equal(g->cls, RGN_LEAK_FOREIGN_IDLE);
	assert_int_equal(g->program, RGN_LEAK_PROG_NONE);
	assert_int_equal(s->bdb_count, 0);
	assert_int_equal(s->bdb_at_rest_bytes, 0);
	assert_int_equal(s->leaked_bytes, 100000);
	rgn_leak_free(s);
	/* NULL options: a plain scan. */
	tu_ok(rgn_leak_scan_opts(NULL, &s));
	assert_non_null(rgn_leak_find(s, id));
	rgn_leak_free(s);
	assert_int_equal(rgn_leak_scan_opts(&bad, &s), -EINVAL);
	assert_null(s);
	assert_int_equal(rgn_leak_scan_opts(&o, NULL), -EINVAL);
	shmctl(id, IPC_RMID, NULL);
}

static void empty_namespace_scans_to_nothing(void **state)
{
	struct rgn_leak_scan *s;

	(void)state;
	assert_int_equal(tu_count_segments(), 0);
	s = scan();
	assert_int_equal(s->nsegs, 0);
	assert_int_equal(s->total_bytes, 0);
	assert_int_equal(s->source, RGN_LEAK_SRC_PROC);
	assert_true(s->shmmni != RGN_LEAK_LIMIT_UNKNOWN && s->shmmni > 0);
	assert_true(s->page_size >= 4096);
	assert_true(s->shm_rmid_forced == 0 || s->shm_rmid_forced == 1);
	rgn_leak_free(s);
	rgn_leak_free(NULL);
	assert_int_equal(rgn_leak_scan(0, NULL), -EINVAL);
}

static void foreign_segment_of_a_dead_creator_is_idle(void **state)
{
	int32_t key = fresh_key();
	int id = foreign_orphan(key, 100000);
	struct rgn_leak_scan *s = scan();
	const struct rgn_leak *g = seg_at(s, key);

	(void)state;
	assert_int_equal(g->shmid, id);
	assert_int_equal(g->cls, RGN_LEAK_FOREIGN_IDLE);
	assert_int_equal(g->ours, RGN_LEAK_NO);
	assert_int_equal(g->cpid_alive, RGN_LEAK_NO);
	assert_non_null(strstr(g->evidence, "is gone"));
	assert_int_equal(g->size, 100000);
	assert_int_equal(g->nattch, 0);
	assert_string_equal(g->home, "");
	assert_true(g->rss > 0 && g->rss != RGN_LEAK_LIMIT_UNKNOWN);
	assert_int_equal(s->leaked_bytes, 100000);
	assert_ptr_equal(rgn_leak_find(s, id), g);
	assert_null(rgn_leak_find(s, id + 1));
	rgn_leak_free(s);
	shmctl(id, IPC_RMID, NULL);
}

static void never_written_segment_is_judged_without_attaching(void **state)
{
	int32_t key = fresh_key();
	int id = foreign(key, 1 << 20, 0, 0);
	struct rgn_leak_scan *s = scan();
	const struct rgn_leak *g = seg_at(s, key);
	struct shmid_ds ds;

	(void)state;
	assert_int_equal(g->cls, RGN_LEAK_FOREIGN_IDLE);
	assert_int_equal(g->cpid_alive, RGN_LEAK_YES); /* we made it */
	assert_non_null(strstr(g->evidence, "still runs"));
	assert_int_equal(g->rss, 0);
	assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
	assert_int_equal(ds.shm_atime, 0); /* never attached */
	/* Its creator lives: not counted as leaked. */
	assert_int_equal(s->leaked_bytes, 0);
	rgn_leak_free(s);
	shmctl(id, IPC_RMID, NULL);
}

static void attached_foreign_segment_is_in_use(void **state)
{
	int32_t key = fresh_key();
	int id = foreign(key, 65536, 1, 1);
	struct rgn_leak_scan *s = scan();
	const struct rgn_leak *g = seg_at(s, key);

	(void)state;
	assert_int_equal(g->cls, RGN_LEAK_FOREIGN_IN_USE);
	assert_int_equal(g->nattch, 1);
	assert_int_equal(g->lpid, getpid());
	rgn_leak_free(s);
	shmctl(id, IPC_RMID, NULL); /* goes at our exit */
}

static void segment_marked_for_removal_is_removing(void **state)
{
	int32_t key = fresh_key();
	int id = foreign(key, 65536, 1, 1);
	struct rgn_leak_scan *s;
	const struct rgn_leak *g;

	(void)state;
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
	s = scan();
	g = rgn_leak_find(s, id);
	assert_non_null(g);
	assert_int_equal(g->cls, RGN_LEAK_REMOVING);
	assert_true(g->mode & SHM_DEST);
	assert_int_equal(g->key, 0); /* the kernel clears it */
	rgn_leak_free(s);
}

static void environment_with_a_live_process_is_live(void **state)
{
	const char *home = tu_mkhome();
	int32_t key = fresh_key();
	rgn_env *env = open_sysv(home, key);
	struct rgn_env_stat *st;
	struct rgn_leak_scan *s;
	const struct rgn_leak *g;
	rgn_region *r;
	char real[4096];

	(void)state;
	tu_ok(rgn_region_create(env, "cache", RGN_TYPE_MPOOL, 128 * 1024, &r));
	tu_ok(rgn_stat_env(env, &st));
	assert_non_null(realpath(home, real));
	s = scan();
	for (int i = 0; i < 2; i++) {
		g = seg_at(s, key + i);
		assert_int_equal(g->cls, RGN_LEAK_LIVE);
		assert_int_equal(g->ours, RGN_LEAK_YES);
		assert_int_equal(g->program, RGN_LEAK_PROG_REGIONFS);
		assert_int_equal(g->home_matches, RGN_LEAK_YES);
		assert_int_equal(g->env_live, 1);
		assert_true(g->env_id == st->env_id);
		assert_int_equal(g->region_id, (uint32_t)i + 1);
		assert_string_equal(g->home, real);
	}
	assert_string_equal(seg_at(s, key + 1)->region_name, "cache");
	assert_int_equal(seg_at(s, key + 1)->region_type, RGN_TYPE_MPOOL);
	/* Both segments name the same home: one string for both. */
	assert_ptr_equal(seg_at(s, key)->home, seg_at(s, key + 1)->home);
	assert_int_equal(s->count[RGN_LEAK_LIVE], 2);
	rgn_leak_free(s);
	rgn_stat_free(st);
	rgn_region_detach(r);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void crashed_holder_leaves_orphans(void **state)
{
	const char *home = tu_mkhome();
	int32_t key = fresh_key();
	struct rgn_leak_scan *s;
	const struct rgn_leak *g;

	(void)state;
	crash_env(home, key);
	s = scan();
	for (int i = 0; i < 2; i++) {
		g = seg_at(s, key + i);
		assert_int_equal(g->cls, RGN_LEAK_ORPHANED);
		assert_int_equal(g->home_matches, RGN_LEAK_YES);
		assert_int_equal(g->env_live, 0);
		assert_int_equal(g->env_stale, 1);
		assert_int_equal(g->cpid_alive, RGN_LEAK_NO);
		assert_non_null(
			strstr(g->evidence, "no live process (1 stale)"));
	}
	assert_int_equal(s->count[RGN_LEAK_ORPHANED], 2);
	assert_int_equal(s->leaked_bytes, s->bytes[RGN_LEAK_ORPHANED]);
	rgn_leak_free(s);
	tu_ok(rgn_env_remove(home, 0)); /* dead processes do not count */
	assert_int_equal(shmget(key, 0, 0), -1);
	assert_int_equal(shmget(key + 1, 0, 0), -1);
}

static void cleanly_closed_environment_is_idle_and_not_removable(void **state)
{
	const char *home = tu_mkhome();
	int32_t key = fresh_key();
	struct rgn_leak_removal res;
	struct rgn_leak_scan *s;
	const struct rgn_leak *g;
	rgn_env *env = open_sysv(home, key);
	rgn_region *r;

	(void)state;
	tu_ok(rgn_region_create(env, "data", RGN_TYPE_USER, 64 * 1024, &r));
	tu_ok(rgn_env_close(env));
	s = scan();
	g = seg_at(s, key + 1);
	assert_int_equal(g->cls, RGN_LEAK_IDLE);
	assert_int_equal(g->home_matches, RGN_LEAK_YES);
	assert_int_equal(g->env_stale, 0);
	assert_false(rgn_leak_is_leaked(g));
	assert_int_equal(s->count[RGN_LEAK_IDLE], 2);
	assert_int_equal(s->leaked_bytes, 0);
	/* a persistent environment at rest keeps its data */
	assert_int_equal(rgn_leak_remove(g->shmid, g, 0, 0, &res), -EBUSY);
	assert_non_null(strstr(res.reason, "not a leak"));
	assert_true(shmget(key + 1, 0, 0) >= 0);
	rgn_leak_free(s);
	tu_ok(rgn_env_remove(home, 0));
	assert_int_equal(shmget(key, 0, 0), -1);
}

static void deleted_home_leaves_orphans(void **state)
{
	const char *home = tu_mkhome();
	int32_t key = fresh_key();
	struct rgn_leak_scan *s;
	const struct rgn_leak *g;

	(void)state;
	crash_env(home, key);
	remove_home(home);
	s = scan();
	g = seg_at(s, key + 1);
	assert_int_equal(g->cls, RGN_LEAK_ORPHANED);
	assert_int_equal(g->home_matches, RGN_LEAK_NO);
	assert_true(strncmp(g->evidence, "home no longer exists", 21) == 0);
	assert_string_equal(g->region_name, "data");
	rgn_leak_free(s);
}

static void home_holding_another_environment_orphans_the_old(void **state)
{
	const char *home = tu_mkhome();
	int32_t key = fresh_key();
	struct rgn_env_config cfg;
	struct rgn_leak_scan *s;
	const struct rgn_leak *g;
	char path[4200];
	rgn_env *env;

	(void)state;
	crash_env(home, key);
	snprintf(path, sizeof(path), "%s/__db.001", home);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/__db.lck", home);
	unlink(path);
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE; /* files backing: no key in common */
	tu_ok(rgn_env_open(home, &cfg, &env));
	s = scan();
	g = seg_at(s, key);
	assert_int_equal(g->cls, RGN_LEAK_ORPHANED);
	assert_int_equal(g->home_matches, RGN_LEAK_NO);
	assert_non_null(strstr(g->evidence, "another environment"));
	rgn_leak_free(s);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void shmctl_listing_agrees_with_procfs(void **state)
{
	const char *home = tu_mkhome();
	int32_t key = fresh_key();
	struct rgn_leak_scan *a, *b;
	int held = foreign(fresh_key(), 65536, 1, 1);

	(void)state;
	crash_env(home, key);
	foreign_orphan(fresh_key(), 8192);
	a = scan();
	assert_int_equal(a->source, RGN_LEAK_SRC_PROC);
	tu_ok(rgn_leak_scan(RGN_LEAK_SCAN_SHMCTL, &b));
	assert_int_equal(b->source, RGN_LEAK_SRC_STAT_ANY);
	assert_int_equal(a->nsegs, b->nsegs);
	assert_true(a->nsegs >= 4);
	for (size_t i = 0; i < a->nsegs; i++) {
		const struct rgn_leak *x = &a->segs[i];
		const struct rgn_leak *y = rgn_leak_find(b, x->shmid);

		assert_non_null(y);
		assert_int_equal(x->cls, y->cls);
		assert_int_equal(x->key, y->key);
		assert_int_equal(x->size, y->size);
		assert_int_equal(x->uid, y->uid);
		assert_int_equal(x->mode & 0777, y->mode & 0777);
		assert_int_equal(x->cpid, y->cpid);
		assert_int_equal(x->rss, y->rss);
	}
	/* Counts add up. */
	{
		uint64_t n = 0, bytes = 0;

		for (int c = 0; c < RGN_LEAK_NCLASSES; c++) {
			n += a->count[c];
			bytes += a->bytes[c];
		}
		assert_int_equal(n, a->nsegs);
		assert_int_equal(bytes, a->total_bytes);
	}
	rgn_leak_free(a);
	rgn_leak_free(b);
	shmctl(held, IPC_RMID, NULL);
}

static void one_segment_by_id(void **state)
{
	const char *home = tu_mkhome();
	int32_t key = fresh_key();
	struct rgn_leak_scan *s;
	int id;

	(void)state;
	crash_env(home, key);
	id = shmget(key + 1, 0, 0);
	tu_ok(rgn_leak_stat(id, &s));
	assert_int_equal(s->nsegs, 1);
	assert_int_equal(s->segs[0].shmid, id);
	assert_int_equal(s->segs[0].cls, RGN_LEAK_ORPHANED);
	assert_int_equal(s->count[RGN_LEAK_ORPHANED], 1);
	assert_true(s->segs[0].home[0] == '/');
	rgn_leak_free(s);
	assert_int_equal(rgn_leak_stat(0x7ffffff0, &s), -ENOENT);
	assert_null(s);
	assert_int_equal(rgn_leak_stat(-1, &s), -EINVAL);
}

/* ---- removal ------------------------------------------------------------- */

static void orphan_is_removed_after_a_dry_run(void **state)
{
	const char *home = tu_mkhome();
	int32_t key = fresh_key();
	struct rgn_leak_removal res;
	struct rgn_leak_scan *s;
	struct shmid_ds ds;
	int id;

	(void)state;
	crash_env(home, key);
	s = scan();
	id = seg_at(s, key + 1)->shmid;
	assert_int_equal(rgn_leak_remove(id, seg_at(s, key + 1), getuid(),
					 RGN_LEAK_DRY_RUN, &res),
			 0);
	assert_int_equal(res.verdict, RGN_LEAK_WOULD_REMOVE);
	assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
	assert_int_equal(
		rgn_leak_remove(id, seg_at(s, key + 1), getuid(), 0, &res), 0);
	assert_int_equal(res.verdict, RGN_LEAK_REMOVED);
	assert_int_equal(res.seg.cls, RGN_LEAK_ORPHANED);
	assert_string_equal(res.seg.home, res.home);
	assert_true(res.home[0] == '/');
	assert_int_equal(shmctl(id, IPC_STAT, &ds), -1);
	assert_int_equal(rgn_leak_remove(id, NULL, getuid(), 0, &res), -ENOENT);
	assert_int_equal(res.verdict, RGN_LEAK_SKIP_GONE);
	rgn_leak_free(s);
}

static void removal_refuses_what_is_not_a_leak(void **state)
{
	const char *home = tu_mkhome(), *home2 = tu_mkhome();
	int32_t key = fresh_key(), key2 = fresh_key();
	int idle = foreign_orphan(fresh_key(), 65536);
	int held = foreign(fresh_key(), 65536, 1, 1);
	struct rgn_leak_removal res;
	struct rgn_leak stale;
	struct rgn_leak_scan *s;
	rgn_env *env;
	rgn_region *r;
	struct shmid_ds ds;
	int orphan, live_idle;

	(void)state;
	crash_env(home, key);
	env = open_sysv(home2, key2);
	tu_ok(rgn_region_create(env, "x", RGN_TYPE_USER, 64 * 1024, &r));
	tu_ok(rgn_region_detach(r)); /* region 2: live, nobody attached */
	s = scan();
	orphan = seg_at(s, key + 1)->shmid;
	live_idle = seg_at(s, key2 + 1)->shmid;
	assert_int_equal(seg_at(s, key2 + 1)->nattch, 0);

	/* Foreign: only with force. */
	assert_int_equal(rgn_leak_remove(idle, NULL, 0, 0, &res), RGN_EFOREIGN);
	assert_int_equal(res.verdict, RGN_LEAK_SKIP_FOREIGN);
	assert_non_null(strstr(res.reason, "force-foreign"));
	assert_int_equal(shmctl(idle, IPC_STAT, &ds), 0);

	/* Attached: never, not even forced. */
	assert_int_equal(
		rgn_leak_remove(held, NULL, 0, RGN_LEAK_FORCE_FOREIGN, &res),
		-EBUSY);
	assert_int_equal(res.verdict, RGN_LEAK_SKIP_ATTACHED);

	/* Live environment, even with nobody attached to that segment. */
	assert_int_equal(rgn_leak_remove(live_idle, NULL, 0, 0, &res), -EBUSY);
	assert_int_equal(res.verdict, RGN_LEAK_SKIP_LIVE);
	assert_int_equal(shmctl(live_idle, IPC_STAT, &ds), 0);

	/* Another user's orphan. */
	assert_int_equal(rgn_leak_remove(orphan, NULL, 12345, 0, &res), -EPERM);
	assert_int_equal(res.verdict, RGN_LEAK_SKIP_PERM);
	assert_non_null(strstr(res.reason, "uid 12345"));

	/* What the caller saw is not what is there now. */
	stale = *seg_at(s, key + 1);
	stale.ctime -= 10;
	assert_int_equal(rgn_leak_remove(orphan, &stale, 0, 0, &res), -ESTALE);
	assert_int_equal(res.verdict, RGN_LEAK_SKIP_CHANGED);
	assert_int_equal(shmctl(orphan, IPC_STAT, &ds), 0);

	/* Marked for removal already. */
	assert_int_equal(shmctl(held, IPC_RMID, NULL), 0);
	assert_int_equal(
		rgn_leak_remove(held, NULL, 0, RGN_LEAK_FORCE_FOREIGN, &res),
		-EALREADY);
	assert_int_equal(res.verdict, RGN_LEAK_SKIP_REMOVING);

	/* And what is allowed: the orphan, and the idle foreign one forced. */
	assert_int_equal(
		rgn_leak_remove(orphan, seg_at(s, key + 1), 0, 0, &res), 0);
	assert_int_equal(
		rgn_leak_remove(idle, NULL, 0, RGN_LEAK_FORCE_FOREIGN, &res),
		0);
	assert_int_equal(res.verdict, RGN_LEAK_REMOVED);
	assert_int_equal(shmctl(idle, IPC_STAT, &ds), -1);
	assert_int_equal(rgn_leak_remove(-1, NULL, 0, 0, &res), -EINVAL);
	assert_int_equal(rgn_leak_remove(idle, NULL, 0, 0, NULL), -EINVAL);

	rgn_leak_free(s);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home2, 0));
}

/* ---- what an unprivileged scanner may attach ---------------------------- */

/*
 * The scan predicts the kernel's permission check instead of asking it
 * (asking costs a walk of the whole index per refused segment): a segment
 * whose bits refuse us is unknown without an attach, one whose owner,
 * group or other bits grant us is judged by its header.
 */
static void unreadable_segments_are_unknown_and_readable_ones_judged(
	void **state)
{
	int closed = foreign(fresh_key(), 65536, 1, 0);
	int by_group = foreign(fresh_key(), 65536, 1, 0);
	int by_other = foreign(fresh_key(), 65536, 1, 0);
	struct shmid_ds ds;
	pid_t child;

	(void)state;
	assert_int_equal(shmctl(by_group, IPC_STAT, &ds), 0);
	ds.shm_perm.gid = 65534;
	ds.shm_perm.mode = 0640;
	assert_int_equal(shmctl(by_group, IPC_SET, &ds), 0);
	assert_int_equal(shmctl(by_other, IPC_STAT, &ds), 0);
	ds.shm_perm.mode = 0604;
	assert_int_equal(shmctl(by_other, IPC_SET, &ds), 0);
	child = tu_fork();
	if (child == 0) {
		struct rgn_leak_scan *s = NULL;
		const struct rgn_leak *c, *g, *o;

		/* root reads everything: drop to nobody, capabilities too */
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(5);
		if (rgn_leak_scan(0, &s) != 0)
			_exit(6);
		c = rgn_leak_find(s, closed);
		g = rgn_leak_find(s, by_group);
		o = rgn_leak_find(s, by_other);
		if (!c || !g || !o)
			_exit(7);
		if (c->cls != RGN_LEAK_UNKNOWN ||
		    !strstr(c->evidence, strerror(EACCES)))
			_exit(8);
		if (g->cls != RGN_LEAK_FOREIGN_IDLE || g->ours != RGN_LEAK_NO)
			_exit(9);
		if (o->cls != RGN_LEAK_FOREIGN_IDLE || o->ours != RGN_LEAK_NO)
			_exit(10);
		rgn_leak_free(s);
		_exit(0);
	}
	assert_int_equal(tu_wait(child), 0);
	assert_int_equal(shmctl(closed, IPC_RMID, NULL), 0);
	assert_int_equal(shmctl(by_group, IPC_RMID, NULL), 0);
	assert_int_equal(shmctl(by_other, IPC_RMID, NULL), 0);
}

/* The record rgn_leak_stat makes of ID (its home pointer cleared: only
 * shmid, key and ctime matter here). */
static struct rgn_leak seen_of(int id)
{
	struct rgn_leak_scan *s;
	struct rgn_leak r;

	tu_ok(rgn_leak_stat(id, &s));
	r = s->segs[0];
	r.home = "";
	rgn_leak_free(s);
	return r;
}

/* Removal asks the identity module: a segment marked for removal since it
 * was seen is named as such, not as changed (its key went IPC_PRIVATE). */
static void removal_names_a_segment_removed_since_it_was_seen(void **state)
{
	int id = foreign(fresh_key(), 65536, 1, 0);
	struct rgn_leak seen = seen_of(id);
	struct rgn_leak_removal res;
	void *hold;

	(void)state;
	hold = shmat(id, NULL, SHM_RDONLY);
	assert_true(hold != (void *)-1);
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
	assert_int_equal(
		rgn_leak_remove(id, &seen, 0, RGN_LEAK_FORCE_FOREIGN, &res),
		-EALREADY);
	assert_int_equal(res.verdict, RGN_LEAK_SKIP_REMOVING);
	shmdt(hold);
	assert_int_equal(
		rgn_leak_remove(id, &seen, 0, RGN_LEAK_FORCE_FOREIGN, &res),
		-ENOENT);
	assert_int_equal(res.verdict, RGN_LEAK_SKIP_GONE);
}

int main(void)
{
	tu_private_ipc();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_of_classes_and_verdicts),
		cmocka_unit_test(
			berkeley_db_segments_are_leaked_only_when_orphaned),
		cmocka_unit_test(scan_with_homes_keeps_other_verdicts),
		cmocka_unit_test(empty_namespace_scans_to_nothing),
		cmocka_unit_test(foreign_segment_of_a_dead_creator_is_idle),
		cmocka_unit_test(
			never_written_segment_is_judged_without_attaching),
		cmocka_unit_test(attached_foreign_segment_is_in_use),
		cmocka_unit_test(segment_marked_for_removal_is_removing),
		cmocka_unit_test(environment_with_a_live_process_is_live),
		cmocka_unit_test(crashed_holder_leaves_orphans),
		cmocka_unit_test(
			cleanly_closed_environment_is_idle_and_not_removable),
		cmocka_unit_test(deleted_home_leaves_orphans),
		cmocka_unit_test(
			home_holding_another_environment_orphans_the_old),
		cmocka_unit_test(shmctl_listing_agrees_with_procfs),
		cmocka_unit_test(one_segment_by_id),
		cmocka_unit_test(orphan_is_removed_after_a_dry_run),
		cmocka_unit_test(removal_refuses_what_is_not_a_leak),
		cmocka_unit_test(
			removal_names_a_segment_removed_since_it_was_seen),
		cmocka_unit_test(
			unreadable_segments_are_unknown_and_readable_ones_judged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
