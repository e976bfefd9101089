/*
 * regionctl - create, inspect, hold and remove regionfs environments and
 * their regions, and find and remove leaked System V segments.
 *
 * One binary, one subcommand per job.  This file holds what they share:
 * messages, value parsing and the dispatch; each job lives in its own file
 * (cmd_env.c, cmd_region.c, cmd_leaks.c).  Every figure printed comes from
 * the renderers in src/inspect/render.c, shared with the regionfs mount, so
 * the two never disagree.  Exit codes: 0 success, 1 failure, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regionctl.h"
#include "rgn_config.h"

const char *prog = "regionctl";
const char *cmd_name = ""; /* the subcommand, for messages */

/* ---- messages ----------------------------------------------------------- */

void usage_error(const char *fmt, ...)
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
int lib_error(const char *what, const char *home, int rc)
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
int emit(int rc, char **bufp, size_t *lenp)
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

void no_operands(int argc, char **argv)
{
	if (optind < argc)
		usage_error("unexpected argument \"%s\"", argv[optind]);
}

void bad_option(char **argv)
{
	/* getopt already said which option; add the way out. */
	(void)argv;
	fprintf(stderr, "Try '%s %s --help'.\n", prog, cmd_name);
	exit(EXIT_USAGE);
}

/* ---- value parsing (all failures are usage errors) ---------------------- */

/* KEY: decimal (may be negative, as key_t is signed) or 0x hex. */
int32_t parse_key(const char *flag, const char *s)
{
	char *end;
	long long v;

	errno = 0;
	if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) && s[2]) {
		v = strtoll(s + 2, &end, 16);
		if (s[2] == '-' || s[2] == '+' || errno || *end ||
		    v > 0xffffffffLL)
			usage_error(
				"invalid %s value \"%s\": expected a decimal "
				"number or 0x followed by at most 8 hex "
				"digits",
				flag, s);
		return (int32_t)(uint32_t)v;
	}
	v = strtoll(s, &end, 10);
	if (!*s || errno || *end || v < INT32_MIN || v > (long long)UINT32_MAX)
		usage_error(
			"invalid %s value \"%s\": expected a decimal number "
			"or 0x hex",
			flag, s);
	return (int32_t)(uint32_t)(uint64_t)v;
}

/* SIZE: bytes, or with a K, M or G suffix (powers of 1024).  0 or -1. */
int size_value(const char *s, uint64_t *out)
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
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	default:
		break;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* MODE: octal permission bits. */
mode_t parse_mode(const char *flag, const char *s)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = *s ? strtoul(s, &end, 8) : 0;
	if (!*s || *s == '-' || *s == '+' || errno || *end || v > 07777)
		usage_error(
			"invalid %s value \"%s\": expected octal permission "
			"bits such as 0660",
			flag, s);
	return (mode_t)v;
}

/* A count or a number of seconds. */
unsigned long parse_count(const char *flag, const char *s)
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

enum rgn_backing parse_backing(const char *s)
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

/* NAME:TYPE:SIZE */
void parse_region(const char *flag, const char *s, struct region_spec *r)
{
	const char *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	char type[32];

	if (!c1 || !c2 || c1 == s || (size_t)(c1 - s) > RGN_NAME_MAX ||
	    (size_t)(c2 - c1 - 1) >= sizeof(type) || c2 == c1 + 1)
		usage_error("invalid %s value \"%s\": expected "
			    "NAME:TYPE:SIZE, e.g. cache:mpool:1M",
			    flag, s);
	memcpy(r->name, s, (size_t)(c1 - s));
	r->name[c1 - s] = '\0';
	memcpy(type, c1 + 1, (size_t)(c2 - c1 - 1));
	type[c2 - c1 - 1] = '\0';
	if (rgn_type_parse(type, &r->type) < 0)
		usage_error("invalid %s value \"%s\": unknown type \"%s\" "
			    "(lock, log, mpool, mutex, txn or user)",
			    flag, s, type);
	if (size_value(c2 + 1, &r->size) < 0)
		usage_error("invalid %s value \"%s\": SIZE \"%s\" is not "
			    "a size in bytes with an optional K, M or G suffix",
			    flag, s, c2 + 1);
}

int create_regions(rgn_env *env, const char *home,
		   const struct region_spec *specs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rgn_region *r;
		int rc = rgn_region_create(env, specs[i].name, specs[i].type,
					   specs[i].size, &r);

		if (rc < 0) {
			char what[96];

			snprintf(what, sizeof(what),
				 "create region \"%.47s\" in", specs[i].name);
			return lib_error(what, home, rc);
		}
		rgn_region_detach(r);
	}
	return 0;
}

/* ---- main --------------------------------------------------------------- */

struct command {
	const char *name; /* as typed */
	int (*run)(int argc, char **argv);
	const char *summary; /* one line for the top-level help */
};

static const struct command commands[] = {
	{"create", cmd_create, "create an environment and its regions"},
	{"stat", cmd_stat, "print an environment's statistics (db_stat -e)"},
	{"hold", cmd_hold, "attach to an environment and stay attached"},
	{"remove", cmd_remove, "remove an environment"},
	{"region", cmd_region,
	 "create or remove a region of a live environment"},
	{"leaks", cmd_leaks, "find (and remove) leaked System V segments"},
};

static void main_help(FILE *f)
{
	fprintf(f, "Usage: regionctl COMMAND [OPTIONS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(f,
		"\n`regionctl COMMAND --help` describes each.  Exit status: 0 "
		"success, 1 failure, 2 bad usage.\n"
		"`regionctl -V` or `--version` prints the version.\n");
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
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		/* The version this binary was built as; the library's own is
		 * rgn_version(), the same when both come from one build. */
		printf("regionctl %s\n", RGN_VERSION);
		return fflush(stdout) == 0 ? 0 : EXIT_FAILURE;
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
