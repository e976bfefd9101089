/*
 * render_text.c - the views for people, in Berkeley DB's db_stat layout
 * ("VALUE\tLABEL" lines, sections between separators): an environment, one
 * region, the attached processes, and a leak scan's detail and summary.
 * (The leak table, columns aligned like ipcs, is in render_table.c.)
 *
 * The figures come from the tables in render.c; this file only decides how
 * each kind prints.  Every string that came out of shared memory (home,
 * region names and types, evidence) goes through rgn_fputs_esc, so a
 * damaged name can never add a line or reach the terminal as a control
 * sequence.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/shm.h>
#include <time.h>

#include "bdb.h"
#include "proc.h"
#include "render_int.h"

/* ---- lines --------------------------------------------------------------- */

/*
 * Lines put together here and written a buffer at a time: a stat of 1000
 * regions prints 30000 lines, and printf's parsing plus one stdio call per
 * line were most of `regionctl stat -e`'s instructions.  A region's lines
 * share one buffer (text_region); whoever writes to the stream directly
 * first sends what is pending (line_flush), so the order never changes.  A
 * piece that does not fit flushes what is there first, so any length
 * comes out whole.
 */
struct text_line {
	FILE *f;
	size_t n;
	char b[4096];
};

static void line_flush(struct text_line *l)
{
	if (l->n)
		fwrite(l->b, 1, l->n, l->f);
	l->n = 0;
}

static void line_put(struct text_line *l, const char *p, size_t len)
{
	if (len > sizeof(l->b) - l->n) {
		fwrite(l->b, 1, l->n, l->f);
		l->n = 0;
		if (len > sizeof(l->b)) {
			fwrite(p, 1, len, l->f);
			return;
		}
	}
	memcpy(l->b + l->n, p, len);
	l->n += len;
}

static void line_str(struct text_line *l, const char *s)
{
	line_put(l, s, strlen(s));
}

static void line_num(struct text_line *l, uint64_t v)
{
	char b[24];

	line_str(l, rgn_render_u64(v, b));
}

static void line_int(struct text_line *l, int64_t v)
{
	char b[24];

	line_str(l, rgn_render_i64(v, b));
}

/* V in base BASE (8 or 16), at least WIDTH digits, as printf's %0*o and
 * %0*x. */
