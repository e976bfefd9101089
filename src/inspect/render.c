/*
 * render.c - text, JSON and Prometheus views of environment snapshots and
 * leak scans, shared by regionctl and the regionfs mount.
 *
 * Text renderers write through open_memstream, so a section is a handful of
 * fprintf calls and the caller gets one malloc'd buffer; a write error on a
 * memory stream can only be ENOMEM, checked once at the close.  JSON goes
 * through json-c, which does the escaping.  Renderers read only the
 * snapshot they are given (and the user database for the leak table), so
 * the same snapshot renders to the same bytes in the tool and the mount.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "internal.h"
#include "proc.h"
#include "render.h"

_Static_assert(sizeof(RGN_RENDER_SEP) - 1 == RGN_RENDER_SEP_LEN,
	       "the separator is 49 characters");

/* ---- output plumbing ---------------------------------------------------- */

struct sink {
	FILE *f;			/* the memory stream */
	char *buf;			/* its buffer */
	size_t len;			/* its length */
};

static int sink_open(struct sink *s, char **out, size_t *len)
{
	if (!out || !len)
		return -EINVAL;
	*out = NULL;
	*len = 0;
	s->buf = NULL;
	s->len = 0;
	s->f = open_memstream(&s->buf, &s->len);
	return s->f ? 0 : -ENOMEM;
}

/* Close the stream and hand its buffer over (RC == 0) or drop it. */
static int sink_close(struct sink *s, int rc, char **out, size_t *len)
{
	if (ferror(s->f) && rc == 0)
		rc = -ENOMEM;
	if (fclose(s->f) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(s->buf);
		return rc;
	}
	*out = s->buf;
	*len = s->len;
	return 0;
}

/* Serialise a json-c object (consumed) followed by a newline. */
static int json_out(struct json_object *o, char **out, size_t *len)
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

/* json-c helpers: adding to a NULL object is a no-op, and json_out turns
 * a NULL top-level object into -ENOMEM. */
static void jset(struct json_object *o, const char *k, struct json_object *v)
{
	if (o)
		json_object_object_add(o, k, v);
}

static struct json_object *jstr(const char *s)
{
	return json_object_new_string(s ? s : "");
}

static struct json_object *jtri(int v)
{
	return v < 0 ? NULL : json_object_new_boolean(v > 0);
}

/* ---- small formatters --------------------------------------------------- */

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
	for (size_t i = 0; i < RGN_ARRAY_LEN(piece); i++) {
		uint64_t n = bytes >> piece[i].shift;
		int w;

		if (piece[i].shift < 30)
			n &= 1023;
		if (!n)
			continue;
		w = snprintf(buf + used, buflen - used, "%s%" PRIu64 "%s",
			     used ? " " : "", n, piece[i].unit);
		if (w < 0 || (size_t)w >= buflen - used)
			break;
		used += (size_t)w;
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

	if (!buf || buflen == 0)
		return buf;
	if (t == 0 || !localtime_r(&tt, &tm) ||
	    strftime(buf, buflen, "%a %b %e %H:%M:%S %Y", &tm) == 0)
		snprintf(buf, buflen, "%s", t == 0 ? "never" : "?");
	return buf;
}

static const char *backing_name(enum rgn_backing b)
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

static const char *type_name(uint32_t t)
{
	const char *n = rgn_type_name((enum rgn_region_type)t);

	return n ? n : "unknown";
}

static int is_private_outside(const struct rgn_env_stat *st)
{
	return st->backing == RGN_BACKING_PRIVATE && !st->regions;
}

