/*
 * fuzz_record.c - the __db.001 of an environment whose primary lives in a
 * System V segment: a 48-byte record (struct rgn_file_record) naming the
 * segment, and what opening the home as an observer makes of it.
 *
 * The record is read only by rgn_primary_probe, from the file, so this
 * target keeps a real environment (system memory backing, in an IPC
 * namespace of its own, so its segments die with the process) and
 * rewrites its __db.001 with each input: a pwrite to a page-cache file,
 * cheap enough for thousands of runs a second.
 *
 * An environment id of all ones in the input stands for the real one
 * (which is random), so that the seeds, made from another environment,
 * reach the snapshot; every other id is taken as it is.
 *
 * What must hold: anything that is neither our record nor our region
 * magic is RGN_EBADMAGIC; a record the observer accepts has our format, a
 * known backing, a valid shmid and a size that holds a primary; and a
 * record is never followed to a segment that is not this environment's
 * primary: a snapshot through it succeeds only when it names exactly
 * that segment and environment id.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "layout.h"
#include "rgn.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* The key mkcorpus.sh makes its System V environment at: in a fresh IPC
 * namespace, the seed's record then names this very segment (shmid 0). */
#define FZ_RECORD_KEY 0x5247f000

static char home[4200];
static int recfd = -1;
static struct rgn_file_record real;

/* Put the real record back, so that remove finds what it made. */
static void remove_env(void)
{
	if (recfd >= 0 && (ftruncate(recfd, 0) < 0 ||
			   pwrite(recfd, &real, sizeof(real), 0) < 0))
		perror("fuzz_record: restore __db.001");
	if (home[0])
		rgn_env_remove(home, RGN_FORCE);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rgn_env_config cfg;
	char path[4300];
	const char *dir = fz_tmpdir();
	rgn_env *env;
	int rc;

	(void)argc;
	(void)argv;
	if (unshare(CLONE_NEWIPC) < 0) {
		perror("fuzz_record: unshare(CLONE_NEWIPC) (needs root)");
		exit(1);
	}
	if (!dir)
		exit(1);
	snprintf(home, sizeof(home), "%s/home", dir);
	if (mkdir(home, 0700) < 0) {
		perror(home);
		exit(1);
	}
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	cfg.backing = RGN_BACKING_SYSV;
	cfg.shm_key = FZ_RECORD_KEY;
	rc = rgn_env_open(home, &cfg, &env);
	if (rc < 0) {
		fprintf(stderr, "fuzz_record: create %s: %s: %s\n", home,
			rgn_strerror(rc), rgn_errdetail());
		exit(1);
	}
	rgn_env_close(env);
	atexit(remove_env);
	snprintf(path, sizeof(path), "%s/%s", home, RGN_PRIMARY_FILE);
	recfd = open(path, O_RDWR | O_CLOEXEC);
	if (recfd < 0 || pread(recfd, &real, sizeof(real), 0) != sizeof(real)) {
		perror(path);
		exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct rgn_env_config cfg;
	struct rgn_file_record fr = {0};
	struct rgn_env_stat *st = NULL;
	uint32_t magic = 0;
	rgn_env *env = NULL;
	uint8_t buf[4096];
	int rc;

	if (len > sizeof(buf))
		return 0;
	memcpy(buf, data, len);
	if (len >= sizeof(fr)) {
		memcpy(&fr, buf, sizeof(fr));
		if (fr.fr_env_id == UINT64_MAX) {
			fr.fr_env_id = real.fr_env_id;
			memcpy(buf, &fr, sizeof(fr));
		}
	}
	data = buf;
	if (pwrite(recfd, data, len, 0) != (ssize_t)len ||
	    ftruncate(recfd, (off_t)len) < 0) {
		perror("fuzz_record: rewrite __db.001");
		abort();
	}
	memcpy(&magic, data, len < 4 ? len : 4);
	memcpy(&fr, data, len < sizeof(fr) ? len : sizeof(fr));

	rgn_env_config_init(&cfg);
	cfg.flags = RGN_INSPECT;
	rc = rgn_env_open(home, &cfg, &env);
	if (len < 4 || (magic != RGN_RECORD_MAGIC && magic != RGN_REGION_MAGIC))
		FZ_CHECK(rc == RGN_EBADMAGIC, "open gave %d (%s)", rc,
			 rgn_errdetail());
	if (rc < 0)
		return 0;
	if (magic == RGN_RECORD_MAGIC) {
		FZ_CHECK(len >= sizeof(fr) && fr.fr_format == RGN_FORMAT &&
				 (fr.fr_backing == RGN_BACKING_FILES ||
				  fr.fr_backing == RGN_BACKING_SYSV) &&
				 fr.fr_shmid >= 0 &&
				 fr.fr_size >= RGN_PRIMARY_BYTES,
			 "record accepted: %zu bytes, format %u, backing %u, "
			 "shmid %d, size %llu",
			 len, fr.fr_format, fr.fr_backing, fr.fr_shmid,
			 (unsigned long long)fr.fr_size);
		FZ_CHECK(rgn_env_backing(env) ==
				 (enum rgn_backing)fr.fr_backing,
			 "backing %d, the record says %u", rgn_env_backing(env),
			 fr.fr_backing);
	}
	rc = rgn_stat_env(env, &st);
	if (rc == 0) {
		FZ_CHECK(magic != RGN_RECORD_MAGIC ||
				 (fr.fr_shmid == real.fr_shmid &&
				  fr.fr_env_id == real.fr_env_id),
			 "followed a record to shmid %d env %016llx; the "
			 "primary is shmid %d env %016llx",
			 fr.fr_shmid, (unsigned long long)fr.fr_env_id,
			 real.fr_shmid, (unsigned long long)real.fr_env_id);
		FZ_CHECK(st->env_id == real.fr_env_id && st->nregions >= 1,
			 "snapshot of env %016llx with %zu regions",
			 (unsigned long long)st->env_id, st->nregions);
		rgn_stat_free(st);
	}
	rgn_env_close(env);
	return 0;
}
