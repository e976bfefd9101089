/*
 * render_json.c - the views for scripts: an environment, one region, the
 * attached processes, one leaked segment and a whole leak scan, as JSON
 * objects built with json-c (which does JSON's own escaping).
 *
 * Figures come from the tables in render.c, so a JSON key and its text
 * label can never name different things.  Strings read from shared memory
 * are first escaped by rgn_render_escape: a name with bytes that are not
 * UTF-8 would otherwise make the whole document invalid for strict parsers.
 * Undo \\ and \xNN in such a string to get the exact bytes back.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/shm.h>
#include <time.h>

#include "bdb.h"
#include "proc.h"
#include "render_int.h"

/* ---- figures ------------------------------------------------------------- */

static struct json_object *json_mutex(const struct rgn_mutex_stat *m)
{
	struct json_object *o = json_object_new_object();

	rgn_jset(o, "requests", json_object_new_uint64(m->requests));
	rgn_jset(o, "waits", json_object_new_uint64(m->waits));
	rgn_jset(o, "owner_died", json_object_new_uint64(m->owner_died));
	rgn_jset(o, "holder", json_object_new_int(m->holder));
	return o;
}

/* The rows of TABLE that have a JSON key, for OBJ, into O. */
static void json_figs(struct json_object *o, const struct rgn_fig *table,
		      size_t n, const void *obj)
{
	for (size_t i = 0; i < n; i++) {
		const struct rgn_fig *fig = &table[i];
		uint64_t v = fig->num ? fig->num(obj) : 0;
		char hkey[32], hval[24];

		if (!fig->key)
			continue;
		switch (fig->kind) {
		case RGN_FIG_INT:
		case RGN_FIG_KEY:
		case RGN_FIG_TIME:
			rgn_jset(o, fig->key,
				 json_object_new_int64((int64_t)v));
			break;
		case RGN_FIG_UINT:
		case RGN_FIG_BYTES:
		case RGN_FIG_HEX:
		case RGN_FIG_MODE:
			rgn_jset(o, fig->key, json_object_new_uint64(v));
			break;
		case RGN_FIG_HEX64:
			/* The number, and the form db_stat prints. */
			rgn_jset(o, fig->key, json_object_new_uint64(v));
			snprintf(hkey, sizeof(hkey), "%s_hex", fig->key);
			snprintf(hval, sizeof(hval), "0x%016" PRIx64, v);
			rgn_jset(o, hkey, rgn_jstr(hval));
			break;
		case RGN_FIG_YESNO:
			rgn_jset(o, fig->key, json_object_new_boolean(v != 0));
			break;
		case RGN_FIG_STR:
			rgn_jset(o, fig->key, rgn_jstr_esc(fig->str(obj)));
			break;
		case RGN_FIG_MUTEX:
			rgn_jset(o, fig->key, json_mutex(fig->mutex(obj)));
			break;
		}
	}
}

static struct json_object *json_region(const struct rgn_region_stat *rs)
{
	const struct rgn_alloc_stat *a = &rs->alloc;
	struct json_object *o = json_object_new_object();
	struct json_object *al, *hist;

	json_figs(o, rgn_region_figs, rgn_region_nfigs, rs);
	rgn_jset(o, "error",
		 rs->detail ? rgn_jstr(rgn_strerror(rs->detail)) : NULL);
	if (rs->detail || rs->id == 1) {
		rgn_jset(o, "alloc", NULL);
		rgn_jset(o, "mutex",
			 rs->detail ? NULL : json_mutex(&rs->mutex));
		return o;
	}
	al = json_object_new_object();
	json_figs(al, rgn_alloc_figs, rgn_alloc_nfigs, rs);
	hist = json_object_new_array();
	for (unsigned i = 0; hist && i < RGN_HIST_BUCKETS; i++) {
		struct json_object *b;

		if (!a->hist[i])
			continue;
		b = json_object_new_object();
		rgn_jset(b, "min", json_object_new_uint64(1ull << i));
		rgn_jset(b, "max",
			 json_object_new_uint64((1ull << (i + 1)) - 1));
		rgn_jset(b, "count", json_object_new_uint64(a->hist[i]));
		json_object_array_add(hist, b);
	}
	rgn_jset(al, "histogram", hist);
	rgn_jset(o, "alloc", al);
	rgn_jset(o, "mutex", json_mutex(&rs->mutex));
	return o;
}

static struct json_object *json_procs(const struct rgn_env_stat *st)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; arr && i < st->nprocs; i++) {
		const struct rgn_proc_stat *p = &st->procs[i];
		struct json_object *o = json_object_new_object();

		rgn_jset(o, "pid", json_object_new_int(p->pid));
		rgn_jset(o, "start_ticks", json_object_new_uint64(p->start));
		rgn_jset(o, "start_time",
			 json_object_new_int64(rgn_ticks_to_epoch(p->start)));
		rgn_jset(o, "attach_time",
			 json_object_new_int64(p->attach_time));
		rgn_jset(o, "live", json_object_new_boolean(p->live != 0));
		json_object_array_add(arr, o);
	}
	return arr;
}

