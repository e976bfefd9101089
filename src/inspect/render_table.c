/*
 * render_table.c - the leak scan as a table for people, like `ipcs -m` or
 * lsipc: a header and one line per segment, columns aligned with spaces.
 *
 * A scan can hold tens of thousands of segments, so numbers are formatted
 * by hand rather than through snprintf.  The region name and the home in
 * the last two columns come from segment headers anybody could write, so
 * they are escaped (rgn_render_escape): one segment is always one line.
 */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bdb.h"
#include "render_int.h"

/* User names for the table; one scan names few users, so a short
 * most-recent list is enough. */
struct names {
	uint32_t uid[8];  /* cached uids */
	char name[8][33]; /* their names, or the number */
	unsigned n;	  /* entries used */
	unsigned next;	  /* next to replace when full */
};

static const char *user_name(struct names *c, uint32_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	unsigned i;

	for (i = 0; i < c->n; i++)
		if (c->uid[i] == uid)
			return c->name[i];
	if (c->n < 8)
		i = c->n++;
	else
		i = c->next++ % 8;
	c->uid[i] = uid;
	if (getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) == 0 && res &&
	    strlen(res->pw_name) < sizeof(c->name[i]))
		snprintf(c->name[i], sizeof(c->name[i]), "%s", res->pw_name);
	else
		snprintf(c->name[i], sizeof(c->name[i]), "%u", uid);
	return c->name[i];
}

enum {
	COL_SHMID,
	COL_KEY,
	COL_OWNER,
	COL_PERMS,
	COL_SIZE,
	COL_NATTCH,
	COL_CPID,
	COL_LPID,
	COL_ATIME,
	COL_DTIME,
	COL_IDLE,
	COL_CLASS,
	COL_REGION,
	COL_WHERE,
	NCOLS
};

static const char *const col_head[NCOLS] = {
	"SHMID", "KEY",	     "OWNER",	 "PERMS", "SIZE",  "NATTCH", "CPID",
	"LPID",	 "ATTACHED", "DETACHED", "IDLE",  "CLASS", "REGION", "WHERE",
};
/* Numbers align right, words left. */
static const int col_right[NCOLS] = {
	[COL_SHMID] = 1, [COL_SIZE] = 1, [COL_NATTCH] = 1,
	[COL_CPID] = 1,	 [COL_LPID] = 1, [COL_IDLE] = 1,
};

struct row {
	char cell[NCOLS - 1][40]; /* every column but WHERE */
	char *where;		  /* the home escaped (malloc'd), or NULL
				     for "-" */
};

/* Decimal digits of V into BUF (at least 21 bytes), NUL-terminated: the
 * table formats tens of thousands of numbers, and snprintf shows. */
static char *fmt_u64(char *buf, uint64_t v)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return buf;
}

static char *fmt_i64(char *buf, int64_t v)
{
	if (v < 0) {
		buf[0] = '-';
		fmt_u64(buf + 1, (uint64_t)0 - (uint64_t)v);
		return buf;
	}
	return fmt_u64(buf, (uint64_t)v);
}

void rgn_render_when(int64_t t, int64_t now, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !localtime_r(&tt, &tm)) {
		snprintf(buf, len, "-");
		return;
	}
	strftime(buf, len, now - t < 86400 && t <= now ? "%H:%M:%S" : "%b%d",
		 &tm);
}

/* Fill R from G; -ENOMEM when the escaped home cannot be kept. */
static int fill_row(struct row *r, const struct rgn_leak *g,
		    struct names *names, int64_t now)
{
	static const char hex[] = "0123456789abcdef";
	char *key = r->cell[COL_KEY], *perms = r->cell[COL_PERMS];
	uint32_t k = (uint32_t)g->key;
	size_t n;