static int region_in(const struct rgn_env_stat *st,
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

/* ---- environment text --------------------------------------------------- */

static void text_bytes(FILE *f, uint64_t v, const char *label)
{
	char b[48];

	fprintf(f, "%s\t%s\n", rgn_render_bytes(v, b, sizeof(b)), label);
}

static void text_time(FILE *f, int64_t t, const char *label)
{
	char b[48];

	fprintf(f, "%s\t%s\n", rgn_render_time(t, b, sizeof(b)), label);
}

/* "HOLDER\tLABEL [WAITS/REQUESTS PCT% Own|!Own]", then the recoveries. */
static void text_mutex(FILE *f, const struct rgn_mutex_stat *m,
		       const char *label)
{
	unsigned pct = m->requests ? (unsigned)(m->waits * 100 / m->requests)
				   : 0;

	fprintf(f, "%d\t%s [%" PRIu64 "/%" PRIu64 " %u%% %s]\n", m->holder,
		label, m->waits, m->requests, pct, m->holder ? "Own" : "!Own");
	fprintf(f, "%" PRIu64 "\t%s recoveries (holder died)\n", m->owner_died,
		label);
}

static void text_key(FILE *f, int32_t key, const char *label)
{
	if (key == 0)
		fprintf(f, "0\t%s\n", label);
	else
		fprintf(f, "0x%08x\t%s\n", (unsigned)key, label);
}

static void text_region(FILE *f, const struct rgn_region_stat *rs)
{
	const struct rgn_alloc_stat *a = &rs->alloc;

	fprintf(f, "%u\tRegion ID\n", rs->id);
	fprintf(f, "%s\tRegion file name\n", rs->file);
	fprintf(f, "%s\tRegion name\n", rs->name);
	fprintf(f, "%s\tRegion type\n", type_name(rs->type));
	text_bytes(f, rs->size, "Current region size");
	text_bytes(f, rs->max, "Maximum region size");
	fprintf(f, "%d\tSegment ID\n", rs->shmid);
	text_key(f, rs->key, "Segment key");
	text_time(f, rs->ctime, "Creation time");
	text_time(f, rs->mtime, "Last change time");
	fprintf(f, "%d\tCreator process ID\n", rs->creator_pid);
	if (rs->detail != 0) {
		fprintf(f, "unavailable\tAllocator and mutex figures (%s)\n",
			rgn_strerror(rs->detail));
		return;
	}
	if (rs->id == 1) {
		/* The primary holds the table, not an allocator. */
		text_mutex(f, &rs->mutex, "Environment mutex");
		return;
	}
	text_bytes(f, a->arena_bytes, "Allocator arena size");
	text_bytes(f, a->used_bytes, "Allocator bytes used");
	text_bytes(f, a->free_bytes, "Allocator bytes free");
	text_bytes(f, a->largest_free, "Largest free chunk");
	fprintf(f, "%" PRIu64 "\tLive blocks\n", a->live_blocks);
	fprintf(f, "%" PRIu64 "\tFree chunks\n", a->free_chunks);
	fprintf(f, "%" PRIu64 "\tAllocations\n", a->nalloc);
	fprintf(f, "%" PRIu64 "\tFailed allocations\n", a->nfail);
	fprintf(f, "%" PRIu64 "\tFrees\n", a->nfree);
	for (unsigned i = 0; i < RGN_HIST_BUCKETS; i++) {
		char lo[48], hi[48];

		if (!a->hist[i])
			continue;
		fprintf(f, "%" PRIu64 "\tLive blocks of size [%s, %s)\n",
			a->hist[i], rgn_render_bytes(1ull << i, lo, sizeof(lo)),
			i + 1 < 64 ? rgn_render_bytes(1ull << (i + 1), hi,
						      sizeof(hi))
				   : "...");
	}
	text_mutex(f, &rs->mutex, "Region mutex");
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
			rgn_render_time(rgn_ticks_to_epoch(p->start), s, sizeof(s)),
			rgn_render_time(p->attach_time, a, sizeof(a)));
	}
}

int rgn_render_env_text(const struct rgn_env_stat *st, time_t now,
			char **out, size_t *len)
{
	struct sink s;
	FILE *f;
	int rc;

	if (!st)
		return out && len ? (*out = NULL, *len = 0, -EINVAL) : -EINVAL;
	rc = sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	f = s.f;
	text_time(f, (int64_t)now, "Local time");
	fprintf(f, "%s\tHome\n", st->home);
	if (is_private_outside(st)) {
		fprintf(f, "private\tBacking\n");
		fprintf(f, "%s\n", RGN_RENDER_SEP);
		fprintf(f, "%d\tPrivate environment owner process ID\n",
			st->private_owner);
		fprintf(f, "private\tRegions live in that process's heap and "
			   "cannot be read from outside\n");
		return sink_close(&s, 0, out, len);
	}
	fprintf(f, "0x%x\tMagic number\n", st->magic);
	fprintf(f, "%u\tFormat version\n", st->format);
	fprintf(f, "%s\tBacking\n", backing_name(st->backing));
	fprintf(f, "%s\tSystem V fallback (files without mmap)\n",
		st->flags & RGN_RF_FALLBACK ? "yes" : "no");
	text_key(f, st->shm_key, "Base System V key");
	fprintf(f, "0%03o\tFile and segment mode\n", st->mode & 07777);
	text_time(f, st->ctime, "Creation time");
	text_time(f, st->mtime, "Last region change time");
	fprintf(f, "0x%016" PRIx64 "\tEnvironment ID\n", st->env_id);
	fprintf(f, "%u\tPanic value\n", st->panic);
	fprintf(f, "%u\tLive attached processes\n", st->live);
	fprintf(f, "%u\tStale registry entries\n", st->stale);
	fprintf(f, "%zu\tRegions\n", st->nregions);
	fprintf(f, "%" PRIu64 "\tGeneration\n", st->generation);
	if (st->backing == RGN_BACKING_PRIVATE)
		fprintf(f, "%d\tPrivate environment owner process ID\n",
			st->private_owner);
	text_mutex(f, &st->mutex, "Environment mutex");
	text_bytes(f, st->primary_size, "Primary region size");
	for (size_t i = 0; i < st->nregions; i++) {
		fprintf(f, "%s\n", RGN_RENDER_SEP);
		text_region(f, &st->regions[i]);
	}
	fprintf(f, "%s\n", RGN_RENDER_SEP);
	text_procs(f, st);
	return sink_close(&s, 0, out, len);
}

int rgn_render_region_text(const struct rgn_env_stat *st,
			   const struct rgn_region_stat *rs, char **out,
			   size_t *len)
{
	struct sink s;
	int rc;

	if (out && len) {
		*out = NULL;
		*len = 0;
	}
	if (!region_in(st, rs))
		return -EINVAL;
	rc = sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	text_region(s.f, rs);
	return sink_close(&s, 0, out, len);
}

