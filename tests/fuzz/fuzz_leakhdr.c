/*
 * fuzz_leakhdr.c - a System V segment's first bytes as the leak scanner
 * judges them (src/inspect/leaks.c): our header or not, its format, the
 * region, environment and home it names, and the verdict the home's
 * evidence gives.
 *
 * The scanner reads a header only by attaching the segment, so this
 * target owns one real segment in an IPC namespace of its own, writes
 * each input into it and has rgn_leaks_judge classify it, exactly as a
 * scan would, with the home the header names looked up for real.  A home
 * path starting with "@" is replaced by a real environment's home made at
 * start-up (it holds one live handle), so that the fuzzer can reach the
 * verdicts of a matching home without knowing the temporary path.
 *
 * What must hold: one class with a one-line evidence; not our magic is
 * foreign; our magic in another format is unknown; ours copies exactly
 * the header's id, environment, creator, name and home (cut at their
 * sizes); live and idle only for a home whose __db.001 is that very
 * environment; rgn_leak_redact and rgn_leak_is_leaked agree with the
 * verdict.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>

#include "fuzz.h"
#include "layout.h"
#include "leaks_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

#define SEGSZ sizeof(struct rgn_shm_region)

static int shmid = -1;
static uint8_t *seg;
static char home[RGN_HOME_MAX];
static uint64_t home_env_id;
static rgn_env *held;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rgn_env_config cfg;
	struct rgn_env_stat *st;
	const char *dir = fz_tmpdir();
	int rc;

	(void)argc;
	(void)argv;
	if (unshare(CLONE_NEWIPC) < 0) {
		perror("fuzz_leakhdr: unshare(CLONE_NEWIPC) (needs root)");
		exit(1);
	}
	shmid = shmget(IPC_PRIVATE, SEGSZ, IPC_CREAT | 0600);
	seg = shmid < 0 ? (void *)-1 : shmat(shmid, NULL, 0);
	if (seg == (void *)-1 || !dir) {
		perror("fuzz_leakhdr: segment");
		exit(1);
	}
	snprintf(home, sizeof(home), "%s/home", dir);
	if (mkdir(home, 0700) < 0) {
		perror(home);
		exit(1);
	}
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	rc = rgn_env_open(home, &cfg, &held);
	if (rc == 0)
		rc = rgn_stat_env(held, &st);
	if (rc < 0) {
		fprintf(stderr, "fuzz_leakhdr: %s: %s: %s\n", home,
			rgn_strerror(rc), rgn_errdetail());
		exit(1);
	}
	home_env_id = st->env_id;
	/* The home as the library recorded it (canonical). */
	snprintf(home, sizeof(home), "%s", st->home);
	rgn_stat_free(st);
	return 0;
}

