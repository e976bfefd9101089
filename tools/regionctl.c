/*
 * regionctl - create, inspect, hold and remove regionfs environments, and
 * find and remove leaked System V segments.
 *
 * One binary, one subcommand per job.  Every figure it prints comes from
 * the renderers in src/inspect/render.c, shared with the regionfs mount, so the two
 * never disagree.  Exit codes: 0 success, 1 failure, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "leaks.h"
#include "render.h"
#include "rgn.h"

#define EXIT_USAGE 2

static const char *prog = "regionctl";
static const char *cmd_name = "";	/* the subcommand, for messages */

/* ---- messages ----------------------------------------------------------- */

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s%s%s: ", prog, *cmd_name ? " " : "", cmd_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s%s%s --help'.\n", prog, *cmd_name ? " " : "",
		cmd_name);
	exit(EXIT_USAGE);
}

/* "regionctl: cannot WHAT "HOME": reason: detail" for a library error. */
static int lib_error(const char *what, const char *home, int rc)
{
	const char *detail = rgn_errdetail();

	if (home)
		fprintf(stderr, "%s: cannot %s \"%s\": %s%s%s\n", prog, what,
			home, rgn_strerror(rc), *detail ? ": " : "", detail);
	else
		fprintf(stderr, "%s: cannot %s: %s%s%s\n", prog, what,
			rgn_strerror(rc), *detail ? ": " : "", detail);
	return EXIT_FAILURE;
}

static int write_all(const char *buf, size_t len)
{
	if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
		fprintf(stderr, "%s: write error: %s\n", prog, strerror(errno));
		return EXIT_FAILURE;
	}
	return 0;
}

/* Print a renderer's output and free it.  Pointers, because the renderer
 * fills BUF and LEN in the same call expression. */
static int emit(int rc, char **bufp, size_t *lenp)
{
	char *buf = *bufp;
	size_t len = *lenp;
	int ret;

	*bufp = NULL;
	*lenp = 0;

	if (rc < 0) {
		fprintf(stderr, "%s: cannot render: %s\n", prog,
			rgn_strerror(rc));
		return EXIT_FAILURE;
	}
	ret = write_all(buf, len);
	free(buf);
	return ret;
}

/* ---- value parsing (all failures are usage errors) ---------------------- */

/* KEY: decimal (may be negative, as key_t is signed) or 0x hex. */
static int32_t parse_key(const char *flag, const char *s)
{
	char *end;
	long long v;

	errno = 0;
	if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) && s[2]) {
		v = strtoll(s + 2, &end, 16);
		if (s[2] == '-' || s[2] == '+' || errno || *end || v > 0xffffffffLL)
			usage_error("invalid %s value \"%s\": expected a decimal "
				    "number or 0x followed by at most 8 hex "
				    "digits",
				    flag, s);
		return (int32_t)(uint32_t)v;
	}
	v = strtoll(s, &end, 10);
	if (!*s || errno || *end || v < INT32_MIN || v > (long long)UINT32_MAX)
		usage_error("invalid %s value \"%s\": expected a decimal number "
			    "or 0x hex",
			    flag, s);
	return (int32_t)(uint32_t)(uint64_t)v;
}

/* SIZE: bytes, or with a K, M or G suffix (powers of 1024).  0 or -1. */
static int size_value(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: break;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* MODE: octal permission bits. */
static mode_t parse_mode(const char *flag, const char *s)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = *s ? strtoul(s, &end, 8) : 0;
	if (!*s || *s == '-' || *s == '+' || errno || *end || v > 07777)
		usage_error("invalid %s value \"%s\": expected octal permission "
			    "bits such as 0660",
			    flag, s);
	return (mode_t)v;
}

/* A count or a number of seconds. */
static unsigned long parse_count(const char *flag, const char *s)
{
	unsigned long v;
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		usage_error("invalid %s value \"%s\": expected a non-negative "
			    "integer",
			    flag, s);
	v = strtoul(s, &end, 10);
	if (errno || *end || v > INT_MAX)
		usage_error("invalid %s value \"%s\": expected a non-negative "
			    "integer",
			    flag, s);
	return v;
}

