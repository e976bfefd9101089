/*
 * render.c - what every renderer shares: the output plumbing (memory
 * streams for text, json-c for JSON), the small formatters of render.h,
 * the one escaping rule for names and paths read from shared memory, and
 * the figure tables that render_text.c, render_json.c and render_prom.c
 * all walk.
 *
 * Text renderers write through a stream into memory (a cookie stream, see
 * rgn_sink_open), so a section is a handful of fprintf calls and the caller
 * gets one malloc'd buffer; a write error on it can only be ENOMEM, checked
 * once at the close.  Renderers
 * read only the snapshot they are given (and the user database for the
 * leak table), so the same snapshot renders to the same bytes in the tool
 * and the mount.
 */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "internal.h"
#include "render_int.h"

_Static_assert(sizeof(RGN_RENDER_SEP) - 1 == RGN_RENDER_SEP_LEN,
	       "the separator is 49 characters");

/* ---- output plumbing ---------------------------------------------------- */

int rgn_render_einval(char **out, size_t *len)
{
	if (out && len) {
		*out = NULL;
		*len = 0;
	}
	return -EINVAL;
}

/*
 * The sink's stream is a cookie stream over a buffer of our own rather
 * than open_memstream: a memory stream copies each small write byte by
 * byte and zero-fills every buffer it grows into, which was half of the
 * instructions of a 1000-region `stat -e` (30000 lines).  Here a write
 * lands in stdio's ordinary buffer, and only a full buffer reaches
 * sink_write, which appends it in one copy to storage grown by doubling.
 * The result is what the memory stream gave: malloc'd, NUL-terminated,
 * "" when nothing was written.
 */
struct sink_store {
	struct rgn_sink *s; /* whose buf and len to fill */
	size_t cap;	    /* bytes allocated at s->buf */
};

static ssize_t sink_write(void *cookie, const char *p, size_t n)
{
	struct sink_store *st = cookie;
	struct rgn_sink *s = st->s;

	if (n >= st->cap - s->len) {
		size_t cap = st->cap ? st->cap : 4096;
		char *nb;

		while (n >= cap - s->len)
			cap *= 2;
		nb = realloc(s->buf, cap);
		if (!nb) {
			errno = ENOMEM;
			return -1;
		}
		s->buf = nb;
		st->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return (ssize_t)n;
}

static int sink_release(void *cookie)
{
	free(cookie);
	return 0;
}

int rgn_sink_open(struct rgn_sink *s, char **out, size_t *len)
{
	static const cookie_io_functions_t io = {.write = sink_write,
						 .close = sink_release};
	struct sink_store *st;

	if (!out || !len)
		return -EINVAL;
	*out = NULL;
	*len = 0;
	s->buf = NULL;
	s->len = 0;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->s = s;
	s->f = fopencookie(st, "w", io);
	if (!s->f) {
		free(st);
		return -ENOMEM;
	}
	/* The stream is this renderer's alone: no lock per call (30000
	 * calls for 1000 regions). */
	__fsetlocking(s->f, FSETLOCKING_BYCALLER);
	return 0;
}

int rgn_sink_close(struct rgn_sink *s, int rc, char **out, size_t *len)
{
	if (fflush(s->f) != 0 && rc == 0)
		rc = -ENOMEM;
	if (ferror(s->f) && rc == 0)
		rc = -ENOMEM;
	if (fclose(s->f) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc == 0 && !s->buf) {
		s->buf = calloc(1, 1);
		if (!s->buf)
			rc = -ENOMEM;
	}
	if (rc < 0) {
		free(s->buf);
		return rc;
	}
	*out = s->buf;
	*len = s->len;
	return 0;
}

int rgn_json_out(struct json_object *o, char **out, size_t *len)
{
	const char *txt;
	size_t n;
	char *buf;

	if (!o)
		return -ENOMEM;
	txt = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!txt) {
		json_object_put(o);
		return -ENOMEM;
	}
	n = strlen(txt);
	buf = malloc(n + 2);
	if (!buf) {
		json_object_put(o);
		return -ENOMEM;
	}
	memcpy(buf, txt, n);
	buf[n] = '\n';
	buf[n + 1] = '\0';
	json_object_put(o);
	*out = buf;
	*len = n + 1;
	return 0;
}

