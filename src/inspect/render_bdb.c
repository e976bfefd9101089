/*
 * render_bdb.c - a Berkeley DB home in db_stat -e's words and as JSON.
 *
 * The text uses db_stat's own labels for the figures it shares with
 * db_stat -e / -E, so a script written for db_stat finds them, with one
 * deliberate difference: References is the count as stored, because we
 * never join (db_stat counts its own handle).  Everything else (regions'
 * files or shmids, who maps them, the verdict) follows in the same
 * "VALUE\tLABEL" form.  Same snapshot and NOW, same bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "bdb.h"
#include "render.h"
#include "render_int.h"

/* Names, paths and reasons come from the system and from the home: they
 * pass through the one escaping rule (rgn_render_escape), in text and JSON
 * alike, so a record is one line and the JSON is valid UTF-8. */

/* ---- text --------------------------------------------------------------- */

static void line_bytes(FILE *f, uint64_t v, const char *label)
{
	char b[40];

	fprintf(f, "%s\t%s\n", rgn_render_bytes(v, b, sizeof(b)), label);
}

static void line_time(FILE *f, int64_t t, const char *label)
{
	char b[32];

	fprintf(f, "%s\t%s\n", rgn_render_time(t, b, sizeof(b)), label);
}

/* The primary's size and maximum: from its slot when the table was
 * decoded, from the 24-byte record in system memory, else the file. */
static void primary_sizes(const struct rgn_bdb *b, uint64_t *size,
			  uint64_t *max)
{
	const struct rgn_bdb_slot *s = rgn_bdb_find_slot(&b->env, 1);

	if (s) {
		*size = s->size;
		*max = s->max;
	} else if (b->sysmem) {
		*size = b->ref.size;
		*max = b->ref.max;
	} else {
		*size = *max = b->file_len;
	}
}

static void text_env(FILE *f, const struct rgn_bdb *b, time_t now)
{
	const struct rgn_bdb_regenv *e = &b->env;
	uint64_t size, max;

	line_time(f, now, "Local time");
	if (!b->have_env) {
		fprintf(f, "%s\tEnvironment\n",
			b->form == RGN_BDB_FORM_EMPTY ? "empty __db.001"
						      : "primary not read");
	} else {
		fprintf(f, "%#x\tMagic number\n", e->magic);
		fprintf(f, "%u\tPanic value\n", e->panic);
		fprintf(f, "%u.%u.%u\tEnvironment version\n", e->major,
			e->minor, e->patch);
	}
	if (b->have_env && e->decoded) {
		line_time(f, e->ctime, "Creation time");
		fprintf(f, "%#x\tEnvironment ID\n", e->env_id);
		fprintf(f, "%u\tReferences\n", e->refcnt);
	} else if (b->have_env) {
		fputs("not decoded\tReferences (", f);
		rgn_fputs_esc(f, e->why);
		fputs(")\n", f);
	}
	if (b->form != RGN_BDB_FORM_EMPTY) {
		primary_sizes(b, &size, &max);
		line_bytes(f, size, "Current region size");
		line_bytes(f, max, "Maximum region size");
	}
	fprintf(f, "%s\n", RGN_RENDER_SEP);
	rgn_fputs_esc(f, b->home);
	fputs("\tHome\n", f);
	fprintf(f, "%s\tMode\n", b->sysmem ? "system memory" : "files");
	if (b->sysmem)
		fprintf(f, "%lld\tPrimary segment ID\n",
			(long long)b->ref.shmid);
}