/* ---- environments -------------------------------------------------------- */

int rgn_render_env_json(const struct rgn_env_stat *st, time_t now, char **out,
			size_t *len)
{
	struct json_object *o, *regions;

	if (!st || !out || !len)
		return rgn_render_einval(out, len);
	*out = NULL;
	*len = 0;
	o = json_object_new_object();
	/* The JSON preamble, as rgn_text_preamble's lines. */
	rgn_jset(o, "local_time", json_object_new_int64((int64_t)now));
	rgn_jset(o, "home", rgn_jstr_esc(st->home));
	if (rgn_render_private_outside(st)) {
		rgn_jset(o, "backing",
			 rgn_jstr(rgn_render_backing_name(st->backing)));
		rgn_jset(o, "private", json_object_new_boolean(1));
		rgn_jset(o, "private_owner",
			 json_object_new_int(st->private_owner));
		rgn_jset(o, "regions", json_object_new_array());
		rgn_jset(o, "processes", json_object_new_array());
		return rgn_json_out(o, out, len);
	}
	rgn_jset(o, "private",
		 json_object_new_boolean(st->backing == RGN_BACKING_PRIVATE));
	json_figs(o, rgn_env_figs, rgn_env_nfigs, st);
	regions = json_object_new_array();
	for (size_t i = 0; regions && i < st->nregions; i++)
		json_object_array_add(regions, json_region(&st->regions[i]));
	rgn_jset(o, "regions", regions);
	rgn_jset(o, "processes", json_procs(st));
	return rgn_json_out(o, out, len);
}

int rgn_render_region_json(const struct rgn_env_stat *st,
			   const struct rgn_region_stat *rs, char **out,
			   size_t *len)
{
	if (!rgn_render_region_in(st, rs) || !out || !len)
		return rgn_render_einval(out, len);
	*out = NULL;
	*len = 0;
	return rgn_json_out(json_region(rs), out, len);
}

int rgn_render_procs_json(const struct rgn_env_stat *st, char **out,
			  size_t *len)
{
	if (!st || !out || !len)
		return rgn_render_einval(out, len);
	*out = NULL;
	*len = 0;
	return rgn_json_out(json_procs(st), out, len);
}

/* ---- leaks --------------------------------------------------------------- */

static struct json_object *json_limit(uint64_t v)
{
	return v == RGN_LEAK_LIMIT_UNKNOWN ? NULL : json_object_new_uint64(v);
}

/* What a Berkeley DB segment's primary says of its environment. */
static void json_leak_bdb(struct json_object *o, const struct rgn_leak *g)
{
	char v[48];

	snprintf(v, sizeof(v), "%u.%u.%u", g->bdb_major, g->bdb_minor,
		 g->bdb_patch);
	rgn_jset(o, "version", rgn_jstr(v));
	rgn_jset(o, "bdb_region_id", json_object_new_int64(g->bdb_region_id));
	rgn_jset(o, "bdb_region_type",
		 g->bdb_region_type
			 ? rgn_jstr(rgn_bdb_type_name(g->bdb_region_type))
			 : NULL);
	rgn_jset(o, "bdb_primary_shmid", json_object_new_int(g->bdb_primary));
	rgn_jset(o, "references",
		 g->bdb_decoded ? json_object_new_int64(g->bdb_refcnt) : NULL);
	rgn_jset(o, "panic", json_object_new_int64(g->bdb_panic));
	rgn_jset(o, "env_nattch", json_object_new_uint64(g->bdb_nattch));
	rgn_jset(o, "home", g->home[0] ? rgn_jstr_esc(g->home) : NULL);
}

static struct json_object *json_leak(const struct rgn_leak *g)
{
	struct json_object *o = json_object_new_object();
	char hex[24];

