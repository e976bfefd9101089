/*
 * cmd_leaks.c - `regionctl leaks`: every System V segment of the IPC
 * namespace in one class, as a table (leaks_table.c), in detail, as JSON
 * or Prometheus, as a one-line check for monitoring, and the safe removal
 * of the leaked ones.
 *
 * The scan and the verdicts are the library's (leaks.h); this file only
 * chooses a view.  "Leaked" means rgn_leak_is_leaked everywhere, so
 * --check, the table, the summary and the regionfs sysv/leaked view count
 * the same segments.
 *
 * Berkeley DB's segments are recognised by the library; --home names the
 * Berkeley DB homes that may prove one of them orphaned.  Without such
 * proof none is ever called leaked or removed.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "leaks.h"
#include "regionctl.h"
#include "render.h"

static const char leaks_help_head[] =
	"Usage: regionctl leaks [-h DIR]... [-o LIST] [--raw] [--noheadings] "
	"[--bytes]\n"
	"       regionctl leaks [-h DIR]... --json | --verbose | --prometheus\n"
	"       regionctl leaks [-h DIR]... --check [--bytes]\n"
	"       regionctl leaks [-h DIR]... --remove [--dry-run] "
	"[--force-foreign] [SHMID...]\n"
	"\n"
	"List the System V shared memory segments of this IPC namespace, each\n"
	"in one class with the evidence for it:\n"
	"  live            ours, and its environment has a live process\n"
	"  orphaned        ours, and no live process: its home is gone or "
	"holds\n"
	"                  another environment, or a process died attached "
	"and\n"
	"                  nobody came back (for an environment whose home "
	"still\n"
	"                  holds it, `regionctl remove -h HOME` is the better "
	"cure)\n"
	"  idle            ours, its home intact, everyone closed cleanly: an\n"
	"                  environment at rest, not a leak (never removed "
	"here;\n"
	"                  `regionctl remove -h HOME` removes it); or "
	"Berkeley\n"
	"                  DB's with References 0 and nobody attached\n"
	"  needs-recovery  Berkeley DB's: References > 0 (or panic set) but\n"
	"                  nobody attached: a process died holding it; run\n"
	"                  db_recover -h HOME (db5.3_recover on Debian)\n"
	"  foreign-in-use  another program's, attached\n"
	"  foreign-idle    another program's, not attached (CPID* in the "
	"table:\n"
	"                  its creator is dead)\n"
	"  removing        marked for removal, goes at its last detach\n"
	"  unknown         could not be read (no permission)\n"
	"Berkeley DB's segments (its region magic in the primary, whose table\n"
	"names the others) are live, idle, needs-recovery, or orphaned only "
	"when\n"
	"a home given with --home set their key (DB_CONFIG set_shm_key) and "
	"no\n"
	"longer refers to them; they are never foreign-idle, and --remove\n"
	"refuses them unless proven orphaned, even with --force-foreign.\n"
	"Leaked: orphaned, and foreign-idle whose creator is dead.  The table "
	"is\n"
	"followed by a summary: counts and bytes per class, bytes held by "
	"leaks,\n"
	"and the kernel limits shmmni, shmall, shmmax and shm_rmid_forced.\n"
	"\n"
	"  -o, --output LIST    the table's columns, comma-separated, in any\n"
	"                       case; +LIST appends them to the default ones\n"
	"  -r, --raw            the table without alignment, one space "
	"between\n"
	"                       cells, encoded as lsipc --raw does (blanks,\n"
	"                       control and non-ASCII bytes, \"\\x\" as "
	"\\xNN);\n"
	"                       no summary\n"
	"      --noheadings     the table without its header line; no summary\n"
	"  -b, --bytes          sizes in bytes, not 64K, 1.5M\n"
	"  -h, --home DIR       a Berkeley DB home to check (repeatable): its\n"
	"                       segments are orphaned when it made them and "
	"no\n"
	"                       longer refers to them; the home is only read\n"
	"      --json           everything as JSON, for scripts\n"
	"  -v, --verbose        every segment in detail instead of the table\n"
	"      --prometheus     host-wide Prometheus text format, for\n"
	"                       node_exporter's textfile collector\n"
	"      --check          one line, for cron and monitoring: exit 0 "
	"when\n"
	"                       nothing is leaked, 1 when something is (or "
	"the\n"
	"                       scan failed: then the reason is on stderr)\n"
	"      --remove         remove orphaned segments, or the SHMIDs "
	"given.\n"
	"                       Each is re-checked right before removal: same\n"
	"                       key and creation time, nobody attached, still\n"
	"                       orphaned, and owned or created by you (or you "
	"are\n"
	"                       root).  Prints each segment removed or "
	"skipped,\n"
	"                       and why; exit 1 if any was skipped.\n"
	"  -n, --dry-run        with --remove: check, but remove nothing\n"
	"      --force-foreign  with --remove: also remove other programs'\n"
	"                       segments (nobody attached); needs explicit "
	"SHMIDs\n"
	"      --help           this text\n"
	"\n"
	"Without --raw, cells are escaped so that one segment is one line: a\n"
	"backslash as \\\\, control characters and bytes that are not UTF-8\n"
	"as \\xNN.\n"
	"\n"
	"Columns (default: all but those marked):\n";

static int parse_shmid(const char *s)
{
	return (int)parse_count("SHMID", s);
}

static void remove_one(int32_t shmid, const struct rgn_leak *seen,
		       uint32_t flags, const struct rgn_leak_opts *o,
		       int *skipped)
{
	struct rgn_leak_removal res;
	int rc = rgn_leak_remove_opts(shmid, seen, getuid(), flags, o, &res);

	if (rc == 0) {
		printf("%s shmid %d key 0x%08x (%s): %s\n",
		       res.verdict == RGN_LEAK_REMOVED ? "removed"
						       : "would remove",
		       shmid, (unsigned)res.seg.key,
		       rgn_leak_class_name(res.seg.cls), res.seg.evidence);
		return;
	}
	(*skipped)++;
	printf("skipped shmid %d: %s: %s\n", shmid,
	       rgn_leak_verdict_name(res.verdict), res.reason);
}

static int leaks_remove(const struct rgn_leak_scan *scan, int argc, char **argv,
			uint32_t flags, const struct rgn_leak_opts *o)
{
	int skipped = 0, attempted = 0;

	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			int32_t id = parse_shmid(argv[i]);

			attempted++;
			remove_one(id, rgn_leak_find(scan, id), flags, o,
				   &skipped);
		}
	} else {
		/* A Berkeley DB primary last: its table is what tells its
		 * other segments from any other program's. */
		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; i < scan->nsegs; i++) {
				const struct rgn_leak *g = &scan->segs[i];
				int primary = g->program == RGN_LEAK_PROG_BDB &&
					      g->bdb_region_id == 1;

				if (g->cls != RGN_LEAK_ORPHANED ||
				    primary != pass)
					continue;
				attempted++;
				remove_one(g->shmid, g, flags, o, &skipped);
			}
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