static void line_digits(struct text_line *l, uint64_t v, unsigned base,
			int width)
{
	char b[24], *d = b + sizeof(b);

	do {
		*--d = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (b + sizeof(b) - d < width)
		*--d = '0';
	line_put(l, d, (size_t)(b + sizeof(b) - d));
}

/* "\tLABEL\n": the line is complete (it goes out with the buffer). */
static void line_end(struct text_line *l, const char *label)
{
	line_put(l, "\t", 1);
	line_str(l, label);
	line_put(l, "\n", 1);
}

static void text_value(FILE *f, const char *value, const char *label)
{
	struct text_line l = {.f = f};

	line_str(&l, value);
	line_end(&l, label);
	line_flush(&l);
}

static void text_bytes(FILE *f, uint64_t v, const char *label)
{
	char b[48];

	text_value(f, rgn_render_bytes(v, b, sizeof(b)), label);
}

static void text_time(FILE *f, int64_t t, const char *label)
{
	char b[48];

	text_value(f, rgn_render_time(t, b, sizeof(b)), label);
}

/* "HOLDER\tLABEL [WAITS/REQUESTS PCT% Own|!Own]", then the recoveries. */
static void text_mutex(struct text_line *l, const struct rgn_mutex_stat *m,
		       const char *label)
{
	unsigned pct =
		m->requests ? (unsigned)(m->waits * 100 / m->requests) : 0;

	line_int(l, m->holder);
	line_put(l, "\t", 1);
	line_str(l, label);
	line_put(l, " [", 2);
	line_num(l, m->waits);
	line_put(l, "/", 1);
	line_num(l, m->requests);
	line_put(l, " ", 1);
	line_num(l, pct);
	line_str(l, m->holder ? "% Own]\n" : "% !Own]\n");
	line_num(l, m->owner_died);
	line_put(l, "\t", 1);
	line_str(l, label);
	line_str(l, " recoveries (holder died)\n");
}

void rgn_text_preamble(FILE *f, time_t now, const char *home)
{
	text_time(f, (int64_t)now, "Local time");
	rgn_fputs_esc(f, home);
	fputs("\tHome\n", f);
}

/* One row of a figure table, for OBJ, as its kind prints, into L. */
static void text_fig(struct text_line *l, const struct rgn_fig *fig,
		     const void *obj)
{
	uint64_t v = fig->num ? fig->num(obj) : 0;
	char b[48];

	switch (fig->kind) {
	case RGN_FIG_UINT:
		line_num(l, v);
		break;
	case RGN_FIG_INT:
		line_int(l, (int64_t)v);
		break;
	case RGN_FIG_BYTES:
		line_str(l, rgn_render_bytes(v, b, sizeof(b)));
		break;
	case RGN_FIG_TIME:
		line_str(l, rgn_render_time((int64_t)v, b, sizeof(b)));
		break;
	case RGN_FIG_HEX:
		line_put(l, "0x", 2);
		line_digits(l, v, 16, 1);
		break;
	case RGN_FIG_HEX64:
		line_put(l, "0x", 2);
		line_digits(l, v, 16, 16);
		break;
	case RGN_FIG_KEY:
		if ((uint32_t)v == 0) {
			line_put(l, "0", 1);
		} else {
			line_put(l, "0x", 2);
			line_digits(l, (uint32_t)v, 16, 8);
		}
		break;
	case RGN_FIG_MODE:
		line_put(l, "0", 1);
		line_digits(l, v, 8, 3);
		break;
	case RGN_FIG_YESNO:
		line_str(l, v ? "yes" : "no");
		break;
	case RGN_FIG_STR:
		/* Escaped straight to the stream: what is pending goes
		 * first. */
		line_flush(l);
		rgn_fputs_esc(l->f, fig->str(obj));
		break;
	case RGN_FIG_MUTEX:
		text_mutex(l, fig->mutex(obj), fig->label);
		return;
	}
	line_end(l, fig->label);
}

/* ---- environments -------------------------------------------------------- */

/* One region's lines, into L's buffer. */
static void text_region(struct text_line *l, const struct rgn_region_stat *rs)
{
	const struct rgn_alloc_stat *a = &rs->alloc;

	for (size_t i = 0; i < rgn_region_nfigs; i++)
		if (rgn_region_figs[i].label)
			text_fig(l, &rgn_region_figs[i], rs);
	if (rs->detail != 0) {
		line_str(l, "unavailable\tAllocator and mutex figures (");
		line_str(l, rgn_strerror(rs->detail));
		line_str(l, ")\n");
		return;
	}
	if (rs->id == 1) {
		/* The primary holds the table, not an allocator. */
		text_mutex(l, &rs->mutex, "Environment mutex");
		return;
	}
	for (size_t i = 0; i < rgn_alloc_nfigs; i++)
		if (rgn_alloc_figs[i].label)
			text_fig(l, &rgn_alloc_figs[i], rs);
	for (unsigned i = 0; i < RGN_HIST_BUCKETS; i++) {
		char b[48];

		if (!a->hist[i])
			continue;
		line_num(l, a->hist[i]);
		line_str(l, "\tLive blocks of size [");
		line_str(l, rgn_render_bytes(1ull << i, b, sizeof(b)));
		line_put(l, ", ", 2);
		line_str(l, i + 1 < 64 ? rgn_render_bytes(1ull << (i + 1), b,
							  sizeof(b))
				       : "...");
		line_put(l, ")\n", 2);
	}
	text_mutex(l, &rs->mutex, "Region mutex");
}

static void text_procs(FILE *f, const struct rgn_env_stat *st)
{
	fprintf(f, "%zu\tRegistered processes (%u live, %u stale)\n",
		st->nprocs, st->live, st->stale);
	for (size_t i = 0; i < st->nprocs; i++) {
		const struct rgn_proc_stat *p = &st->procs[i];
		char s[48], a[48];

		fprintf(f, "%d\t%s process, started %s, attached %s\n", p->pid,
			p->live ? "live" : "stale",
			rgn_render_time(rgn_ticks_to_epoch(p->start), s,
					sizeof(s)),
			rgn_render_time(p->attach_time, a, sizeof(a)));
	}
}

int rgn_render_env_text(const struct rgn_env_stat *st, time_t now, char **out,
			size_t *len)
{
	struct text_line line = {.n = 0}, *l = &line;
	struct rgn_sink s;
	FILE *f;
	int rc;

	if (!st)
		return rgn_render_einval(out, len);
	rc = rgn_sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	f = s.f;
	line.f = f;
	rgn_text_preamble(f, now, st->home);
	if (rgn_render_private_outside(st)) {
		fprintf(f, "private\tBacking\n");
		fprintf(f, "%s\n", RGN_RENDER_SEP);
		fprintf(f, "%d\tPrivate environment owner process ID\n",
			st->private_owner);
		fprintf(f, "private\tRegions live in that process's heap and "
			   "cannot be read from outside\n");
		return rgn_sink_close(&s, 0, out, len);
	}
	for (size_t i = 0; i < rgn_env_nfigs; i++) {
		const struct rgn_fig *fig = &rgn_env_figs[i];

		if (!fig->label)
			continue;
		if (fig->need == RGN_FIG_TEXT_IF_PRIVATE &&
		    st->backing != RGN_BACKING_PRIVATE)
			continue;
		text_fig(l, fig, st);
	}
	for (size_t i = 0; i < st->nregions; i++) {
		line_put(l, RGN_RENDER_SEP "\n", RGN_RENDER_SEP_LEN + 1);
		text_region(l, &st->regions[i]);
	}
	line_flush(l);
	fprintf(f, "%s\n", RGN_RENDER_SEP);
	text_procs(f, st);
	return rgn_sink_close(&s, 0, out, len);
}

int rgn_render_region_text(const struct rgn_env_stat *st,
			   const struct rgn_region_stat *rs, char **out,
			   size_t *len)
{
	struct text_line line = {.n = 0};
	struct rgn_sink s;
	int rc;

	if (!rgn_render_region_in(st, rs))
		return rgn_render_einval(out, len);
	rc = rgn_sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	line.f = s.f;
	text_region(&line, rs);
	line_flush(&line);
	return rgn_sink_close(&s, 0, out, len);
}

int rgn_render_procs_text(const struct rgn_env_stat *st, char **out,
			  size_t *len)
{
	struct rgn_sink s;
	int rc;

	if (!st)
		return rgn_render_einval(out, len);
	rc = rgn_sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	text_procs(s.f, st);
	return rgn_sink_close(&s, 0, out, len);
}

/* ---- leaks --------------------------------------------------------------- */

static const char *tri_word(int v, const char *yes, const char *no)
{
	return v == RGN_LEAK_YES ? yes : v == RGN_LEAK_NO ? no : "unknown";
}

static void text_leak(FILE *f, const struct rgn_leak *g)
{
	char sz[48], a[48], d[48], c[48], idle[32];

	fprintf(f, "shmid %d key 0x%08x size %s class %s\n", g->shmid,
		(unsigned)g->key, rgn_render_bytes(g->size, sz, sizeof(sz)),
		rgn_leak_class_name(g->cls));
	fprintf(f,
		"  owner uid %u gid %u, creator uid %u gid %u, perms %03o%s,"
		" nattch %" PRIu64 "\n",
		g->uid, g->gid, g->cuid, g->cgid, g->mode & 0777,
		g->mode & SHM_DEST ? " (dest)" : "", g->nattch);
	fprintf(f, "  creator pid %d (%s), last pid %d\n", g->cpid,
		tri_word(g->cpid_alive, "alive", "dead"), g->lpid);
	rgn_render_age(g->idle, idle, sizeof(idle));
	fprintf(f, "  attached %s, detached %s, changed %s, idle %s\n",
		rgn_render_time(g->atime, a, sizeof(a)),
		rgn_render_time(g->dtime, d, sizeof(d)),
		rgn_render_time(g->ctime, c, sizeof(c)), idle);
	if (g->ours == RGN_LEAK_YES) {
		fprintf(f, "  environment 0x%016" PRIx64 ", region %u \"",
			g->env_id, g->region_id);
		rgn_fputs_esc(f, g->region_name);
		fprintf(f, "\" (%s), created by pid %d\n",
			rgn_render_type_name(g->region_type), g->creator_pid);
		fputs("  home ", f);
		rgn_fputs_esc(f, g->home);
		fprintf(f, " (%s), %u live, %u stale processes\n",
			tri_word(g->home_matches, "holds this environment",
				 "does not hold this environment"),
			g->env_live, g->env_stale);
	}
	if (g->program == RGN_LEAK_PROG_BDB) {
		fprintf(f,
			"  berkeley-db %u.%u.%u, region %u (%s) of the "
			"environment whose primary is shmid %d\n",
			g->bdb_major, g->bdb_minor, g->bdb_patch,
			g->bdb_region_id,
			g->bdb_region_type
				? rgn_bdb_type_name(g->bdb_region_type)
				: "type not known",
			g->bdb_primary);
		if (g->bdb_decoded)
			fprintf(f,
				"  References %u, panic %u, %" PRIu64
				" attached to its segments\n",
				g->bdb_refcnt, g->bdb_panic, g->bdb_nattch);
		if (g->home[0]) {
			fputs("  home ", f);
			rgn_fputs_esc(f, g->home);
			fputc('\n', f);
		}
	}
	fputs("  evidence: ", f);
	rgn_fputs_esc(f, g->evidence);
	fputc('\n', f);
}

int rgn_render_leak_text(const struct rgn_leak *seg, char **out, size_t *len)
{
	struct rgn_sink s;
	int rc;

	if (!seg)
		return rgn_render_einval(out, len);
	rc = rgn_sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	text_leak(s.f, seg);
	return rgn_sink_close(&s, 0, out, len);
}

static void text_limit(FILE *f, uint64_t v, const char *label)
{
	if (v == RGN_LEAK_LIMIT_UNKNOWN)
		fprintf(f, "unknown\t%s\n", label);
	else
		fprintf(f, "%" PRIu64 "\t%s\n", v, label);
}

int rgn_render_leaks_summary(const struct rgn_leak_scan *scan, char **out,
			     size_t *len)
{
	/* In the order people act on them: leaks first. */
	static const enum rgn_leak_class order[] = {
		RGN_LEAK_ORPHANED,	 RGN_LEAK_FOREIGN_IDLE,
		RGN_LEAK_NEEDS_RECOVERY, RGN_LEAK_LIVE,
		RGN_LEAK_IDLE,		 RGN_LEAK_FOREIGN_IN_USE,
		RGN_LEAK_REMOVING,	 RGN_LEAK_UNKNOWN,
	};
	_Static_assert(sizeof(order) / sizeof(order[0]) == RGN_LEAK_NCLASSES,
		       "the summary lists every class");
	char b[48], label[96];
	struct rgn_sink s;
	FILE *f;
	int rc;

	if (!scan)
		return rgn_render_einval(out, len);
	rc = rgn_sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	f = s.f;
	fprintf(f, "%zu\tSegments\n", scan->nsegs);
	text_bytes(f, scan->total_bytes, "Bytes in all segments");
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		enum rgn_leak_class c = order[i];

		snprintf(label, sizeof(label), "%s segments (%s)",
			 rgn_leak_class_name(c),
			 rgn_render_bytes(scan->bytes[c], b, sizeof(b)));
		fprintf(f, "%" PRIu64 "\t%s\n", scan->count[c], label);
	}
	text_bytes(f, scan->leaked_bytes,
		   "Held by leaked segments (orphaned, and foreign-idle whose "
		   "creator is dead)");
	snprintf(label, sizeof(label),
		 "Berkeley DB segments, %" PRIu64 " at rest (%s; never leaked)",
		 scan->bdb_at_rest,
		 rgn_render_bytes(scan->bdb_at_rest_bytes, b, sizeof(b)));
	fprintf(f, "%" PRIu64 "\t%s\n", scan->bdb_count, label);
	text_limit(f, scan->shmmni, "shmmni: most segments");
	if (scan->shmall != RGN_LEAK_LIMIT_UNKNOWN) {
		snprintf(label, sizeof(label),
			 "shmall: most pages in all segments (page %uB)",
			 scan->page_size);
		text_limit(f, scan->shmall, label);
	} else {
		text_limit(f, scan->shmall,
			   "shmall: most pages in all segments");
	}
	text_limit(f, scan->shmmax, "shmmax: most bytes in one segment");
	if (scan->shm_rmid_forced < 0)
		fprintf(f, "unknown\tshm_rmid_forced\n");
	else
		fprintf(f,
			"%d\tshm_rmid_forced (1: segments die with their "
			"last process)\n",
			scan->shm_rmid_forced);
	return rgn_sink_close(&s, 0, out, len);
}