void rgn_jset(struct json_object *o, const char *k, struct json_object *v)
{
	if (o)
		json_object_object_add(o, k, v);
	else
		json_object_put(v);
}

struct json_object *rgn_jstr(const char *s)
{
	return json_object_new_string(s ? s : "");
}

struct json_object *rgn_jstr_esc(const char *s)
{
	struct json_object *o;
	char *e = rgn_render_escape_dup(s);

	if (!e)
		return NULL;
	o = json_object_new_string(e);
	free(e);
	return o;
}

struct json_object *rgn_jtri(int v)
{
	return v < 0 ? NULL : json_object_new_boolean(v > 0);
}

/* ---- the escaping rule --------------------------------------------------- */

/*
 * Names and homes come from a __db.001 or a segment header that anybody in
 * the environment's group can scribble on, so every view passes them
 * through one rule, in the spirit of `ls -b`: printable UTF-8 as it is, a
 * backslash doubled, and every other byte as \xNN.  Undoing \\ and \xNN
 * gives back the exact bytes; what comes out is one line of valid UTF-8.
 */

/* Length of the valid UTF-8 sequence at S (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0.  A NUL is never a
 * continuation byte, so the end of the string stops it safely. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range is what rules out overlongs, surrogates
	 * and code points past U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* One unit of S into OUT (room for 4 bytes): a printable character as it
 * is, or one byte escaped.  Returns the bytes written; *USED gets the
 * bytes of S consumed. */
static size_t esc_unit(const unsigned char *s, char *out, size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	size_t n;

	*used = 1;
	if (s[0] == '\\') {
		out[0] = out[1] = '\\';
		return 2;
	}
	if (s[0] >= 0x20 && s[0] < 0x7f) {
		out[0] = (char)s[0];
		return 1;
	}
	n = utf8_len(s);
	/* C1 controls (U+0080..U+009F, encoded C2 80..C2 9F) and the line
	 * and paragraph separators U+2028/U+2029 (E2 80 A8/A9), which some
	 * viewers break lines at, are escaped byte by byte like C0 and DEL. */
	if (n == 2 && s[0] == 0xc2 && s[1] <= 0x9f)
		n = 0;
	if (n == 3 && s[0] == 0xe2 && s[1] == 0x80 &&
	    (s[2] == 0xa8 || s[2] == 0xa9))
		n = 0;
	if (n) {
		memcpy(out, s, n);
		*used = n;
		return n;
	}
	out[0] = '\\';
	out[1] = 'x';
	out[2] = hex[s[0] >> 4];
	out[3] = hex[s[0] & 0xf];
	return 4;
}

char *rgn_render_escape(const char *s, char *buf, size_t buflen)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t at = 0;

	if (!buf || buflen == 0)
		return buf;
	while (*p) {
		char unit[4];
		size_t used, n = esc_unit(p, unit, &used);

		/* Never half a unit: a cut escape would read as other bytes. */
		if (at + n >= buflen)
			break;
		memcpy(buf + at, unit, n);
		at += n;
		p += used;
	}
	buf[at] = '\0';
	return buf;
}

char *rgn_render_escape_dup(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t total = 1;
	char *buf;

	while (*p) {
		char unit[4];
		size_t used;

		total += esc_unit(p, unit, &used);
		p += used;
	}
	buf = malloc(total);
	return buf ? rgn_render_escape(s, buf, total) : NULL;
}

void rgn_fputs_esc(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	while (*p) {
		const unsigned char *run = p;
		char unit[4];
		size_t used, n;

		/* Printable ASCII other than the backslash is itself: written
		 * a run at a time, the common case being the whole name. */
		while (*p >= 0x20 && *p < 0x7f && *p != '\\')
			p++;
		if (p > run)
			fwrite(run, 1, (size_t)(p - run), f);
		if (!*p)
			break;
		n = esc_unit(p, unit, &used);
		fwrite(unit, 1, n, f);
		p += used;
	}
}

/* ---- small formatters --------------------------------------------------- */

/* Decimal digits of V at the end of BUF (room for 20); returns the first. */
static char *u64_digits(uint64_t v, char *end)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

char *rgn_render_u64(uint64_t v, char *buf)
{
	char tmp[24], *d = u64_digits(v, tmp + sizeof(tmp));
	size_t n = (size_t)(tmp + sizeof(tmp) - d);

	memcpy(buf, d, n);
	buf[n] = '\0';
	return buf;
}

