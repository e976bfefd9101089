/*
 * cmd_env.c - regionctl's environment subcommands: create, stat, hold and
 * remove.  Each is a thin shell over one public call (rgn_env_open,
 * rgn_stat_env, rgn_env_remove) and the shared renderers, so what it
 * prints and refuses is what the library and the regionfs mount say.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bdb.h"
#include "regionctl.h"
#include "render.h"

/* The typical set, sizes in the range Berkeley DB uses for a small env. */
static const struct region_spec typical[] = {
	{"mutex", RGN_TYPE_MUTEX, 256 * 1024},
	{"lock", RGN_TYPE_LOCK, 512 * 1024},
	{"log", RGN_TYPE_LOG, 1024 * 1024},
	{"mpool", RGN_TYPE_MPOOL, 1024 * 1024},
	{"txn", RGN_TYPE_TXN, 256 * 1024},
};

/* ---- create ------------------------------------------------------------- */

static const char create_help[] =
	"Usage: regionctl create -h HOME [--backing files|sysv|private]\n"
	"                        [--shm-key KEY] [--mode MODE]\n"
	"                        [--region NAME:TYPE:SIZE]...\n"
	"\n"
	"Create a new environment in the directory HOME (which must exist and\n"
	"hold no environment yet).  Without --region it gets a typical set:\n"
	"mutex 256K, lock 512K, log 1M, mpool 1M, txn 256K.\n"
	"\n"
	"  -h, --home HOME      the environment's directory\n"
	"      --backing B      files (default), or sysv for System V "
	"segments\n"
	"                       at KEY, KEY+1, ...\n"
	"      --shm-key KEY    base System V key: decimal or 0x hex\n"
	"      --mode MODE      octal mode of files and segments (default "
	"0660)\n"
	"      --region N:T:S   a region NAME of TYPE (lock, log, mpool, "
	"mutex,\n"
	"                       txn, user) and SIZE (bytes, or K/M/G suffix);\n"
	"                       repeat for more\n"
	"      --help           this text\n"
	"\n"
	"A private environment lives in the heap of the one process that "
	"opens\n"
	"it and goes with it: with --backing private, create makes it and its\n"
	"regions (so the home, the sizes and the one-owner rule are checked)\n"
	"and says that it was released when regionctl exits.  Use `regionctl\n"
	"hold --create --backing private` to keep one alive.\n";

int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{"home", required_argument, NULL, 'h'},
		{"backing", required_argument, NULL, OPT_BACKING},
		{"shm-key", required_argument, NULL, OPT_SHM_KEY},
		{"mode", required_argument, NULL, OPT_MODE},
		{"region", required_argument, NULL, OPT_REGION},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct rgn_env_config cfg;
	struct region_spec *specs = NULL;
	size_t nspecs = 0;
	const char *home = NULL;
	rgn_env *env;
	int c, rc;

	rgn_env_config_init(&cfg);
	while ((c = getopt_long(argc, argv, "h:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			home = optarg;
			break;
		case OPT_BACKING:
			cfg.backing = parse_backing(optarg);
			break;
		case OPT_SHM_KEY:
			cfg.shm_key = parse_key("--shm-key", optarg);
			break;
		case OPT_MODE:
			cfg.mode = parse_mode("--mode", optarg);
			break;
		case OPT_REGION: {
			struct region_spec *n =
				realloc(specs, (nspecs + 1) * sizeof(*specs));

			if (!n) {
				fprintf(stderr, "%s: out of memory\n", prog);
				return EXIT_FAILURE;
			}
			specs = n;
			parse_region("--region", optarg, &specs[nspecs++]);
			break;
		}
		case OPT_HELP:
			fputs(create_help, stdout);
			return 0;
		default:
			bad_option(argv);
		}
	}
	no_operands(argc, argv);
	if (!home)
		usage_error("missing -h HOME");
	cfg.flags = RGN_CREATE | RGN_EXCL;
	rc = rgn_env_open(home, &cfg, &env);
	if (rc < 0) {
		free(specs);
		return lib_error("create environment", home, rc);
	}
	rc = nspecs ? create_regions(env, home, specs, nspecs)
		    : create_regions(env, home, typical,
				     sizeof(typical) / sizeof(typical[0]));
	rgn_env_close(env);
	if (rc == 0 && cfg.backing == RGN_BACKING_PRIVATE)
		printf("private environment in %s created with %zu regions and "
		       "released as regionctl exits; `regionctl hold --create "
		       "--backing private -h HOME` keeps one alive\n",
		       home,
		       nspecs ? nspecs + 1
			      : 1 + sizeof(typical) / sizeof(typical[0]));
	free(specs);
	if (rc != 0 && cfg.backing != RGN_BACKING_PRIVATE) {
		/* We made it (RGN_EXCL): do not leave half of it behind, but
		 * never by force: someone may have joined meanwhile. */
		int rrc = rgn_env_remove(home, 0);

		if (rrc < 0)
			fprintf(stderr,
				"%s: the half-made environment in \"%s\" was "
				"left: %s: %s\n",
				prog, home, rgn_strerror(rrc), rgn_errdetail());
	}
	return rc;
}

