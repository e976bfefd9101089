/*
 * test_sysv.c - the system memory backing and segments that are not ours.
 * Berkeley DB 5.3 removes whatever sits at its keys, even while another
 * program has it attached; we must refuse, and leave every byte as it was.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stddef.h>
#include <sys/mman.h>

#include "fsview.h"
#include "layout.h"
#include "leaks.h"
#include "region_hdr.h"
#include "rgn.h"
#include "testutil.h"

#define KEY 0x51a70000
#define SEG 65536

static int open_sysv(const char *home, int32_t key, rgn_env **env)
{
	struct rgn_env_config cfg;

	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	cfg.backing = RGN_BACKING_SYSV;
	cfg.shm_key = key;
	return rgn_env_open(home, &cfg, env);
}

/* Another program's segment, filled with a pattern. */
static int make_foreign(int32_t key, uint8_t **copy)
{
	int id = shmget(key, SEG, IPC_CREAT | IPC_EXCL | 0600);
	uint8_t *p;

	assert_true(id >= 0);
	p = shmat(id, NULL, 0);
	assert_true(p != (void *)-1);
	for (int i = 0; i < SEG; i++)
		p[i] = (uint8_t)(i * 31 + 7);
	*copy = malloc(SEG);
	memcpy(*copy, p, SEG);
	shmdt(p);
	return id;
}

static void assert_segment_is(int id, const uint8_t *copy, int nattch)
{
	struct shmid_ds ds;
	uint8_t *p;

	assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
	assert_int_equal((int)ds.shm_nattch, nattch);
	p = shmat(id, NULL, SHM_RDONLY);
	assert_true(p != (void *)-1);
	assert_memory_equal(p, copy, SEG);
	shmdt(p);
}