/*
 * --check: "regionctl: no leaked segments" (exit 0), or "regionctl: N
 * leaked segments, SIZE: shmid A, B, C" (exit 1) on stdout, where a
 * monitoring check reads it.
 */
static int leaks_check(const struct rgn_leak_scan *scan, unsigned tflags)
{
	uint64_t n = 0, bytes = 0;
	char size[32];

	for (size_t i = 0; i < scan->nsegs; i++) {
		if (rgn_leak_is_leaked(&scan->segs[i])) {
			n++;
			bytes += scan->segs[i].size;
		}
	}
	if (!n) {
		printf("%s: no leaked segments\n", prog);
		return fflush(stdout) == 0 ? 0 : EXIT_FAILURE;
	}
	if (tflags & LT_BYTES)
		snprintf(size, sizeof(size), "%" PRIu64, bytes);
	else
		rgn_render_size_short(bytes, size, sizeof(size));
	printf("%s: %" PRIu64 " leaked segment%s, %s: shmid", prog, n,
	       n == 1 ? "" : "s", size);
	for (size_t i = 0, k = 0; i < scan->nsegs; i++)
		if (rgn_leak_is_leaked(&scan->segs[i]))
			printf("%s %d", k++ ? "," : "", scan->segs[i].shmid);
	putchar('\n');
	fflush(stdout);
	return EXIT_FAILURE;
}

/* The table and, unless it is asked for bare, the summary after it. */
static int leaks_table(const struct rgn_leak_scan *scan, const int *cols,
		       size_t ncols, unsigned tflags)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = leaks_print_table(scan, cols, ncols, tflags);

	if (rc || (tflags & (LT_RAW | LT_NOHEADINGS)))
		return rc;
	printf("%s\n", RGN_RENDER_SEP);
	return emit(rgn_render_leaks_summary(scan, &buf, &len), &buf, &len);
}

