/*
 * leaks_table.c - the `regionctl leaks` table, lsipc-style, through
 * libsmartcols (util-linux's table library, the one lsipc itself uses).
 *
 * One table of columns (name, help, alignment, how to fill a cell) drives
 * -o/--output, --help and the printing, so adding a column is one row.
 * The default set and its order are the table regionctl always printed
 * (rgn_render_leaks_table): scripts that read columns by position keep
 * working.  Cells are formatted here rather than taken from that renderer,
 * which prints whole lines, but with its formatters (render.h: numbers,
 * keys, permissions, creator pids, user names, short sizes, ages, times of
 * day), so the two tables cannot drift apart.
 *
 * Cells from other people's bytes (homes, region names, evidence) are
 * escaped before libsmartcols sees them, and its own encoding is turned
 * off, so one segment is always one line and nothing is escaped twice.
 * --raw is the exception: there libsmartcols encodes every cell itself,
 * exactly as lsipc --raw does, and gets the bytes as they are.
 *
 * Cost: a table of thousands of segments is most of `regionctl leaks`'s
 * user time.  Cells are formatted without printf, and figures that repeat
 * from row to row (sizes, times, ages) are formatted once.  libsmartcols
 * measures every cell with the multibyte functions twice, once to size the
 * columns and once to pad; for a table of printable ASCII, where a cell's
 * width is its length, the sizing pass asks our chunk-size callback
 * instead (see plain_width), which halves that cost and prints the same.
 */
#include <inttypes.h>
#include <libsmartcols.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bdb.h"
#include "leaks.h"
#include "regionctl.h"
#include "render.h"

/* ---- cell escaping ------------------------------------------------------- */

/*
 * S made safe for one table cell, in a malloc'd string (NULL when out of
 * memory): the one rule every view uses (rgn_render_escape).  With ASCII
 * (no UTF-8 locale to measure widths in) the characters it lets through
 * past 0x7f are escaped byte by byte too; its output holds no other
 * non-ASCII bytes, and its backslashes are already doubled, so the result
 * still undoes to the exact bytes.
 */
static char *escape_cell(const char *s, int ascii)
{
	static const char hex[] = "0123456789abcdef";
	char *e, *out, *o;
	const unsigned char *p;

	/* Printable ASCII without a backslash escapes to itself: the common
	 * case (homes, names, evidence), spared the escaper's UTF-8 walk. */
	for (p = (const unsigned char *)s;
	     *p >= 0x20 && *p < 0x7f && *p != '\\'; p++)
		;
	if (!*p)
		return strdup(s);
	e = rgn_render_escape_dup(s);
	if (!e || !ascii)
		return e;
	out = malloc(strlen(e) * 4 + 1);
	if (out) {
		for (p = (const unsigned char *)e, o = out; *p; p++) {
			if (*p < 0x80) {
				*o++ = (char)*p;
				continue;
			}
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 0xf];
		}
		*o = '\0';
	}
	free(e);
	return out;
}

/* ---- cell formatters ----------------------------------------------------- */

/* A cell that the previous row most likely shared (every segment of an
 * environment has the same size; segments made in one second share their
 * times): KEY's text, formatted again only when KEY changes. */
struct memo {
	int64_t key;
	int valid;
	char text[40];
};

/* What a cell formatter may use besides the segment. */
struct fill_ctx {
	int64_t now;	/* the scan's time */
	unsigned flags; /* LT_* */
	struct rgn_render_names names;
	struct memo size, atime, dtime, idle;
};

/* Each formatter writes a cell into BUF (64 bytes) and returns it, or
 * returns a string to be escaped (bytes that are not ours to trust). */
typedef const char *fill_fn(struct fill_ctx *c, const struct rgn_leak *g,
			    char *buf, int *untrusted);

#define FILL(name)                                                             \
	static const char *name(struct fill_ctx *c, const struct rgn_leak *g,  \
				char *buf, int *untrusted)
#define UNUSED_CTX                                                             \
	(void)c;                                                               \
	(void)untrusted

