/*
 * test_bdbhome.c - a Berkeley DB home is never written to: every open that
 * could create something (RGN_CREATE with or without RGN_EXCL, files or
 * system memory, a private environment) and every remove refuse it with
 * RGN_EFOREIGNENV naming Berkeley DB, and leave the home's listing, every
 * file's bytes, size, mode and mtime, and every segment's bytes exactly as
 * they were: no __db.lck, no __db.001.tmp.  Homes are made by the real
 * libdb 5.3 (tests/bdb/bdbhelper): files mode, system memory, and the empty
 * __db.001 a creator that died leaves; afterwards Berkeley DB still opens
 * them.  Segments live in this test's private IPC namespace.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rgn.h"
#include "shmid.h"
#include "testutil.h"

#ifndef RGN_BDBHELPER
#error "RGN_BDBHELPER must name the bdbhelper program"
#endif

/* One key per test: Berkeley DB removes whatever sits at its keys. */
#define KEY_SYSMEM     "0x7b510000"
#define KEY_SYSMEM_NUM 0x7b510000

static int helper(const char *cmd, const char *home, const char *key)
{
	char *argv[] = {RGN_BDBHELPER, (char *)cmd, (char *)home, (char *)key,
			NULL};
	pid_t pid = tu_fork();

	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	return tu_wait(pid);
}

/* ---- a home and its segments, byte for byte ------------------------------ */

struct item {
	char name[280]; /* file name, or "shm:ID" */
	struct stat sb; /* files: as lstat saw it */
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
	assert_non_null(it->data);
	memcpy(it->data, p, it->len);
	shmdt(p);
	s->n++;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->name,
		      ((const struct item *)b)->name);
}

static void snap_take(const char *home, struct snap *s)
{
	char path[4400];
	struct dirent *de;
	DIR *d = opendir(home);

	memset(s, 0, sizeof(*s));
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		struct item *it = &s->it[s->n];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		assert_true(s->n < 60);
		snprintf(it->name, sizeof(it->name), "%s", de->d_name);
		snprintf(path, sizeof(path), "%s/%s", home, de->d_name);
		assert_int_equal(lstat(path, &it->sb), 0);
		it->data = malloc((size_t)it->sb.st_size + 1);
		assert_non_null(it->data);
		it->len = (size_t)tu_read_file(path, it->data,
					       (size_t)it->sb.st_size + 1);
		s->n++;
	}
	closedir(d);
	qsort(s->it, (size_t)s->n, sizeof(s->it[0]), by_name);
	/* Every segment of this private namespace is the home's. */
	assert_int_equal(rgn_shm_walk(snap_segment, s, NULL), 0);
}

static void snap_free(struct snap *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->it[i].data);
	s->n = 0;
}

/* Same names, lengths, bytes; files also the same size, mode and mtime. */
static void snap_same(struct snap *a, struct snap *b)
{
	for (int i = 0; i < a->n || i < b->n; i++) {
		if (i >= a->n || i >= b->n ||
		    strcmp(a->it[i].name, b->it[i].name) != 0)
			fail_msg("the listing changed: %s appeared or went",
				 i < b->n ? b->it[i].name : a->it[i].name);
	}
	for (int i = 0; i < a->n; i++) {
		struct item *x = &a->it[i], *y = &b->it[i];

		assert_int_equal(x->len, y->len);
		if (memcmp(x->data, y->data, x->len) != 0)
			fail_msg("%s changed", x->name);
		if (strncmp(x->name, "shm:", 4) != 0) {
			assert_int_equal(x->sb.st_size, y->sb.st_size);
			assert_int_equal(x->sb.st_mode, y->sb.st_mode);
			assert_int_equal(x->sb.st_ino, y->sb.st_ino);
			assert_int_equal(x->sb.st_mtim.tv_sec,
					 y->sb.st_mtim.tv_sec);
			assert_int_equal(x->sb.st_mtim.tv_nsec,
					 y->sb.st_mtim.tv_nsec);
		}
	}
}

/* ---- every way we could write into HOME, refused ------------------------- */

static void expect_refused(int rc, const char *what)
{
	if (rc != RGN_EFOREIGNENV)
		fail_msg("%s: %d (%s), expected RGN_EFOREIGNENV", what, rc,
			 rgn_strerror(rc));
	if (!strstr(rgn_errdetail(), "Berkeley DB"))
		fail_msg("%s: the detail does not name Berkeley DB: %s", what,
			 rgn_errdetail());
}

static void try_everything(const char *home)
{
	static const struct {
		const char *what;
		enum rgn_backing backing;
		uint32_t flags;
	} opens[] = {
		{"create", 0, RGN_CREATE},
		{"create exclusive", RGN_BACKING_FILES, RGN_CREATE | RGN_EXCL},
		{"create without mmap", RGN_BACKING_FILES,
		 RGN_CREATE | RGN_NOMMAP},
		{"create in system memory", RGN_BACKING_SYSV, RGN_CREATE},
		{"open private", RGN_BACKING_PRIVATE, 0},
	};
	struct rgn_env_config cfg;
	rgn_env *env;

	for (size_t i = 0; i < sizeof(opens) / sizeof(opens[0]); i++) {
		rgn_env_config_init(&cfg);
		cfg.flags = opens[i].flags;
		cfg.backing = opens[i].backing;
		cfg.shm_key = KEY_SYSMEM_NUM + 0x100;
		env = NULL;
		expect_refused(rgn_env_open(home, &cfg, &env), opens[i].what);
		assert_null(env);
	}
	expect_refused(rgn_env_remove(home, 0), "remove");
	expect_refused(rgn_env_remove(home, RGN_FORCE), "remove by force");
}

static void check_home(const char *home, const char *key, int bdb_opens)
{
	struct snap before, after;

	snap_take(home, &before);
	try_everything(home);
	snap_take(home, &after);
	snap_same(&before, &after);
	snap_free(&before);
	snap_free(&after);
	if (bdb_opens)
		assert_int_equal(helper("join", home, key), 0);
}

static void files_mode_home_is_never_written(void **state)
{
	const char *home = tu_mkhome();

	(void)state;
	assert_int_equal(helper("create", home, NULL), 0);
	check_home(home, NULL, 1);
}

static void system_memory_home_is_never_written(void **state)
{
	const char *home = tu_mkhome();
	char path[4200];
	struct stat st;

	(void)state;
	assert_int_equal(helper("create", home, KEY_SYSMEM), 0);
	snprintf(path, sizeof(path), "%s/__db.001", home);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 24); /* the case being tested */
	assert_true(tu_count_segments() > 0);
	check_home(home, KEY_SYSMEM, 1);
}

static void empty_primary_is_never_written(void **state)
{
	const char *home = tu_mkhome();

	(void)state;
	assert_int_equal(helper("half", home, NULL), 0);
	check_home(home, NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(files_mode_home_is_never_written),
		cmocka_unit_test(system_memory_home_is_never_written),
		cmocka_unit_test(empty_primary_is_never_written),
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
