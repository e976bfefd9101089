/*
 * render_prom.c - metrics in the Prometheus text exposition format 0.0.4,
 * for node_exporter's textfile collector and for a scrape of the mount's
 * `metrics` file.
 *
 * The families are the metric rows of render.c's figure tables, plus the
 * host-wide System V families of a leak scan.  Rules kept here so that a
 * Prometheus server takes the output as it is:
 *  - each family once, HELP then TYPE then its samples, never interleaved;
 *  - counters end in _total and gauges never do (the table rows say which
 *    is which; the unit test checks the names);
 *  - every per-environment series carries the home as a label, so two
 *    mounts never write the same series;
 *  - label values are escaped twice: first by rgn_render_escape (so they
 *    are one line of valid UTF-8 whatever shared memory held), then as the
 *    format requires (\\, \" and \n).
 * In the 0.0.4 format a counter's TYPE line names the family with _total,
 * as its samples are named; OpenMetrics wants the name without it and a
 * closing "# EOF".  The two cannot share one text, so this file writes
 * 0.0.4 (what node_exporter and a scrape of text/plain expect).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "render_int.h"

/* A label value: escaped by our rule, then as the format requires.  The
 * longest value is a home path, which escapes to at most four bytes per
 * byte, so a stack buffer holds it whole. */
