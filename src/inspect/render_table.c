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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bdb.h"
#include "render_int.h"

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
		    struct rgn_render_names *names, int64_t now)
{
	rgn_render_i64(g->shmid, r->cell[COL_SHMID]);
	rgn_render_leak_key(g, r->cell[COL_KEY]);
	snprintf(r->cell[COL_OWNER], 40, "%s",
		 rgn_render_user_name(names, g->uid));
	rgn_render_leak_perms(g, r->cell[COL_PERMS]);
	rgn_render_size_short(g->size, r->cell[COL_SIZE], 40);
	rgn_render_u64(g->nattch, r->cell[COL_NATTCH]);
	rgn_render_leak_cpid(g, r->cell[COL_CPID]);
	rgn_render_i64(g->lpid, r->cell[COL_LPID]);
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
	struct rgn_render_names names = {0};
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
