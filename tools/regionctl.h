/*
 * regionctl.h - private to regionctl: what the subcommand files share.
 *
 * regionctl.c owns the messages, the value parsers and the dispatch; each
 * cmd_*.c file holds the subcommands of one job.  Every parser exits with
 * status 2 and a message naming the flag and the value on bad input, so a
 * subcommand never has to check what they return.
 */
#ifndef REGIONCTL_H
#define REGIONCTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "rgn.h"

#define EXIT_USAGE 2

extern const char *prog;     /* "regionctl", for messages */
extern const char *cmd_name; /* the subcommand, "" before dispatch */

/* Long options without a short form: values past any character. */
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
	OPT_REMOVE,
	OPT_FORCE_FOREIGN,
	OPT_PROMETHEUS,
	OPT_PROCESSES,
	OPT_SHMCTL,
	OPT_RAW,
	OPT_NOHEADINGS,
	OPT_BYTES,
	OPT_CHECK,
};

/* ---- messages (regionctl.c) ---------------------------------------------- */

/* "regionctl SUB: MESSAGE" and the way to --help, then exit 2. */
void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* "regionctl: cannot WHAT "HOME": reason: detail" for a library error RC
 * (HOME may be NULL); returns EXIT_FAILURE. */
int lib_error(const char *what, const char *home, int rc);

/* Print a renderer's result (RC, *BUFP, *LENP) and free the buffer;
 * 0 or EXIT_FAILURE with the reason on stderr. */
int emit(int rc, char **bufp, size_t *lenp);

/* Exit 2 if operands are left after the options. */
void no_operands(int argc, char **argv);
/* After getopt has named a bad option: the way to --help, exit 2. */
void bad_option(char **argv) __attribute__((noreturn));

/* ---- value parsing (regionctl.c); all failures are usage errors --------- */

int32_t parse_key(const char *flag, const char *s);
mode_t parse_mode(const char *flag, const char *s);
unsigned long parse_count(const char *flag, const char *s);
enum rgn_backing parse_backing(const char *s);
/* SIZE: bytes with an optional K, M or G suffix.  0, or -1 if malformed. */
int size_value(const char *s, uint64_t *out);

struct region_spec {
	char name[RGN_NAME_MAX + 1]; /* region name */
	enum rgn_region_type type;   /* its type */
	uint64_t size;		     /* bytes */
};

/* NAME:TYPE:SIZE; FLAG names the option (or operand) in messages. */
void parse_region(const char *flag, const char *s, struct region_spec *r);

/* Create each of SPECS in ENV; 0 or EXIT_FAILURE with the reason printed. */
int create_regions(rgn_env *env, const char *home,
		   const struct region_spec *specs, size_t n);

/* ---- subcommands --------------------------------------------------------- */

int cmd_create(int argc, char **argv); /* cmd_env.c */
int cmd_stat(int argc, char **argv);
int cmd_hold(int argc, char **argv);
int cmd_remove(int argc, char **argv);
int cmd_leaks(int argc, char **argv);  /* cmd_leaks.c */
int cmd_region(int argc, char **argv); /* cmd_region.c */

/* ---- the leaks table (leaks_table.c) ------------------------------------- */

struct rgn_leak_scan;

#define LT_RAW	      0x1u /* one space between cells, spaces escaped */
#define LT_NOHEADINGS 0x2u /* no header line */
#define LT_BYTES      0x4u /* SIZE in bytes, not 64K / 1.5M */

/* Column names for --help: "  NAME  description\n" lines. */
void leaks_columns_help(FILE *f);

/*
 * Parse an -o/--output LIST (comma-separated, case-insensitive names; a
 * leading '+' appends to the default set) into COLS (room for CAP) and
 * return how many; an unknown name is a usage error naming it.
 */
size_t leaks_parse_columns(const char *list, int *cols, size_t cap);

/* The default columns: today's table. */
size_t leaks_default_columns(int *cols, size_t cap);

/* Print SCAN as a table of the NCOLS columns COLS to stdout through
 * libsmartcols; 0 or EXIT_FAILURE with the reason on stderr. */
int leaks_print_table(const struct rgn_leak_scan *scan, const int *cols,
		      size_t ncols, unsigned flags);

#endif /* REGIONCTL_H */