static enum rgn_backing parse_backing(const char *s)
{
	if (strcmp(s, "files") == 0)
		return RGN_BACKING_FILES;
	if (strcmp(s, "sysv") == 0)
		return RGN_BACKING_SYSV;
	if (strcmp(s, "private") == 0)
		return RGN_BACKING_PRIVATE;
	usage_error("invalid --backing value \"%s\": expected files, sysv or "
		    "private",
		    s);
}

struct region_spec {
	char name[RGN_NAME_MAX + 1];	/* region name */
	enum rgn_region_type type;	/* its type */
	uint64_t size;			/* bytes */
};

/* NAME:TYPE:SIZE */
static void parse_region(const char *s, struct region_spec *r)
{
	const char *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	char type[32];

	if (!c1 || !c2 || c1 == s || (size_t)(c1 - s) > RGN_NAME_MAX ||
	    (size_t)(c2 - c1 - 1) >= sizeof(type) || c2 == c1 + 1)
		usage_error("invalid --region value \"%s\": expected "
			    "NAME:TYPE:SIZE, e.g. cache:mpool:1M",
			    s);
	memcpy(r->name, s, (size_t)(c1 - s));
	r->name[c1 - s] = '\0';
	memcpy(type, c1 + 1, (size_t)(c2 - c1 - 1));
	type[c2 - c1 - 1] = '\0';
	if (rgn_type_parse(type, &r->type) < 0)
		usage_error("invalid --region value \"%s\": unknown type \"%s\" "
			    "(lock, log, mpool, mutex, txn or user)",
			    s, type);
	if (size_value(c2 + 1, &r->size) < 0)
		usage_error("invalid --region value \"%s\": SIZE \"%s\" is not "
			    "a size in bytes with an optional K, M or G suffix",
			    s, c2 + 1);
}

/* The typical set, sizes in the range Berkeley DB uses for a small env. */
static const struct region_spec typical[] = {
	{"mutex", RGN_TYPE_MUTEX, 256 * 1024},
	{"lock", RGN_TYPE_LOCK, 512 * 1024},
	{"log", RGN_TYPE_LOG, 1024 * 1024},
	{"mpool", RGN_TYPE_MPOOL, 1024 * 1024},
	{"txn", RGN_TYPE_TXN, 256 * 1024},
};

static int create_regions(rgn_env *env, const char *home,
			  const struct region_spec *specs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rgn_region *r;
		int rc = rgn_region_create(env, specs[i].name, specs[i].type,
					   specs[i].size, &r);

		if (rc < 0) {
			char what[96];

			snprintf(what, sizeof(what), "create region \"%.47s\" in",
				 specs[i].name);
			return lib_error(what, home, rc);
		}
		rgn_region_detach(r);
	}
	return 0;
}

/* Options every environment subcommand shares. */
enum {
	OPT_HELP = 'H',
	OPT_BACKING = 256,
	OPT_SHM_KEY,
	OPT_MODE,
	OPT_REGION,
	OPT_JSON,
	OPT_CREATE,
	OPT_SECONDS,
	OPT_ALLOC,
	OPT_FORCE,
	OPT_REMOVE,
	OPT_DRY_RUN,
	OPT_FORCE_FOREIGN,
	OPT_VERBOSE,
	OPT_PROMETHEUS,
	OPT_PROCESSES,
	OPT_SUMMARY,
	OPT_SHMCTL,
};

static void no_operands(int argc, char **argv)
{
	if (optind < argc)
		usage_error("unexpected argument \"%s\"", argv[optind]);
}

