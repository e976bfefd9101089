/*
 * test_fsview.c - the parts of the mount's view (src/inspect/fsview.c)
 * that regionfs trusts to skip work: the digest of the kernel's segment
 * index must stay put while nothing changes and move on every change a
 * leak scan could see (a segment made, attached, detached, given to
 * another owner, marked for removal, removed).  Real segments, in this
 * test's private IPC namespace.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include "fsview.h"
#include "testutil.h"

#define KEY 0x5f500000

static int made[4];
static int nmade;
static void *held;

static int setup(void **state)
{
	(void)state;
	nmade = 0;
	held = NULL;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (held)
		shmdt(held);
	held = NULL;
	for (int i = 0; i < nmade; i++)
		shmctl(made[i], IPC_RMID, NULL);
	nmade = 0;
	return 0;
}

static int make(int32_t key)
{
	int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);

	assert_true(id >= 0);
	made[nmade++] = id;
	return id;
}

static uint64_t digest(void)
{
	uint64_t d = 0;

	assert_int_equal(rgn_fsview_segments_digest(&d), 0);
	return d;
}

/* A digest that moved since *LAST; *LAST becomes the new one. */
static void assert_moved(uint64_t *last)
{
	uint64_t d = digest();

	assert_true(d != *last);
	*last = d;
}

static void digest_holds_still_and_moves_on_every_change(void **state)
{
	struct shmid_ds ds;
	uint64_t last;
	int id;

	(void)state;
	make(KEY);
	last = digest();
	assert_true(digest() == last);

	id = make(KEY + 1);
	assert_moved(&last);
	assert_true(digest() == last);

	held = shmat(id, NULL, SHM_RDONLY);
	assert_true(held != (void *)-1);
	assert_moved(&last);
	assert_int_equal(shmdt(held), 0);
	held = NULL;
	assert_moved(&last);

	assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
	ds.shm_perm.mode = 0640;
	assert_int_equal(shmctl(id, IPC_SET, &ds), 0);
	assert_moved(&last);

	held = shmat(id, NULL, SHM_RDONLY);
	assert_true(held != (void *)-1);
	last = digest();
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
	assert_moved(&last); /* marked: SHM_DEST, key IPC_PRIVATE */
	assert_int_equal(shmdt(held), 0);
	held = NULL;
	assert_moved(&last); /* gone at the last detach */
}

static void digest_refuses_null(void **state)
{
	(void)state;
	assert_int_equal(rgn_fsview_segments_digest(NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(digest_holds_still_and_moves_on_every_change),
		T(digest_refuses_null),
#undef T
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
