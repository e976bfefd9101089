/*
 * bench_env.c - joining and creating environments, regionfs against
 * Berkeley DB 5.3, in files mode and in system memory mode.
 *
 * Like for like: a Berkeley DB environment opened with
 * DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL | DB_INIT_TXN and a cache split
 * in three (set_cachesize(0, 768 KiB, 3)) has five regions: __db.001 (the
 * environment; lock, log and txn live inside it in 5.3), __db.002 (the
 * mutexes) and __db.003-005 (one per cache).  The regionfs environment has
 * five regions too: the primary and four of 256 KiB (one mutex, three
 * mpool), the size of each Berkeley DB cache.  Berkeley DB maps every region
 * when it joins; regionfs maps only the primary, so its join is measured
 * with rgn_region_attach_id of the four others, and once more without.
 *
 * System memory mode: DB_SYSTEM_MEM with set_shm_key against
 * RGN_BACKING_SYSV with a base key, in the private IPC namespace that
 * bench_init entered.  Every measure runs twice: homes on the machine's
 * disk ($TMPDIR or /tmp, or --dir) and on our private tmpfs; each row
 * names the filesystem (statfs) in its name and its fs column.
 *
 * Growth: join time of environments of 5, 50 and 500 regions (64 KiB
 * each), regionfs only (Berkeley DB's region count is fixed), on both.
 */
#include <db.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "rgn.h"

#define NREGIONS	   5 /* per environment, the primary included */
#define REGION_SIZE	   (256u * 1024)
#define GROWTH_REGION_SIZE (64u * 1024)
#define RGN_KEY		   0x52470000 /* base keys, apart by more than the 4096 */
#define BDB_KEY		   0x52480000 /* keys an environment may use */
#define BDB_FLAGS	   (DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL | DB_INIT_TXN)
#define BDB_CACHE	   (768u * 1024)
#define BDB_NCACHE	   3

struct env_ctx {
	const char *home; /* one home per side and backing */
	int sysv;	  /* system memory backing */
	int32_t key;	  /* its base key: one per home, because Berkeley
			     DB removes whatever holds its keys */
	int nregions;	  /* including the primary */
	uint32_t region_size;
	int attach; /* join: also attach every region */
	int iters;  /* operations per run */
};

static const enum rgn_region_type region_types[] = {
	RGN_TYPE_MUTEX,
	RGN_TYPE_MPOOL,
	RGN_TYPE_MPOOL,
	RGN_TYPE_MPOOL,
};

static int rgn_fail_msg(const char *what, const char *home, int rc)
{
	return bench_err("regionfs: %s %s: %s (%s)", what, home,
			 rgn_strerror(rc), rgn_errdetail());
}

/* ---- regionfs ----------------------------------------------------------- */

static void rgn_config(const struct env_ctx *c, uint32_t flags,
		       struct rgn_env_config *cfg)
{
	rgn_env_config_init(cfg);
	cfg->flags = flags;
	if (c->sysv) {
		cfg->backing = RGN_BACKING_SYSV;
		cfg->shm_key = c->key;
	}
}

static int rgn_make(const struct env_ctx *c)
{
	struct rgn_env_config cfg;
	rgn_env *env;
	rgn_region *r;
	char name[32];
	int rc;

	rgn_config(c, RGN_CREATE | RGN_EXCL, &cfg);
	rc = rgn_env_open(c->home, &cfg, &env);
	if (rc < 0)
		return rgn_fail_msg("create", c->home, rc);
	for (int i = 1; i < c->nregions; i++) {
		snprintf(name, sizeof(name), "region%d", i);
		rc = rgn_region_create(env, name, region_types[(i - 1) % 4],
				       c->region_size, &r);
		if (rc < 0) {
			rgn_fail_msg("create region in", c->home, rc);
			rgn_env_close(env);
			return -1;
		}
		/* Handles are detached by close; keep the mapping count of
		 * the creator low for big environments. */
		rgn_region_detach(r);
	}
	rc = rgn_env_close(env);
	if (rc < 0)
		return rgn_fail_msg("close", c->home, rc);
	return 0;
}