int rgn_render_procs_text(const struct rgn_env_stat *st, char **out,
			  size_t *len)
{
	struct sink s;
	int rc;

	if (!st)
		return out && len ? (*out = NULL, *len = 0, -EINVAL) : -EINVAL;
	rc = sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	text_procs(s.f, st);
	return sink_close(&s, 0, out, len);
}

/* ---- environment JSON --------------------------------------------------- */

static struct json_object *json_mutex(const struct rgn_mutex_stat *m)
{
	struct json_object *o = json_object_new_object();

	jset(o, "requests", json_object_new_uint64(m->requests));
	jset(o, "waits", json_object_new_uint64(m->waits));
	jset(o, "owner_died", json_object_new_uint64(m->owner_died));
	jset(o, "holder", json_object_new_int(m->holder));
	return o;
}

static struct json_object *json_region(const struct rgn_region_stat *rs)
{
	const struct rgn_alloc_stat *a = &rs->alloc;
	struct json_object *o = json_object_new_object();
	struct json_object *al, *hist;

	jset(o, "id", json_object_new_int64(rs->id));
	jset(o, "file", jstr(rs->file));
	jset(o, "name", jstr(rs->name));
	jset(o, "type", jstr(type_name(rs->type)));
	jset(o, "size", json_object_new_uint64(rs->size));
	jset(o, "max", json_object_new_uint64(rs->max));
	jset(o, "shmid", json_object_new_int(rs->shmid));
	jset(o, "key", json_object_new_int(rs->key));
	jset(o, "flags", json_object_new_int64(rs->flags));
	jset(o, "ctime", json_object_new_int64(rs->ctime));
	jset(o, "mtime", json_object_new_int64(rs->mtime));
	jset(o, "creator_pid", json_object_new_int(rs->creator_pid));
	jset(o, "error", rs->detail ? jstr(rgn_strerror(rs->detail)) : NULL);
	if (rs->detail || rs->id == 1) {
		jset(o, "alloc", NULL);
		jset(o, "mutex", rs->detail ? NULL : json_mutex(&rs->mutex));
		return o;
	}
	al = json_object_new_object();
	jset(al, "arena_bytes", json_object_new_uint64(a->arena_bytes));
	jset(al, "used_bytes", json_object_new_uint64(a->used_bytes));
	jset(al, "free_bytes", json_object_new_uint64(a->free_bytes));
	jset(al, "largest_free", json_object_new_uint64(a->largest_free));
	jset(al, "live_blocks", json_object_new_uint64(a->live_blocks));
	jset(al, "free_chunks", json_object_new_uint64(a->free_chunks));
	jset(al, "nalloc", json_object_new_uint64(a->nalloc));
	jset(al, "nfail", json_object_new_uint64(a->nfail));
	jset(al, "nfree", json_object_new_uint64(a->nfree));
	hist = json_object_new_array();
	for (unsigned i = 0; hist && i < RGN_HIST_BUCKETS; i++) {
		struct json_object *b;

		if (!a->hist[i])
			continue;
		b = json_object_new_object();
		jset(b, "min", json_object_new_uint64(1ull << i));
		jset(b, "max", json_object_new_uint64((1ull << (i + 1)) - 1));
		jset(b, "count", json_object_new_uint64(a->hist[i]));
		json_object_array_add(hist, b);
	}
	jset(al, "histogram", hist);
	jset(o, "alloc", al);
	jset(o, "mutex", json_mutex(&rs->mutex));
	return o;
}

static struct json_object *json_procs(const struct rgn_env_stat *st)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; arr && i < st->nprocs; i++) {
		const struct rgn_proc_stat *p = &st->procs[i];
		struct json_object *o = json_object_new_object();

		jset(o, "pid", json_object_new_int(p->pid));
		jset(o, "start_ticks", json_object_new_uint64(p->start));
		jset(o, "start_time",
		     json_object_new_int64(rgn_ticks_to_epoch(p->start)));
		jset(o, "attach_time", json_object_new_int64(p->attach_time));
		jset(o, "live", json_object_new_boolean(p->live != 0));
		json_object_array_add(arr, o);
	}
	return arr;
}

