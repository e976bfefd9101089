/*
 * foreign.c - another program's segments at and around our keys are never
 * changed: ten foreign segments (keys base-2, base-1, base+3..base+6, two
 * IPC_PRIVATE, one at the primary key of an environment we then try to
 * create, one at the second key of another), some attached by a holder
 * process and some idle with their creator dead, are recorded (bytes,
 * key, ctime, nattch, mode, size, creator, owner) and compared after every
 * create, join, remove, refused create and `regionctl leaks --remove`.
 *
 *   foreign REGIONCTL [SECONDS]
 *
 * Runs in its own IPC namespace; any difference is a violation.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rgn.h"
#include "soak.h"

#define NFOREIGN 10
#define BASE	 0x5e0b0000 /* our environment: BASE .. BASE+2 */
#define BLOCKED	 0x5e0c0000 /* primary key taken by a foreign segment */
#define SECOND	 0x5e0d0000 /* second key taken by a foreign segment */
#define CRASH	 0x5e0e0000 /* a crashed environment for leaks --remove */
#define NREGIONS 3

struct foreign {
	key_t key;
	int attached; /* held by the holder process */
	int shmid;
	struct shmid_ds ds;   /* as recorded */
	unsigned char *bytes; /* as recorded */
};

static struct foreign fs[NFOREIGN] = {
	{BASE - 2, 0}, {BASE - 1, 1},	{BASE + 3, 0},	  {BASE + 4, 1},
	{BASE + 5, 0}, {BASE + 6, 1},	{IPC_PRIVATE, 1}, {IPC_PRIVATE, 0},
	{BLOCKED, 1},  {SECOND + 1, 0},
};
static unsigned long long ops, compares, violations, removed_orphans;
static const char *regionctl;

static void fill(unsigned char *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(soak_rand(&seed) >> 24);
}

/* Made by a child that exits: an idle foreign segment's creator is dead,
 * which is what tempts a scanner most. */
static void make_segments(void)
{
	for (int i = 0; i < NFOREIGN; i++) {
		size_t size = 4096u << (i % 5);
		int pfd[2], id;
		pid_t pid;

		if (pipe(pfd) < 0)
			exit(1);
		pid = fork();
		if (pid == 0) {
			id = shmget(fs[i].key, size,
				    IPC_CREAT | IPC_EXCL | 0640);
			void *p = id < 0 ? (void *)-1 : shmat(id, NULL, 0);

			if (p == (void *)-1)
				_exit(1);
			fill(p, size, (uint64_t)i * 7919 + 1);
			shmdt(p);
			_exit(write(pfd[1], &id, sizeof(id)) != sizeof(id));
		}
		if (read(pfd[0], &id, sizeof(id)) != sizeof(id) ||
		    waitpid(pid, NULL, 0) != pid) {
			fprintf(stderr, "foreign: cannot make segment %d\n", i);
			exit(1);
		}
		close(pfd[0]);
		close(pfd[1]);
		fs[i].shmid = id;
	}
}