static int rgn_join_once(const struct env_ctx *c)
{
	struct rgn_env_config cfg;
	rgn_env *env;
	rgn_region *r;
	int rc;

	rgn_config(c, 0, &cfg);
	cfg.backing = 0;
	rc = rgn_env_open(c->home, &cfg, &env);
	if (rc < 0)
		return rgn_fail_msg("join", c->home, rc);
	for (int id = 2; c->attach && id <= c->nregions; id++) {
		rc = rgn_region_attach_id(env, (uint32_t)id, &r);
		if (rc < 0) {
			rgn_fail_msg("attach region in", c->home, rc);
			rgn_env_close(env);
			return -1;
		}
	}
	rc = rgn_env_close(env);
	if (rc < 0)
		return rgn_fail_msg("close", c->home, rc);
	return 0;
}

static int rgn_join(void *ctx, double *us)
{
	const struct env_ctx *c = ctx;
	uint64_t t0 = bench_now_ns();

	for (int i = 0; i < c->iters; i++) {
		if (rgn_join_once(c) < 0)
			return -1;
	}
	*us = (double)(bench_now_ns() - t0) / 1e3 / c->iters;
	return 0;
}

static int rgn_create_remove(void *ctx, double *us)
{
	const struct env_ctx *c = ctx;
	uint64_t t0 = bench_now_ns();
	int rc;

	for (int i = 0; i < c->iters; i++) {
		if (rgn_make(c) < 0)
			return -1;
		rc = rgn_env_remove(c->home, 0);
		if (rc < 0)
			return rgn_fail_msg("remove", c->home, rc);
	}
	*us = (double)(bench_now_ns() - t0) / 1e3 / c->iters;
	return 0;
}

/* ---- Berkeley DB 5.3 ---------------------------------------------------- */

static int bdb_open(const struct env_ctx *c, u_int32_t extra, DB_ENV **envp)
{
	DB_ENV *env;
	int rc;

	rc = db_env_create(&env, 0);
	if (rc)
		return bench_err("db_env_create: %s", db_strerror(rc));
	env->set_errfile(env, stderr);
	env->set_errpfx(env, "bench_env (bdb)");
	if (extra & DB_CREATE) {
		rc = env->set_cachesize(env, 0, BDB_CACHE, BDB_NCACHE);
		if (rc) {
			env->close(env, 0);
			return bench_err("set_cachesize: %s", db_strerror(rc));
		}
	}
	if (c->sysv) {
		rc = env->set_shm_key(env, c->key);
		if (rc) {
			env->close(env, 0);
			return bench_err("set_shm_key: %s", db_strerror(rc));
		}
		extra |= DB_SYSTEM_MEM;
	}
	rc = env->open(env, c->home, BDB_FLAGS | extra, 0660);
	if (rc) {
		env->close(env, 0);
		return bench_err("BDB open %s: %s", c->home, db_strerror(rc));
	}
	*envp = env;
	return 0;
}

static int bdb_make(const struct env_ctx *c)
{
	DB_ENV *env;
	int rc;

	if (bdb_open(c, DB_CREATE, &env) < 0)
		return -1;
	rc = env->close(env, 0);
	if (rc)
		return bench_err("BDB close %s: %s", c->home, db_strerror(rc));
	return 0;
}

static int bdb_remove(const struct env_ctx *c)
{
	DB_ENV *env;
	int rc;

	rc = db_env_create(&env, 0);
	if (rc)
		return bench_err("db_env_create: %s", db_strerror(rc));
	if (c->sysv)
		env->set_shm_key(env, c->key);
	/* remove frees the handle, whatever it returns; it finds the
	 * segments through __db.001 */
	rc = env->remove(env, c->home, 0);
	if (rc)
		return bench_err("BDB remove %s: %s", c->home, db_strerror(rc));
	return 0;
}

static int bdb_join(void *ctx, double *us)
{
	const struct env_ctx *c = ctx;
	uint64_t t0 = bench_now_ns();
	DB_ENV *env;
	int rc;

	for (int i = 0; i < c->iters; i++) {
		if (bdb_open(c, 0, &env) < 0)
			return -1;
		rc = env->close(env, 0);
		if (rc)
			return bench_err("BDB close %s: %s", c->home,
					 db_strerror(rc));
	}
	*us = (double)(bench_now_ns() - t0) / 1e3 / c->iters;
	return 0;
}