char *rgn_render_i64(int64_t v, char *buf)
{
	if (v >= 0)
		return rgn_render_u64((uint64_t)v, buf);
	/* Negated as unsigned: INT64_MIN has no positive twin. */
	buf[0] = '-';
	rgn_render_u64(0 - (uint64_t)v, buf + 1);
	return buf;
}

char *rgn_render_leak_key(const struct rgn_leak *g, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	uint32_t k = (uint32_t)g->key;

	buf[0] = '0';
	buf[1] = 'x';
	for (int i = 0; i < 8; i++)
		buf[2 + i] = hex[(k >> (28 - 4 * i)) & 0xf];
	buf[10] = '\0';
	return buf;
}

char *rgn_render_leak_perms(const struct rgn_leak *g, char *buf)
{
	for (int i = 0; i < 3; i++)
		buf[i] = (char)('0' + ((g->mode >> (6 - 3 * i)) & 7));
	buf[3] = '\0';
	return buf;
}

char *rgn_render_leak_cpid(const struct rgn_leak *g, char *buf)
{
	rgn_render_i64(g->cpid, buf);
	if (g->cpid_alive == RGN_LEAK_NO)
		strcat(buf, "*");
	return buf;
}

const char *rgn_render_user_name(struct rgn_render_names *c, uint32_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	unsigned i;

	for (i = 0; i < c->n; i++)
		if (c->uid[i] == uid)
			return c->name[i];
	i = c->n < 8 ? c->n++ : c->next++ % 8;
	c->uid[i] = uid;
	if (getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) == 0 && res &&
	    strlen(res->pw_name) < sizeof(c->name[i]))
		snprintf(c->name[i], sizeof(c->name[i]), "%s", res->pw_name);
	else
		snprintf(c->name[i], sizeof(c->name[i]), "%u", uid);
	return c->name[i];
}

char *rgn_render_bytes(uint64_t bytes, char *buf, size_t buflen)
{
	static const struct {
		const char *unit;
		unsigned shift;
	} piece[] = {{"GB", 30}, {"MB", 20}, {"KB", 10}, {"B", 0}};
	size_t used = 0;

	if (!buf || buflen == 0)
		return buf;
	buf[0] = '\0';
	if (bytes == 0) {
		snprintf(buf, buflen, "0");
		return buf;
	}
	/* By hand, not snprintf: a stat of 1000 regions formats 8000. */
	for (size_t i = 0; i < RGN_ARRAY_LEN(piece); i++) {
		uint64_t n = bytes >> piece[i].shift;
		char digits[24], *d;
		size_t nd, nu, w;

		if (piece[i].shift < 30)
			n &= 1023;
		if (!n)
			continue;
		d = u64_digits(n, digits + sizeof(digits));
		nd = (size_t)(digits + sizeof(digits) - d);
		nu = strlen(piece[i].unit);
		w = (used ? 1 : 0) + nd + nu;
		if (w >= buflen - used)
			break;
		if (used)
			buf[used++] = ' ';
		memcpy(buf + used, d, nd);
		memcpy(buf + used + nd, piece[i].unit, nu);
		used += nd + nu;
		buf[used] = '\0';
	}
	return buf;
}

char *rgn_render_size_short(uint64_t bytes, char *buf, size_t buflen)
{
	static const char units[] = "BKMGTPE";
	unsigned u = 0;
	double d = (double)bytes;

	if (!buf || buflen == 0)
		return buf;
	if (bytes < 1024) {
		snprintf(buf, buflen, "%" PRIu64 "B", bytes);
		return buf;
	}
	/* Go up a unit whenever rounding would print 1024 of this one. */
	while (d >= 1023.5 && u < sizeof(units) - 2) {
		d /= 1024;
		u++;
	}
	/* One decimal below 10 when it is not whole, like lsipc. */
	if (d < 9.95 && (long)(d * 10 + 0.5) % 10 != 0)
		snprintf(buf, buflen, "%.1f%c", d, units[u]);
	else
		snprintf(buf, buflen, "%.0f%c", d, units[u]);
	return buf;
}

