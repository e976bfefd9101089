/*
 * test_reserve.c - the primary's storage is reserved as its table grows:
 * a fresh __db.001 has storage for its headers, its registry and the first
 * page of the table only, and every slot that comes into use has storage
 * before it is written.  Memory backings (segments) reserve all at once.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "rgn.h"
#include "testutil.h"

static rgn_env *create_env(const char *home, int sysv, int32_t key)
{
	struct rgn_env_config cfg;
	rgn_env *env;

	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE | RGN_EXCL;
	if (sysv) {
		cfg.backing = RGN_BACKING_SYSV;
		cfg.shm_key = key;
	}
	tu_ok(rgn_env_open(home, &cfg, &env));
	return env;
}

/* The environment header of HOME's files-mode primary, read with pread
 * (never mapped, so reading it touches nothing), and the file's stat. */
static void read_env_hdr(const char *home, struct rgn_shm_env *ev,
			 struct stat *st)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/__db.001", home);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, st), 0);
	assert_int_equal(pread(fd, ev, sizeof(*ev), RGN_ENV_OFF),
			 (ssize_t)sizeof(*ev));
	close(fd);
}

/* Bytes of storage the file has (st_blocks counts 512-byte units). */
static uint64_t allocated(const struct stat *st)
{
	return (uint64_t)st->st_blocks * 512;
}

static void fresh_primary_reserves_headers_registry_and_one_table_page(
	void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = create_env(home, 0, 0);
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	struct rgn_shm_env ev;
	struct stat st;

	(void)state;
	read_env_hdr(home, &ev, &st);
	/* Sized for the whole table, so joiners map all of it... */
	assert_true((uint64_t)st.st_size >= RGN_PRIMARY_BYTES);
	/* ...but storage only up to the end of the table's first page. */
	assert_true(ev.ev_slot_resv >= 1 && ev.ev_slot_resv < RGN_MAX_REGIONS);
	assert_true(ev.ev_slot_hwm <= ev.ev_slot_resv);
	assert_true(allocated(&st) >=
		    RGN_TABLE_OFF +
			    ev.ev_slot_resv * sizeof(struct rgn_shm_slot));
	assert_true(allocated(&st) <= RGN_TABLE_OFF + 2 * page);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

static void table_storage_is_reserved_before_each_slot_is_used(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = create_env(home, 0, 0);
	uint32_t first_resv, grew = 0;
	struct rgn_shm_env ev;
	struct stat st;
	char name[32];

	(void)state;
	read_env_hdr(home, &ev, &st);
	first_resv = ev.ev_slot_resv;
	/* Past the first page and the next doubling: the reservation must
	 * move ahead of the mark each time. */
	for (uint32_t i = 0; i < 3 * first_resv; i++) {
		rgn_region *r;

		snprintf(name, sizeof(name), "r%u", i);
		tu_ok(rgn_region_create(env, name, RGN_TYPE_USER,
					RGN_REGION_MIN, &r));
		tu_ok(rgn_region_detach(r));
		read_env_hdr(home, &ev, &st);
		assert_true(ev.ev_slot_hwm <= ev.ev_slot_resv);
		/* The reservation is one prefix of the file: every slot
		 * below it lies in allocated storage. */
		assert_true(allocated(&st) >=
			    RGN_TABLE_OFF +
				    (uint64_t)ev.ev_slot_resv *
					    sizeof(struct rgn_shm_slot));
		if (ev.ev_slot_resv > first_resv)
			grew = 1;
	}
	assert_true(grew);
	assert_true(allocated(&st) < (uint64_t)st.st_size);
	tu_ok(rgn_env_close(env));

	/* A joiner sees every region, the last one included. */
	{
		struct rgn_env_config cfg;
		rgn_region *r;

		rgn_env_config_init(&cfg);
		tu_ok(rgn_env_open(home, &cfg, &env));
		snprintf(name, sizeof(name), "r%u", 3 * first_resv - 1);
		tu_ok(rgn_region_attach(env, name, &r));
		assert_int_equal(rgn_region_id(r), 3 * first_resv + 1);
		tu_ok(rgn_env_close(env));
	}
	tu_ok(rgn_env_remove(home, 0));
}

static void primary_in_a_segment_is_reserved_whole(void **state)
{
	const char *home = tu_mkhome();
	rgn_env *env = create_env(home, 1, 0x52520000);
	struct rgn_file_record fr;
	const struct rgn_shm_env *ev;
	char path[4200];
	void *base;

	(void)state;
	snprintf(path, sizeof(path), "%s/__db.001", home);
	assert_int_equal(tu_read_file(path, &fr, sizeof(fr)),
			 (ssize_t)sizeof(fr));
	base = shmat(fr.fr_shmid, NULL, SHM_RDONLY);
	assert_true(base != (void *)-1);
	ev = (const void *)((const uint8_t *)base + RGN_ENV_OFF);
	assert_int_equal(ev->ev_slot_resv, RGN_MAX_REGIONS);
	shmdt(base);
	tu_ok(rgn_env_close(env));
	tu_ok(rgn_env_remove(home, 0));
}

/*
 * On a full filesystem, creating is what fails (-ENOSPC), whether the
 * region's storage or the table's growth runs out, and every byte of every
 * region made can be written afterwards without SIGBUS.  A private mount
 * namespace with a 3 MiB tmpfs as the home, in a child; skipped where
 * mount namespaces are not allowed.
 */
static void full_filesystem_fails_the_create_never_a_later_write(void **state)
{
	const char *home = tu_mkhome();
	pid_t pid;
	int status;

	(void)state;
	pid = tu_fork();
	if (pid == 0) {
		struct rgn_env_config cfg;
		rgn_env *env;
		rgn_region *r;
		char name[32];
		int made = 0, rc;

		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("tmpfs", home, "tmpfs", 0, "size=3m,mode=0700") < 0)
			_exit(77);
		rgn_env_config_init(&cfg);
		cfg.flags = RGN_CREATE | RGN_EXCL;
		if (rgn_env_open(home, &cfg, &env) < 0)
			_exit(1);
		if (rgn_region_create(env, "big", RGN_TYPE_USER, 4u << 20,
				      &r) != -ENOSPC)
			_exit(2);
		for (;;) {
			snprintf(name, sizeof(name), "r%d", made);
			rc = rgn_region_create(env, name, RGN_TYPE_USER,
					       RGN_REGION_MIN, &r);
			if (rc < 0)
				break;
			/* Every byte past the header (the allocator's arena,
			 * scribbled over: nobody allocates from it here);
			 * SIGBUS would kill the child. */
			memset(rgn_ptr(r, RGN_HDR_SIZE), 0xa5,
			       RGN_REGION_MIN - RGN_HDR_SIZE);
			made++;
		}
		if (rc != -ENOSPC)
			_exit(3);
		/* Past the table's first page, so its growth was reserved. */
		if (made < 31)
			_exit(4);
		rgn_env_close(env);
		rc = rgn_env_remove(home, 0);
		if (rc < 0) {
			fprintf(stderr, "remove: %s: %s\n", rgn_strerror(rc),
				rgn_errdetail());
			_exit(5);
		}
		_exit(0);
	}
	status = tu_wait(pid);
	if (status == 77)
		skip();
	assert_int_equal(status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			fresh_primary_reserves_headers_registry_and_one_table_page),
		cmocka_unit_test(
			table_storage_is_reserved_before_each_slot_is_used),
		cmocka_unit_test(primary_in_a_segment_is_reserved_whole),
		cmocka_unit_test(
			full_filesystem_fails_the_create_never_a_later_write),
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