static void bad_option(char **argv)
{
	/* getopt already said which option; add the way out. */
	(void)argv;
	fprintf(stderr, "Try '%s %s --help'.\n", prog, cmd_name);
	exit(EXIT_USAGE);
}

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
	"      --backing B      files (default), or sysv for System V segments\n"
	"                       at KEY, KEY+1, ...\n"
	"      --shm-key KEY    base System V key: decimal or 0x hex\n"
	"      --mode MODE      octal mode of files and segments (default 0660)\n"
	"      --region N:T:S   a region NAME of TYPE (lock, log, mpool, mutex,\n"
	"                       txn, user) and SIZE (bytes, or K/M/G suffix);\n"
	"                       repeat for more\n"
	"      --help           this text\n"
	"\n"
	"A private environment lives in the heap of the one process that opens\n"
	"it and goes with it: with --backing private, create makes it and its\n"
	"regions (so the home, the sizes and the one-owner rule are checked)\n"
	"and says that it was released when regionctl exits.  Use `regionctl\n"
	"hold --create --backing private` to keep one alive.\n";

static int cmd_create(int argc, char **argv)
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
			parse_region(optarg, &specs[nspecs++]);
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
		       home, nspecs ? nspecs + 1 : 1 + sizeof(typical) /
							    sizeof(typical[0]));
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
	"      --prometheus     Prometheus text format (node_exporter textfile)\n"
	"      --region ID      only the region with this id (as regionfs\n"
	"                       regions/__db.NNN/stat)\n"
	"      --processes      only the attached processes\n"
	"      --help           this text\n";