char *rgn_render_time(int64_t t, char *buf, size_t buflen)
{
	struct tm tm;
	time_t tt = (time_t)t;

	/* The last time converted, per thread: the regions of one stat
	 * mostly share their creation and change times. */
	static __thread int64_t last_t;
	static __thread char last[48];

	if (!buf || buflen == 0)
		return buf;
	if (t != 0 && t == last_t && strlen(last) < buflen) {
		memcpy(buf, last, strlen(last) + 1);
		return buf;
	}
	if (t == 0 || !localtime_r(&tt, &tm) ||
	    strftime(buf, buflen, "%a %b %e %H:%M:%S %Y", &tm) == 0) {
		snprintf(buf, buflen, "%s", t == 0 ? "never" : "?");
		return buf;
	}
	if (strlen(buf) < sizeof(last)) {
		memcpy(last, buf, strlen(buf) + 1);
		last_t = t;
	}
	return buf;
}

/* ---- shared words ------------------------------------------------------- */

const char *rgn_render_backing_name(enum rgn_backing b)
{
	switch (b) {
	case RGN_BACKING_FILES:
		return "files";
	case RGN_BACKING_SYSV:
		return "sysv";
	case RGN_BACKING_PRIVATE:
		return "private";
	}
	return "unknown";
}

const char *rgn_render_type_name(uint32_t t)
{
	const char *n = rgn_type_name((enum rgn_region_type)t);

	return n ? n : "unknown";
}

int rgn_render_private_outside(const struct rgn_env_stat *st)
{
	return st->backing == RGN_BACKING_PRIVATE && !st->regions;
}

int rgn_render_region_in(const struct rgn_env_stat *st,
			 const struct rgn_region_stat *rs)
{
	return st && rs && st->regions && rs >= st->regions &&
	       rs < st->regions + st->nregions;
}

const struct rgn_region_stat *rgn_render_find_region(
	const struct rgn_env_stat *st, uint32_t id)
{
	if (!st || !st->regions)
		return NULL;
	for (size_t i = 0; i < st->nregions; i++)
		if (st->regions[i].id == id)
			return &st->regions[i];
	return NULL;
}

void rgn_render_age(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, len, "%" PRId64 "d%" PRId64 "h", s / 86400,
			 s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%" PRId64 "h%" PRId64 "m", s / 3600,
			 s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%" PRId64 "m%" PRId64 "s", s / 60, s % 60);
	else
		snprintf(buf, len, "%" PRId64 "s", s);
}

/* ---- figure tables ------------------------------------------------------- */

/* Getters: one line each, so a row of the tables below reads as the
 * figure it is. */
#define ENV(o) ((const struct rgn_env_stat *)(o))
#define RS(o)  ((const struct rgn_region_stat *)(o))
#define GET(name, expr)                                                        \
	static uint64_t name(const void *o)                                    \
	{                                                                      \
		return (uint64_t)(expr);                                       \
	}

GET(env_magic, ENV(o)->magic)
GET(env_format, ENV(o)->format)
GET(env_fallback, (ENV(o)->flags & RGN_RF_FALLBACK) != 0)
GET(env_flags, ENV(o)->flags)
GET(env_key, (int64_t)ENV(o)->shm_key)
GET(env_mode, ENV(o)->mode & 07777)
GET(env_ctime, ENV(o)->ctime)
GET(env_mtime, ENV(o)->mtime)
GET(env_id, ENV(o)->env_id)
GET(env_panic, ENV(o)->panic)
GET(env_live, ENV(o)->live)
GET(env_stale, ENV(o)->stale)
GET(env_nregions, ENV(o)->nregions)
GET(env_generation, ENV(o)->generation)
GET(env_owner, (int64_t)ENV(o)->private_owner)
GET(env_primary, ENV(o)->primary_size)
GET(env_mx_req, ENV(o)->mutex.requests)
GET(env_mx_waits, ENV(o)->mutex.waits)
/* The creation time as a metric: never negative. */
GET(env_ctime_pos, ENV(o)->ctime > 0 ? ENV(o)->ctime : 0)

static const char *env_backing(const void *o)
{
	return rgn_render_backing_name(ENV(o)->backing);
}

static const struct rgn_mutex_stat *env_mutex(const void *o)
{
	return &ENV(o)->mutex;
}