	fmt_i64(r->cell[COL_SHMID], g->shmid);
	key[0] = '0';
	key[1] = 'x';
	for (int i = 0; i < 8; i++)
		key[2 + i] = hex[(k >> (28 - 4 * i)) & 0xf];
	key[10] = '\0';
	snprintf(r->cell[COL_OWNER], 40, "%s", user_name(names, g->uid));
	for (int i = 0; i < 3; i++)
		perms[i] = (char)('0' + ((g->mode >> (6 - 3 * i)) & 7));
	perms[3] = '\0';
	rgn_render_size_short(g->size, r->cell[COL_SIZE], 40);
	fmt_u64(r->cell[COL_NATTCH], g->nattch);
	fmt_i64(r->cell[COL_CPID], g->cpid);
	if (g->cpid_alive == RGN_LEAK_NO) {
		n = strlen(r->cell[COL_CPID]);
		r->cell[COL_CPID][n] = '*';
		r->cell[COL_CPID][n + 1] = '\0';
	}
	fmt_i64(r->cell[COL_LPID], g->lpid);
	rgn_render_when(g->atime, now, r->cell[COL_ATIME], 40);
	rgn_render_when(g->dtime, now, r->cell[COL_DTIME], 40);
	rgn_render_age(g->idle, r->cell[COL_IDLE], 40);
	snprintf(r->cell[COL_CLASS], 40, "%s", rgn_leak_class_name(g->cls));
	if (g->program == RGN_LEAK_PROG_BDB) {
		snprintf(r->cell[COL_REGION], 40, "%u:%s", g->bdb_region_id,
			 g->bdb_region_type
				 ? rgn_bdb_type_name(g->bdb_region_type)
				 : "?");
	} else if (g->ours == RGN_LEAK_YES) {
		char name[31];

		/* Escaped and cut to 30 bytes, never inside an escape. */
		snprintf(r->cell[COL_REGION], 40, "%u:%s", g->region_id,
			 rgn_render_escape(g->region_name, name, sizeof(name)));
	} else {
		snprintf(r->cell[COL_REGION], 40, "-");
	}
	r->where = NULL;
	if (g->ours == RGN_LEAK_YES ||
	    (g->program == RGN_LEAK_PROG_BDB && g->home[0])) {
		r->where = rgn_render_escape_dup(g->home);
		if (!r->where)
			return -ENOMEM;
	}
	return 0;
}

/* One line, padded by hand into LINE (room for every column at its
 * width) and written at once. */
static void print_row(FILE *f, const char *const cells[NCOLS],
		      const int width[NCOLS], char *line)
{
	size_t at = 0;

	for (int c = 0; c < NCOLS - 1; c++) {
		size_t len = strlen(cells[c]);
		size_t pad =
			(size_t)width[c] > len ? (size_t)width[c] - len : 0;

		if (col_right[c]) {
			memset(line + at, ' ', pad);
			memcpy(line + at + pad, cells[c], len);
		} else {
			memcpy(line + at, cells[c], len);
			memset(line + at + len, ' ', pad);
		}
		at += len + pad;
		line[at++] = ' ';
	}
	fwrite(line, 1, at, f);
	fputs(cells[NCOLS - 1], f);
	fputc('\n', f);
}

int rgn_render_leaks_table(const struct rgn_leak_scan *scan, char **out,
			   size_t *len)
{
	struct names names = {0};
	struct row *rows;
	int width[NCOLS];
	char line[NCOLS * 41];
	struct rgn_sink s;
	int rc;

	if (!scan)
		return rgn_render_einval(out, len);
	rc = rgn_sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	rows = calloc(scan->nsegs + 1, sizeof(*rows));
	if (!rows)
		return rgn_sink_close(&s, -ENOMEM, out, len);
	for (int c = 0; c < NCOLS; c++)
		width[c] = (int)strlen(col_head[c]);
	for (size_t i = 0; i < scan->nsegs && rc == 0; i++) {
		rc = fill_row(&rows[i], &scan->segs[i], &names, scan->time);
		for (int c = 0; c < NCOLS - 1; c++) {
			int w = (int)strlen(rows[i].cell[c]);

			if (w > width[c])
				width[c] = w;
		}
	}
	print_row(s.f, col_head, width, line);
	for (size_t i = 0; i < scan->nsegs && rc == 0; i++) {
		const char *cells[NCOLS];

		for (int c = 0; c < NCOLS - 1; c++)
			cells[c] = rows[i].cell[c];
		cells[NCOLS - 1] = rows[i].where ? rows[i].where : "-";
		print_row(s.f, cells, width, line);
	}
	for (size_t i = 0; i < scan->nsegs; i++)
		free(rows[i].where);
	free(rows);
	return rgn_sink_close(&s, rc, out, len);
}