FILL(fill_shmid)
{
	UNUSED_CTX;
	return rgn_render_i64(g->shmid, buf);
}
FILL(fill_key)
{
	UNUSED_CTX;
	return rgn_render_leak_key(g, buf);
}
FILL(fill_owner)
{
	(void)untrusted;
	(void)buf;
	return rgn_render_user_name(&c->names, g->uid);
}
FILL(fill_perms)
{
	UNUSED_CTX;
	return rgn_render_leak_perms(g, buf);
}
FILL(fill_size)
{
	(void)untrusted;
	if (c->flags & LT_BYTES)
		return rgn_render_u64(g->size, buf);
	if (!c->size.valid || c->size.key != (int64_t)g->size) {
		rgn_render_size_short(g->size, c->size.text,
				      sizeof(c->size.text));
		c->size.key = (int64_t)g->size;
		c->size.valid = 1;
	}
	return c->size.text;
}
FILL(fill_nattch)
{
	UNUSED_CTX;
	return rgn_render_u64(g->nattch, buf);
}
FILL(fill_cpid)
{
	UNUSED_CTX;
	/* '*': the creator is dead, or its pid now names another process. */
	return rgn_render_leak_cpid(g, buf);
}
FILL(fill_lpid)
{
	UNUSED_CTX;
	return rgn_render_i64(g->lpid, buf);
}

/* A time of day or date, through M. */
static const char *when(struct fill_ctx *c, struct memo *m, int64_t t)
{
	if (!m->valid || m->key != t) {
		rgn_render_when(t, c->now, m->text, sizeof(m->text));
		m->key = t;
		m->valid = 1;
	}
	return m->text;
}
FILL(fill_atime)
{
	(void)untrusted;
	(void)buf;
	return when(c, &c->atime, g->atime);
}
FILL(fill_dtime)
{
	(void)untrusted;
	(void)buf;
	return when(c, &c->dtime, g->dtime);
}
FILL(fill_idle)
{
	(void)untrusted;
	(void)buf;
	if (!c->idle.valid || c->idle.key != g->idle) {
		rgn_render_age(g->idle, c->idle.text, sizeof(c->idle.text));
		c->idle.key = g->idle;
		c->idle.valid = 1;
	}
	return c->idle.text;
}
FILL(fill_class)
{
	UNUSED_CTX;
	(void)buf;
	return rgn_leak_class_name(g->cls);
}
FILL(fill_region)
{
	size_t n, name;

	(void)c;
	if (g->program == RGN_LEAK_PROG_BDB) {
		/* Its type comes from the primary's table: our own words. */
		snprintf(buf, 64, "%u:%s", g->bdb_region_id,
			 g->bdb_region_type
				 ? rgn_bdb_type_name(g->bdb_region_type)
				 : "?");
		return buf;
	}
	if (g->ours != RGN_LEAK_YES)
		return "-";
	/* The name comes from a segment header: anybody's bytes.  "ID:NAME",
	 * cut at 63 bytes like any cell formatted here. */
	*untrusted = 1;
	rgn_render_u64(g->region_id, buf);
	n = strlen(buf);
	buf[n++] = ':';
	name = strnlen(g->region_name, sizeof(g->region_name));
	if (name > 63 - n)
		name = 63 - n;
	memcpy(buf + n, g->region_name, name);
	buf[n + name] = '\0';
	return buf;
}
FILL(fill_where)
{
	(void)c;
	(void)buf;
	/* A Berkeley DB segment's home is the one named by --home that
	 * refers to it, when any did. */
	if (g->ours != RGN_LEAK_YES &&
	    !(g->program == RGN_LEAK_PROG_BDB && g->home[0]))
		return "-";
	*untrusted = 1;
	return g->home;
}
FILL(fill_program)
{
	UNUSED_CTX;
	(void)buf;
	return rgn_leak_program_name(g->program);
}
FILL(fill_evidence)
{
	(void)c;
	(void)buf;
	*untrusted = 1;
	return g->evidence;
}

/* ---- the columns --------------------------------------------------------- */

struct column {
	const char *name; /* header and -o name */
	const char *help; /* one line for --help */
	int flags;	  /* SCOLS_FL_* */
	int dflt;	  /* in the default set */
	fill_fn *fill;
};