GET(rs_id, RS(o)->id)
GET(rs_size, RS(o)->size)
GET(rs_max, RS(o)->max)
GET(rs_shmid, (int64_t)RS(o)->shmid)
GET(rs_key, (int64_t)RS(o)->key)
GET(rs_flags, RS(o)->flags)
GET(rs_ctime, RS(o)->ctime)
GET(rs_mtime, RS(o)->mtime)
GET(rs_creator, (int64_t)RS(o)->creator_pid)
GET(rs_mx_req, RS(o)->mutex.requests)
GET(rs_mx_waits, RS(o)->mutex.waits)
GET(al_arena, RS(o)->alloc.arena_bytes)
GET(al_used, RS(o)->alloc.used_bytes)
GET(al_free, RS(o)->alloc.free_bytes)
GET(al_largest, RS(o)->alloc.largest_free)
GET(al_live, RS(o)->alloc.live_blocks)
GET(al_chunks, RS(o)->alloc.free_chunks)
GET(al_nalloc, RS(o)->alloc.nalloc)
GET(al_nfail, RS(o)->alloc.nfail)
GET(al_nfree, RS(o)->alloc.nfree)

/* clang-format off */
static const char *rs_file(const void *o) { return RS(o)->file; }
static const char *rs_name(const void *o) { return RS(o)->name; }
static const char *rs_type(const void *o)
{
	return rgn_render_type_name(RS(o)->type);
}

#define NUM(label, key, kind, need, get)                                       \
	{label, key, NULL, RGN_FIG_NO_METRIC, NULL, kind, need, get, NULL, NULL}
#define MET(label, key, metric, type, help, kind, need, get)                   \
	{label, key, metric, type, help, kind, need, get, NULL, NULL}
#define STR(label, key, get)                                                   \
	{label, key, NULL, RGN_FIG_NO_METRIC, NULL, RGN_FIG_STR,               \
	 RGN_FIG_ALWAYS, NULL, get, NULL}
#define MUTEX(label, key, get)                                                 \
	{label, key, NULL, RGN_FIG_NO_METRIC, NULL, RGN_FIG_MUTEX,             \
	 RGN_FIG_ALWAYS, NULL, NULL, get}
#define G RGN_FIG_GAUGE
#define C RGN_FIG_COUNTER
#define A RGN_FIG_ALWAYS

const struct rgn_fig rgn_env_figs[] = {
	NUM("Magic number", "magic", RGN_FIG_HEX, A, env_magic),
	NUM("Format version", "format", RGN_FIG_UINT, A, env_format),
	STR("Backing", "backing", env_backing),
	NUM("System V fallback (files without mmap)", "fallback", RGN_FIG_YESNO, A, env_fallback),
	NUM(NULL, "flags", RGN_FIG_UINT, A, env_flags),
	NUM("Base System V key", "shm_key", RGN_FIG_KEY, A, env_key),
	NUM("File and segment mode", "mode", RGN_FIG_MODE, A, env_mode),
	NUM("Creation time", "ctime", RGN_FIG_TIME, A, env_ctime),
	MET(NULL, NULL, "env_created_timestamp_seconds", G, "When the environment was created.", RGN_FIG_UINT, A, env_ctime_pos),
	NUM("Last region change time", "mtime", RGN_FIG_TIME, A, env_mtime),
	NUM("Environment ID", "env_id", RGN_FIG_HEX64, A, env_id),
	MET("Panic value", "panic", "env_panic", G, "1 when the environment is marked panicked.", RGN_FIG_UINT, A, env_panic),
	MET("Live attached processes", "live", "env_live_processes", G, "Live processes attached to the environment.", RGN_FIG_UINT, A, env_live),
	MET("Stale registry entries", "stale", "env_stale_processes", G, "Registry entries of processes that died attached.", RGN_FIG_UINT, A, env_stale),
	/* db_stat -e's word for live attached handles, for its scripts. */
	NUM("References", "references", RGN_FIG_UINT, A, env_live),
	MET("Regions", NULL, "env_regions", G, "Regions in the environment, the primary included.", RGN_FIG_UINT, A, env_nregions),
	MET("Generation", "generation", "env_generation_total", C, "Region creates and removes since the environment was made.", RGN_FIG_UINT, A, env_generation),
	NUM("Private environment owner process ID", "private_owner", RGN_FIG_INT, RGN_FIG_TEXT_IF_PRIVATE, env_owner),
	MUTEX("Environment mutex", "mutex", env_mutex),
	MET(NULL, NULL, "env_mutex_requests_total", C, "Environment mutex acquisitions.", RGN_FIG_UINT, A, env_mx_req),
	MET(NULL, NULL, "env_mutex_waits_total", C, "Environment mutex acquisitions that had to wait.", RGN_FIG_UINT, A, env_mx_waits),
	NUM("Primary region size", "primary_size", RGN_FIG_BYTES, A, env_primary),
};