static int one_line(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	return n > 0 && n < cap && !memchr(s, '\n', n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct rgn_shm_region *rh = (void *)seg;
	struct rgn_leaks_cache c;
	struct rgn_leaks_pool *pool = NULL;
	struct rgn_leak r, red;
	char want_home[RGN_HOME_MAX];
	size_t n;
	int rc;

	if (len > SEGSZ)
		return 0;
	memset(seg, 0, SEGSZ);
	memcpy(seg, data, len);
	if (rh->rh_home[0] == '@')
		memcpy(rh->rh_home, home, sizeof(home));
	n = strnlen(rh->rh_home, RGN_HOME_MAX - 1);
	memcpy(want_home, rh->rh_home, n);
	want_home[n] = '\0';

	rc = rgn_leaks_stat_one(shmid, &r);
	FZ_CHECK(rc == 0, "stat of our own segment: %d", rc);
	rc = rgn_leaks_cache_init(&c, 1);
	FZ_CHECK(rc == 0, "cache: %d", rc);
	rc = rgn_leaks_judge(&c, &r, 0, time(NULL));
	FZ_CHECK(rc == 0, "judging our own segment: %d", rc);
	rc = rgn_leaks_cache_fini(&c, &pool);
	FZ_CHECK(rc == 0, "cache fini: %d", rc);

	FZ_CHECK((unsigned)r.cls < RGN_LEAK_NCLASSES, "class %d", r.cls);
	FZ_CHECK(one_line(r.evidence, sizeof(r.evidence)),
		 "evidence is not one line: \"%s\"", r.evidence);
	if (rh->rh_magic != RGN_REGION_MAGIC &&
	    r.program == RGN_LEAK_PROG_BDB) {
		/* Berkeley DB's primary: its magic at offset 0, and this
		 * segment is attached (by us), so never at rest or leaked. */
		uint32_t magic;

		memcpy(&magic, seg, sizeof(magic));
		FZ_CHECK(magic == 0x00120897 || magic == 0x97081200,
			 "judged Berkeley DB's without its magic (0x%08x)",
			 magic);
		FZ_CHECK(r.ours == RGN_LEAK_NO && (r.cls == RGN_LEAK_LIVE ||
						   r.cls == RGN_LEAK_UNKNOWN),
			 "an attached Berkeley DB segment judged ours %d "
			 "class %s",
			 r.ours, rgn_leak_class_name(r.cls));
	} else if (rh->rh_magic != RGN_REGION_MAGIC) {
		FZ_CHECK(r.ours == RGN_LEAK_NO &&
				 r.cls == RGN_LEAK_FOREIGN_IN_USE,
			 "not our magic, yet ours %d class %s", r.ours,
			 rgn_leak_class_name(r.cls));
	} else if (rh->rh_format != RGN_FORMAT) {
		FZ_CHECK(r.ours == RGN_LEAK_UNSURE && r.cls == RGN_LEAK_UNKNOWN,
			 "format %u judged ours %d class %s", rh->rh_format,
			 r.ours, rgn_leak_class_name(r.cls));
	} else {
		FZ_CHECK(r.ours == RGN_LEAK_YES, "our header, ours %d", r.ours);
		FZ_CHECK(r.region_id == rh->rh_id &&
				 r.region_type == rh->rh_type &&
				 r.env_id == rh->rh_env_id &&
				 r.creator_pid == rh->rh_creator_pid,
			 "header fields not copied as they are");
		FZ_CHECK(strncmp(r.region_name, rh->rh_name, RGN_NAME_MAX) ==
					 0 &&
				 r.region_name[RGN_NAME_MAX] == '\0',
			 "name \"%s\"", r.region_name);
		FZ_CHECK(r.home && strcmp(r.home, want_home) == 0,
			 "home \"%s\", the header says \"%s\"",
			 r.home ? r.home : "(null)", want_home);
		FZ_CHECK(r.cls == RGN_LEAK_LIVE || r.cls == RGN_LEAK_IDLE ||
				 r.cls == RGN_LEAK_ORPHANED ||
				 r.cls == RGN_LEAK_UNKNOWN,
			 "ours but %s", rgn_leak_class_name(r.cls));
		if (r.cls == RGN_LEAK_LIVE || r.cls == RGN_LEAK_IDLE)
			FZ_CHECK(r.home_matches == RGN_LEAK_YES &&
					 (r.cls == RGN_LEAK_LIVE) ==
						 (r.env_live > 0),
				 "%s with home_matches %d, %u live",
				 rgn_leak_class_name(r.cls), r.home_matches,
				 r.env_live);
		if (strcmp(want_home, home) == 0)
			FZ_CHECK((r.home_matches == RGN_LEAK_YES) ==
						 (r.env_id == home_env_id) &&
					 (r.cls == RGN_LEAK_LIVE) ==
						 (r.env_id == home_env_id),
				 "the real home judged %s, matches %d, env "
				 "%016llx",
				 rgn_leak_class_name(r.cls), r.home_matches,
				 (unsigned long long)r.env_id);
	}
	FZ_CHECK(rgn_leak_is_leaked(&r) == (r.cls == RGN_LEAK_ORPHANED ||
					    (r.cls == RGN_LEAK_FOREIGN_IDLE &&
					     r.cpid_alive == RGN_LEAK_NO)),
		 "is_leaked disagrees with class %s",
		 rgn_leak_class_name(r.cls));
	red = r;
	FZ_CHECK(rgn_leak_needs_header(&r) == 1 && rgn_leak_redact(&red) == 1,
		 "a verdict read from a header does not need it");
	FZ_CHECK(red.cls == RGN_LEAK_UNKNOWN && red.ours == RGN_LEAK_UNSURE &&
			 red.home && !red.home[0] && !red.region_name[0],
		 "redacted record keeps what was read");
	rgn_leaks_pool_free(pool);
	return 0;
}
