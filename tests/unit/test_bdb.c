/*
 * test_bdb.c - the Berkeley DB reader against homes made by the real
 * libdb 5.3 (tests/bdb/bdbhelper): figures compared with db5.3_stat -e,
 * every verdict made for real (at rest, in use, killed holder, panic, empty
 * __db.001), the holder found in /proc, and proof that reading changes no
 * byte, length or mtime of the home and no byte of its segments, and that
 * Berkeley DB still opens the environment afterwards.  The decoder is also
 * fed every truncation and many corruptions of a real primary.
 *
 * System V homes live in this test's private IPC namespace; every holder
 * is a tu_fork child, killed and reaped at exit even on failure.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bdb.h"
#include "render.h"
#include "rgn.h"
#include "shmid.h"
#include "testutil.h"

#ifndef RGN_BDBHELPER
#error "RGN_BDBHELPER must name the bdbhelper program"
#endif
#ifndef RGN_DB_STAT
#error "RGN_DB_STAT must name db5.3_stat"
#endif

/* One base key per test, so that no create meets (and Berkeley DB then
 * removes) the segments of an earlier test. */
#define KEY_STAT     "0x7a110000"
#define KEY_VERDICT  "0x7a120000"
#define KEY_SEG	     "0x7a130000"
#define KEY_SEG_NUM  0x7a130000
#define KEY_GONE     "0x7a140000"
#define KEY_GONE_NUM 0x7a140000

/* ---- running programs ---------------------------------------------------- */

/* Run ARGV; its stdout into a malloc'd string (may be NULL); its status. */
static int run(char **argv, char **out)
{
	int fd[2], st;
	pid_t pid;
	char *buf = NULL;
	size_t len = 0;
	ssize_t r;

	assert_int_equal(pipe(fd), 0);
	pid = tu_fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd[1]);
	for (;;) {
		buf = realloc(buf, len + 4097);
		assert_non_null(buf);
		r = read(fd[0], buf + len, 4096);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	close(fd[0]);
	st = tu_wait(pid);
	if (out)
		*out = buf;
	else
		free(buf);
	return st;
}

static int helper(const char *cmd, const char *home, const char *key)
{
	char *argv[] = {RGN_BDBHELPER, (char *)cmd, (char *)home, (char *)key,
			NULL};

	return run(argv, NULL);
}

/* A holder that has joined (it printed "ready"): no timing involved. */
static pid_t hold(const char *home, const char *key)
{
	char *argv[] = {RGN_BDBHELPER, "hold", (char *)home, (char *)key, NULL};
	char buf[16] = "";
	int fd[2];
	pid_t pid;

	assert_int_equal(pipe(fd), 0);
	pid = tu_fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd[1]);
	assert_true(read(fd[0], buf, sizeof(buf) - 1) > 0);
	close(fd[0]);
	assert_string_equal(buf, "ready\n");
	return pid;
}

static void kill9(pid_t pid)
{
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(tu_wait(pid), 128 + SIGKILL);
}

/* The value of the db_stat line whose label is LABEL. */
static char *stat_value(const char *text, const char *label)
{
	char want[128], *copy = strdup(text), *line, *save = NULL, *tab;
	char *v = NULL;

	snprintf(want, sizeof(want), "\t%s", label);
	for (line = strtok_r(copy, "\n", &save); line && !v;
	     line = strtok_r(NULL, "\n", &save)) {
		tab = strchr(line, '\t');
		if (tab && strcmp(tab, want) == 0) {
			*tab = '\0';
			v = strdup(line);
		}
	}
	free(copy);
	assert_non_null(v);
	return v;
}

/* ---- snapshots of a home and its segments -------------------------------- */

struct item {
	char name[256]; /* file name, or "shm:ID" */
	struct stat sb;
	unsigned char *data;
	size_t len;
};

struct snap {
	struct item it[64];
	int n;
};

static int snap_segment(const struct rgn_shm_info *in, void *arg)
{
	struct snap *s = arg;
	struct item *it = &s->it[s->n];
	void *p;

	assert_true(s->n < 64);
	p = shmat(in->shmid, NULL, SHM_RDONLY);
	assert_true(p != (void *)-1);
	snprintf(it->name, sizeof(it->name), "shm:%d", (int)in->shmid);
	it->len = in->size;
	it->data = malloc(it->len);
	memcpy(it->data, p, it->len);
	shmdt(p);
	s->n++;
	return 0;
}

