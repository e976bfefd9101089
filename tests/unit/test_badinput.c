/*
 * test_badinput.c - bad homes, damaged files, bad keys, sizes and names:
 * each gets a clear error naming the thing and the cause, and no existing
 * byte changes.
 */
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "rgn.h"
#include "testutil.h"

static int open_create(const char *home, rgn_env **env)
{
	struct rgn_env_config cfg;

	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	return rgn_env_open(home, &cfg, env);
}

static int open_join(const char *home, rgn_env **env)
{
	return rgn_env_open(home, NULL, env);
}

static void path_in(char *buf, size_t len, const char *home, const char *f)
{
	snprintf(buf, len, "%s/%s", home, f);
}

/* A fresh environment with one region, closed, and its __db.001 bytes. */
static const char *make_env(uint8_t **bytes, size_t *len)
{
	const char *home = tu_mkhome();
	rgn_env *env;
	rgn_region *r;
	char path[4200];
	struct stat st;

	tu_ok(open_create(home, &env));
	tu_ok(rgn_region_create(env, "r", RGN_TYPE_USER, 1 << 16, &r));
	tu_ok(rgn_env_close(env));
	path_in(path, sizeof(path), home, "__db.001");
	assert_int_equal(stat(path, &st), 0);
	*len = (size_t)st.st_size;
	*bytes = malloc(*len);
	assert_int_equal(tu_read_file(path, *bytes, *len), (ssize_t)*len);
	return home;
}

static void assert_file_is(const char *path, const void *bytes, size_t len)
{
	uint8_t *now = malloc(len + 1);
	ssize_t n = tu_read_file(path, now, len + 1);

	assert_int_equal(n, (ssize_t)len);
	assert_memory_equal(now, bytes, len);
	free(now);
}

static void missing_home_is_enoent_naming_it(void **state)
{
	rgn_env *env;

	(void)state;
	assert_int_equal(open_create("/nonexistent/rgn-home", &env), -ENOENT);
	assert_non_null(strstr(rgn_errdetail(), "/nonexistent/rgn-home"));
	assert_int_equal(rgn_env_remove("/nonexistent/rgn-home", 0), -ENOENT);
}

static void home_that_is_a_file_is_enotdir(void **state)
{
	const char *dir = tu_mkhome();
	char path[4200];
	rgn_env *env;

	(void)state;
	path_in(path, sizeof(path), dir, "plain");
	tu_write_file(path, "x", 1);
	assert_int_equal(open_create(path, &env), -ENOTDIR);
	assert_non_null(strstr(rgn_errdetail(), "plain"));
	assert_file_is(path, "x", 1);
}

static void home_not_writable_is_eacces(void **state)
{
	const char *home = tu_mkhome();
	pid_t child;

	(void)state;
	assert_int_equal(chmod(home, 0755), 0);
	child = tu_fork();
	if (child == 0) {
		rgn_env *env;

		/* root ignores permissions: drop to nobody to test them */
		if (getuid() == 0) {
			if (setgroups(0, NULL) || setgid(65534) ||
			    setuid(65534))
				_exit(5);
		} else if (chmod(home, 0555)) {
			_exit(6);
		}
		_exit(open_create(home, &env) == -EACCES ? 0 : 1);
	}
	assert_int_equal(tu_wait(child), 0);
	assert_int_equal(rmdir(home), 0); /* still empty */
	assert_int_equal(mkdir(home, 0700), 0);
}

struct damage {
	const char *what;
	int expect;
};

static void damaged_primary_is_refused_and_left_unchanged(void **state)
{
	static const struct damage cases[] = {
		{"empty", RGN_EBADMAGIC},	{"tiny", RGN_EBADMAGIC},
		{"header-cut", RGN_ECORRUPT},	{"half", RGN_ECORRUPT},
		{"garbage", RGN_EBADMAGIC},	{"magic", RGN_EBADMAGIC},
		{"newer-format", RGN_EVERSION}, {"env-format", RGN_EVERSION},
		{"record-cut", RGN_ECORRUPT},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *good, *bad;
		size_t len, badlen;
		const char *home = make_env(&good, &len);
		char path[4200];
		rgn_env *env = NULL;
		const char *w = cases[i].what;
		int expect;

		bad = malloc(len);
		memcpy(bad, good, len);
		badlen = len;
		if (!strcmp(w, "empty")) {
			badlen = 0;
		} else if (!strcmp(w, "tiny")) {
			badlen = 3;
		} else if (!strcmp(w, "header-cut")) {
			badlen = 100;
		} else if (!strcmp(w, "half")) {
			badlen = len / 2;
		} else if (!strcmp(w, "garbage")) {
			for (size_t j = 0; j < len; j++)
				bad[j] = (uint8_t)(j * 7 + 3);
		} else if (!strcmp(w, "magic")) {
			bad[0] ^= 0xff;
		} else if (!strcmp(w, "newer-format")) {
			((struct rgn_shm_region *)bad)->rh_format =
				RGN_FORMAT + 1;
		} else if (!strcmp(w, "env-format")) {
			((struct rgn_shm_env *)(bad + RGN_ENV_OFF))->ev_format =
				9;
		} else if (!strcmp(w, "record-cut")) {
			struct rgn_file_record fr = {
				.fr_magic = RGN_RECORD_MAGIC,
				.fr_format = RGN_FORMAT,
			};
			memcpy(bad, &fr, sizeof(fr));
			badlen = sizeof(fr) - 8;
		}
		path_in(path, sizeof(path), home, "__db.001");
		tu_write_file(path, bad, badlen);

		assert_int_equal(open_join(home, &env), cases[i].expect);
		assert_null(env);
		assert_non_null(strstr(rgn_errdetail(), "__db.001"));
		/* An empty __db.001 is never ours (we publish it whole, by
		 * rename): what a Berkeley DB creator that died leaves, so
		 * create and remove name that program and write nothing. */
		expect = strcmp(w, "empty") ? cases[i].expect : RGN_EFOREIGNENV;
		assert_int_equal(open_create(home, &env), expect);
		assert_int_equal(rgn_env_remove(home, RGN_FORCE), expect);
		assert_file_is(path, bad, badlen);
		path_in(path, sizeof(path), home, "__db.002");
		assert_int_equal(access(path, F_OK), 0);
		free(good);
		free(bad);
	}
}