static void text_region(FILE *f, const struct rgn_bdb_region *rg, int sysmem)
{
	const struct rgn_bdb_alloc *a = &rg->alloc;
	char lo[40];

	fprintf(f, "%s\n", RGN_RENDER_SEP);
	fprintf(f, "%u\tRegion ID\n", rg->slot.id);
	fprintf(f, "%s\tRegion type\n", rgn_bdb_type_name(rg->slot.type));
	if (sysmem)
		fprintf(f, "%lld\tSegment ID\n", (long long)rg->slot.segid);
	else
		fprintf(f, "%s\tFile\n", rg->file);
	line_bytes(f, rg->slot.size, "Size");
	line_bytes(f, rg->slot.max, "Maximum size");
	if (!rg->present) {
		fprintf(f, "%s\tMissing (%s)\n", sysmem ? "segment" : "file",
			strerror(-rg->error));
		return;
	}
	line_bytes(f, rg->bytes, sysmem ? "Segment size" : "File size");
	if (sysmem)
		fprintf(f, "%llu\tAttached (nattch)\n",
			(unsigned long long)rg->nattch);
	if (!rg->has_alloc) {
		fprintf(f, "unavailable\tRegion allocations (%s)\n",
			rg->error ? strerror(-rg->error) : "not decoded");
		return;
	}
	fprintf(f, "%u\tRegion allocations\n", a->success);
	fprintf(f, "%u\tRegion allocation failures\n", a->failure);
	fprintf(f, "%u\tRegion frees\n", a->freed);
	fprintf(f, "%u\tRegion longest chunk walk\n", a->longest);
	for (int i = 0; i < RGN_BDB_NPOW2; i++)
		fprintf(f, "%u\tAllocations by power-of-two size: %s%s\n",
			a->pow2[i],
			rgn_render_bytes(1024ull << i, lo, sizeof(lo)),
			i == RGN_BDB_NPOW2 - 1 ? " and over" : "");
}

static void text_procs(FILE *f, const struct rgn_bdb *b)
{
	char t[32];

	fprintf(f, "%zu\tAttached processes (mapping it now)\n", b->nprocs);
	if (b->procs_denied)
		fprintf(f, "%zu\tProcesses whose maps could not be read\n",
			b->procs_denied);
	for (size_t i = 0; i < b->nprocs; i++) {
		const struct rgn_bdb_proc *p = &b->procs[i];

		fprintf(f, "%d\t", (int)p->pid);
		rgn_fputs_esc(f, p->command);
		fprintf(f, ", started %s, %u mappings\n",
			rgn_render_time(p->start, t, sizeof(t)), p->nmaps);
	}
}

int rgn_render_bdb_text(const struct rgn_bdb *bdb, time_t now, char **out,
			size_t *len)
{
	struct rgn_sink s;
	FILE *f;
	int rc;

	if (!bdb)
		return rgn_render_einval(out, len);
	rc = rgn_sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	f = s.f;
	text_env(f, bdb, now);
	for (uint32_t i = 0; i < bdb->nregions; i++)
		text_region(f, &bdb->regions[i], bdb->sysmem);
	fprintf(f, "%s\n", RGN_RENDER_SEP);
	text_procs(f, bdb);
	fprintf(f, "%s\n", RGN_RENDER_SEP);
	fprintf(f, "%s\tVerdict\n", rgn_bdb_verdict_name(bdb->verdict));
	rgn_fputs_esc(f, bdb->reason);
	fputs("\tReason\n", f);
	return rgn_sink_close(&s, 0, out, len);
}

/* ---- JSON --------------------------------------------------------------- */

static struct json_object *j64(int64_t v)
{
	return json_object_new_int64(v);
}

static struct json_object *json_alloc(const struct rgn_bdb_alloc *a)
{
	struct json_object *o = json_object_new_object();
	struct json_object *p = json_object_new_array();

	for (int i = 0; p && i < RGN_BDB_NPOW2; i++)
		json_object_array_add(p, j64(a->pow2[i]));
	rgn_jset(o, "allocations", j64(a->success));
	rgn_jset(o, "failures", j64(a->failure));
	rgn_jset(o, "frees", j64(a->freed));
	rgn_jset(o, "longest", j64(a->longest));
	rgn_jset(o, "pow2", p);
	return o;
}