	rgn_jset(o, "shmid", json_object_new_int(g->shmid));
	rgn_jset(o, "key", json_object_new_int(g->key));
	snprintf(hex, sizeof(hex), "0x%08x", (unsigned)g->key);
	rgn_jset(o, "key_hex", rgn_jstr(hex));
	rgn_jset(o, "size", json_object_new_uint64(g->size));
	rgn_jset(o, "uid", json_object_new_int64(g->uid));
	rgn_jset(o, "gid", json_object_new_int64(g->gid));
	rgn_jset(o, "cuid", json_object_new_int64(g->cuid));
	rgn_jset(o, "cgid", json_object_new_int64(g->cgid));
	rgn_jset(o, "mode", json_object_new_int64(g->mode & 0777));
	rgn_jset(o, "dest", json_object_new_boolean((g->mode & SHM_DEST) != 0));
	rgn_jset(o, "nattch", json_object_new_uint64(g->nattch));
	rgn_jset(o, "cpid", json_object_new_int(g->cpid));
	rgn_jset(o, "cpid_alive", rgn_jtri(g->cpid_alive));
	rgn_jset(o, "lpid", json_object_new_int(g->lpid));
	rgn_jset(o, "atime", json_object_new_int64(g->atime));
	rgn_jset(o, "dtime", json_object_new_int64(g->dtime));
	rgn_jset(o, "ctime", json_object_new_int64(g->ctime));
	rgn_jset(o, "idle", json_object_new_int64(g->idle));
	rgn_jset(o, "rss", json_limit(g->rss));
	rgn_jset(o, "swap", json_limit(g->swap));
	rgn_jset(o, "class", rgn_jstr(rgn_leak_class_name(g->cls)));
	rgn_jset(o, "evidence", rgn_jstr_esc(g->evidence));
	rgn_jset(o, "ours", rgn_jtri(g->ours));
	rgn_jset(o, "program",
		 g->program == RGN_LEAK_PROG_NONE
			 ? NULL
			 : rgn_jstr(rgn_leak_program_name(g->program)));
	if (g->program == RGN_LEAK_PROG_BDB)
		json_leak_bdb(o, g);
	if (g->ours != RGN_LEAK_YES)
		return o;
	rgn_jset(o, "env_id", json_object_new_uint64(g->env_id));
	snprintf(hex, sizeof(hex), "0x%016" PRIx64, g->env_id);
	rgn_jset(o, "env_id_hex", rgn_jstr(hex));
	rgn_jset(o, "region_id", json_object_new_int64(g->region_id));
	rgn_jset(o, "region_type",
		 rgn_jstr(rgn_render_type_name(g->region_type)));
	rgn_jset(o, "region_name", rgn_jstr_esc(g->region_name));
	rgn_jset(o, "creator_pid", json_object_new_int(g->creator_pid));
	rgn_jset(o, "home", rgn_jstr_esc(g->home));
	rgn_jset(o, "home_matches", rgn_jtri(g->home_matches));
	rgn_jset(o, "env_live", json_object_new_int64(g->env_live));
	rgn_jset(o, "env_stale", json_object_new_int64(g->env_stale));
	return o;
}

int rgn_render_leak_json(const struct rgn_leak *seg, char **out, size_t *len)
{
	if (!seg || !out || !len)
		return rgn_render_einval(out, len);
	*out = NULL;
	*len = 0;
	return rgn_json_out(json_leak(seg), out, len);
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

	if (!scan || !out || !len)
		return rgn_render_einval(out, len);
	*out = NULL;
	*len = 0;
	o = json_object_new_object();
	rgn_jset(o, "time", json_object_new_int64(scan->time));
	rgn_jset(o, "source", rgn_jstr(source_name(scan->source)));
	rgn_jset(o, "shmmni", json_limit(scan->shmmni));
	rgn_jset(o, "shmall", json_limit(scan->shmall));
	rgn_jset(o, "shmmax", json_limit(scan->shmmax));
	rgn_jset(o, "shm_rmid_forced",
		 scan->shm_rmid_forced < 0
			 ? NULL
			 : json_object_new_int(scan->shm_rmid_forced));
	rgn_jset(o, "page_size", json_object_new_int64(scan->page_size));
	rgn_jset(o, "total_bytes", json_object_new_uint64(scan->total_bytes));
	rgn_jset(o, "leaked_bytes", json_object_new_uint64(scan->leaked_bytes));
	/* Berkeley DB's, never counted in leaked_bytes unless orphaned. */
	rgn_jset(o, "bdb_segments", json_object_new_uint64(scan->bdb_count));
	rgn_jset(o, "bdb_bytes", json_object_new_uint64(scan->bdb_bytes));
	rgn_jset(o, "bdb_at_rest", json_object_new_uint64(scan->bdb_at_rest));
	rgn_jset(o, "bdb_at_rest_bytes",
		 json_object_new_uint64(scan->bdb_at_rest_bytes));
	rgn_jset(o, "needs_recovery",
		 json_object_new_uint64(scan->count[RGN_LEAK_NEEDS_RECOVERY]));
	rgn_jset(o, "needs_recovery_bytes",
		 json_object_new_uint64(scan->bytes[RGN_LEAK_NEEDS_RECOVERY]));
	counts = json_object_new_object();
	bytes = json_object_new_object();
	for (int c = 0; c < RGN_LEAK_NCLASSES; c++) {
		const char *n = rgn_leak_class_name((enum rgn_leak_class)c);

		rgn_jset(counts, n, json_object_new_uint64(scan->count[c]));
		rgn_jset(bytes, n, json_object_new_uint64(scan->bytes[c]));
	}
	rgn_jset(o, "counts", counts);
	rgn_jset(o, "bytes", bytes);
	segs = json_object_new_array_ext((int)scan->nsegs);
	for (size_t i = 0; segs && i < scan->nsegs; i++)
		json_object_array_add(segs, json_leak(&scan->segs[i]));
	rgn_jset(o, "segments", segs);
	return rgn_json_out(o, out, len);
}
