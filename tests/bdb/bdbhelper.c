/*
 * bdbhelper.c - makes real Berkeley DB 5.3 environments for the tests of
 * the read-only reader (src/inspect/bdb*.c): it is the only program in the
 * tree linked with libdb, so every layout the reader decodes was written by
 * the library itself, never by hand.
 *
 *   bdbhelper create HOME [KEY]   create (KEY: system memory at that base
 *                                 key), put one record, close cleanly
 *   bdbhelper hold HOME [KEY]     join or create, print "ready", then wait
 *                                 until killed (SIGKILL leaves refcnt stale)
 *   bdbhelper panic HOME [KEY]    join and set the panic flag in REGENV
 *   bdbhelper join HOME [KEY]     join and close: exit 0 if BDB still opens it
 *   bdbhelper half HOME           leave an empty __db.001, as a creator that
 *                                 died before writing anything does
 *   bdbhelper sum SHMID           print the segment's size and a checksum of
 *                                 its bytes (attached read-only): the CLI
 *                                 tests compare segments before and after
 *
 * Exit 0 on success, 1 with the library's message on stderr otherwise.
 */
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

/* In the sanitizer build: libdb 5.3 frees nothing of a panicked
 * environment's handles at close, so leak detection would fail the
 * "panic" command for the library's leaks, not ours (an ASAN_OPTIONS in
 * the environment overrides this; the panic command also leaves by
 * _exit). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

#define ENV_FLAGS (DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL | DB_INIT_TXN)

static int fail(const char *what, const char *home, int rc)
{
	fprintf(stderr, "bdbhelper: %s \"%s\": %s\n", what, home,
		db_strerror(rc));
	return 1;
}

/* Open HOME (creating it if CREATE), in system memory when KEY is given. */
static int env_open(const char *home, const char *key, int create, DB_ENV **out)
{
	DB_ENV *dbenv;
	u_int32_t flags = ENV_FLAGS | (create ? DB_CREATE : 0);
	int rc;

	rc = db_env_create(&dbenv, 0);
	if (rc != 0)
		return fail("db_env_create", home, rc);
	if (key) {
		flags |= DB_SYSTEM_MEM;
		rc = dbenv->set_shm_key(dbenv, strtol(key, NULL, 0));
		if (rc != 0) {
			dbenv->close(dbenv, 0);
			return fail("set_shm_key", home, rc);
		}
	}
	rc = dbenv->open(dbenv, home, flags, 0660);
	if (rc != 0) {
		dbenv->close(dbenv, 0);
		return fail("open environment", home, rc);
	}
	*out = dbenv;
	return 0;
}

/* One small database, so the mpool and lock regions hold real allocations. */
static int put_record(DB_ENV *dbenv, const char *home)
{
	DB *db;
	DBT k, v;
	int rc;

	rc = db_create(&db, dbenv, 0);
	if (rc != 0)
		return fail("db_create", home, rc);
	rc = db->open(db, NULL, "data.db", NULL, DB_BTREE,
		      DB_CREATE | DB_AUTO_COMMIT, 0660);
	if (rc == 0) {
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		k.data = "key";
		k.size = 3;
		v.data = "value";
		v.size = 5;
		rc = db->put(db, NULL, &k, &v, DB_AUTO_COMMIT);
	}
	db->close(db, 0);
	return rc ? fail("put a record in", home, rc) : 0;
}

/* SIZE and FNV-1a (64 bits) of the bytes of segment SHMID, read through a
 * read-only attach held only while summing. */
static int seg_sum(const char *arg)
{
	struct shmid_ds ds;
	uint64_t h = 0xcbf29ce484222325ull;
	const unsigned char *p;
	int id = (int)strtol(arg, NULL, 0);

	if (shmctl(id, IPC_STAT, &ds) < 0) {
		fprintf(stderr, "bdbhelper: IPC_STAT of shmid %d: %s\n", id,
			strerror(errno));
		return 1;
	}
	p = shmat(id, NULL, SHM_RDONLY);
	if (p == (void *)-1) {
		fprintf(stderr, "bdbhelper: attach shmid %d: %s\n", id,
			strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < ds.shm_segsz; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	shmdt(p);
	printf("%zu %016llx\n", (size_t)ds.shm_segsz, (unsigned long long)h);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd, *home, *key;
	DB_ENV *dbenv = NULL;
	int rc, fd;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: bdbhelper create|hold|panic|join|half "
				"HOME [KEY] | sum SHMID\n");
		return 2;
	}
	cmd = argv[1];
	home = argv[2];
	key = argc == 4 ? argv[3] : NULL;

	if (strcmp(cmd, "sum") == 0)
		return seg_sum(argv[2]);
	if (strcmp(cmd, "half") == 0) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/__db.001", home);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
		if (fd < 0) {
			fprintf(stderr, "bdbhelper: create \"%s\": %s\n", path,
				strerror(errno));
			return 1;
		}
		close(fd);
		return 0;
	}
	if (env_open(home, key,
		     strcmp(cmd, "create") == 0 || strcmp(cmd, "hold") == 0,
		     &dbenv) != 0)
		return 1;
	if (strcmp(cmd, "create") == 0) {
		rc = put_record(dbenv, home);
	} else if (strcmp(cmd, "hold") == 0) {
		rc = put_record(dbenv, home);
		if (rc == 0) {
			printf("ready\n");
			fflush(stdout);
			for (;;)
				pause();
		}
	} else if (strcmp(cmd, "panic") == 0) {
		rc = dbenv->set_flags(dbenv, DB_PANIC_ENVIRONMENT, 1);
		if (rc != 0)
			fail("set panic in", home, rc);
		/* A panicked handle cannot be closed cleanly (libdb reports
		 * DB_RUNRECOVERY and frees nothing of it), and the tests'
		 * ASAN_OPTIONS=detect_leaks=1 overrides the default above:
		 * leave without closing, as a process that panicked would,
		 * and without the exit-time leak check on libdb's memory. */
		fflush(NULL);
		_exit(rc != 0);
	} else if (strcmp(cmd, "join") == 0) {
		rc = 0;
	} else {
		fprintf(stderr, "bdbhelper: unknown command \"%s\"\n", cmd);
		rc = 2;
	}
	if (dbenv->close(dbenv, 0) != 0 && rc == 0)
		rc = 1;
	return rc;
}