static int bdb_create_remove(void *ctx, double *us)
{
	const struct env_ctx *c = ctx;
	uint64_t t0 = bench_now_ns();

	for (int i = 0; i < c->iters; i++) {
		if (bdb_make(c) < 0 || bdb_remove(c) < 0)
			return -1;
	}
	*us = (double)(bench_now_ns() - t0) / 1e3 / c->iters;
	return 0;
}

/* Count the __db.NNN region files of HOME, to check the set-up. */
static int count_region_files(const char *home)
{
	char path[4096];
	struct stat st;
	int n = 0;

	for (int id = 1; id < 100; id++) {
		snprintf(path, sizeof(path), "%s/__db.%03d", home, id);
		if (stat(path, &st) == 0)
			n++;
	}
	return n;
}

/* ---- the measures ------------------------------------------------------- */

/*
 * SYSV: system memory backing, else files.  TMPFS: homes on our private
 * tmpfs instead of disk.  Targets (issue 10) are the same on both.
 */
static void run_mode(int sysv, int tmpfs)
{
	/* Homes of both runs live on: keys of the tmpfs run are apart. */
	int32_t off = tmpfs ? 0x40000 : 0;
	char mode[64];
	int join_iters = bench.quick ? 10 : 400;
	int create_iters = bench.quick ? 5 : 100;
	struct env_ctx rj = {.home = bench_mkdir("rgn-join", tmpfs),
			     .sysv = sysv,
			     .key = RGN_KEY + off,
			     .nregions = NREGIONS,
			     .region_size = REGION_SIZE,
			     .attach = 1,
			     .iters = join_iters};
	struct env_ctx rj0 = rj;
	struct env_ctx bj = {.home = bench_mkdir("bdb-join", tmpfs),
			     .sysv = sysv,
			     .key = BDB_KEY + off,
			     .iters = join_iters};
	struct env_ctx rc = {.home = bench_mkdir("rgn-create", tmpfs),
			     .sysv = sysv,
			     .key = RGN_KEY + off + 0x20000,
			     .nregions = NREGIONS,
			     .region_size = REGION_SIZE,
			     .iters = create_iters};
	struct env_ctx bc = {.home = bench_mkdir("bdb-create", tmpfs),
			     .sysv = sysv,
			     .key = BDB_KEY + off + 0x20000,
			     .iters = create_iters};
	char n1[128], n2[128], n3[128];
	int ok = 1;

	snprintf(mode, sizeof(mode), "%s, %s", sysv ? "system memory" : "files",
		 bench_fs_name(rc.home));
	rj0.attach = 0;
	if (sysv && !bench.ipc_private) {
		ok = 0;
	} else if (rgn_make(&rj) < 0 || bdb_make(&bj) < 0) {
		ok = 0;
	} else if (!sysv && count_region_files(bj.home) != NREGIONS) {
		bench_err("Berkeley DB made %d region files, expected %d",
			  count_region_files(bj.home), NREGIONS);
		ok = 0;
	}

	snprintf(n1, sizeof(n1), "join %d regions, attach all 4, close (%s)",
		 NREGIONS, mode);
	snprintf(n2, sizeof(n2), "join env of %d regions + close (%s)",
		 NREGIONS, mode);
	snprintf(n3, sizeof(n3), "create env of %d regions + remove (%s)",
		 NREGIONS, mode);
	/* The target is on the join itself: rgn_env_open against
	 * DB_ENV->open.  Our open maps regions on demand, BDB's maps all of
	 * them, so a second row also attaches every region, to show what
	 * that costs (informational). */
	struct bench_measure join = {
		.group = "env",
		.name = n1,
		.unit = "us/op",
		.a = {"regionfs", rgn_join, &rj, NULL},
		.b = {"BDB 5.3", bdb_join, &bj, NULL},
		.homes = rj.home,
		.note = "regionfs: rgn_env_open, rgn_region_attach_id of the "
			"4 other regions, rgn_env_close; BDB: DB_ENV->open "
			"(LOCK|LOG|MPOOL|TXN, no DB_CREATE), DB_ENV->close: "
			"informational",
	};
	struct bench_measure join0 = {
		.group = "env",
		.name = n2,
		.unit = "us/op",
		.target_op = "<=",
		.target = 0.25,
		.a = {"regionfs", rgn_join, &rj0, NULL},
		.b = {"BDB 5.3", bdb_join, &bj, NULL},
		.homes = rj0.home,
		.note = "regionfs: rgn_env_open (regions are mapped when "
			"attached), rgn_env_close; BDB: DB_ENV->open "
			"(LOCK|LOG|MPOOL|TXN, no DB_CREATE), which maps all 5, "
			"DB_ENV->close",
	};
	struct bench_measure create = {
		.group = "env",
		.name = n3,
		.unit = "us/op",
		.target_op = "<=",
		.target = sysv ? 0.5 : 1.0,
		.a = {"regionfs", rgn_create_remove, &rc, NULL},
		.b = {"BDB 5.3", bdb_create_remove, &bc, NULL},
		.homes = rc.home,
		.note = "regionfs: rgn_env_open(CREATE), 4 x "
			"rgn_region_create(256 KiB), close, rgn_env_remove; "
			"BDB: set_cachesize(0, 768 KiB, 3), open(DB_CREATE|"
			"LOCK|LOG|MPOOL|TXN), close, DB_ENV->remove",
	};
	if (sysv && !bench.ipc_private) {
		join.a.fn = join0.a.fn = create.a.fn = NULL;
		join.a.skip = join0.a.skip = create.a.skip =
			"no private IPC namespace";
	} else if (!ok) {
		bench_fail(&join);
		bench_fail(&join0);
		bench_run(&create);
		return;
	}
	bench_run(&join);
	bench_run(&join0);
	bench_run(&create);
}