static pid_t hold_some(void)
{
	int pfd[2];
	pid_t pid;
	char c;

	if (pipe(pfd) < 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < NFOREIGN; i++)
			if (fs[i].attached &&
			    shmat(fs[i].shmid, NULL, SHM_RDONLY) == (void *)-1)
				_exit(1);
		if (write(pfd[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	if (read(pfd[0], &c, 1) != 1) {
		fprintf(stderr, "foreign: the holder could not attach\n");
		exit(1);
	}
	close(pfd[0]);
	close(pfd[1]);
	return pid;
}

/* Read segment I: its shmid_ds and its bytes. */
static int snapshot(int i, struct shmid_ds *ds, unsigned char **bytes)
{
	void *p;

	if (shmctl(fs[i].shmid, IPC_STAT, ds) < 0)
		return -errno;
	p = shmat(fs[i].shmid, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		return -errno;
	*bytes = malloc(ds->shm_segsz);
	if (*bytes)
		memcpy(*bytes, p, ds->shm_segsz);
	shmdt(p);
	return *bytes ? 0 : -ENOMEM;
}

static void record(void)
{
	for (int i = 0; i < NFOREIGN; i++)
		if (snapshot(i, &fs[i].ds, &fs[i].bytes) < 0) {
			fprintf(stderr, "foreign: cannot record %d\n", i);
			exit(1);
		}
}

static void violation(const char *after, int i, const char *what)
{
	violations++;
	fprintf(stderr, "foreign: after %s: segment key 0x%x shmid %d: %s\n",
		after, (unsigned)fs[i].key, fs[i].shmid, what);
}

/* Our own attach in snapshot() is gone again by the time we compare, so
 * nattch must be as recorded; atime and dtime are ours and not compared. */
static void compare(const char *after)
{
	for (int i = 0; i < NFOREIGN; i++) {
		const struct shmid_ds *a = &fs[i].ds;
		struct shmid_ds b;
		unsigned char *bytes = NULL;
		int rc = snapshot(i, &b, &bytes);

		compares++;
		if (rc < 0)
			violation(after, i, strerror(-rc));
		else if (b.shm_perm.__key != a->shm_perm.__key)
			violation(after, i, "key changed");
		else if (b.shm_ctime != a->shm_ctime)
			violation(after, i, "ctime changed");
		else if (b.shm_nattch != a->shm_nattch)
			violation(after, i, "nattch changed");
		else if (b.shm_perm.mode != a->shm_perm.mode ||
			 b.shm_perm.uid != a->shm_perm.uid ||
			 b.shm_perm.gid != a->shm_perm.gid)
			violation(after, i, "mode or owner changed");
		else if (b.shm_segsz != a->shm_segsz ||
			 b.shm_cpid != a->shm_cpid)
			violation(after, i, "size or creator changed");
		else if (memcmp(bytes, fs[i].bytes, a->shm_segsz) != 0)
			violation(after, i, "bytes changed");
		free(bytes);
	}
}

static int open_env(const char *home, key_t key, uint32_t flags, rgn_env **envp)
{
	struct rgn_env_config cfg;

	rgn_env_config_init(&cfg);
	cfg.flags = flags;
	cfg.backing = RGN_BACKING_SYSV;
	cfg.shm_key = key;
	return rgn_env_open(home, &cfg, envp);
}

static int create_env(const char *home, key_t key)
{
	char name[16];
	rgn_env *env;
	rgn_region *r;
	int rc = open_env(home, key, RGN_CREATE | RGN_EXCL, &env);

	if (rc < 0)
		return rc;
	for (int i = 1; rc == 0 && i < NREGIONS; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		rc = rgn_region_create(env, name, RGN_TYPE_USER, 1 << 16, &r);
	}
	rgn_env_close(env);
	return rc;
}

static void expect(const char *what, int rc, int want)
{
	ops++;
	if (rc != want) {
		violations++;
		fprintf(stderr, "foreign: %s: %d (%s: %s), expected %d\n", what,
			rc, rgn_strerror(rc), rgn_errdetail(), want);
	}
	compare(what);
}

/* A child joins, allocates, detaches: returns its exit status. */
static int join_in_child(const char *home, int crash)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		rgn_env *env;
		rgn_region *r;
		uint64_t off;

		if (open_env(home, 0, 0, &env) ||
		    rgn_region_attach(env, "r1", &r) || rgn_alloc(r, 64, &off))
			_exit(1);
		if (crash)
			_exit(0); /* died attached: orphaned segments */
		_exit(rgn_env_close(env) != 0);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int run_regionctl(void)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execl(regionctl, regionctl, "leaks", "--remove", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void empty_dir(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'/* '%s'/.[!.]*", dir, dir);
	if (system(cmd) != 0)
		fprintf(stderr, "foreign: cannot empty %s\n", dir);
}

static void round_once(const char *home, const char *other)
{
	int before;

	expect("create", create_env(home, BASE), 0);
	expect("join", join_in_child(home, 0), 0);
	expect("remove", rgn_env_remove(home, 0), 0);
	expect("create at a foreign primary key", create_env(other, BLOCKED),
	       RGN_EFOREIGN);
	empty_dir(other);
	expect("create over a foreign second key", create_env(other, SECOND),
	       RGN_EFOREIGN);
	expect("remove after a refused create", rgn_env_remove(other, 0), 0);
	empty_dir(other);
	/* a crashed environment whose segments leaks --remove must take,
	 * next to foreign ones it must not */
	expect("create (to crash)", create_env(other, CRASH), 0);
	expect("join and die attached", join_in_child(other, 1), 0);
	before = soak_segments();
	expect("regionctl leaks --remove", run_regionctl(), 0);
	removed_orphans += (unsigned long long)(before - soak_segments());
	if (soak_segments() != NFOREIGN) {
		violations++;
		fprintf(stderr,
			"foreign: %d segments after leaks --remove, "
			"expected the %d foreign ones\n",
			soak_segments(), NFOREIGN);
	}
	empty_dir(other);
}

int main(int argc, char **argv)
{
	const char *home, *other;
	int seconds;
	int64_t end;
	pid_t holder;

	if (argc < 2) {
		fprintf(stderr, "usage: foreign REGIONCTL [SECONDS]\n");
		return 2;
	}
	regionctl = argv[1];
	seconds = soak_seconds(argc - 1, argv + 1);
	soak_private_ipc();
	home = soak_mkhome();
	other = soak_mkhome();
	make_segments();
	holder = hold_some();
	record();
	end = soak_now_ms() + (int64_t)seconds * 1000;
	do
		round_once(home, other);
	while (soak_now_ms() < end && !violations);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	printf("soak foreign %d s: %d foreign segments, %llu operations, "
	       "%llu comparisons, %llu orphaned segments removed by leaks "
	       "--remove: %llu violations\n",
	       seconds, NFOREIGN, ops, compares, removed_orphans, violations);
	return violations ? 1 : 0;
}