int rgn_render_env_json(const struct rgn_env_stat *st, time_t now,
			char **out, size_t *len)
{
	struct json_object *o, *regions;
	char hex[24];

	if (out && len) {
		*out = NULL;
		*len = 0;
	}
	if (!st || !out || !len)
		return -EINVAL;
	o = json_object_new_object();
	jset(o, "local_time", json_object_new_int64((int64_t)now));
	jset(o, "home", jstr(st->home));
	jset(o, "backing", jstr(backing_name(st->backing)));
	if (is_private_outside(st)) {
		jset(o, "private", json_object_new_boolean(1));
		jset(o, "private_owner", json_object_new_int(st->private_owner));
		jset(o, "regions", json_object_new_array());
		jset(o, "processes", json_object_new_array());
		return json_out(o, out, len);
	}
	jset(o, "private",
	     json_object_new_boolean(st->backing == RGN_BACKING_PRIVATE));
	jset(o, "magic", json_object_new_int64(st->magic));
	jset(o, "format", json_object_new_int64(st->format));
	jset(o, "flags", json_object_new_int64(st->flags));
	jset(o, "fallback",
	     json_object_new_boolean((st->flags & RGN_RF_FALLBACK) != 0));
	jset(o, "shm_key", json_object_new_int(st->shm_key));
	jset(o, "mode", json_object_new_int64(st->mode));
	jset(o, "env_id", json_object_new_uint64(st->env_id));
	snprintf(hex, sizeof(hex), "0x%016" PRIx64, st->env_id);
	jset(o, "env_id_hex", jstr(hex));
	jset(o, "ctime", json_object_new_int64(st->ctime));
	jset(o, "mtime", json_object_new_int64(st->mtime));
	jset(o, "panic", json_object_new_int64(st->panic));
	jset(o, "generation", json_object_new_uint64(st->generation));
	jset(o, "primary_size", json_object_new_uint64(st->primary_size));
	jset(o, "private_owner", json_object_new_int(st->private_owner));
	jset(o, "live", json_object_new_int64(st->live));
	jset(o, "stale", json_object_new_int64(st->stale));
	jset(o, "mutex", json_mutex(&st->mutex));
	regions = json_object_new_array();
	for (size_t i = 0; regions && i < st->nregions; i++)
		json_object_array_add(regions, json_region(&st->regions[i]));
	jset(o, "regions", regions);
	jset(o, "processes", json_procs(st));
	return json_out(o, out, len);
}

int rgn_render_region_json(const struct rgn_env_stat *st,
			   const struct rgn_region_stat *rs, char **out,
			   size_t *len)
{
	if (out && len) {
		*out = NULL;
		*len = 0;
	}
	if (!region_in(st, rs) || !out || !len)
		return -EINVAL;
	return json_out(json_region(rs), out, len);
}

int rgn_render_procs_json(const struct rgn_env_stat *st, char **out,
			  size_t *len)
{
	if (out && len) {
		*out = NULL;
		*len = 0;
	}
	if (!st || !out || !len)
		return -EINVAL;
	return json_out(json_procs(st), out, len);
}

/* ---- leaks -------------------------------------------------------------- */

static const char *tri_word(int v, const char *yes, const char *no)
{
	return v == RGN_LEAK_YES ? yes : v == RGN_LEAK_NO ? no : "unknown";
}

static void fmt_age(int64_t s, char *buf, size_t len)
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

static void text_leak(FILE *f, const struct rgn_leak *g)
{
	char sz[48], a[48], d[48], c[48], idle[32];

	fprintf(f, "shmid %d key 0x%08x size %s class %s\n", g->shmid,
		(unsigned)g->key, rgn_render_bytes(g->size, sz, sizeof(sz)),
		rgn_leak_class_name(g->cls));
	fprintf(f, "  owner uid %u gid %u, creator uid %u gid %u, perms %03o%s,"
		   " nattch %" PRIu64 "\n",
		g->uid, g->gid, g->cuid, g->cgid, g->mode & 0777,
		g->mode & SHM_DEST ? " (dest)" : "", g->nattch);
	fprintf(f, "  creator pid %d (%s), last pid %d\n", g->cpid,
		tri_word(g->cpid_alive, "alive", "dead"), g->lpid);
	fmt_age(g->idle, idle, sizeof(idle));
	fprintf(f, "  attached %s, detached %s, changed %s, idle %s\n",
		rgn_render_time(g->atime, a, sizeof(a)),
		rgn_render_time(g->dtime, d, sizeof(d)),
		rgn_render_time(g->ctime, c, sizeof(c)), idle);
	if (g->ours == RGN_LEAK_YES) {
		fprintf(f, "  environment 0x%016" PRIx64 ", region %u \"%s\" "
			   "(%s), created by pid %d\n",
			g->env_id, g->region_id, g->region_name,
			type_name(g->region_type), g->creator_pid);
		fprintf(f, "  home %s (%s), %u live, %u stale processes\n",
			g->home,
			tri_word(g->home_matches, "holds this environment",
				 "does not hold this environment"),
			g->env_live, g->env_stale);
	}
	fprintf(f, "  evidence: %s\n", g->evidence);
}

int rgn_render_leak_text(const struct rgn_leak *seg, char **out, size_t *len)
{
	struct sink s;
	int rc;

	if (!seg)
		return out && len ? (*out = NULL, *len = 0, -EINVAL) : -EINVAL;
	rc = sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	text_leak(s.f, seg);
	return sink_close(&s, 0, out, len);
}

static struct json_object *json_limit(uint64_t v)
{
	return v == RGN_LEAK_LIMIT_UNKNOWN ? NULL : json_object_new_uint64(v);
}

static struct json_object *json_leak(const struct rgn_leak *g)
{
	struct json_object *o = json_object_new_object();
	char hex[24];