int cmd_leaks(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"raw", no_argument, NULL, 'r'},
		{"noheadings", no_argument, NULL, OPT_NOHEADINGS},
		{"bytes", no_argument, NULL, 'b'},
		{"home", required_argument, NULL, 'h'},
		{"json", no_argument, NULL, OPT_JSON},
		{"verbose", no_argument, NULL, 'v'},
		{"prometheus", no_argument, NULL, OPT_PROMETHEUS},
		{"check", no_argument, NULL, OPT_CHECK},
		{"remove", no_argument, NULL, OPT_REMOVE},
		{"dry-run", no_argument, NULL, 'n'},
		{"force-foreign", no_argument, NULL, OPT_FORCE_FOREIGN},
		{"shmctl", no_argument, NULL, OPT_SHMCTL}, /* for tests */
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct rgn_leak_scan *scan = NULL;
	struct rgn_leak_opts o = {0};
	const char *homes[64];
	int json = 0, verbose = 0, prom = 0, check = 0, remove = 0, c, rc;
	uint32_t rflags = 0, sflags = 0;
	unsigned tflags = 0;
	int cols[64];
	size_t ncols = leaks_default_columns(cols, 64);
	const char *output = NULL;
	char *buf = NULL;
	size_t len = 0;

	o.homes = homes;
	while ((c = getopt_long(argc, argv, "o:rbvnh:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			if (o.nhomes == sizeof(homes) / sizeof(homes[0]))
				usage_error("more than %zu --home", o.nhomes);
			homes[o.nhomes++] = optarg;
			break;
		case 'o':
			output = optarg;
			ncols = leaks_parse_columns(optarg, cols, 64);
			break;
		case 'r':
			tflags |= LT_RAW;
			break;
		case OPT_NOHEADINGS:
			tflags |= LT_NOHEADINGS;
			break;
		case 'b':
			tflags |= LT_BYTES;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case OPT_PROMETHEUS:
			prom = 1;
			break;
		case OPT_CHECK:
			check = 1;
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
			fputs(leaks_help_head, stdout);
			leaks_columns_help(stdout);
			return fflush(stdout) == 0 ? 0 : EXIT_FAILURE;
		default:
			bad_option(argv);
		}
	}
	if (json + verbose + prom + check > 1)
		usage_error(
			"--json, --verbose, --prometheus and --check exclude "
			"each other");
	if (!remove && rflags)
		usage_error("--dry-run and --force-foreign need --remove");
	if (remove && (json || verbose || prom || check))
		usage_error("--remove prints its own report; drop --json, "
			    "--verbose, --prometheus and --check");
	if ((output || (tflags & (LT_RAW | LT_NOHEADINGS))) &&
	    (json || verbose || prom || check || remove))
		usage_error("--output, --raw and --noheadings shape the table; "
			    "they do not go with --json, --verbose, "
			    "--prometheus, --check or --remove");
	if ((tflags & LT_BYTES) && (json || verbose || prom || remove))
		usage_error("--bytes is for the table and --check; JSON and "
			    "Prometheus always give bytes");
	if ((rflags & RGN_LEAK_FORCE_FOREIGN) && optind >= argc)
		usage_error("--force-foreign removes only segments named "
			    "explicitly: give their SHMIDs");
	if (!remove)
		no_operands(argc, argv);
	for (int i = optind; i < argc; i++)
		parse_shmid(argv[i]); /* reject bad ones before acting */

	o.flags = sflags;
	rc = rgn_leak_scan_opts(&o, &scan);
	if (rc < 0) {
		/* Not a verdict: say so, so that --check's exit 1 for a failed
		 * scan is never read as "leaks found". */
		lib_error(check ? "scan System V segments (no verdict on leaks)"
				: "scan System V segments",
			  NULL, rc);
		return EXIT_FAILURE;
	}
	if (remove) {
		rc = leaks_remove(scan, argc, argv, rflags, &o);
	} else if (check) {
		rc = leaks_check(scan, tflags);
	} else if (json) {
		rc = emit(rgn_render_leaks_json(scan, &buf, &len), &buf, &len);
	} else if (prom) {
		rc = emit(rgn_render_prometheus(NULL, 0, scan, &buf, &len),
			  &buf, &len);
	} else if (verbose) {
		rc = 0;
		for (size_t i = 0; i < scan->nsegs && !rc; i++)
			rc = emit(rgn_render_leak_text(&scan->segs[i], &buf,
						       &len),
				  &buf, &len);
		if (!rc) {
			printf("%s\n", RGN_RENDER_SEP);
			rc = emit(rgn_render_leaks_summary(scan, &buf, &len),
				  &buf, &len);
		}
	} else {
		rc = leaks_table(scan, cols, ncols, tflags);
	}
	rgn_leak_free(scan);
	return rc;
}