static void snap_take(const char *home, struct snap *s)
{
	char path[4096];
	struct dirent *de;
	DIR *d = opendir(home);

	memset(s, 0, sizeof(*s));
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		struct item *it = &s->it[s->n];
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		assert_true(s->n < 60);
		snprintf(it->name, sizeof(it->name), "%s", de->d_name);
		snprintf(path, sizeof(path), "%s/%s", home, de->d_name);
		assert_int_equal(lstat(path, &it->sb), 0);
		it->data = malloc((size_t)it->sb.st_size + 1);
		f = fopen(path, "r");
		assert_non_null(f);
		it->len = fread(it->data, 1, (size_t)it->sb.st_size, f);
		fclose(f);
		s->n++;
	}
	closedir(d);
	/* Every segment of this private namespace belongs to the test. */
	assert_int_equal(rgn_shm_walk(snap_segment, s, NULL), 0);
}

static void snap_free(struct snap *s);

/* A and B hold the same names, bytes, lengths, modes and mtimes; A is
 * freed, B kept for further checks (free it with snap_free). */
static void snap_same(struct snap *a, struct snap *b)
{
	assert_int_equal(a->n, b->n);
	for (int i = 0; i < a->n; i++) {
		struct item *x = &a->it[i], *y = &b->it[i];

		assert_string_equal(x->name, y->name);
		assert_int_equal(x->len, y->len);
		if (memcmp(x->data, y->data, x->len) != 0)
			fail_msg("%s changed", x->name);
		if (strncmp(x->name, "shm:", 4) != 0) {
			assert_int_equal(x->sb.st_size, y->sb.st_size);
			assert_int_equal(x->sb.st_mtim.tv_sec,
					 y->sb.st_mtim.tv_sec);
			assert_int_equal(x->sb.st_mtim.tv_nsec,
					 y->sb.st_mtim.tv_nsec);
			assert_int_equal(x->sb.st_mode, y->sb.st_mode);
		}
	}
	snap_free(a);
}

static void snap_free(struct snap *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->it[i].data);
	s->n = 0;
}

/* rgn_bdb_read_region gives each region's bytes exactly: the file's, or
 * the segment's. */
static void regions_read_as_snapshot(const struct rgn_bdb *b,
				     const struct snap *s)
{
	char name[64];

	for (uint32_t i = 0; i < b->nregions; i++) {
		const struct rgn_bdb_region *rg = &b->regions[i];
		const struct item *it = NULL;
		unsigned char *buf;

		if (b->sysmem)
			snprintf(name, sizeof(name), "shm:%lld",
				 (long long)rg->slot.segid);
		else
			snprintf(name, sizeof(name), "%s", rg->file);
		for (int k = 0; k < s->n; k++)
			if (strcmp(s->it[k].name, name) == 0)
				it = &s->it[k];
		assert_non_null(it);
		buf = malloc(it->len + 1);
		assert_int_equal(rgn_bdb_read_region(b, rg->slot.id, 0, buf,
						     it->len + 1),
				 (int64_t)it->len);
		assert_memory_equal(buf, it->data, it->len);
		/* From an offset inside, to the end. */
		assert_int_equal(
			rgn_bdb_read_region(b, rg->slot.id, 100, buf, it->len),
			(int64_t)it->len - 100);
		assert_memory_equal(buf, it->data + 100, it->len - 100);
		free(buf);
	}
}

/* Everything a caller may do with a home: open, read every region whole,
 * render both ways. */
static struct rgn_bdb *read_everything(const char *home)
{
	struct rgn_bdb *b = NULL;
	char *out;
	size_t len;

	tu_ok(rgn_bdb_open(home, &b));
	for (uint32_t i = 0; i < b->nregions; i++) {
		const struct rgn_bdb_region *rg = &b->regions[i];
		unsigned char *buf = malloc(rg->bytes + 1);

		assert_int_equal(rgn_bdb_read_region(b, rg->slot.id, 0, buf,
						     rg->bytes + 1),
				 (int64_t)rg->bytes);
		free(buf);
	}
	tu_ok(rgn_render_bdb_text(b, 1795900000, &out, &len));
	free(out);
	tu_ok(rgn_render_bdb_json(b, 1795900000, &out, &len));
	free(out);
	return b;
}