void rgn_prom_label(FILE *f, const char *name, const char *value)
{
	char e[4 * sizeof(((struct rgn_env_stat *)0)->home) + 1];

	rgn_render_escape(value, e, sizeof(e));
	fprintf(f, "%s=\"", name);
	for (const char *s = e; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void prom_family(FILE *f, const char *name, enum rgn_fig_metric type,
			const char *help)
{
	const char *t = type == RGN_FIG_COUNTER ? "counter" : "gauge";

	fprintf(f, "# HELP regionfs_%s %s\n# TYPE regionfs_%s %s\n", name, help,
		name, t);
}

static void prom_env_labels(FILE *f, const struct rgn_env_stat *st)
{
	rgn_prom_label(f, "home", st->home);
}

static void prom_region_labels(FILE *f, const struct rgn_env_stat *st,
			       const struct rgn_region_stat *rs)
{
	prom_env_labels(f, st);
	fputc(',', f);
	rgn_prom_label(f, "region", rs->name);
	fprintf(f, ",id=\"%u\",", rs->id);
	rgn_prom_label(f, "type", rgn_render_type_name(rs->type));
}

/* One family of region figures across every environment, its header only
 * when some region has the figure. */
static void prom_region_fig(FILE *f, const struct rgn_fig *fig,
			    const struct rgn_env_stat *const *envs,
			    size_t nenvs)
{
	int head = 0;

	for (size_t i = 0; i < nenvs; i++) {
		const struct rgn_env_stat *st = envs[i];

		if (!st || !st->regions)
			continue;
		for (size_t r = 0; r < st->nregions; r++) {
			const struct rgn_region_stat *rs = &st->regions[r];

			if (!rgn_fig_region_has(fig, rs))
				continue;
			if (!head++)
				prom_family(f, fig->metric, fig->type,
					    fig->help);
			fprintf(f, "regionfs_%s{", fig->metric);
			prom_region_labels(f, st, rs);
			fprintf(f, "} %" PRIu64 "\n", fig->num(rs));
		}
	}
}

static void prom_envs(FILE *f, const struct rgn_env_stat *const *envs,
		      size_t nenvs)
{
	size_t n = 0;

	for (size_t i = 0; i < nenvs; i++)
		n += envs[i] != NULL;
	if (n == 0)
		return;
	prom_family(f, "env_info", RGN_FIG_GAUGE,
		    "Environment identity; the value is always 1.");
	for (size_t i = 0; i < nenvs; i++) {
		if (!envs[i])
			continue;
		fputs("regionfs_env_info{", f);
		prom_env_labels(f, envs[i]);
		fprintf(f, ",backing=\"%s\",env_id=\"0x%016" PRIx64 "\"} 1\n",
			rgn_render_backing_name(envs[i]->backing),
			envs[i]->env_id);
	}
	for (size_t k = 0; k < rgn_env_nfigs; k++) {
		const struct rgn_fig *fig = &rgn_env_figs[k];

		if (!fig->metric)
			continue;
		prom_family(f, fig->metric, fig->type, fig->help);
		for (size_t i = 0; i < nenvs; i++) {
			if (!envs[i])
				continue;
			fprintf(f, "regionfs_%s{", fig->metric);
			prom_env_labels(f, envs[i]);
			fprintf(f, "} %" PRIu64 "\n", fig->num(envs[i]));
		}
	}
	for (size_t k = 0; k < rgn_region_nfigs; k++)
		if (rgn_region_figs[k].metric)
			prom_region_fig(f, &rgn_region_figs[k], envs, nenvs);
	for (size_t k = 0; k < rgn_alloc_nfigs; k++)
		if (rgn_alloc_figs[k].metric)
			prom_region_fig(f, &rgn_alloc_figs[k], envs, nenvs);
}

/* A host-wide figure with no labels, left out when not known rather than
 * invented. */
static void prom_host(FILE *f, const char *name, const char *help, uint64_t v,
		      int known)
{
	if (!known)
		return;
	prom_family(f, name, RGN_FIG_GAUGE, help);
	fprintf(f, "regionfs_%s %" PRIu64 "\n", name, v);
}

static void prom_scan(FILE *f, const struct rgn_leak_scan *scan)
{
	prom_family(f, "shm_segments", RGN_FIG_GAUGE,
		    "System V segments by leak class.");
	for (int c = 0; c < RGN_LEAK_NCLASSES; c++)
		fprintf(f, "regionfs_shm_segments{class=\"%s\"} %" PRIu64 "\n",
			rgn_leak_class_name((enum rgn_leak_class)c),
			scan->count[c]);
	prom_family(f, "shm_segment_bytes", RGN_FIG_GAUGE,
		    "Bytes in System V segments by leak class.");
	for (int c = 0; c < RGN_LEAK_NCLASSES; c++)
		fprintf(f,
			"regionfs_shm_segment_bytes{class=\"%s\"} %" PRIu64
			"\n",
			rgn_leak_class_name((enum rgn_leak_class)c),
			scan->bytes[c]);
	prom_host(f, "shm_leaked_bytes",
		  "Bytes held by orphaned segments and idle foreign ones whose "
		  "creator is dead.",
		  scan->leaked_bytes, 1);
	prom_host(f, "shm_total_bytes", "Bytes in all System V segments.",
		  scan->total_bytes, 1);
	prom_host(f, "shm_bdb_bytes",
		  "Bytes in Berkeley DB's segments, whatever their class.",
		  scan->bdb_bytes, 1);
	prom_host(f, "shm_bdb_at_rest_bytes",
		  "Bytes in Berkeley DB environments at rest (References 0, "
		  "nobody attached): not leaked.",
		  scan->bdb_at_rest_bytes, 1);
	prom_host(f, "shm_bdb_needs_recovery_bytes",
		  "Bytes in Berkeley DB environments left referenced by a dead "
		  "process: db_recover must run; not leaked.",
		  scan->bytes[RGN_LEAK_NEEDS_RECOVERY], 1);
	prom_host(f, "shm_shmmni", "kernel.shmmni: most System V segments.",
		  scan->shmmni, scan->shmmni != RGN_LEAK_LIMIT_UNKNOWN);
	prom_host(f, "shm_shmall_pages",
		  "kernel.shmall: most pages in all segments.", scan->shmall,
		  scan->shmall != RGN_LEAK_LIMIT_UNKNOWN);
	prom_host(f, "shm_shmmax_bytes",
		  "kernel.shmmax: most bytes in one segment.", scan->shmmax,
		  scan->shmmax != RGN_LEAK_LIMIT_UNKNOWN);
	prom_host(f, "shm_rmid_forced",
		  "kernel.shm_rmid_forced: 1 when segments die with their last "
		  "process.",
		  (uint64_t)scan->shm_rmid_forced, scan->shm_rmid_forced >= 0);
	prom_host(f, "shm_scan_timestamp_seconds",
		  "When the segments were scanned.",
		  (uint64_t)(scan->time > 0 ? scan->time : 0), 1);
}

int rgn_render_prometheus(const struct rgn_env_stat *const *envs, size_t nenvs,
			  const struct rgn_leak_scan *scan, char **out,
			  size_t *len)
{
	struct rgn_sink s;
	int rc;

	if (nenvs && !envs)
		return rgn_render_einval(out, len);
	rc = rgn_sink_open(&s, out, len);
	if (rc < 0)
		return rc;
	prom_envs(s.f, envs, nenvs);
	/* Host-wide series only when asked for: one per host, never one per
	 * mount (the textfile collector rejects duplicates). */
	if (scan)
		prom_scan(s.f, scan);
	return rgn_sink_close(&s, 0, out, len);
}