static void foreign_segment_at_base_key_is_refused_byte_for_byte(void **state)
{
	const char *home = tu_mkhome();
	uint8_t *copy;
	int id = make_foreign(KEY, &copy);
	int fds[2];
	pid_t holder;
	rgn_env *env = NULL;
	char c, want[64], path[4200];

	(void)state;
	/* another program keeps it attached, as BDB's victims do */
	assert_int_equal(pipe(fds), 0);
	holder = tu_fork();
	if (holder == 0) {
		if (shmat(id, NULL, SHM_RDONLY) == (void *)-1 ||
		    write(fds[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(fds[0], &c, 1), 1);

	assert_int_equal(open_sysv(home, KEY, &env), RGN_EFOREIGN);
	assert_null(env);
	snprintf(want, sizeof(want), "shmid %d", id);
	assert_non_null(strstr(rgn_errdetail(), want));
	snprintf(want, sizeof(want), "0x%08x", KEY);
	assert_non_null(strstr(rgn_errdetail(), want));
	assert_non_null(strstr(rgn_errdetail(), "owner uid"));
	snprintf(want, sizeof(want), "creator pid %d", (int)getpid());
	assert_non_null(strstr(rgn_errdetail(), want));
	assert_segment_is(id, copy, 1);
	snprintf(path, sizeof(path), "%s/__db.001", home);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(tu_count_segments(), 1);

	kill(holder, SIGKILL);
	tu_wait(holder);
	/* idle now, but still not ours: still refused */
	assert_int_equal(open_sysv(home, KEY, &env), RGN_EFOREIGN);
	assert_segment_is(id, copy, 0);
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
	free(copy);
	close(fds[0]);
	close(fds[1]);
}

static void foreign_segment_at_a_region_key_is_refused(void **state)
{
	const char *home = tu_mkhome();
	uint8_t *copy;
	int id = make_foreign(KEY + 2, &copy); /* where region 3 would go */
	rgn_env *env;
	rgn_region *r;

	(void)state;
	tu_ok(open_sysv(home, KEY, &env));
	tu_ok(rgn_region_create(env, "two", RGN_TYPE_LOCK, SEG, &r));
	assert_int_equal(rgn_region_create(env, "three", RGN_TYPE_LOG, SEG, &r),
			 RGN_EFOREIGN);
	assert_segment_is(id, copy, 0);
	/* the failed create left no slot behind */
	assert_int_equal(rgn_region_attach(env, "three", &r), -ENOENT);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
	assert_segment_is(id, copy, 0);
	assert_int_equal(tu_count_segments(), 1);
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
	free(copy);
}

static void segment_of_another_environment_is_refused_naming_its_home(
	void **state)
{
	const char *home_a = tu_mkhome();
	const char *home_b = tu_mkhome();
	rgn_env *a, *b = NULL;

	(void)state;
	tu_ok(open_sysv(home_a, KEY, &a));
	tu_ok(rgn_env_close(a));
	assert_int_equal(open_sysv(home_b, KEY, &b), RGN_EFOREIGN);
	assert_non_null(strstr(rgn_errdetail(), home_a));
	/* A is intact and can be joined */
	tu_ok(rgn_env_open(home_a, NULL, &a));
	tu_ok(rgn_env_close(a));
	tu_ok(rgn_env_remove(home_a, 0));
	assert_int_equal(tu_count_segments(), 0);
}

static void leftover_of_same_home_is_reclaimed_only_when_unattached(
	void **state)
{
	const char *home = tu_mkhome();
	char path[4200];
	int fds[2], id;
	pid_t holder;
	rgn_env *env;
	char c;

	(void)state;
	tu_ok(open_sysv(home, KEY, &env));
	tu_ok(rgn_env_close(env));
	/* the home loses its files, as after a careless rm -rf */
	snprintf(path, sizeof(path), "%s/__db.001", home);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/__db.lck", home);
	assert_int_equal(unlink(path), 0);
	id = shmget(KEY, 0, 0);
	assert_true(id >= 0);

	assert_int_equal(pipe(fds), 0);
	holder = tu_fork();
	if (holder == 0) {
		if (shmat(id, NULL, SHM_RDONLY) == (void *)-1 ||
		    write(fds[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(fds[0], &c, 1), 1);
	assert_int_equal(open_sysv(home, KEY, &env), -EBUSY);
	assert_non_null(strstr(rgn_errdetail(), "attached"));
	kill(holder, SIGKILL);
	tu_wait(holder);

	tu_ok(open_sysv(home, KEY, &env));
	assert_true(shmget(KEY, 0, 0) != id); /* a fresh segment */
	assert_int_equal(tu_count_segments(), 1);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
	assert_int_equal(tu_count_segments(), 0);
	close(fds[0]);
	close(fds[1]);
}

/* Make the next segment created in this namespace get id ID. */
static void set_next_shmid(int id)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", id);
	tu_write_file("/proc/sys/kernel/shm_next_id", buf, strlen(buf));
}

static void record_naming_a_recycled_shmid_never_touches_that_segment(
	void **state)
{
	const char *home = tu_mkhome();
	struct rgn_env_config cfg;
	char path[4200];
	int primary, id;
	struct rgn_file_record fr;
	uint8_t *copy, *p;
	rgn_env *env;
	struct shmid_ds ds;

	(void)state;
	/* files without mmap: segments with private keys, so only the
	 * shmid in __db.001 leads to the primary */
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE | RGN_NOMMAP;
	tu_ok(rgn_env_open(home, &cfg, &env));
	tu_ok(rgn_env_close(env));
	snprintf(path, sizeof(path), "%s/__db.001", home);
	assert_int_equal(tu_read_file(path, &fr, sizeof(fr)), sizeof(fr));
	primary = fr.fr_shmid;
	assert_int_equal(shmctl(primary, IPC_STAT, &ds), 0);
	/* as after a reboot: the primary is gone and another program's
	 * segment of the same size gets the very same id */
	assert_int_equal(shmctl(primary, IPC_RMID, NULL), 0);
	set_next_shmid(primary);
	id = shmget(IPC_PRIVATE, ds.shm_segsz, IPC_CREAT | 0600);
	assert_int_equal(id, primary);
	p = shmat(id, NULL, 0);
	memset(p, 0x01, ds.shm_segsz);
	copy = malloc(ds.shm_segsz);
	memcpy(copy, p, ds.shm_segsz);
	shmdt(p);

	assert_int_equal(rgn_env_open(home, NULL, &env), -ENOENT);
	tu_ok(rgn_env_remove(home, RGN_FORCE));
	p = shmat(id, NULL, SHM_RDONLY);
	assert_memory_equal(p, copy, ds.shm_segsz);
	shmdt(p);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
	free(copy);
}

static void remove_leaves_no_segments_and_no_files(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env;
	rgn_region *r;
	char name[16];

	(void)state;
	tu_ok(open_sysv(home, KEY, &env));
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		tu_ok(rgn_region_create(env, name, RGN_TYPE_USER, SEG, &r));
	}
	assert_int_equal(tu_count_segments(), 9);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
	assert_int_equal(tu_count_segments(), 0);
	assert_int_equal(rmdir(home), 0);
	assert_int_equal(mkdir(home, 0700), 0);
}

/* __db.lck's copy of the record, as text, and a way to alter one value. */
static void read_copy(const char *home, char *buf, size_t len)
{
	char path[4200];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/__db.lck", home);
	n = tu_read_file(path, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
}

static void forge_copy(const char *home, const char *label, const char *value)
{
	char buf[512], out[600], path[4200], pat[32];
	const char *at, *end;

	read_copy(home, buf, sizeof(buf));
	snprintf(pat, sizeof(pat), " %s ", label);
	at = strstr(buf, pat);
	assert_non_null(at);
	at += strlen(pat);
	end = at + strcspn(at, " \n");
	snprintf(out, sizeof(out), "%.*s%s%s", (int)(at - buf), buf, value,
		 end);
	snprintf(path, sizeof(path), "%s/__db.lck", home);
	tu_write_file(path, out, strlen(out));
}

static void join_and_use(const char *home)
{
	rgn_env *env;
	rgn_region *r;

	tu_ok(rgn_env_open(home, NULL, &env));
	tu_ok(rgn_region_attach(env, "data", &r));
	tu_ok(rgn_env_close(env));
}

/*
 * A join reads __db.001's record from the copy in __db.lck, which it has
 * open anyway; the copy is trusted only as far as it is proved: the
 * segment it names must carry its environment id, key and creation time,
 * and __db.001 must be the very file it was copied from.  Anything else
 * and the join reads __db.001 itself, and puts the copy right.
 */
static void join_trusts_the_lock_file_copy_only_when_proved(void **state)
{
	const char *home = tu_mkhome();
	char good[512], now[512], path[4200], idbuf[16];
	uint8_t *copy;
	rgn_env *env;
	rgn_region *r;
	int foreign;

	(void)state;
	tu_ok(open_sysv(home, KEY, &env));
	tu_ok(rgn_region_create(env, "data", RGN_TYPE_USER, SEG, &r));
	tu_ok(rgn_env_close(env));
	read_copy(home, good, sizeof(good));
	assert_true(strncmp(good, "ready format ", 13) == 0);
	snprintf(idbuf, sizeof(idbuf), " shmid %d ", shmget(KEY, 0, 0));
	assert_non_null(strstr(good, idbuf));
	join_and_use(home);
	read_copy(home, now, sizeof(now));
	assert_string_equal(now, good);

	/* a creation time the segment's header does not carry */
	forge_copy(home, "ctime", "12345");
	join_and_use(home);
	read_copy(home, now, sizeof(now));
	assert_string_equal(now, good);

	/* another program's segment: never attached, left as it was */
	foreign = make_foreign(KEY + 100, &copy);
	snprintf(idbuf, sizeof(idbuf), "%d", foreign);
	forge_copy(home, "shmid", idbuf);
	join_and_use(home);
	assert_segment_is(foreign, copy, 0);
	read_copy(home, now, sizeof(now));
	assert_string_equal(now, good);

	/* __db.001 changed since the copy was taken (here only its mode):
	 * the copy is not used, even if what it says is wrong */
	snprintf(path, sizeof(path), "%s/__db.001", home);
	assert_int_equal(chmod(path, 0640), 0);
	forge_copy(home, "shmid", idbuf);
	join_and_use(home);
	assert_segment_is(foreign, copy, 0);
	read_copy(home, now, sizeof(now));
	assert_string_not_equal(now, good);
	assert_true(strncmp(now, "ready format ", 13) == 0);

	/* an older library leaves the file empty: joins still work and
	 * leave a copy for the next one */
	snprintf(path, sizeof(path), "%s/__db.lck", home);
	assert_int_equal(truncate(path, 0), 0);
	join_and_use(home);
	read_copy(home, good, sizeof(good));
	assert_true(strncmp(good, "ready format ", 13) == 0);

	tu_ok(rgn_env_remove(home, 0));
	assert_int_equal(access(path, F_OK), -1);
	assert_segment_is(foreign, copy, 0);
	assert_int_equal(shmctl(foreign, IPC_RMID, NULL), 0);
	assert_int_equal(tu_count_segments(), 0);
	free(copy);
}

/*
 * Looking must not cost memory: a stat, a leak scan or the mount's view
 * reads each segment's header, and a read of a segment's page that nobody
 * wrote allocates it.  The header's tail after the home path is never
 * written, so every resident figure must be what it was before they
 * looked.
 */
static void observers_leave_segments_as_large_as_they_were(void **state)
{
	const char *home = tu_mkhome();
	struct rgn_env_config cfg;
	struct rgn_env_stat *st;
	struct rgn_leak_scan *scan;
	struct rgn_fsview *view;
	int ids[2][8];
	uint64_t rss[2][8];
	size_t n[2];
	rgn_env *env, *obs;
	rgn_region *r;
	uint64_t off;

	(void)state;
	tu_ok(open_sysv(home, KEY, &env));
	tu_ok(rgn_region_create(env, "a", RGN_TYPE_USER, SEG, &r));
	tu_ok(rgn_alloc(r, 100, &off));
	tu_ok(rgn_region_create(env, "b", RGN_TYPE_LOG, SEG, &r));
	tu_ok(rgn_env_close(env));
	n[0] = tu_segments_rss(ids[0], rss[0], 8);
	assert_int_equal(n[0], 3);

	rgn_env_config_init(&cfg);
	cfg.flags = RGN_INSPECT;
	tu_ok(rgn_env_open(home, &cfg, &obs));
	tu_ok(rgn_stat_env(obs, &st));
	assert_int_equal(st->nregions, 3);
	rgn_stat_free(st);
	tu_ok(rgn_fsview_snapshot(obs, &view));
	rgn_fsview_free(view);
	tu_ok(rgn_env_close(obs));
	tu_ok(rgn_leak_scan(0, &scan));
	rgn_leak_free(scan);
	tu_ok(rgn_env_open(home, NULL, &env));
	tu_ok(rgn_stat_env(env, &st));
	rgn_stat_free(st);
	tu_ok(rgn_env_close(env));

	n[1] = tu_segments_rss(ids[1], rss[1], 8);
	assert_int_equal(n[1], n[0]);
	for (size_t i = 0; i < n[0]; i++) {
		assert_int_equal(ids[1][i], ids[0][i]);
		assert_int_equal(rss[1][i], rss[0][i]);
	}
	tu_ok(rgn_env_remove(home, 0));
}

/*
 * rgn_region_copy serves the header's unwritten tail as zeros and never
 * reads it: here the tail's part on the first page holds a pattern that
 * must not come back, and the second page has no access at all.
 */
static void region_copy_never_reads_the_header_tail(void **state)
{
	const size_t page = 4096,
		     home = offsetof(struct rgn_shm_region, rh_home);
	const char *path = "/srv/env";
	const size_t zlo = home + strlen(path) + 1;
	const size_t total = RGN_HDR_SIZE + page;
	uint8_t *map, *want, *got;

	(void)state;
	map = mmap(NULL, total, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	for (size_t i = 0; i < total; i++)
		map[i] = (uint8_t)(i * 13 + 1);
	memcpy(map + home, path, strlen(path) + 1);
	for (size_t i = page; i < RGN_HDR_SIZE; i++)
		map[i] = 0;
	want = malloc(total);
	got = malloc(total);
	memcpy(want, map, total);
	memset(want + zlo, 0, RGN_HDR_SIZE - zlo);
	assert_int_equal(mprotect(map + page, RGN_HDR_SIZE - page, PROT_NONE),
			 0);
	/* Windows before, across, inside and after the tail. */
	for (size_t off = 0; off < total; off += 97) {
		for (size_t len = 1; off + len <= total; len = len * 3 + 1) {
			memset(got, 0xee, len);
			rgn_region_copy(got, map, total, len, off);
			assert_memory_equal(got, want + off, len);
		}
	}
	munmap(map, total);
	free(want);
	free(got);
}

/* rgn_region_pread is the one reader that gives every byte as stored,
 * even where the header is never written by the library. */
static void region_pread_gives_every_byte(void **state)
{
	const char *home = tu_mkhome();
	const uint64_t at = RGN_HDR_SIZE - 100; /* the header's tail */
	uint8_t got[200], want[200];
	rgn_env *env;
	rgn_region *r;
	uint32_t id;

	(void)state;
	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)(i * 7 + 3);
	tu_ok(open_sysv(home, KEY, &env));
	tu_ok(rgn_region_create(env, "a", RGN_TYPE_USER, SEG, &r));
	id = rgn_region_id(r);
	memcpy(rgn_ptr(r, at), want, sizeof(want));
	assert_int_equal(rgn_region_pread(env, id, got, sizeof(got), at),
			 sizeof(got));
	assert_memory_equal(got, want, sizeof(want));
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			foreign_segment_at_base_key_is_refused_byte_for_byte),
		cmocka_unit_test(foreign_segment_at_a_region_key_is_refused),
		cmocka_unit_test(
			segment_of_another_environment_is_refused_naming_its_home),
		cmocka_unit_test(
			leftover_of_same_home_is_reclaimed_only_when_unattached),
		cmocka_unit_test(remove_leaves_no_segments_and_no_files),
		cmocka_unit_test(
			record_naming_a_recycled_shmid_never_touches_that_segment),
		cmocka_unit_test(
			join_trusts_the_lock_file_copy_only_when_proved),
		cmocka_unit_test(
			observers_leave_segments_as_large_as_they_were),
		cmocka_unit_test(region_copy_never_reads_the_header_tail),
		cmocka_unit_test(region_pread_gives_every_byte),
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
