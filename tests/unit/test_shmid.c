/*
 * test_shmid.c - the one System V identity module (src/core/shmid.c): every
 * state rgn_shm_identify() can return, each made for real in this test's
 * private IPC namespace (a segment removed, an id handed to another
 * segment, IPC_RMID while attached, a header check that says "not ours",
 * a caller without permission), and the helpers around it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rgn.h"
#include "shmid.h"
#include "testutil.h"

#define KEY 0x51d00000
#define SEG 4096

/* Segments made and attachments taken by a test, undone by its teardown
 * even when it fails. */
static int made[8];
static int nmade;
static void *held[4];
static int nheld;

static void *hold(int id, int flags)
{
	void *p = shmat(id, NULL, flags);

	assert_true(p != (void *)-1);
	assert_true(nheld < (int)(sizeof(held) / sizeof(held[0])));
	held[nheld++] = p;
	return p;
}

static void let_go(void *p)
{
	for (int i = 0; i < nheld; i++) {
		if (held[i] == p) {
			held[i] = held[--nheld];
			break;
		}
	}
	shmdt(p);
}

static int setup(void **state)
{
	(void)state;
	nmade = nheld = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	while (nheld > 0)
		let_go(held[nheld - 1]);
	for (int i = 0; i < nmade; i++)
		shmctl(made[i], IPC_RMID, NULL);
	nmade = 0;
	return 0;
}

/* A fresh segment at KEY with MODE; SEEN gets what a caller saw of it. */
static int make(int32_t key, int mode, struct rgn_shm_seen *seen)
{
	struct shmid_ds ds;
	int id = shmget(key, SEG, IPC_CREAT | IPC_EXCL | mode);

	assert_true(id >= 0);
	assert_true(nmade < (int)(sizeof(made) / sizeof(made[0])));
	made[nmade++] = id;
	assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
	if (seen)
		*seen = (struct rgn_shm_seen){
			.shmid = id, .key = key, .ctime = ds.shm_ctime};
	return id;
}

static enum rgn_shm_state identify(const struct rgn_shm_seen *seen,
				   uint32_t flags)
{
	return rgn_shm_identify(seen, flags, NULL, NULL, NULL, NULL);
}

static void removed_segment_is_gone(void **state)
{
	struct rgn_shm_seen seen;
	struct rgn_shm_info in;
	int err = 1;

	(void)state;
	make(KEY, 0600, &seen);
	assert_int_equal(shmctl(seen.shmid, IPC_RMID, NULL), 0);
	assert_int_equal(rgn_shm_identify(&seen, 0, NULL, NULL, &in, &err),
			 RGN_SHM_GONE);
	assert_int_equal(err, 0);
	assert_int_equal(rgn_shm_stat(seen.shmid, &in), -ENOENT);
	/* an id never handed out is gone too */
	seen.shmid = -1;
	assert_int_equal(identify(&seen, 0), RGN_SHM_GONE);
}

static void present_segment_is_unattached_then_attached(void **state)
{
	struct rgn_shm_seen seen;
	struct rgn_shm_info in;
	void *p;

	(void)state;
	make(KEY, 0600, &seen);
	assert_int_equal(rgn_shm_identify(&seen, 0, NULL, NULL, &in, NULL),
			 RGN_SHM_UNATTACHED);
	assert_int_equal(in.shmid, seen.shmid);
	assert_int_equal(in.key, KEY);
	assert_int_equal(in.size, SEG);
	assert_int_equal(in.cpid, getpid());
	p = hold(seen.shmid, SHM_RDONLY);
	assert_int_equal(identify(&seen, 0), RGN_SHM_ATTACHED);
	let_go(p);
	assert_int_equal(identify(&seen, 0), RGN_SHM_UNATTACHED);
}

/* The id now names a segment with another key: recycled, made for real
 * with shm_next_id where the kernel has it. */