/* ---- homes compared with db5.3_stat -------------------------------------- */

static void compare_with_db_stat(const char *home, const char *key)
{
	char *argv[] = {RGN_DB_STAT, "-e", "-h", (char *)home, NULL};
	struct snap before, after;
	struct rgn_bdb *b;
	char *text, *v, buf[64];

	memset(&after, 0, sizeof(after));
	uint64_t size, max;
	const struct rgn_bdb_slot *s;

	assert_int_equal(helper("create", home, key), 0);
	/* db_stat joins (it changes counters inside the regions): it runs
	 * before the snapshot, never between snapshot and check. */
	assert_int_equal(run(argv, &text), 0);
	snap_take(home, &before);
	b = read_everything(home);
	snap_take(home, &after);
	snap_same(&before, &after);

	regions_read_as_snapshot(b, &after);
	assert_int_equal(b->form, key ? RGN_BDB_FORM_REF : RGN_BDB_FORM_REGENV);
	assert_int_equal(b->sysmem, key != NULL);
	assert_true(b->env.decoded);
	v = stat_value(text, "Environment ID");
	snprintf(buf, sizeof(buf), "%#x", b->env.env_id);
	assert_string_equal(v, buf);
	free(v);
	v = stat_value(text, "Environment version");
	snprintf(buf, sizeof(buf), "%u.%u.%u", b->env.major, b->env.minor,
		 b->env.patch);
	assert_string_equal(v, buf);
	assert_string_equal(v, "5.3.28");
	free(v);
	v = stat_value(text, "References"); /* db_stat counts itself */
	assert_int_equal(strtoul(v, NULL, 10), b->env.refcnt + 1);
	free(v);
	s = rgn_bdb_find_slot(&b->env, 1);
	assert_non_null(s);
	size = s->size;
	max = s->max;
	v = stat_value(text, "Current region size");
	assert_string_equal(v, rgn_render_bytes(size, buf, sizeof(buf)));
	free(v);
	v = stat_value(text, "Maximum region size");
	assert_string_equal(v, rgn_render_bytes(max, buf, sizeof(buf)));
	free(v);
	v = stat_value(text, "Panic value");
	assert_int_equal(strtoul(v, NULL, 10), b->env.panic);
	free(v);
	free(text);
	snap_free(&after);

	assert_int_equal(b->verdict, RGN_BDB_AT_REST);
	assert_int_equal(b->nprocs, 0);
	assert_true(b->nregions >= 3); /* env, mutex, mpool */
	for (uint32_t i = 0; i < b->nregions; i++) {
		assert_true(b->regions[i].present);
		assert_true(b->regions[i].has_alloc);
		assert_true(b->regions[i].alloc.success > 0);
	}
	rgn_bdb_close(b);
	assert_int_equal(helper("join", home, key), 0);
}

static void files_home_matches_db_stat(void **state)
{
	(void)state;
	compare_with_db_stat(tu_mkhome(), NULL);
}

static void sysmem_home_matches_db_stat(void **state)
{
	(void)state;
	compare_with_db_stat(tu_mkhome(), KEY_STAT);
}

/* db_stat -E's allocator figures, region by region, for a quiet home. */
static void allocator_figures_match_db_stat_E(void **state)
{
	const char *home = tu_mkhome();
	char *argv[] = {RGN_DB_STAT, "-E", "-h", (char *)home, NULL};
	struct rgn_bdb *b;
	char *text, want[160];

	(void)state;
	assert_int_equal(helper("create", home, NULL), 0);
	/* db_stat's join allocates in the primary: read after it, then
	 * compare the regions it does not allocate in while printing. */
	assert_int_equal(run(argv, &text), 0);
	tu_ok(rgn_bdb_open(home, &b));
	for (uint32_t i = 0; i < b->nregions; i++) {
		const struct rgn_bdb_alloc *a = &b->regions[i].alloc;

		if (b->regions[i].slot.id == 1)
			continue;
		snprintf(want, sizeof(want),
			 "Region allocations: %u allocations, %u failures, "
			 "%u frees, %u longest",
			 a->success, a->failure, a->freed, a->longest);
		if (!strstr(text, want))
			fail_msg("region %u: \"%s\" not in db_stat -E",
				 b->regions[i].slot.id, want);
	}
	free(text);
	rgn_bdb_close(b);
}

/* ---- verdicts made for real ---------------------------------------------- */