static int cmd_stat(int argc, char **argv)
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
			fprintf(stderr, "%s: environment \"%s\" has no region "
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
	"Usage: regionctl hold -h HOME [--create] [--backing files|sysv|private]\n"
	"                      [--shm-key KEY] [--mode MODE] [--seconds N]\n"
	"                      [--alloc COUNT]\n"
	"\n"
	"Attach to the environment in HOME and stay attached, as an application\n"
	"would: useful to test tools and the regionfs mount.  Prints its pid on a\n"
	"line of its own once attached, then waits until N seconds have passed\n"
	"or SIGTERM/SIGINT arrives, and detaches cleanly (exit 0).\n"
	"\n"
	"  -h, --home HOME      the environment's directory\n"
	"      --create         create the environment if needed; a new one\n"
	"                       without regions gets the typical set\n"
	"      --backing B      files, sysv or private (private: only this\n"
	"                       process sees it, and it dies with it)\n"
	"      --shm-key KEY    base System V key: decimal or 0x hex\n"
	"      --mode MODE      octal mode of new files and segments\n"
	"      --seconds N      stay attached N seconds (default: until killed)\n"
	"      --alloc COUNT    make COUNT 64-byte allocations in the first\n"
	"                       region after the primary\n"
	"      --help           this text\n";

static int cmd_hold(int argc, char **argv)
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
	unsigned long seconds = 0, nalloc = 0;
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
			seconds = parse_count("--seconds", optarg);
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
			fprintf(stderr, "%s: environment \"%s\" has no region "
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
	for (;;) {
		struct timespec ts = {(time_t)seconds, 0};
		int sig = seconds ? sigtimedwait(&sigs, NULL, &ts)
				  : sigwaitinfo(&sigs, NULL);

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
	"Remove the environment in HOME: its segments and region files, __db.001\n"
	"last.  Refuses while a live process is attached unless --force, which\n"
	"also marks the environment panicked for the processes still attached.\n"
	"Processes that died attached do not count.\n"
	"\n"
	"  -h, --home HOME      the environment's directory\n"
	"  -f, --force          remove even while processes are attached\n"
	"      --help           this text\n";

static int cmd_remove(int argc, char **argv)
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
	rc = rgn_env_remove(home, flags);
	if (rc < 0)
		return lib_error("remove environment", home, rc);
	return 0;
}

/* ---- leaks -------------------------------------------------------------- */

static const char leaks_help[] =
	"Usage: regionctl leaks [--json | --verbose | --prometheus]\n"
	"       regionctl leaks --remove [--dry-run] [--force-foreign] [SHMID...]\n"
	"\n"
	"List the System V shared memory segments of this IPC namespace, each\n"
	"in one class with the evidence for it:\n"
	"  live            ours, and its environment has a live process\n"
	"  orphaned        ours, and no live process: its home is gone or holds\n"
	"                  another environment, or a process died attached and\n"
	"                  nobody came back (for an environment whose home still\n"
	"                  holds it, `regionctl remove -h HOME` is the better cure)\n"
	"  idle            ours, its home intact, everyone closed cleanly: an\n"
	"                  environment at rest, not a leak (never removed here;\n"
	"                  `regionctl remove -h HOME` removes it)\n"
	"  foreign-in-use  another program's, attached\n"
	"  foreign-idle    another program's, not attached (CPID* in the table:\n"
	"                  its creator is dead)\n"
	"  removing        marked for removal, goes at its last detach\n"
	"  unknown         could not be read (no permission)\n"
	"Then a summary: counts and bytes per class, bytes held by leaks, and\n"
	"the kernel limits shmmni, shmall, shmmax and shm_rmid_forced.\n"
	"\n"
	"      --json           everything as JSON, for scripts\n"
	"  -v, --verbose        every segment in detail instead of the table\n"
	"      --prometheus     Prometheus text format (node_exporter textfile)\n"
	"      --remove         remove orphaned segments, or the SHMIDs given.\n"
	"                       Each is re-checked right before removal: same\n"
	"                       key and creation time, nobody attached, still\n"
	"                       orphaned, and owned or created by you (or you are\n"
	"                       root).  Prints each segment removed or skipped,\n"
	"                       and why; exit 1 if any was skipped.\n"
	"  -n, --dry-run        with --remove: check, but remove nothing\n"
	"      --force-foreign  with --remove: also remove other programs'\n"
	"                       segments (nobody attached); needs explicit SHMIDs\n"
	"      --help           this text\n";

static int parse_shmid(const char *s)
{
	return (int)parse_count("SHMID", s);
}

static int remove_one(int32_t shmid, const struct rgn_leak *seen,
		      uint32_t flags, int *skipped)
{
	struct rgn_leak_removal res;
	int rc = rgn_leak_remove(shmid, seen, getuid(), flags, &res);

	if (rc == 0) {
		printf("%s shmid %d key 0x%08x (%s): %s\n",
		       res.verdict == RGN_LEAK_REMOVED ? "removed"
						       : "would remove",
		       shmid, (unsigned)res.seg.key,
		       rgn_leak_class_name(res.seg.cls), res.seg.evidence);
		return 0;
	}
	(*skipped)++;
	printf("skipped shmid %d: %s: %s\n", shmid,
	       rgn_leak_verdict_name(res.verdict), res.reason);
	return 0;
}

static int leaks_remove(const struct rgn_leak_scan *scan, int argc,
			char **argv, uint32_t flags)
{
	int skipped = 0, attempted = 0;

	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			int32_t id = parse_shmid(argv[i]);

			attempted++;
			remove_one(id, rgn_leak_find(scan, id), flags,
				   &skipped);
		}
	} else {
		for (size_t i = 0; i < scan->nsegs; i++) {
			if (scan->segs[i].cls != RGN_LEAK_ORPHANED)
				continue;
			attempted++;
			remove_one(scan->segs[i].shmid, &scan->segs[i], flags,
				   &skipped);
		}
		if (!attempted)
			printf("no orphaned segments\n");
	}
	printf("%d %s, %d skipped\n", attempted - skipped,
	       flags & RGN_LEAK_DRY_RUN ? "removable" : "removed", skipped);
	if (fflush(stdout) != 0)
		return EXIT_FAILURE;
	return skipped ? EXIT_FAILURE : 0;
}