	jset(o, "shmid", json_object_new_int(g->shmid));
	jset(o, "key", json_object_new_int(g->key));
	snprintf(hex, sizeof(hex), "0x%08x", (unsigned)g->key);
	jset(o, "key_hex", jstr(hex));
	jset(o, "size", json_object_new_uint64(g->size));
	jset(o, "uid", json_object_new_int64(g->uid));
	jset(o, "gid", json_object_new_int64(g->gid));
	jset(o, "cuid", json_object_new_int64(g->cuid));
	jset(o, "cgid", json_object_new_int64(g->cgid));
	jset(o, "mode", json_object_new_int64(g->mode & 0777));
	jset(o, "dest", json_object_new_boolean((g->mode & SHM_DEST) != 0));
	jset(o, "nattch", json_object_new_uint64(g->nattch));
	jset(o, "cpid", json_object_new_int(g->cpid));
	jset(o, "cpid_alive", jtri(g->cpid_alive));
	jset(o, "lpid", json_object_new_int(g->lpid));
	jset(o, "atime", json_object_new_int64(g->atime));
	jset(o, "dtime", json_object_new_int64(g->dtime));
	jset(o, "ctime", json_object_new_int64(g->ctime));
	jset(o, "idle", json_object_new_int64(g->idle));
	jset(o, "rss", json_limit(g->rss));
	jset(o, "swap", json_limit(g->swap));
	jset(o, "class", jstr(rgn_leak_class_name(g->cls)));
	jset(o, "evidence", jstr(g->evidence));
	jset(o, "ours", jtri(g->ours));
	if (g->ours != RGN_LEAK_YES)
		return o;
	jset(o, "env_id", json_object_new_uint64(g->env_id));
	snprintf(hex, sizeof(hex), "0x%016" PRIx64, g->env_id);
	jset(o, "env_id_hex", jstr(hex));
	jset(o, "region_id", json_object_new_int64(g->region_id));
	jset(o, "region_type", jstr(type_name(g->region_type)));
	jset(o, "region_name", jstr(g->region_name));
	jset(o, "creator_pid", json_object_new_int(g->creator_pid));
	jset(o, "home", jstr(g->home));
	jset(o, "home_matches", jtri(g->home_matches));
	jset(o, "env_live", json_object_new_int64(g->env_live));
	jset(o, "env_stale", json_object_new_int64(g->env_stale));
	return o;
}

int rgn_render_leak_json(const struct rgn_leak *seg, char **out, size_t *len)
{
	if (out && len) {
		*out = NULL;
		*len = 0;
	}
	if (!seg || !out || !len)
		return -EINVAL;
	return json_out(json_leak(seg), out, len);
}

static const char *source_name(enum rgn_leak_source s)
{
	switch (s) {
	case RGN_LEAK_SRC_STAT_ANY:
		return "shm_stat_any";
	case RGN_LEAK_SRC_STAT:
		return "shm_stat";
	case RGN_LEAK_SRC_PROC:
		return "procfs";
	}
	return "unknown";
}

int rgn_render_leaks_json(const struct rgn_leak_scan *scan, char **out,
			  size_t *len)
{
	struct json_object *o, *counts, *bytes, *segs;

	if (out && len) {
		*out = NULL;
		*len = 0;
	}
	if (!scan || !out || !len)
		return -EINVAL;
	o = json_object_new_object();
	jset(o, "time", json_object_new_int64(scan->time));
	jset(o, "source", jstr(source_name(scan->source)));
	jset(o, "shmmni", json_limit(scan->shmmni));
	jset(o, "shmall", json_limit(scan->shmall));
	jset(o, "shmmax", json_limit(scan->shmmax));
	jset(o, "shm_rmid_forced", scan->shm_rmid_forced < 0
					   ? NULL
					   : json_object_new_int(
						     scan->shm_rmid_forced));
	jset(o, "page_size", json_object_new_int64(scan->page_size));
	jset(o, "total_bytes", json_object_new_uint64(scan->total_bytes));
	jset(o, "leaked_bytes", json_object_new_uint64(scan->leaked_bytes));
	counts = json_object_new_object();
	bytes = json_object_new_object();
	for (int c = 0; c < RGN_LEAK_NCLASSES; c++) {
		const char *n = rgn_leak_class_name((enum rgn_leak_class)c);

		jset(counts, n, json_object_new_uint64(scan->count[c]));
		jset(bytes, n, json_object_new_uint64(scan->bytes[c]));
	}
	jset(o, "counts", counts);
	jset(o, "bytes", bytes);
	segs = json_object_new_array_ext((int)scan->nsegs);
	for (size_t i = 0; segs && i < scan->nsegs; i++)
		json_object_array_add(segs, json_leak(&scan->segs[i]));
	jset(o, "segments", segs);
	return json_out(o, out, len);
}

/* User names for the table; one scan names few users, so a short
 * most-recent list is enough. */