/* ---- stat --------------------------------------------------------------- */

static const char stat_help[] =
	"Usage: regionctl stat -e -h HOME [--json | --prometheus]\n"
	"                      [--region ID | --processes]\n"
	"\n"
	"Print the environment in HOME in the layout of Berkeley DB's\n"
	"`db_stat -e` (VALUE<TAB>LABEL lines, sections separated by =-=-...).\n"
	"Opens HOME as an observer: it is neither registered nor counted.\n"
	"\n"
	"  -e                   environment statistics (the default)\n"
	"  -h, --home HOME      the environment's directory\n"
	"      --json           the same figures as JSON\n"
	"      --prometheus     Prometheus text format (node_exporter "
	"textfile)\n"
	"      --region ID      only the region with this id (as regionfs\n"
	"                       regions/__db.NNN/stat)\n"
	"      --processes      only the attached processes\n"
	"      --help           this text\n"
	"\n"
	"A Berkeley DB home (a __db.001 written by libdb: its region, the 24\n"
	"bytes naming a system-memory segment, or left empty by a creator "
	"that\n"
	"died) is read without joining it and without writing, locking or\n"
	"counting anything: db_stat -e's figures with References as stored\n"
	"(db_stat adds its own handle), the regions, the processes that map\n"
	"it now and a verdict (at-rest, in-use, needs-recovery, half-created,\n"
	"undecoded) with its reason.  The exit status is 0 whenever the home\n"
	"could be read: the verdict is in the output (\"verdict\" in --json).\n"
	"--prometheus, --region and --processes are refused there (exit 2):\n"
	"use --json, which holds the regions and the attached processes.\n";

/*
 * A Berkeley DB home: the snapshot rgn_bdb_open took, in db_stat -e's
 * words or as JSON.  The per-region and per-process views and the
 * Prometheus series are ours only: refused by name rather than answered
 * with our own environment's layout.  Frees BDB.
 */
static int stat_bdb(struct rgn_bdb *bdb, int json, int prom, int region,
		    int procs)
{
	const char *opt = prom	   ? "--prometheus"
			  : region ? "--region"
			  : procs  ? "--processes"
				   : NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (opt) {
		char *h = rgn_render_escape_dup(bdb->home);

		fprintf(stderr,
			"%s stat: \"%s\" is a Berkeley DB home: %s is for "
			"regionfs environments only; `%s stat -e -h HOME "
			"--json` lists its regions and attached processes\n",
			prog, h ? h : bdb->home, opt, prog);
		free(h);
		rgn_bdb_close(bdb);
		return EXIT_USAGE;
	}
	rc = json ? rgn_render_bdb_json(bdb, time(NULL), &buf, &len)
		  : rgn_render_bdb_text(bdb, time(NULL), &buf, &len);
	rgn_bdb_close(bdb);
	return emit(rc, &buf, &len);
}