static int cmd_leaks(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, OPT_JSON},
		{"verbose", no_argument, NULL, 'v'},
		{"prometheus", no_argument, NULL, OPT_PROMETHEUS},
		{"remove", no_argument, NULL, OPT_REMOVE},
		{"dry-run", no_argument, NULL, 'n'},
		{"force-foreign", no_argument, NULL, OPT_FORCE_FOREIGN},
		{"shmctl", no_argument, NULL, OPT_SHMCTL}, /* for tests */
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct rgn_leak_scan *scan = NULL;
	int json = 0, verbose = 0, prom = 0, remove = 0, c, rc;
	uint32_t rflags = 0, sflags = 0;
	char *buf = NULL;
	size_t len = 0;

	while ((c = getopt_long(argc, argv, "vn", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case OPT_PROMETHEUS:
			prom = 1;
			break;
		case OPT_REMOVE:
			remove = 1;
			break;
		case 'n':
			rflags |= RGN_LEAK_DRY_RUN;
			break;
		case OPT_FORCE_FOREIGN:
			rflags |= RGN_LEAK_FORCE_FOREIGN;
			break;
		case OPT_SHMCTL:
			sflags |= RGN_LEAK_SCAN_SHMCTL;
			break;
		case OPT_HELP:
			fputs(leaks_help, stdout);
			return 0;
		default:
			bad_option(argv);
		}
	}
	if (json + verbose + prom > 1)
		usage_error("--json, --verbose and --prometheus exclude each "
			    "other");
	if (!remove && rflags)
		usage_error("--dry-run and --force-foreign need --remove");
	if (remove && (json || verbose || prom))
		usage_error("--remove prints its own report; drop --json, "
			    "--verbose and --prometheus");
	if ((rflags & RGN_LEAK_FORCE_FOREIGN) && optind >= argc)
		usage_error("--force-foreign removes only segments named "
			    "explicitly: give their SHMIDs");
	if (!remove)
		no_operands(argc, argv);
	for (int i = optind; i < argc; i++)
		parse_shmid(argv[i]); /* reject bad ones before acting */

	rc = rgn_leak_scan(sflags, &scan);
	if (rc < 0)
		return lib_error("scan System V segments", NULL, rc);
	if (remove) {
		rc = leaks_remove(scan, argc, argv, rflags);
		rgn_leak_free(scan);
		return rc;
	}
	if (json) {
		rc = emit(rgn_render_leaks_json(scan, &buf, &len), &buf, &len);
	} else if (prom) {
		rc = emit(rgn_render_prometheus(NULL, 0, scan, &buf, &len), &buf,
			  &len);
	} else {
		if (verbose) {
			for (size_t i = 0; i < scan->nsegs; i++) {
				rc = emit(rgn_render_leak_text(&scan->segs[i],
							       &buf, &len),
					  &buf, &len);
				if (rc)
					goto out;
			}
		} else {
			rc = emit(rgn_render_leaks_table(scan, &buf, &len), &buf,
				  &len);
			if (rc)
				goto out;
		}
		printf("%s\n", RGN_RENDER_SEP);
		rc = emit(rgn_render_leaks_summary(scan, &buf, &len), &buf, &len);
	}
out:
	rgn_leak_free(scan);
	return rc;
}

/* ---- main --------------------------------------------------------------- */

struct command {
	const char *name;		/* as typed */
	int (*run)(int argc, char **argv);
	const char *summary;		/* one line for the top-level help */
};

static const struct command commands[] = {
	{"create", cmd_create, "create an environment and its regions"},
	{"stat", cmd_stat, "print an environment's statistics (db_stat -e)"},
	{"hold", cmd_hold, "attach to an environment and stay attached"},
	{"remove", cmd_remove, "remove an environment"},
	{"leaks", cmd_leaks, "find (and remove) leaked System V segments"},
};

static void main_help(FILE *f)
{
	fprintf(f, "Usage: regionctl COMMAND [OPTIONS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n`regionctl COMMAND --help` describes each.  Exit status: 0 "
		   "success, 1 failure, 2 bad usage.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		main_help(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		main_help(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("regionctl %s\n", rgn_version());
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			static char full[64];

			cmd_name = commands[i].name;
			/* getopt's own messages name the subcommand. */
			snprintf(full, sizeof(full), "%s %s", prog, cmd_name);
			argv[1] = full;
			return commands[i].run(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "%s: unknown command \"%s\"\n", prog, argv[1]);
	main_help(stderr);
	return EXIT_USAGE;
}