struct names {
	uint32_t uid[8];		/* cached uids */
	char name[8][33];		/* their names, or the number */
	unsigned n;			/* entries used */
	unsigned next;			/* next to replace when full */
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

enum { COL_SHMID, COL_KEY, COL_OWNER, COL_PERMS, COL_SIZE, COL_NATTCH,
       COL_CPID, COL_LPID, COL_ATIME, COL_DTIME, COL_IDLE, COL_CLASS,
       COL_REGION, COL_WHERE, NCOLS };

static const char *const col_head[NCOLS] = {
	"SHMID", "KEY", "OWNER", "PERMS", "SIZE", "NATTCH",
	"CPID", "LPID", "ATTACHED", "DETACHED", "IDLE", "CLASS",
	"REGION", "WHERE",
};
/* Numbers align right, words left. */
static const int col_right[NCOLS] = {
	[COL_SHMID] = 1, [COL_SIZE] = 1, [COL_NATTCH] = 1,
	[COL_CPID] = 1, [COL_LPID] = 1, [COL_IDLE] = 1,
};

struct row {
	char cell[NCOLS - 1][40];	/* every column but WHERE */
	const char *where;		/* the home, or "-" */
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

/* A last attach or detach time in ipcs's spirit but short: the time of
 * day within a day of the scan, else the date; "-" for never. */
static void fmt_when(int64_t t, int64_t now, char *buf, size_t len)
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

static void fill_row(struct row *r, const struct rgn_leak *g,
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
	fmt_when(g->atime, now, r->cell[COL_ATIME], 40);
	fmt_when(g->dtime, now, r->cell[COL_DTIME], 40);
	fmt_age(g->idle, r->cell[COL_IDLE], 40);
	snprintf(r->cell[COL_CLASS], 40, "%s", rgn_leak_class_name(g->cls));
	if (g->ours == RGN_LEAK_YES)
		snprintf(r->cell[COL_REGION], 40, "%u:%.30s", g->region_id,
			 g->region_name);
	else
		snprintf(r->cell[COL_REGION], 40, "-");
	r->where = g->ours == RGN_LEAK_YES ? g->home : "-";
}

/* One line, padded by hand into LINE (room for every column at its
 * width) and written at once. */
static void print_row(FILE *f, const char *const cells[NCOLS],
		      const int width[NCOLS], char *line)
{
	size_t at = 0;

	for (int c = 0; c < NCOLS - 1; c++) {
		size_t len = strlen(cells[c]);
		size_t pad = (size_t)width[c] > len ? (size_t)width[c] - len : 0;

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
	struct sink s;
	int rc;

	if (!scan)
		return out && len ? (*out = NULL, *len = 0, -EINVAL) : -EINVAL;
	rc = sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	rows = calloc(scan->nsegs + 1, sizeof(*rows));
	if (!rows)
		return sink_close(&s, -ENOMEM, out, len);
	for (int c = 0; c < NCOLS; c++)
		width[c] = (int)strlen(col_head[c]);
	for (size_t i = 0; i < scan->nsegs; i++) {
		fill_row(&rows[i], &scan->segs[i], &names, scan->time);
		for (int c = 0; c < NCOLS - 1; c++) {
			int w = (int)strlen(rows[i].cell[c]);

			if (w > width[c])
				width[c] = w;
		}
	}
	print_row(s.f, col_head, width, line);
	for (size_t i = 0; i < scan->nsegs; i++) {
		const char *cells[NCOLS];

		for (int c = 0; c < NCOLS - 1; c++)
			cells[c] = rows[i].cell[c];
		cells[NCOLS - 1] = rows[i].where;
		print_row(s.f, cells, width, line);
	}
	free(rows);
	return sink_close(&s, 0, out, len);
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
	char b[48], label[96];
	struct sink s;
	FILE *f;
	int rc;

	if (!scan)
		return out && len ? (*out = NULL, *len = 0, -EINVAL) : -EINVAL;
	rc = sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	f = s.f;
	fprintf(f, "%zu\tSegments\n", scan->nsegs);
	text_bytes(f, scan->total_bytes, "Bytes in all segments");
	/* In the order people act on them: leaks first. */
	static const enum rgn_leak_class order[] = {
		RGN_LEAK_ORPHANED, RGN_LEAK_FOREIGN_IDLE, RGN_LEAK_LIVE,
		RGN_LEAK_IDLE, RGN_LEAK_FOREIGN_IN_USE, RGN_LEAK_REMOVING,
		RGN_LEAK_UNKNOWN,
	};
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
	text_limit(f, scan->shmmni, "shmmni: most segments");
	if (scan->shmall != RGN_LEAK_LIMIT_UNKNOWN) {
		snprintf(label, sizeof(label),
			 "shmall: most pages in all segments (page %uB)",
			 scan->page_size);
		text_limit(f, scan->shmall, label);
	} else {
		text_limit(f, scan->shmall, "shmall: most pages in all segments");
	}
	text_limit(f, scan->shmmax, "shmmax: most bytes in one segment");
	if (scan->shm_rmid_forced < 0)
		fprintf(f, "unknown\tshm_rmid_forced\n");
	else
		fprintf(f, "%d\tshm_rmid_forced (1: segments die with their "
			   "last process)\n",
			scan->shm_rmid_forced);
	return sink_close(&s, 0, out, len);
}

/* ---- Prometheus --------------------------------------------------------- */

/* A label value with \, " and newline escaped, as the format requires. */
static void prom_esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void prom_family(FILE *f, const char *name, const char *type,
			const char *help)
{
	fprintf(f, "# HELP regionfs_%s %s\n# TYPE regionfs_%s %s\n", name, help,
		name, type);
}

static void prom_env_labels(FILE *f, const struct rgn_env_stat *st)
{
	fputs("home=\"", f);
	prom_esc(f, st->home);
	fputc('"', f);
}

static void prom_region_labels(FILE *f, const struct rgn_env_stat *st,
			       const struct rgn_region_stat *rs)
{
	prom_env_labels(f, st);
	fputs(",region=\"", f);
	prom_esc(f, rs->name);
	fprintf(f, "\",id=\"%u\",type=\"%s\"", rs->id, type_name(rs->type));
}

/* One environment figure: how to read it from a snapshot. */
struct prom_env_fig {
	const char *name;		/* after regionfs_ */
	const char *type;		/* gauge or counter */
	const char *help;		/* one line */
	uint64_t (*get)(const struct rgn_env_stat *st);
};

static uint64_t env_live(const struct rgn_env_stat *st) { return st->live; }
static uint64_t env_stale(const struct rgn_env_stat *st) { return st->stale; }
static uint64_t env_nregions(const struct rgn_env_stat *st)
{
	return st->nregions;
}
static uint64_t env_generation(const struct rgn_env_stat *st)
{
	return st->generation;
}
static uint64_t env_panic(const struct rgn_env_stat *st) { return st->panic; }
static uint64_t env_ctime(const struct rgn_env_stat *st)
{
	return st->ctime > 0 ? (uint64_t)st->ctime : 0;
}
static uint64_t env_mx_req(const struct rgn_env_stat *st)
{
	return st->mutex.requests;
}
static uint64_t env_mx_waits(const struct rgn_env_stat *st)
{
	return st->mutex.waits;
}

static const struct prom_env_fig env_figs[] = {
	{"env_live_processes", "gauge", "Live processes attached to the environment.", env_live},
	{"env_stale_processes", "gauge", "Registry entries of processes that died attached.", env_stale},
	{"env_regions", "gauge", "Regions in the environment, the primary included.", env_nregions},
	{"env_generation", "counter", "Region creates and removes since the environment was made.", env_generation},
	{"env_panic", "gauge", "1 when the environment is marked panicked.", env_panic},
	{"env_created_timestamp_seconds", "gauge", "When the environment was created.", env_ctime},
	{"env_mutex_requests_total", "counter", "Environment mutex acquisitions.", env_mx_req},
	{"env_mutex_waits_total", "counter", "Environment mutex acquisitions that had to wait.", env_mx_waits},
};

struct prom_region_fig {
	const char *name;		/* after regionfs_ */
	const char *type;		/* gauge or counter */
	const char *help;		/* one line */
	int needs_detail;		/* allocator/mutex figure */
	size_t off;			/* of a uint64_t in the region stat */
};

#define RS_OFF(field) offsetof(struct rgn_region_stat, field)

static const struct prom_region_fig region_figs[] = {
	{"region_size_bytes", "gauge", "Region size.", 0, RS_OFF(size)},
	{"region_max_bytes", "gauge", "Region maximum size.", 0, RS_OFF(max)},
	{"region_arena_bytes", "gauge", "Bytes managed by the region's allocator.", 1, RS_OFF(alloc.arena_bytes)},
	{"region_used_bytes", "gauge", "Bytes in live blocks, headers included.", 1, RS_OFF(alloc.used_bytes)},
	{"region_free_bytes", "gauge", "Bytes in free chunks.", 1, RS_OFF(alloc.free_bytes)},
	{"region_largest_free_bytes", "gauge", "The largest free chunk.", 1, RS_OFF(alloc.largest_free)},
	{"region_live_blocks", "gauge", "Blocks allocated and not freed.", 1, RS_OFF(alloc.live_blocks)},
	{"region_allocations_total", "counter", "Successful allocations.", 1, RS_OFF(alloc.nalloc)},
	{"region_allocation_failures_total", "counter", "Failed allocations.", 1, RS_OFF(alloc.nfail)},
	{"region_frees_total", "counter", "Frees.", 1, RS_OFF(alloc.nfree)},
	{"region_mutex_requests_total", "counter", "Region mutex acquisitions.", 1, RS_OFF(mutex.requests)},
	{"region_mutex_waits_total", "counter", "Region mutex acquisitions that had to wait.", 1, RS_OFF(mutex.waits)},
};

static int region_has(const struct rgn_region_stat *rs,
		      const struct prom_region_fig *fig)
{
	if (!fig->needs_detail)
		return 1;
	if (rs->detail)
		return 0;
	/* The primary has a mutex but no allocator. */
	return rs->id != 1 || strncmp(fig->name, "region_mutex", 12) == 0;
}

static void prom_envs(FILE *f, const struct rgn_env_stat *const *envs,
		      size_t nenvs)
{
	size_t n = 0;

	for (size_t i = 0; i < nenvs; i++)
		n += envs[i] != NULL;
	if (n == 0)
		return;
	prom_family(f, "env_info", "gauge",
		    "Environment identity; the value is always 1.");
	for (size_t i = 0; i < nenvs; i++) {
		if (!envs[i])
			continue;
		fputs("regionfs_env_info{", f);
		prom_env_labels(f, envs[i]);
		fprintf(f, ",backing=\"%s\",env_id=\"0x%016" PRIx64 "\"} 1\n",
			backing_name(envs[i]->backing), envs[i]->env_id);
	}
	for (size_t k = 0; k < RGN_ARRAY_LEN(env_figs); k++) {
		prom_family(f, env_figs[k].name, env_figs[k].type,
			    env_figs[k].help);
		for (size_t i = 0; i < nenvs; i++) {
			if (!envs[i])
				continue;
			fprintf(f, "regionfs_%s{", env_figs[k].name);
			prom_env_labels(f, envs[i]);
			fprintf(f, "} %" PRIu64 "\n", env_figs[k].get(envs[i]));
		}
	}
	for (size_t k = 0; k < RGN_ARRAY_LEN(region_figs); k++) {
		const struct prom_region_fig *fig = &region_figs[k];
		int head = 0;

		for (size_t i = 0; i < nenvs; i++) {
			const struct rgn_env_stat *st = envs[i];

			if (!st || !st->regions)
				continue;
			for (size_t r = 0; r < st->nregions; r++) {
				const struct rgn_region_stat *rs =
					&st->regions[r];
				uint64_t v;

				if (!region_has(rs, fig))
					continue;
				if (!head++)
					prom_family(f, fig->name, fig->type,
						    fig->help);
				memcpy(&v, (const char *)rs + fig->off,
				       sizeof(v));
				fprintf(f, "regionfs_%s{", fig->name);
				prom_region_labels(f, st, rs);
				fprintf(f, "} %" PRIu64 "\n", v);
			}
		}
	}
}

static void prom_scan(FILE *f, const struct rgn_leak_scan *scan)
{
	prom_family(f, "shm_segments", "gauge",
		    "System V segments by leak class.");
	for (int c = 0; c < RGN_LEAK_NCLASSES; c++)
		fprintf(f, "regionfs_shm_segments{class=\"%s\"} %" PRIu64 "\n",
			rgn_leak_class_name((enum rgn_leak_class)c),
			scan->count[c]);
	prom_family(f, "shm_segment_bytes", "gauge",
		    "Bytes in System V segments by leak class.");
	for (int c = 0; c < RGN_LEAK_NCLASSES; c++)
		fprintf(f,
			"regionfs_shm_segment_bytes{class=\"%s\"} %" PRIu64 "\n",
			rgn_leak_class_name((enum rgn_leak_class)c),
			scan->bytes[c]);
	prom_family(f, "shm_leaked_bytes", "gauge",
		    "Bytes held by orphaned segments and idle foreign ones "
		    "whose creator is dead.");
	fprintf(f, "regionfs_shm_leaked_bytes %" PRIu64 "\n",
		scan->leaked_bytes);
	prom_family(f, "shm_total_bytes", "gauge",
		    "Bytes in all System V segments.");
	fprintf(f, "regionfs_shm_total_bytes %" PRIu64 "\n", scan->total_bytes);
	if (scan->shmmni != RGN_LEAK_LIMIT_UNKNOWN) {
		prom_family(f, "shm_shmmni", "gauge",
			    "kernel.shmmni: most System V segments.");
		fprintf(f, "regionfs_shm_shmmni %" PRIu64 "\n", scan->shmmni);
	}
	if (scan->shmall != RGN_LEAK_LIMIT_UNKNOWN) {
		prom_family(f, "shm_shmall_pages", "gauge",
			    "kernel.shmall: most pages in all segments.");
		fprintf(f, "regionfs_shm_shmall_pages %" PRIu64 "\n",
			scan->shmall);
	}
	if (scan->shmmax != RGN_LEAK_LIMIT_UNKNOWN) {
		prom_family(f, "shm_shmmax_bytes", "gauge",
			    "kernel.shmmax: most bytes in one segment.");
		fprintf(f, "regionfs_shm_shmmax_bytes %" PRIu64 "\n",
			scan->shmmax);
	}
	if (scan->shm_rmid_forced >= 0) {
		prom_family(f, "shm_rmid_forced", "gauge",
			    "kernel.shm_rmid_forced: 1 when segments die with "
			    "their last process.");
		fprintf(f, "regionfs_shm_rmid_forced %d\n",
			scan->shm_rmid_forced);
	}
	prom_family(f, "shm_scan_timestamp_seconds", "gauge",
		    "When the segments were scanned.");
	fprintf(f, "regionfs_shm_scan_timestamp_seconds %" PRId64 "\n",
		scan->time);
}

int rgn_render_prometheus(const struct rgn_env_stat *const *envs,
			  size_t nenvs, const struct rgn_leak_scan *scan,
			  char **out, size_t *len)
{
	struct sink s;
	int rc;

	if (nenvs && !envs)
		return out && len ? (*out = NULL, *len = 0, -EINVAL) : -EINVAL;
	rc = sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	prom_envs(s.f, envs, nenvs);
	if (scan)
		prom_scan(s.f, scan);
	return sink_close(&s, 0, out, len);
}