static void verdicts(const char *key)
{
	const char *home = tu_mkhome();
	struct rgn_bdb *b;
	struct snap before, after;
	pid_t pid;
	char *out;
	size_t len;
	struct json_object *j, *att, *v;

	assert_int_equal(helper("create", home, key), 0);
	pid = hold(home, key);
	snap_take(home, &before);
	b = read_everything(home);
	snap_take(home, &after);
	snap_same(&before, &after);
	snap_free(&after);
	assert_int_equal(b->verdict, RGN_BDB_IN_USE);
	assert_int_equal(b->env.refcnt, 1);
	assert_int_equal(b->nprocs, 1);
	assert_int_equal(b->procs[0].pid, pid);
	assert_string_equal(b->procs[0].command, "bdbhelper");
	assert_true(b->procs[0].start > 0);
	assert_int_equal(b->procs[0].nmaps, b->nregions);
	tu_ok(rgn_render_bdb_json(b, 1795900000, &out, &len));
	j = json_tokener_parse(out);
	assert_non_null(j);
	assert_true(json_object_object_get_ex(j, "attached", &att));
	assert_int_equal(json_object_array_length(att), 1);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(att, 0),
					      "pid", &v));
	assert_int_equal(json_object_get_int(v), pid);
	assert_true(json_object_object_get_ex(j, "program", &v));
	assert_string_equal(json_object_get_string(v), "berkeley-db");
	json_object_put(j);
	free(out);
	rgn_bdb_close(b);

	kill9(pid);
	tu_ok(rgn_bdb_open(home, &b));
	assert_int_equal(b->verdict, RGN_BDB_NEEDS_RECOVERY);
	assert_int_equal(b->env.refcnt, 1);
	assert_int_equal(b->nprocs, 0);
	assert_non_null(strstr(b->reason, "db_recover -h "));
	rgn_bdb_close(b);
	/* Berkeley DB still joins it (and recovery is its business). */
	assert_int_equal(helper("join", home, key), 0);
}

static void files_verdicts_in_use_then_needs_recovery(void **state)
{
	(void)state;
	verdicts(NULL);
}

static void sysmem_verdicts_in_use_then_needs_recovery(void **state)
{
	(void)state;
	verdicts(KEY_VERDICT);
}

static void panic_needs_recovery(void **state)
{
	const char *home = tu_mkhome();
	struct rgn_bdb *b;

	(void)state;
	assert_int_equal(helper("create", home, NULL), 0);
	assert_int_equal(helper("panic", home, NULL), 0);
	tu_ok(rgn_bdb_open(home, &b));
	assert_int_not_equal(b->env.panic, 0);
	assert_int_equal(b->verdict, RGN_BDB_NEEDS_RECOVERY);
	assert_non_null(strstr(b->reason, "panic"));
	assert_non_null(strstr(b->reason, "db_recover -h "));
	rgn_bdb_close(b);
}

static void empty_db001_is_half_created(void **state)
{
	const char *home = tu_mkhome();
	struct snap before, after;
	struct rgn_bdb *b;

	(void)state;
	assert_int_equal(helper("half", home, NULL), 0);
	snap_take(home, &before);
	b = read_everything(home);
	snap_take(home, &after);
	snap_same(&before, &after);
	snap_free(&after);
	assert_int_equal(b->form, RGN_BDB_FORM_EMPTY);
	assert_int_equal(b->verdict, RGN_BDB_HALF_CREATED);
	assert_non_null(strstr(b->reason, "remove the empty"));
	rgn_bdb_close(b);
}

/* ipcrm of a system memory environment's segments (or a reboot) leaves
 * __db.001 naming a segment that no longer exists. */
static void sysmem_primary_gone_needs_recovery(void **state)
{
	const char *home = tu_mkhome();
	struct rgn_shm_info in;
	struct rgn_bdb *b;

	(void)state;
	assert_int_equal(helper("create", home, KEY_GONE), 0);
	for (int i = 0; i < 3; i++) {
		tu_ok(rgn_shm_find_key(KEY_GONE_NUM + i, &in));
		assert_int_equal(shmctl(in.shmid, IPC_RMID, NULL), 0);
	}
	tu_ok(rgn_bdb_open(home, &b));
	assert_true(b->sysmem);
	assert_int_equal(b->primary_error, -ENOENT);
	assert_int_equal(b->verdict, RGN_BDB_NEEDS_RECOVERY);
	assert_non_null(strstr(b->reason, "is gone"));
	assert_int_equal(rgn_bdb_read_region(b, 1, 0, &in, 1), -ENOENT);
	rgn_bdb_close(b);
}

