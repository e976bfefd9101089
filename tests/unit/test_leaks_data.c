/*
 * test_leaks_data.c - rgn_leak_data_lend, the reader behind regionfs's
 * sysv/SHMID/data, on real segments in a private IPC namespace: the bytes
 * written, clamped to the segment, still shown while marked for removal,
 * gone after the last detach, and refused under a recycled id.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

#include "leaks.h"
#include "rgn.h"
#include "testutil.h"

/* Keys of our own, apart from test_leaks.c's. */
static int32_t next_key = 0x7e5d0000;

static int32_t fresh_key(void)
{
	next_key += 0x100;
	return next_key;
}

struct lent {
	unsigned char buf[512]; /* what fn was shown, up to its size */
	const void *p;		/* the pointer fn got */
	size_t n;		/* the length fn got */
	int calls;
};

static int copy_lent(const void *p, size_t n, void *arg)
{
	struct lent *l = arg;

	l->calls++;
	l->p = p;
	l->n = n;
	if (n)
		memcpy(l->buf, p, n < sizeof(l->buf) ? n : sizeof(l->buf));
	return 7; /* passed through as the result */
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

/* A keyed segment of SIZE bytes, each byte i holding (i * 7 + 3). */
static int patterned(int32_t key, size_t size)
{
	int id = shmget(key, size, IPC_CREAT | IPC_EXCL | 0600);
	unsigned char *p;

	assert_true(id >= 0);
	p = shmat(id, NULL, 0);
	assert_true(p != (void *)-1);
	for (size_t i = 0; i < size; i++)
		p[i] = (unsigned char)(i * 7 + 3);
	shmdt(p);
	return id;
}

static void data_lend_shows_the_bytes_written(void **state)
{
	int id = patterned(fresh_key(), 8192);
	struct rgn_leak seen = seen_of(id);
	struct lent l;

	(void)state;
	memset(&l, 0, sizeof(l));
	assert_int_equal(rgn_leak_data_lend(&seen, 100, 300, copy_lent, &l), 7);
	assert_int_equal(l.calls, 1);
	assert_int_equal(l.n, 300);
	for (size_t i = 0; i < 300; i++)
		assert_int_equal(l.buf[i], (unsigned char)((100 + i) * 7 + 3));

	/* Clamped to the segment, and nothing at or past its end. */
	assert_int_equal(
		rgn_leak_data_lend(&seen, 8192 - 50, 300, copy_lent, &l), 7);
	assert_int_equal(l.n, 50);
	assert_int_equal(l.buf[49], (unsigned char)(8191 * 7 + 3));
	assert_int_equal(rgn_leak_data_lend(&seen, 8192, 10, copy_lent, &l), 7);
	assert_int_equal(l.n, 0);
	assert_null(l.p);
	assert_int_equal(
		rgn_leak_data_lend(&seen, UINT64_MAX, 10, copy_lent, &l), 7);
	assert_int_equal(l.n, 0);
	assert_int_equal(l.calls, 4);

	/* The lender never stays attached. */
	{
		struct shmid_ds ds;

		assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
		assert_int_equal(ds.shm_nattch, 0);
	}
	assert_int_equal(rgn_leak_data_lend(NULL, 0, 1, copy_lent, &l),
			 -EINVAL);
	assert_int_equal(rgn_leak_data_lend(&seen, 0, 1, NULL, &l), -EINVAL);
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
}

static void data_lend_shows_a_removed_segment_until_its_last_detach(
	void **state)
{
	int id = patterned(fresh_key(), 4096);
	struct rgn_leak seen = seen_of(id);
	struct lent l;
	void *hold;

	(void)state;
	memset(&l, 0, sizeof(l));
	hold = shmat(id, NULL, SHM_RDONLY);
	assert_true(hold != (void *)-1);
	/* Marked for removal: its key is now IPC_PRIVATE, its bytes live. */
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
	assert_int_equal(rgn_leak_data_lend(&seen, 0, 16, copy_lent, &l), 7);
	assert_int_equal(l.n, 16);
	assert_int_equal(l.buf[15], (unsigned char)(15 * 7 + 3));
	shmdt(hold);
	/* The last detach freed it. */
	l.calls = 0;
	assert_int_equal(rgn_leak_data_lend(&seen, 0, 16, copy_lent, &l),
			 -ENOENT);
	assert_int_equal(l.calls, 0);
}

/* Make the next segment of this IPC namespace take id ID. */
static void next_shmid(int id)
{
	char buf[32];
	int fd = open("/proc/sys/kernel/shm_next_id", O_WRONLY | O_CLOEXEC);
	int n = snprintf(buf, sizeof(buf), "%d\n", id);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, (size_t)n), n);
	close(fd);
}

static void data_lend_refuses_a_recycled_id(void **state)
{
	int32_t key = fresh_key();
	int id = patterned(key, 4096), again;
	struct rgn_leak seen = seen_of(id), now;
	struct lent l;

	(void)state;
	memset(&l, 0, sizeof(l));
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
	/* Another segment under the very same id: a new key... */
	next_shmid(id);
	again = patterned(key + 1, 4096);
	assert_int_equal(again, id);
	assert_int_equal(rgn_leak_data_lend(&seen, 0, 16, copy_lent, &l),
			 -ENOENT);
	/* ...or the same key, made at another time. */
	now = seen_of(again);
	now.key = key + 1;
	now.ctime -= 10;
	assert_int_equal(rgn_leak_data_lend(&now, 0, 16, copy_lent, &l),
			 -ENOENT);
	assert_int_equal(l.calls, 0);
	assert_int_equal(shmctl(again, IPC_RMID, NULL), 0);
}

int main(void)
{
	tu_private_ipc();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(data_lend_shows_the_bytes_written),
		cmocka_unit_test(
			data_lend_shows_a_removed_segment_until_its_last_detach),
		cmocka_unit_test(data_lend_refuses_a_recycled_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