const struct rgn_fig rgn_region_figs[] = {
	NUM("Region ID", "id", RGN_FIG_UINT, A, rs_id),
	STR("Region file name", "file", rs_file),
	STR("Region name", "name", rs_name),
	STR("Region type", "type", rs_type),
	MET("Current region size", "size", "region_size_bytes", G, "Region size.", RGN_FIG_BYTES, A, rs_size),
	MET("Maximum region size", "max", "region_max_bytes", G, "Region maximum size.", RGN_FIG_BYTES, A, rs_max),
	NUM("Segment ID", "shmid", RGN_FIG_INT, A, rs_shmid),
	NUM("Segment key", "key", RGN_FIG_KEY, A, rs_key),
	NUM(NULL, "flags", RGN_FIG_UINT, A, rs_flags),
	NUM("Creation time", "ctime", RGN_FIG_TIME, A, rs_ctime),
	NUM("Last change time", "mtime", RGN_FIG_TIME, A, rs_mtime),
	NUM("Creator process ID", "creator_pid", RGN_FIG_INT, A, rs_creator),
	/* The primary has a mutex too (the environment's), so these need
	 * the figures read, not an allocator. */
	MET(NULL, NULL, "region_mutex_requests_total", C, "Region mutex acquisitions.", RGN_FIG_UINT, RGN_FIG_DETAIL, rs_mx_req),
	MET(NULL, NULL, "region_mutex_waits_total", C, "Region mutex acquisitions that had to wait.", RGN_FIG_UINT, RGN_FIG_DETAIL, rs_mx_waits),
};

#define AL RGN_FIG_ALLOC
const struct rgn_fig rgn_alloc_figs[] = {
	MET("Allocator arena size", "arena_bytes", "region_arena_bytes", G, "Bytes managed by the region's allocator.", RGN_FIG_BYTES, AL, al_arena),
	MET("Allocator bytes used", "used_bytes", "region_used_bytes", G, "Bytes in live blocks, headers included.", RGN_FIG_BYTES, AL, al_used),
	MET("Allocator bytes free", "free_bytes", "region_free_bytes", G, "Bytes in free chunks.", RGN_FIG_BYTES, AL, al_free),
	MET("Largest free chunk", "largest_free", "region_largest_free_bytes", G, "The largest free chunk.", RGN_FIG_BYTES, AL, al_largest),
	MET("Live blocks", "live_blocks", "region_live_blocks", G, "Blocks allocated and not freed.", RGN_FIG_UINT, AL, al_live),
	NUM("Free chunks", "free_chunks", RGN_FIG_UINT, AL, al_chunks),
	MET("Allocations", "nalloc", "region_allocations_total", C, "Successful allocations.", RGN_FIG_UINT, AL, al_nalloc),
	MET("Failed allocations", "nfail", "region_allocation_failures_total", C, "Failed allocations.", RGN_FIG_UINT, AL, al_nfail),
	MET("Frees", "nfree", "region_frees_total", C, "Frees.", RGN_FIG_UINT, AL, al_nfree),
};
/* clang-format on */

const size_t rgn_env_nfigs = RGN_ARRAY_LEN(rgn_env_figs);
const size_t rgn_region_nfigs = RGN_ARRAY_LEN(rgn_region_figs);
const size_t rgn_alloc_nfigs = RGN_ARRAY_LEN(rgn_alloc_figs);

int rgn_fig_region_has(const struct rgn_fig *fig,
		       const struct rgn_region_stat *rs)
{
	switch (fig->need) {
	case RGN_FIG_DETAIL:
		return rs->detail == 0;
	case RGN_FIG_ALLOC:
		return rs->detail == 0 && rs->id != 1;
	case RGN_FIG_ALWAYS:
	case RGN_FIG_TEXT_IF_PRIVATE:
		break;
	}
	return 1;
}