/* In the default order; numbers align right, words left. */
static const struct column columns[] = {
	{"SHMID", "segment id", SCOLS_FL_RIGHT, 1, fill_shmid},
	{"KEY", "System V key, 0x hex", 0, 1, fill_key},
	{"OWNER", "owner's user name, or uid", 0, 1, fill_owner},
	{"PERMS", "permission bits, octal", 0, 1, fill_perms},
	{"SIZE", "size (64K, 1.5M; bytes with --bytes)", SCOLS_FL_RIGHT, 1,
	 fill_size},
	{"NATTCH", "processes attached", SCOLS_FL_RIGHT, 1, fill_nattch},
	{"CPID", "creator pid; '*' when that process is dead or reused",
	 SCOLS_FL_RIGHT, 1, fill_cpid},
	{"LPID", "pid of the last attach or detach", SCOLS_FL_RIGHT, 1,
	 fill_lpid},
	{"ATTACHED", "last attach, time of day or date", 0, 1, fill_atime},
	{"DETACHED", "last detach, time of day or date", 0, 1, fill_dtime},
	{"IDLE", "time since the last attach, detach or change", SCOLS_FL_RIGHT,
	 1, fill_idle},
	{"CLASS", "leak class (see above)", 0, 1, fill_class},
	{"REGION", "ours: region id and name; Berkeley DB's: id and type", 0, 1,
	 fill_region},
	{"WHERE",
	 "the environment's home (Berkeley DB's: the --home that "
	 "names it); '-' for others",
	 0, 1, fill_where},
	{"PROGRAM", "the program it belongs to: regionfs, berkeley-db, or '-'",
	 0, 0, fill_program},
	{"EVIDENCE", "why it is in its class, in one line", 0, 0,
	 fill_evidence},
};
#define NCOLUMNS (sizeof(columns) / sizeof(columns[0]))

void leaks_columns_help(FILE *f)
{
	for (size_t i = 0; i < NCOLUMNS; i++)
		fprintf(f, "  %-9s %s%s\n", columns[i].name, columns[i].help,
			columns[i].dflt ? "" : " (not by default)");
}

size_t leaks_default_columns(int *cols, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < NCOLUMNS && n < cap; i++)
		if (columns[i].dflt)
			cols[n++] = (int)i;
	return n;
}

size_t leaks_parse_columns(const char *list, int *cols, size_t cap)
{
	size_t n = 0;
	const char *p = list;

	if (*p == '+') {
		/* lsipc's "+LIST": the default columns, then these. */
		n = leaks_default_columns(cols, cap);
		p++;
	}
	for (;;) {
		size_t len = strcspn(p, ",");
		size_t i;

		for (i = 0; i < NCOLUMNS; i++)
			if (strlen(columns[i].name) == len &&
			    strncasecmp(columns[i].name, p, len) == 0)
				break;
		if (i == NCOLUMNS)
			usage_error(
				"unknown column \"%.*s\" in --output \"%s\"",
				(int)len, p, list);
		if (n == cap)
			usage_error("too many columns in --output \"%s\"",
				    list);
		cols[n++] = (int)i;
		if (!p[len])
			break;
		p += len + 1;
	}
	return n;
}

/*
 * libsmartcols' chunk-size callback, for a table whose every cell is
 * printable ASCII (0x20-0x7e): there a cell's width in columns is its
 * length, which is exactly what libsmartcols' own measure (the multibyte
 * functions, a conversion per character) would find.  A column with this
 * callback and one_chunk is "custom wrapped" (SCOLS_FL_WRAP) but never
 * wraps: one_chunk says every cell is a single chunk, and such a column is
 * never truncated, like a column without flags.
 */
static size_t plain_width(const struct libscols_column *cl, const char *data,
			  void *arg)
{
	(void)cl;
	(void)arg;
	return data ? strlen(data) : 0;
}

static char *one_chunk(const struct libscols_column *cl, char *data, void *arg)
{
	(void)cl;
	(void)data;
	(void)arg;
	return NULL;
}

/* What a cell holds beyond printable ASCII: bit 0 a byte >= 0x80, bit 1 a
 * control character. */
#define CELL_NONASCII 0x1
#define CELL_CONTROL  0x2

static unsigned cell_kind(const char *s)
{
	unsigned kind = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x80)
			kind |= CELL_NONASCII;
		else if (*p < 0x20 || *p == 0x7f)
			kind |= CELL_CONTROL;
	}
	return kind;
}