static void region_file_replaced_by_symlink_is_refused(void **state)
{
	const char *home = tu_mkhome();
	const char *elsewhere = tu_mkhome();
	char path[4200], target[4200];
	rgn_env *env;
	rgn_region *r;

	(void)state;
	tu_ok(open_create(home, &env));
	tu_ok(rgn_region_create(env, "r", RGN_TYPE_USER, 1 << 16, &r));
	tu_ok(rgn_region_detach(r));
	path_in(path, sizeof(path), home, "__db.002");
	path_in(target, sizeof(target), elsewhere, "precious");
	tu_write_file(target, "keep me", 7);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(target, path), 0);

	assert_int_equal(rgn_region_attach(env, "r", &r), -ELOOP);
	assert_non_null(strstr(rgn_errdetail(), "symbolic link"));
	assert_int_equal(rgn_region_remove(env, "r"), -ELOOP);
	tu_ok(rgn_env_close(env));
	assert_int_equal(rgn_env_remove(home, 0), -ELOOP);
	assert_file_is(target, "keep me", 7);
	assert_int_equal(access(path, F_OK), 0);
	path_in(path, sizeof(path), home, "__db.001");
	assert_int_equal(access(path, F_OK), 0);
}

static void truncated_region_file_is_reported_not_mapped(void **state)
{
	const char *home = tu_mkhome();
	struct rgn_env_config cfg;
	struct rgn_env_stat *st;
	char path[4200], buf[4096];
	rgn_env *env, *obs;
	rgn_region *r;

	(void)state;
	tu_ok(open_create(home, &env));
	tu_ok(rgn_region_create(env, "r", RGN_TYPE_USER, 1 << 20, &r));
	tu_ok(rgn_region_detach(r));
	path_in(path, sizeof(path), home, "__db.002");
	assert_int_equal(truncate(path, 5000), 0);
	assert_int_equal(rgn_region_attach(env, "r", &r), RGN_ECORRUPT);
	assert_non_null(strstr(rgn_errdetail(), "truncated"));

	rgn_env_config_init(&cfg);
	cfg.flags = RGN_INSPECT;
	tu_ok(rgn_env_open(home, &cfg, &obs));
	tu_ok(rgn_stat_env(obs, &st));
	assert_int_equal(st->nregions, 2);
	assert_int_equal(st->regions[1].detail, RGN_ECORRUPT);
	rgn_stat_free(st);
	/* reading past the cut is a short read, never SIGBUS */
	assert_int_equal(rgn_region_pread(obs, 2, buf, sizeof(buf), 4096), 904);
	assert_int_equal(rgn_region_pread(obs, 2, buf, sizeof(buf), 65536), 0);
	tu_ok(rgn_env_close(obs));
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void bad_keys_are_refused_before_anything_is_made(void **state)
{
	static const int32_t keys[] = {0, -5, INT32_MAX - 10};
	const char *home = tu_mkhome();

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct rgn_env_config cfg;
		rgn_env *env;

		rgn_env_config_init(&cfg);
		cfg.flags = RGN_CREATE;
		cfg.backing = RGN_BACKING_SYSV;
		cfg.shm_key = keys[i];
		assert_int_equal(rgn_env_open(home, &cfg, &env), RGN_ENOKEY);
		assert_true(strlen(rgn_errdetail()) > 0);
	}
	assert_int_equal(tu_count_segments(), 0);
	assert_int_equal(rmdir(home), 0); /* nothing was created */
	assert_int_equal(mkdir(home, 0700), 0);
}