static void other_homes_are_not_bdb(void **state)
{
	const char *home = tu_mkhome();
	char path[4096];
	struct rgn_bdb *b = (void *)1;

	(void)state;
	assert_int_equal(rgn_bdb_open(home, &b), RGN_BDB_NOT_BDB);
	assert_null(b);
	snprintf(path, sizeof(path), "%s/__db.001", home);
	tu_write_file(path, "\xe7\xe0\x47\x52 not a Berkeley DB region", 30);
	assert_int_equal(rgn_bdb_open(home, &b), RGN_BDB_NOT_BDB);
	assert_int_equal(rgn_bdb_open("/nonexistent/home", &b), -ENOENT);
}

/* ---- the decoder on damaged bytes ---------------------------------------- */

static void decoder_survives_truncation_and_damage(void **state)
{
	const char *home = tu_mkhome();
	static unsigned char buf[65536], bad[65536];
	struct rgn_bdb_regenv env;
	struct rgn_bdb_segment seg;
	struct rgn_bdb_alloc a;
	char path[4096];
	ssize_t n;
	uint32_t x = 12345;

	(void)state;
	assert_int_equal(helper("create", home, NULL), 0);
	snprintf(path, sizeof(path), "%s/__db.001", home);
	n = tu_read_file(path, buf, sizeof(buf));
	assert_true(n > 1024);
	for (size_t len = 0; len <= 1024; len++) {
		rgn_bdb_decode_regenv(buf, len, &env);
		rgn_bdb_classify(buf, len, (uint64_t)n);
		rgn_bdb_decode_alloc(buf, len, RGN_BDB_REGENV_LEN, &a);
		rgn_bdb_segment_decode(buf, len, (uint64_t)n, 1, 1, &seg);
	}
	for (int round = 0; round < 20000; round++) {
		size_t len = 1 + (x % 2048);

		memcpy(bad, buf, sizeof(bad));
		for (int k = 0; k < 4; k++) {
			x = x * 1103515245u + 12345u;
			bad[(x >> 8) % 0x300] = (unsigned char)(x >> 24);
		}
		x = x * 1103515245u + 12345u;
		if (rgn_bdb_decode_regenv(bad, len, &env) == 0 && env.decoded) {
			assert_true(env.nslots <= RGN_BDB_MAX_REGIONS);
			assert_true(env.region_off + RGN_BDB_SLOT_LEN <= len);
		}
		rgn_bdb_segment_decode(bad, len, len, 1, 1, &seg);
	}
	/* Another release: the prefix and the version found, nothing more. */
	memcpy(bad, buf, sizeof(bad));
	bad[0x0c] = 2;
	assert_int_equal(rgn_bdb_decode_regenv(bad, (size_t)n, &env), 0);
	assert_false(env.decoded);
	assert_int_equal(env.minor, 2);
	assert_non_null(strstr(env.why, "5.2.28"));
	assert_int_equal(env.refcnt, 0);
	/* A table that is not where LP64 keeps it: prefix only. */
	memcpy(bad, buf, sizeof(bad));
	bad[0x40] = 0x04; /* region_off off by 4 */
	rgn_bdb_decode_regenv(bad, (size_t)n, &env);
	assert_false(env.decoded);
}

/* ---- for the leak scanner ------------------------------------------------ */