static void id_handed_to_another_segment_is_recycled(void **state)
{
	struct rgn_shm_seen seen, other;
	char buf[32];
	int fd, n;

	(void)state;
	make(KEY, 0600, &seen);
	assert_int_equal(shmctl(seen.shmid, IPC_RMID, NULL), 0);
	nmade = 0;
	fd = open("/proc/sys/kernel/shm_next_id", O_WRONLY);
	if (fd >= 0) {
		n = snprintf(buf, sizeof(buf), "%d", seen.shmid);
		if (write(fd, buf, (size_t)n) != n) {
			close(fd);
			fd = -1;
		} else {
			close(fd);
		}
	}
	make(KEY + 1, 0600, &other);
	if (fd >= 0)
		assert_int_equal(other.shmid, seen.shmid);
	else /* no shm_next_id: the key alone then tells this new one */
		seen.shmid = other.shmid;
	assert_int_equal(identify(&seen, 0), RGN_SHM_RECYCLED);
	/* the key says nothing for a keyless caller: the creation time does */
	seen.key = KEY + 1;
	seen.ctime = other.ctime - 1;
	assert_int_equal(identify(&seen, RGN_SHM_ANY_KEY), RGN_SHM_RECYCLED);
	seen.ctime = other.ctime;
	assert_int_equal(identify(&seen, RGN_SHM_ANY_KEY), RGN_SHM_UNATTACHED);
}

/* IPC_RMID while attached: the kernel keeps it, turns its key to
 * IPC_PRIVATE and marks it; reading it is a caller's explicit choice. */
static void marked_while_attached_is_removing(void **state)
{
	struct rgn_shm_seen seen;
	struct rgn_shm_info in;
	const void *base = NULL;
	uint64_t size = 0;
	char *p;

	(void)state;
	make(KEY, 0600, &seen);
	p = hold(seen.shmid, 0);
	strcpy(p, "still here");
	assert_int_equal(shmctl(seen.shmid, IPC_RMID, NULL), 0);
	assert_int_equal(rgn_shm_identify(&seen, 0, NULL, NULL, &in, NULL),
			 RGN_SHM_REMOVING);
	assert_int_equal(in.key, IPC_PRIVATE);
	assert_int_equal(rgn_shm_attach_ro(&seen, 0, &base, &size), -ENOENT);
	assert_int_equal(
		rgn_shm_attach_ro(&seen, RGN_SHM_ALLOW_REMOVING, &base, &size),
		0);
	assert_int_equal(size, SEG);
	assert_string_equal((const char *)base, "still here");
	rgn_shm_detach(base);
	let_go(p);
	assert_int_equal(identify(&seen, 0), RGN_SHM_GONE);
}

struct verdict {
	int answer;	/* what the check returns */
	int calls;	/* how often it ran */
	char first[16]; /* the bytes it was shown */
};

static int check(const void *base, uint64_t size, void *arg)
{
	struct verdict *v = arg;

	v->calls++;
	memcpy(v->first, base,
	       size < sizeof(v->first) ? size : sizeof(v->first));
	return v->answer;
}

static void header_check_decides_foreign(void **state)
{
	struct rgn_shm_seen seen;
	struct verdict v = {0};
	int err = 0;
	char *p;

	(void)state;
	make(KEY, 0600, &seen);
	p = hold(seen.shmid, 0);
	strcpy(p, "not yours");
	let_go(p);
	v.answer = 0;
	assert_int_equal(rgn_shm_identify(&seen, 0, check, &v, NULL, NULL),
			 RGN_SHM_FOREIGN);
	assert_int_equal(v.calls, 1);
	assert_string_equal(v.first, "not yours");
	v.answer = 1;
	assert_int_equal(rgn_shm_identify(&seen, 0, check, &v, NULL, NULL),
			 RGN_SHM_UNATTACHED);
	v.answer = -EIO; /* could not read it */
	assert_int_equal(rgn_shm_identify(&seen, 0, check, &v, NULL, &err),
			 RGN_SHM_UNKNOWN);
	assert_int_equal(err, -EIO);
	/* a segment that is no longer the one seen is never shown to it */
	v.calls = 0;
	seen.ctime--;
	assert_int_equal(rgn_shm_identify(&seen, 0, check, &v, NULL, NULL),
			 RGN_SHM_RECYCLED);
	assert_int_equal(v.calls, 0);
}