static void run_growth(int tmpfs)
{
	static const int counts[] = {5, 50, 500};
	double sizes[3], with[3], without[3];
	char name[128];
	int iters = bench.quick ? 5 : 200;

	for (int i = 0; i < 3; i++) {
		struct env_ctx c = {.home = bench_mkdir("rgn-growth", tmpfs),
				    .nregions = counts[i],
				    .region_size = GROWTH_REGION_SIZE,
				    .attach = 1,
				    .iters = iters};
		struct env_ctx c0;

		if (bench.only && !strstr("join growth", bench.only))
			return;
		sizes[i] = counts[i];
		with[i] = without[i] = 0;
		if (rgn_make(&c) < 0)
			return;
		c0 = c;
		c0.attach = 0;
		/* Attaching 500 regions takes long: fewer iterations. */
		c.iters = bench.quick ? 2 : 2000 / counts[i];
		snprintf(name, sizeof(name),
			 "join growth: %d regions, attach all + close (%s)",
			 counts[i], bench_fs_name(c.home));
		struct bench_measure m = {
			.group = "growth",
			.name = name,
			.unit = "us/op",
			.a = {"regionfs", rgn_join, &c, NULL},
		};
		bench_run(&m);
		with[i] = m.med_a;
		snprintf(name, sizeof(name),
			 "join growth: %d regions, primary only + close (%s)",
			 counts[i], bench_fs_name(c.home));
		struct bench_measure m0 = {
			.group = "growth",
			.name = name,
			.unit = "us/op",
			.a = {"regionfs", rgn_join, &c0, NULL},
		};
		bench_run(&m0);
		without[i] = m0.med_a;
		rgn_env_remove(c.home, RGN_FORCE);
	}
	snprintf(name, sizeof(name),
		 "join growth: attach all regions + close "
		 "(%s)",
		 bench_fs_name(bench_mkdir("rgn-growth-fs", tmpfs)));
	bench_growth("growth", name, "us/op", "region", sizes, with, 3);
	snprintf(name, sizeof(name), "join growth: primary only + close (%s)",
		 bench_fs_name(bench_mkdir("rgn-growth-fs", tmpfs)));
	bench_growth("growth", name, "us/op", "region", sizes, without, 3);
}

int main(int argc, char **argv)
{
	bench_init(argc, argv, "bench_env");
	for (int tmpfs = 0; tmpfs <= 1; tmpfs++) {
		run_mode(0, tmpfs);
		run_mode(1, tmpfs);
	}
	run_growth(0);
	run_growth(1);
	return bench_finish();
}