static void segments_classed_live_idle_needs_recovery_orphaned(void **state)
{
	const char *home = tu_mkhome();
	struct rgn_bdb_segment seg;
	enum rgn_bdb_claim claim;
	struct rgn_shm_info in;
	char path[4096];
	const void *p;
	pid_t pid;
	int32_t shmid;

	(void)state;
	snprintf(path, sizeof(path), "%s/DB_CONFIG", home);
	tu_write_file(path, "set_shm_key 2048065536\n", 23);
	assert_int_equal(KEY_SEG_NUM, 2048065536);
	assert_int_equal(helper("create", home, KEY_SEG), 0);
	tu_ok(rgn_shm_find_key(KEY_SEG_NUM, &in));
	shmid = in.shmid;
	p = shmat(shmid, NULL, SHM_RDONLY);
	assert_true(p != (void *)-1);
	assert_int_equal(
		rgn_bdb_segment_decode(p, 4096, in.size, in.key, shmid, &seg),
		1);
	shmdt(p);
	assert_int_equal(seg.nothers, 2); /* mutex and mpool segments */
	assert_int_equal(seg.env.refcnt, 0);
	tu_ok(rgn_bdb_home_claim(home, shmid, KEY_SEG_NUM, &claim));
	assert_int_equal(claim, RGN_BDB_CLAIM_REFERS);
	assert_int_equal(rgn_bdb_segment_class(&seg, 0, claim, NULL),
			 RGN_BDB_SEG_IDLE);
	assert_int_equal(rgn_bdb_segment_class(&seg, 3, claim, NULL),
			 RGN_BDB_SEG_LIVE);

	pid = hold(home, KEY_SEG);
	kill9(pid);
	p = shmat(shmid, NULL, SHM_RDONLY);
	assert_true(p != (void *)-1);
	assert_int_equal(
		rgn_bdb_segment_decode(p, 4096, in.size, in.key, shmid, &seg),
		1);
	shmdt(p);
	assert_int_equal(seg.env.refcnt, 1);
	assert_int_equal(rgn_bdb_segment_class(&seg, 0, claim, NULL),
			 RGN_BDB_SEG_NEEDS_RECOVERY);

	/* The home lets go of it: proven, since its DB_CONFIG gives the key. */
	snprintf(path, sizeof(path), "%s/__db.001", home);
	assert_int_equal(unlink(path), 0);
	tu_ok(rgn_bdb_home_claim(home, shmid, KEY_SEG_NUM, &claim));
	assert_int_equal(claim, RGN_BDB_CLAIM_DROPPED);
	assert_int_equal(rgn_bdb_segment_class(&seg, 0, claim, NULL),
			 RGN_BDB_SEG_ORPHANED);
	/* Another home knows nothing of it: never orphaned on that. */
	tu_ok(rgn_bdb_home_claim(tu_mkhome(), shmid, KEY_SEG_NUM, &claim));
	assert_int_equal(claim, RGN_BDB_CLAIM_UNRELATED);
	/* Leave no segment behind, even inside the namespace. */
	for (uint32_t i = 0; i < seg.nothers; i++)
		shmctl(seg.other_shmids[i], IPC_RMID, NULL);
	shmctl(shmid, IPC_RMID, NULL);
}

/* ---- text stays one record per line -------------------------------------- */

static void text_escapes_home_names(void **state)
{
	char home[4096], *out, *line, *save = NULL;
	struct rgn_bdb *b;
	size_t len;
	int homes = 0;

	(void)state;
	snprintf(home, sizeof(home), "%s/a\tb\nc\xff\\", tu_mkhome());
	assert_int_equal(mkdir(home, 0700), 0);
	assert_int_equal(helper("create", home, NULL), 0);
	tu_ok(rgn_bdb_open(home, &b));
	tu_ok(rgn_render_bdb_text(b, 1795900000, &out, &len));
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "\tHome")) {
			homes++;
			assert_non_null(strstr(line, "a\\x09b\\x0ac\\xff\\\\"));
		}
		/* Every line is VALUE<TAB>LABEL or the separator. */
		assert_true(strchr(line, '\t') || line[0] == '=');
		assert_null(strchr(strchr(line, '\t') ? strchr(line, '\t') + 1
						      : line,
				   '\t'));
	}
	assert_int_equal(homes, 1);
	free(out);
	rgn_bdb_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(files_home_matches_db_stat),
		cmocka_unit_test(sysmem_home_matches_db_stat),
		cmocka_unit_test(allocator_figures_match_db_stat_E),
		cmocka_unit_test(files_verdicts_in_use_then_needs_recovery),
		cmocka_unit_test(sysmem_verdicts_in_use_then_needs_recovery),
		cmocka_unit_test(panic_needs_recovery),
		cmocka_unit_test(empty_db001_is_half_created),
		cmocka_unit_test(sysmem_primary_gone_needs_recovery),
		cmocka_unit_test(other_homes_are_not_bdb),
		cmocka_unit_test(decoder_survives_truncation_and_damage),
		cmocka_unit_test(
			segments_classed_live_idle_needs_recovery_orphaned),
		cmocka_unit_test(text_escapes_home_names),
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