/* A caller without permission cannot tell whose it is, but the kernel
 * index still shows the segment to it. */
static void unreadable_segment_is_unknown(void **state)
{
	struct rgn_shm_seen seen;
	pid_t pid;
	int st;

	(void)state;
	make(KEY, 0600, &seen);
	pid = tu_fork();
	if (pid == 0) {
		struct rgn_shm_info in;
		int err = 0;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		if (rgn_shm_identify(&seen, 0, NULL, NULL, &in, &err) !=
		    RGN_SHM_UNKNOWN)
			_exit(11);
		if (err != -EACCES)
			_exit(12);
		if (rgn_shm_stat(seen.shmid, &in) != 0 || in.key != KEY)
			_exit(13);
		if (rgn_shm_find_key(KEY, &in) != 0 || in.shmid != seen.shmid)
			_exit(14);
		/* a recycled id is told even without permission */
		seen.ctime--;
		if (rgn_shm_identify(&seen, 0, NULL, NULL, NULL, NULL) !=
		    RGN_SHM_RECYCLED)
			_exit(15);
		_exit(0);
	}
	st = tu_wait(pid);
	if (st != 0)
		fail_msg("unprivileged child failed at step %d", st);
}

struct count {
	int n;
	int32_t stop_at; /* key that stops the walk */
};

static int count_one(const struct rgn_shm_info *in, void *arg)
{
	struct count *c = arg;

	c->n++;
	return in->key == c->stop_at ? 7 : 0;
}

static void walk_sees_every_segment_and_stops_when_asked(void **state)
{
	struct count c = {0};
	struct rgn_shm_info in;
	size_t denied = 99;

	(void)state;
	make(KEY, 0600, NULL);
	make(KEY + 1, 0600, NULL);
	make(KEY + 2, 0600, NULL);
	assert_int_equal(rgn_shm_walk(count_one, &c, &denied), 0);
	assert_int_equal(c.n, tu_count_segments());
	assert_int_equal(denied, 0);
	c = (struct count){.stop_at = KEY + 1};
	assert_int_equal(rgn_shm_walk(count_one, &c, NULL), 7);
	assert_int_equal(rgn_shm_find_key(KEY + 2, &in), 0);
	assert_int_equal(in.shmid, made[2]);
	assert_int_equal(rgn_shm_find_key(KEY + 3, &in), -ENOENT);
}

static void errors_and_names_map_once(void **state)
{
	(void)state;
	assert_int_equal(rgn_shm_errno(EINVAL), -ENOENT);
	assert_int_equal(rgn_shm_errno(EIDRM), -ENOENT);
	assert_int_equal(rgn_shm_errno(EACCES), -EACCES);
	assert_int_equal(rgn_shm_errno(ENOMEM), -ENOMEM);
	assert_string_equal(rgn_shm_state_name(RGN_SHM_GONE), "gone");
	assert_string_equal(rgn_shm_state_name(RGN_SHM_RECYCLED), "recycled");
	assert_string_equal(rgn_shm_state_name(RGN_SHM_REMOVING), "removing");
	assert_string_equal(rgn_shm_state_name(RGN_SHM_FOREIGN), "foreign");
	assert_string_equal(rgn_shm_state_name(RGN_SHM_ATTACHED), "attached");
	assert_string_equal(rgn_shm_state_name(RGN_SHM_UNATTACHED),
			    "unattached");
	assert_string_equal(rgn_shm_state_name(RGN_SHM_UNKNOWN), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(removed_segment_is_gone),
		T(present_segment_is_unattached_then_attached),
		T(id_handed_to_another_segment_is_recycled),
		T(marked_while_attached_is_removing),
		T(header_check_decides_foreign),
		T(unreadable_segment_is_unknown),
		T(walk_sees_every_segment_and_stops_when_asked),
		T(errors_and_names_map_once),
#undef T
	};

	tu_private_ipc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