int cmd_stat(int argc, char **argv)
{
	static const struct option opts[] = {
		{"home", required_argument, NULL, 'h'},
		{"json", no_argument, NULL, OPT_JSON},
		{"prometheus", no_argument, NULL, OPT_PROMETHEUS},
		{"region", required_argument, NULL, OPT_REGION},
		{"processes", no_argument, NULL, OPT_PROCESSES},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct rgn_env_config cfg;
	struct rgn_env_stat *st = NULL;
	const char *home = NULL;
	int json = 0, prom = 0, procs = 0, c, rc;
	long region = -1;
	char *buf = NULL;
	size_t len = 0;
	struct rgn_bdb *bdb;
	rgn_env *env;

	while ((c = getopt_long(argc, argv, "eh:", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			break;
		case 'h':
			home = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_PROMETHEUS:
			prom = 1;
			break;
		case OPT_REGION:
			region = (long)parse_count("--region", optarg);
			break;
		case OPT_PROCESSES:
			procs = 1;
			break;
		case OPT_HELP:
			fputs(stat_help, stdout);
			return 0;
		default:
			bad_option(argv);
		}
	}
	no_operands(argc, argv);
	if (!home)
		usage_error("missing -h HOME");
	if (json && prom)
		usage_error("--json and --prometheus exclude each other");
	if (region >= 0 && procs)
		usage_error("--region and --processes exclude each other");
	if (prom && (region >= 0 || procs))
		usage_error("--prometheus covers the whole environment");

	/* A Berkeley DB home first: the probe only reads, and says at once
	 * (from __db.001's first bytes) when the home is not one; then, and
	 * when the home cannot be read at all, our own open speaks, as ever. */
	rc = rgn_bdb_open(home, &bdb);
	if (rc == 0)
		return stat_bdb(bdb, json, prom, region >= 0, procs);

	rgn_env_config_init(&cfg);
	cfg.flags = RGN_INSPECT;
	rc = rgn_env_open(home, &cfg, &env);
	if (rc < 0)
		return lib_error("open environment", home, rc);
	rc = rgn_stat_env(env, &st);
	if (rc < 0) {
		lib_error("read environment", home, rc);
		rgn_env_close(env);
		return EXIT_FAILURE;
	}
	if (region >= 0) {
		const struct rgn_region_stat *rs =
			rgn_render_find_region(st, (uint32_t)region);

		if (!rs) {
			fprintf(stderr,
				"%s: environment \"%s\" has no region "
				"with id %ld\n",
				prog, home, region);
			rc = EXIT_FAILURE;
			goto out;
		}
		rc = json ? rgn_render_region_json(st, rs, &buf, &len)
			  : rgn_render_region_text(st, rs, &buf, &len);
	} else if (procs) {
		rc = json ? rgn_render_procs_json(st, &buf, &len)
			  : rgn_render_procs_text(st, &buf, &len);
	} else if (prom) {
		const struct rgn_env_stat *one = st;

		rc = rgn_render_prometheus(&one, 1, NULL, &buf, &len);
	} else {
		rc = json ? rgn_render_env_json(st, time(NULL), &buf, &len)
			  : rgn_render_env_text(st, time(NULL), &buf, &len);
	}
	rc = emit(rc, &buf, &len);
out:
	rgn_stat_free(st);
	rgn_env_close(env);
	return rc;
}

/* ---- hold --------------------------------------------------------------- */

static const char hold_help[] =
	"Usage: regionctl hold -h HOME [--create] [--backing "
	"files|sysv|private]\n"
	"                      [--shm-key KEY] [--mode MODE] [--seconds N]\n"
	"                      [--alloc COUNT]\n"
	"\n"
	"Attach to the environment in HOME and stay attached, as an "
	"application\n"
	"would: useful to test tools and the regionfs mount.  Prints its pid "
	"on a\n"
	"line of its own once attached, then waits until N seconds have "
	"passed\n"
	"or SIGTERM/SIGINT arrives, and detaches cleanly (exit 0).  Without\n"
	"--seconds it waits for the signal alone.\n"
	"\n"
	"  -h, --home HOME      the environment's directory\n"
	"      --create         create the environment if needed; a new one\n"
	"                       without regions gets the typical set\n"
	"      --backing B      files, sysv or private (private: only this\n"
	"                       process sees it, and it dies with it)\n"
	"      --shm-key KEY    base System V key: decimal or 0x hex\n"
	"      --mode MODE      octal mode of new files and segments\n"
	"      --seconds N      stay attached N seconds, then detach; 0 "
	"detaches\n"
	"                       at once (default: until SIGTERM, SIGINT or\n"
	"                       SIGKILL)\n"
	"      --alloc COUNT    make COUNT 64-byte allocations in the first\n"
	"                       region after the primary\n"
	"      --help           this text\n";

int cmd_hold(int argc, char **argv)
{
	static const struct option opts[] = {
		{"home", required_argument, NULL, 'h'},
		{"create", no_argument, NULL, OPT_CREATE},
		{"backing", required_argument, NULL, OPT_BACKING},
		{"shm-key", required_argument, NULL, OPT_SHM_KEY},
		{"mode", required_argument, NULL, OPT_MODE},
		{"seconds", required_argument, NULL, OPT_SECONDS},
		{"alloc", required_argument, NULL, OPT_ALLOC},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct rgn_env_config cfg;
	struct rgn_env_stat *st = NULL;
	const char *home = NULL;
	long seconds = -1; /* no --seconds: until a signal */
	unsigned long nalloc = 0;
	struct timespec deadline;
	rgn_region *region = NULL;
	sigset_t sigs;
	rgn_env *env;
	int c, rc, ret = EXIT_FAILURE;

	rgn_env_config_init(&cfg);
	while ((c = getopt_long(argc, argv, "h:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			home = optarg;
			break;
		case OPT_CREATE:
			cfg.flags |= RGN_CREATE;
			break;
		case OPT_BACKING:
			cfg.backing = parse_backing(optarg);
			break;
		case OPT_SHM_KEY:
			cfg.shm_key = parse_key("--shm-key", optarg);
			break;
		case OPT_MODE:
			cfg.mode = parse_mode("--mode", optarg);
			break;
		case OPT_SECONDS:
			seconds = (long)parse_count("--seconds", optarg);
			break;
		case OPT_ALLOC:
			nalloc = parse_count("--alloc", optarg);
			break;
		case OPT_HELP:
			fputs(hold_help, stdout);
			return 0;
		default:
			bad_option(argv);
		}
	}
	no_operands(argc, argv);
	if (!home)
		usage_error("missing -h HOME");

	/* Block the signals first: one arriving right after we print our
	 * pid must still end in a clean close. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	rc = rgn_env_open(home, &cfg, &env);
	if (rc < 0)
		return lib_error("open environment", home, rc);
	rc = rgn_stat_env(env, &st);
	if (rc < 0) {
		lib_error("read environment", home, rc);
		goto out;
	}
	if ((cfg.flags & RGN_CREATE) && st->nregions <= 1) {
		if (create_regions(env, home, typical,
				   sizeof(typical) / sizeof(typical[0])) != 0)
			goto out;
		rgn_stat_free(st);
		st = NULL;
		rc = rgn_stat_env(env, &st);
		if (rc < 0) {
			lib_error("read environment", home, rc);
			goto out;
		}
	}
	if (nalloc) {
		uint32_t id = 0;

		for (size_t i = 0; i < st->nregions && !id; i++)
			if (st->regions[i].id != 1)
				id = st->regions[i].id;
		if (!id) {
			fprintf(stderr,
				"%s: environment \"%s\" has no region "
				"to allocate in\n",
				prog, home);
			goto out;
		}
		rc = rgn_region_attach_id(env, id, &region);
		if (rc < 0) {
			lib_error("attach a region of", home, rc);
			goto out;
		}
		for (unsigned long i = 0; i < nalloc; i++) {
			uint64_t off;

			rc = rgn_alloc(region, 64, &off);
			if (rc < 0) {
				lib_error("allocate in", home, rc);
				goto out;
			}
		}
	}
	printf("%d\n", (int)getpid());
	if (fflush(stdout) != 0)
		goto out;
	/* The deadline runs from the moment we are attached, on the
	 * monotonic clock, so a signal we ignore (EINTR) does not restart it.
	 */
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += seconds > 0 ? seconds : 0;
	for (;;) {
		struct timespec now, ts = {0, 0};
		int sig;

		if (seconds >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			ts.tv_sec = deadline.tv_sec - now.tv_sec;
			ts.tv_nsec = deadline.tv_nsec - now.tv_nsec;
			if (ts.tv_nsec < 0) {
				ts.tv_sec--;
				ts.tv_nsec += 1000000000L;
			}
			if (ts.tv_sec < 0)
				break; /* time is up (or --seconds 0) */
			sig = sigtimedwait(&sigs, NULL, &ts);
		} else {
			sig = sigwaitinfo(&sigs, NULL);
		}
		if (sig > 0 || (sig < 0 && errno == EAGAIN))
			break; /* asked to stop, or time is up */
		if (errno != EINTR) {
			fprintf(stderr, "%s: sigwait: %s\n", prog,
				strerror(errno));
			goto out;
		}
	}
	ret = 0;
out:
	rgn_stat_free(st);
	if (region)
		rgn_region_detach(region);
	rc = rgn_env_close(env);
	if (rc < 0 && ret == 0)
		ret = lib_error("close environment", home, rc);
	return ret;
}

/* ---- remove ------------------------------------------------------------- */

static const char remove_help[] =
	"Usage: regionctl remove -h HOME [--force]\n"
	"\n"
	"Remove the environment in HOME: its segments and region files, "
	"__db.001\n"
	"last.  Refuses while a live process is attached unless --force, "
	"which\n"
	"also marks the environment panicked for the processes still "
	"attached.\n"
	"Processes that died attached do not count.\n"
	"\n"
	"If the primary segment was destroyed from outside (ipcrm, or "
	"Berkeley\n"
	"DB at its key), the other segments whose header names this\n"
	"environment and this home are found and removed all the same.\n"
	"Anything left (a segment still attached, a file that is not ours any\n"
	"more) is printed on a line of its own, \"regionctl: left shmid ID "
	"key\n"
	"KEY: REASON\" or \"regionctl: left PATH: REASON\", __db.001 stays so "
	"that\n"
	"a later remove can finish, and the exit status is 1.\n"
	"\n"
	"  -h, --home HOME      the environment's directory\n"
	"  -f, --force          remove even while processes are attached\n"
	"      --help           this text\n";

/* One line per thing the remove left, escaped so that a home path or a
 * reason holding control bytes stays one line. */
static void print_left(const struct rgn_remove_item *it, void *arg)
{
	char *reason = rgn_render_escape_dup(it->reason);
	char *path = it->path ? rgn_render_escape_dup(it->path) : NULL;

	(void)arg;
	if (it->path)
		fprintf(stderr, "%s: left %s: %s\n", prog,
			path ? path : "(out of memory)",
			reason ? reason : "(out of memory)");
	else
		fprintf(stderr, "%s: left shmid %d key 0x%08x: %s\n", prog,
			(int)it->shmid, (unsigned)it->key,
			reason ? reason : "(out of memory)");
	free(reason);
	free(path);
}

int cmd_remove(int argc, char **argv)
{
	static const struct option opts[] = {
		{"home", required_argument, NULL, 'h'},
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	const char *home = NULL;
	uint32_t flags = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h:f", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			home = optarg;
			break;
		case 'f':
			flags |= RGN_FORCE;
			break;
		case OPT_HELP:
			fputs(remove_help, stdout);
			return 0;
		default:
			bad_option(argv);
		}
	}
	no_operands(argc, argv);
	if (!home)
		usage_error("missing -h HOME");
	rc = rgn_env_remove_report(home, flags, print_left, NULL);
	if (rc < 0)
		return lib_error("remove environment", home, rc);
	return 0;
}