static struct json_object *json_region(const struct rgn_bdb_region *rg,
				       int sysmem)
{
	struct json_object *o = json_object_new_object();

	rgn_jset(o, "id", j64(rg->slot.id));
	rgn_jset(o, "type",
		 json_object_new_string(rgn_bdb_type_name(rg->slot.type)));
	rgn_jset(o, "file", sysmem ? NULL : json_object_new_string(rg->file));
	rgn_jset(o, "shmid", sysmem ? j64(rg->slot.segid) : NULL);
	rgn_jset(o, "size", j64((int64_t)rg->slot.size));
	rgn_jset(o, "max", j64((int64_t)rg->slot.max));
	rgn_jset(o, "present", json_object_new_boolean(rg->present));
	rgn_jset(o, "bytes", rg->present ? j64((int64_t)rg->bytes) : NULL);
	rgn_jset(o, "nattch",
		 sysmem && rg->present ? j64((int64_t)rg->nattch) : NULL);
	rgn_jset(o, "error",
		 rg->error ? json_object_new_string(strerror(-rg->error))
			   : NULL);
	rgn_jset(o, "alloc", rg->has_alloc ? json_alloc(&rg->alloc) : NULL);
	return o;
}

static const char *form_name(enum rgn_bdb_form f)
{
	switch (f) {
	case RGN_BDB_FORM_REGENV:
		return "regenv";
	case RGN_BDB_FORM_REF:
		return "system-memory-reference";
	case RGN_BDB_FORM_EMPTY:
		return "empty";
	default:
		return "none";
	}
}

int rgn_render_bdb_json(const struct rgn_bdb *bdb, time_t now, char **out,
			size_t *len)
{
	const struct rgn_bdb_regenv *e;
	struct json_object *o, *arr, *p;
	char v[48], hex[16];
	uint64_t size, max;
	int dec;

	if (!out || !len)
		return -EINVAL;
	*out = NULL;
	*len = 0;
	if (!bdb)
		return -EINVAL;
	e = &bdb->env;
	dec = bdb->have_env && e->decoded;
	o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	rgn_jset(o, "program", json_object_new_string("berkeley-db"));
	rgn_jset(o, "home", rgn_jstr_esc(bdb->home));
	rgn_jset(o, "local_time", j64(now));
	rgn_jset(o, "mode",
		 json_object_new_string(bdb->sysmem ? "system-memory"
						    : "files"));
	rgn_jset(o, "form", json_object_new_string(form_name(bdb->form)));
	snprintf(v, sizeof(v), "%u.%u.%u", e->major, e->minor, e->patch);
	rgn_jset(o, "magic", bdb->have_env ? j64(e->magic) : NULL);
	rgn_jset(o, "version",
		 bdb->have_env ? json_object_new_string(v) : NULL);
	rgn_jset(o, "decoded", json_object_new_boolean(dec));
	rgn_jset(o, "undecoded_reason",
		 bdb->have_env && !dec ? json_object_new_string(e->why) : NULL);
	rgn_jset(o, "panic", bdb->have_env ? j64(e->panic) : NULL);
	snprintf(hex, sizeof(hex), "%#x", e->env_id);
	rgn_jset(o, "env_id", dec ? j64(e->env_id) : NULL);
	rgn_jset(o, "env_id_hex", dec ? json_object_new_string(hex) : NULL);
	rgn_jset(o, "ctime", dec ? j64(e->ctime) : NULL);
	rgn_jset(o, "init_flags", dec ? j64(e->init_flags) : NULL);
	rgn_jset(o, "references", dec ? j64(e->refcnt) : NULL);
	primary_sizes(bdb, &size, &max);
	rgn_jset(o, "region_size",
		 bdb->form != RGN_BDB_FORM_EMPTY ? j64((int64_t)size) : NULL);
	rgn_jset(o, "region_max",
		 bdb->form != RGN_BDB_FORM_EMPTY ? j64((int64_t)max) : NULL);
	rgn_jset(o, "primary_shmid", bdb->sysmem ? j64(bdb->ref.shmid) : NULL);
	arr = json_object_new_array();
	for (uint32_t i = 0; arr && i < bdb->nregions; i++)
		json_object_array_add(
			arr, json_region(&bdb->regions[i], bdb->sysmem));
	rgn_jset(o, "regions", arr);
	arr = json_object_new_array();
	for (size_t i = 0; arr && i < bdb->nprocs; i++) {
		p = json_object_new_object();
		rgn_jset(p, "pid", j64(bdb->procs[i].pid));
		rgn_jset(p, "command", rgn_jstr_esc(bdb->procs[i].command));
		rgn_jset(p, "start", j64(bdb->procs[i].start));
		json_object_array_add(arr, p);
	}
	rgn_jset(o, "attached", arr);
	rgn_jset(o, "procs_denied", j64((int64_t)bdb->procs_denied));
	rgn_jset(o, "verdict",
		 json_object_new_string(rgn_bdb_verdict_name(bdb->verdict)));
	rgn_jset(o, "reason", rgn_jstr_esc(bdb->reason));

	return rgn_json_out(o, out, len);
}