static void bad_sizes_names_and_flags_are_refused(void **state)
{
	const char *home = tu_mkhome();
	struct rgn_env_config cfg;
	char longname[RGN_NAME_MAX + 2];
	rgn_env *env;
	rgn_region *r;

	(void)state;
	tu_ok(open_create(home, &env));
	assert_int_equal(rgn_region_create(env, "z", RGN_TYPE_USER, 0, &r),
			 -ERANGE);
	assert_int_equal(rgn_region_create(env, "z", RGN_TYPE_USER,
					   (uint64_t)1 << 50, &r),
			 -ERANGE);
	assert_int_equal(
		rgn_region_create(env, "z", RGN_TYPE_USER, UINT64_MAX, &r),
		-ERANGE);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(
		rgn_region_create(env, longname, RGN_TYPE_USER, 1 << 16, &r),
		-ENAMETOOLONG);
	assert_int_equal(rgn_region_create(env, "", RGN_TYPE_USER, 1 << 16, &r),
			 -EINVAL);
	assert_int_equal(
		rgn_region_create(env, "a/b", RGN_TYPE_USER, 1 << 16, &r),
		-EINVAL);
	assert_int_equal(rgn_region_create(env, "t", (enum rgn_region_type)99,
					   1 << 16, &r),
			 -EINVAL);
	assert_int_equal(
		rgn_region_create(env, "env", RGN_TYPE_USER, 1 << 16, &r),
		-EEXIST);
	tu_ok(rgn_env_close(env));

	rgn_env_config_init(&cfg);
	cfg.flags = 0x8000;
	assert_int_equal(rgn_env_open(home, &cfg, &env), -EINVAL);
	rgn_env_config_init(&cfg);
	cfg.mode = 04777;
	assert_int_equal(rgn_env_open(home, &cfg, &env), -EINVAL);
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE | RGN_INSPECT;
	assert_int_equal(rgn_env_open(home, &cfg, &env), -EINVAL);
	tu_ok(rgn_env_remove(home, 0));
}

static void record_naming_a_vanished_segment_is_a_clear_error(void **state)
{
	const char *home = tu_mkhome();
	struct rgn_env_config cfg;
	struct rgn_file_record fr;
	char path[4200];
	rgn_env *env;

	(void)state;
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	cfg.backing = RGN_BACKING_SYSV;
	cfg.shm_key = 0x4242;
	tu_ok(rgn_env_open(home, &cfg, &env));
	tu_ok(rgn_env_close(env));
	path_in(path, sizeof(path), home, "__db.001");
	assert_int_equal(tu_read_file(path, &fr, sizeof(fr)), sizeof(fr));
	fr.fr_shmid += 1000; /* as after a reboot: the id means nothing */
	tu_write_file(path, &fr, sizeof(fr));
	assert_int_equal(open_join(home, &env), -ENOENT);
	assert_non_null(strstr(rgn_errdetail(), "shmid"));
	assert_file_is(path, &fr, sizeof(fr));
	fr.fr_shmid -= 1000;
	tu_write_file(path, &fr, sizeof(fr));
	tu_ok(rgn_env_remove(home, 0));
	assert_int_equal(tu_count_segments(), 0);
}

static void env_whose_primary_segment_vanished_is_recreated_or_removed(
	void **state)
{
	const char *home = tu_mkhome();
	struct rgn_env_config cfg;
	struct rgn_file_record fr;
	char path[4200];
	rgn_env *env;

	(void)state;
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	cfg.backing = RGN_BACKING_SYSV;
	cfg.shm_key = 0x4343;
	tu_ok(rgn_env_open(home, &cfg, &env));
	tu_ok(rgn_env_close(env));
	path_in(path, sizeof(path), home, "__db.001");
	assert_int_equal(tu_read_file(path, &fr, sizeof(fr)), sizeof(fr));
	/* as after a reboot or an ipcrm */
	assert_int_equal(shmctl(fr.fr_shmid, IPC_RMID, NULL), 0);
	assert_int_equal(open_join(home, &env), -ENOENT);
	assert_non_null(strstr(rgn_errdetail(), "rebooted"));
	/* a creator starts afresh: nothing was left to join */
	tu_ok(rgn_env_open(home, &cfg, &env));
	assert_int_equal(tu_count_segments(), 1);
	tu_ok(rgn_env_close(env));
	path_in(path, sizeof(path), home, "__db.001");
	assert_int_equal(tu_read_file(path, &fr, sizeof(fr)), sizeof(fr));
	assert_int_equal(shmctl(fr.fr_shmid, IPC_RMID, NULL), 0);
	tu_ok(rgn_env_remove(home, 0));
	assert_int_equal(rmdir(home), 0); /* nothing left */
	assert_int_equal(mkdir(home, 0700), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(missing_home_is_enoent_naming_it),
		cmocka_unit_test(home_that_is_a_file_is_enotdir),
		cmocka_unit_test(home_not_writable_is_eacces),
		cmocka_unit_test(damaged_primary_is_refused_and_left_unchanged),
		cmocka_unit_test(region_file_replaced_by_symlink_is_refused),
		cmocka_unit_test(truncated_region_file_is_reported_not_mapped),
		cmocka_unit_test(bad_keys_are_refused_before_anything_is_made),
		cmocka_unit_test(bad_sizes_names_and_flags_are_refused),
		cmocka_unit_test(
			record_naming_a_vanished_segment_is_a_clear_error),
		cmocka_unit_test(
			env_whose_primary_segment_vanished_is_recreated_or_removed),
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