int leaks_print_table(const struct rgn_leak_scan *scan, const int *cols,
		      size_t ncols, unsigned flags)
{
	struct fill_ctx ctx = {.now = scan->time, .flags = flags};
	struct libscols_table *tb = NULL;
	struct libscols_column *cl[64];
	locale_t utf8, old = (locale_t)0;
	int ret = EXIT_FAILURE, switched = 0;
	unsigned kind = 0;

	if (ncols > sizeof(cl) / sizeof(cl[0]))
		ncols = sizeof(cl) / sizeof(cl[0]); /* -o allows no more */
	/* libsmartcols measures cells with the C library's multibyte
	 * functions, which in the "C" locale we run in (regionctl never calls
	 * setlocale, so every other output is locale-free) reject UTF-8; and
	 * 2.38 then never finishes measuring.  Measure in C.UTF-8 for this
	 * thread, and where it does not exist send only ASCII.  Only a table
	 * that holds non-ASCII bytes needs it: measuring in C.UTF-8 costs a
	 * multibyte conversion per character, a third of a 4000-row table's
	 * time. */
	utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	tb = scols_new_table();
	if (!tb)
		goto nomem;
	/* We escape cells ourselves (escape_cell); its encoder would turn
	 * our "\x1b" into "\x5cx1b". */
	scols_table_enable_noencoding(tb, 1);
	scols_table_enable_raw(tb, !!(flags & LT_RAW));
	scols_table_enable_noheadings(tb, !!(flags & LT_NOHEADINGS));
	for (size_t i = 0; i < ncols; i++) {
		cl[i] = scols_table_new_column(tb, columns[cols[i]].name, 0,
					       columns[cols[i]].flags);
		if (!cl[i])
			goto nomem;
	}
	for (size_t s = 0; s < scan->nsegs; s++) {
		struct libscols_line *ln = scols_table_new_line(tb, NULL);

		if (!ln)
			goto nomem;
		for (size_t i = 0; i < ncols; i++) {
			char buf[64];
			int untrusted = 0;
			const char *v = columns[cols[i]].fill(
				&ctx, &scan->segs[s], buf, &untrusted);
			/* --raw cells are encoded by libsmartcols itself, as
			 * lsipc --raw's are: every blank, control, non-ASCII
			 * byte and "\x" as \xNN, so a cell never holds a
			 * space and a line splits on spaces. */
			char *cell = untrusted && !(flags & LT_RAW)
					     ? escape_cell(v, !utf8)
					     : strdup(v);

			/* The line owns CELL from here, even on failure. */
			if (!cell || scols_line_refer_data(ln, i, cell) != 0) {
				free(cell);
				goto nomem;
			}
			kind |= cell_kind(cell);
		}
	}
	/* libsmartcols prints nothing at all for a table without lines; the
	 * table has always printed its header then, as lsipc does. */
	if (!scan->nsegs && !(flags & LT_NOHEADINGS)) {
		for (size_t i = 0; i < ncols; i++)
			printf("%s%s", i ? " " : "", columns[cols[i]].name);
		putchar('\n');
	} else {
		/* Widths by length where that is what the multibyte measure
		 * would find; headers are ASCII words.  --raw measures
		 * nothing. */
		for (size_t i = 0; !kind && !(flags & LT_RAW) && i < ncols;
		     i++) {
			if (scols_column_set_flags(cl[i],
						   columns[cols[i]].flags |
							   SCOLS_FL_WRAP) ||
			    scols_column_set_wrapfunc(cl[i], plain_width,
						      one_chunk, NULL))
				goto nomem;
		}
		if (utf8 && (kind & CELL_NONASCII)) {
			old = uselocale(utf8);
			switched = 1;
		}
		if (scols_print_table(tb) != 0) {
			fprintf(stderr, "%s: write error\n", prog);
			goto out;
		}
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "%s: write error\n", prog);
		goto out;
	}
	ret = 0;
	goto out;
nomem:
	fprintf(stderr, "%s: cannot build the table: out of memory\n", prog);
out:
	scols_unref_table(tb);
	if (switched)
		uselocale(old);
	if (utf8)
		freelocale(utf8);
	return ret;
}