/* ---- one region, the processes ------------------------------------------- */

static const struct rgn_bdb_region *find_region(const struct rgn_bdb *b,
						uint32_t id)
{
	for (uint32_t i = 0; i < b->nregions; i++)
		if (b->regions[i].slot.id == id)
			return &b->regions[i];
	return NULL;
}

int rgn_render_bdb_region_text(const struct rgn_bdb *bdb, uint32_t id,
			       char **out, size_t *len)
{
	const struct rgn_bdb_region *rg;
	struct rgn_sink s;
	FILE *f;
	int rc;

	rc = rgn_sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	f = s.f;
	rg = bdb ? find_region(bdb, id) : NULL;
	if (!rg)
		return rgn_sink_close(&s, bdb ? -ENOENT : -EINVAL, out, len);
	rgn_fputs_esc(f, bdb->home);
	fputs("\tHome\n", f);
	fprintf(f, "%s\tMode\n", bdb->sysmem ? "system memory" : "files");
	text_region(f, rg, bdb->sysmem);
	return rgn_sink_close(&s, 0, out, len);
}

int rgn_render_bdb_region_json(const struct rgn_bdb *bdb, uint32_t id,
			       char **out, size_t *len)
{
	const struct rgn_bdb_region *rg;
	struct json_object *o;

	if (!out || !len)
		return -EINVAL;
	*out = NULL;
	*len = 0;
	if (!bdb)
		return -EINVAL;
	rg = find_region(bdb, id);
	if (!rg)
		return -ENOENT;
	o = json_region(rg, bdb->sysmem);
	if (!o)
		return -ENOMEM;
	rgn_jset(o, "program", json_object_new_string("berkeley-db"));
	rgn_jset(o, "home", rgn_jstr_esc(bdb->home));
	return rgn_json_out(o, out, len);
}

int rgn_render_bdb_procs_text(const struct rgn_bdb *bdb, char **out,
			      size_t *len)
{
	struct rgn_sink s;
	int rc;

	if (!bdb)
		return rgn_render_einval(out, len);
	rc = rgn_sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	text_procs(s.f, bdb);
	return rgn_sink_close(&s, 0, out, len);
}

/* ---- Prometheus --------------------------------------------------------- */

static void prom_head(FILE *f, const char *name, int counter, const char *help)
{
	const char *t = counter ? "counter" : "gauge";

	fprintf(f, "# HELP regionfs_%s %s\n# TYPE regionfs_%s %s\n", name, help,
		name, t);
}

static void prom_env_labels(FILE *f, const struct rgn_bdb *b)
{
	rgn_prom_label(f, "home", b->home);
	fputs(",program=\"berkeley-db\"", f);
}

static void prom_env(FILE *f, const struct rgn_bdb *b, const char *name,
		     const char *help, uint64_t v)
{
	prom_head(f, name, 0, help);
	fprintf(f, "regionfs_%s{", name);
	prom_env_labels(f, b);
	fprintf(f, "} %llu\n", (unsigned long long)v);
}

/* The figure of one region a family shows: 1 with *V, 0 without one. */
typedef int (*prom_region_fn)(const struct rgn_bdb_region *rg, uint64_t *v);

static int pr_size(const struct rgn_bdb_region *rg, uint64_t *v)
{
	*v = rg->present ? rg->bytes : rg->slot.size;
	return 1;
}

static int pr_max(const struct rgn_bdb_region *rg, uint64_t *v)
{
	*v = rg->slot.max;
	return 1;
}

static int pr_allocs(const struct rgn_bdb_region *rg, uint64_t *v)
{
	*v = rg->alloc.success;
	return rg->has_alloc;
}

static int pr_fails(const struct rgn_bdb_region *rg, uint64_t *v)
{
	*v = rg->alloc.failure;
	return rg->has_alloc;
}

static int pr_frees(const struct rgn_bdb_region *rg, uint64_t *v)
{
	*v = rg->alloc.freed;
	return rg->has_alloc;
}

static const struct {
	const char *name;
	int counter;
	const char *help;
	prom_region_fn get;
} prom_regions[] = {
	{"region_size_bytes", 0, "Region size: its file's or segment's bytes.",
	 pr_size},
	{"region_max_bytes", 0, "Region maximum size.", pr_max},
	{"region_allocations_total", 1, "Successful allocations.", pr_allocs},
	{"region_allocation_failures_total", 1, "Failed allocations.",
	 pr_fails},
	{"region_frees_total", 1, "Frees.", pr_frees},
};

static void prom_region_family(FILE *f, const struct rgn_bdb *b, size_t k)
{
	int head = 0;
	uint64_t v;

	for (uint32_t i = 0; i < b->nregions; i++) {
		const struct rgn_bdb_region *rg = &b->regions[i];

		if (!prom_regions[k].get(rg, &v))
			continue;
		if (!head++)
			prom_head(f, prom_regions[k].name,
				  prom_regions[k].counter,
				  prom_regions[k].help);
		fprintf(f, "regionfs_%s{", prom_regions[k].name);
		prom_env_labels(f, b);
		fputc(',', f);
		rgn_prom_label(f, "region", rg->file);
		fprintf(f, ",id=\"%u\",type=\"%s\"} %llu\n", rg->slot.id,
			rgn_bdb_type_name(rg->slot.type),
			(unsigned long long)v);
	}
}

int rgn_render_bdb_prom(const struct rgn_bdb *bdb, char **out, size_t *len)
{
	const struct rgn_bdb_regenv *e;
	struct rgn_sink s;
	FILE *f;
	int rc;

	if (!bdb)
		return rgn_render_einval(out, len);
	rc = rgn_sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	f = s.f;
	e = &bdb->env;
	prom_head(f, "env_info", 0,
		  "Environment identity; the value is always 1.");
	fputs("regionfs_env_info{", f);
	prom_env_labels(f, bdb);
	if (bdb->have_env)
		fprintf(f, ",version=\"%u.%u.%u\"", e->major, e->minor,
			e->patch);
	fprintf(f, ",mode=\"%s\",verdict=\"%s\"} 1\n",
		bdb->sysmem ? "system-memory" : "files",
		rgn_bdb_verdict_name(bdb->verdict));
	if (bdb->have_env)
		prom_env(f, bdb, "env_panic",
			 "1 when the environment is marked panicked.",
			 e->panic != 0);
	if (bdb->have_env && e->decoded)
		prom_env(f, bdb, "env_references",
			 "References as stored in the environment.", e->refcnt);
	/* The name our own environments use for the same thing: processes
	 * that really have it now, whatever References says. */
	prom_env(f, bdb, "env_live_processes",
		 "Processes that map the environment now.", bdb->nprocs);
	prom_env(f, bdb, "env_regions",
		 "Regions in the environment, the primary included.",
		 bdb->nregions);
	for (size_t k = 0; k < sizeof(prom_regions) / sizeof(prom_regions[0]);
	     k++)
		prom_region_family(f, bdb, k);
	return rgn_sink_close(&s, 0, out, len);
}
