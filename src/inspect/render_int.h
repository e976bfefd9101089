/*
 * render_int.h - what the renderer files share and nobody else sees: the
 * output plumbing (memory streams, json-c), the escaping writer, the text
 * preamble, and the figure tables.
 *
 * A figure table is one list of rows, each naming a figure once for every
 * output: its db_stat-style text label, its JSON key, its Prometheus family
 * (type and help), how it prints, when it exists, and how to read it from a
 * snapshot.  render_text.c, render_json.c and render_prom.c walk the same
 * rows, so adding a figure is one line and the three views cannot drift.
 * Inspect-internal: include it from src/inspect/ only.
 */
#ifndef RGN_RENDER_INT_H
#define RGN_RENDER_INT_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <json-c/json.h>

#include "render.h"

/* ---- output plumbing (render.c) ------------------------------------------ */

struct rgn_sink {
	FILE *f;    /* the memory stream */
	char *buf;  /* its buffer */
	size_t len; /* its length */
};

/* Open a memory stream for OUT/LEN (-EINVAL if either is NULL, -ENOMEM). */
int rgn_sink_open(struct rgn_sink *s, char **out, size_t *len);
/* Close it and hand the buffer over when RC == 0, else drop it; a stream
 * error becomes -ENOMEM (the only way a memory stream fails). */
int rgn_sink_close(struct rgn_sink *s, int rc, char **out, size_t *len);
/* Clear OUT/LEN (when given) and return -EINVAL: the NULL-argument exit. */
int rgn_render_einval(char **out, size_t *len);

/* Serialise O (consumed; NULL means an allocation failed) plus a newline. */
int rgn_json_out(struct json_object *o, char **out, size_t *len);
/* Add V under K; a no-op on a NULL object. */
void rgn_jset(struct json_object *o, const char *k, struct json_object *v);
/* S escaped by rgn_render_escape as a JSON string, so JSON is always valid
 * UTF-8; NULL reads as "". */
struct json_object *rgn_jstr_esc(const char *s);
/* A string of ours (fixed words, numbers): no escaping needed. */
struct json_object *rgn_jstr(const char *s);
/* RGN_LEAK_YES/NO/UNKNOWN as true/false/null. */
struct json_object *rgn_jtri(int v);

/* S escaped (see rgn_render_escape) onto F. */
void rgn_fputs_esc(FILE *f, const char *s);

/* ---- shared words -------------------------------------------------------- */

const char *rgn_render_backing_name(enum rgn_backing b);
const char *rgn_render_type_name(uint32_t t);
/* A private environment seen from outside: nothing but its owner. */
int rgn_render_private_outside(const struct rgn_env_stat *st);
/* RS points into ST->regions. */
int rgn_render_region_in(const struct rgn_env_stat *st,
			 const struct rgn_region_stat *rs);

/* ---- text helpers (render_text.c) ---------------------------------------- */

/*
 * The opening lines every db_stat-style text view of an environment shares:
 * "TIME\tLocal time" and "HOME\tHome", the home escaped.  Any renderer of a
 * home (ours or another program's) starts with this, so scripts find the
 * same first two lines everywhere.
 */
void rgn_text_preamble(FILE *f, time_t now, const char *home);

/* ---- figure tables (render.c) -------------------------------------------- */

/* How a figure prints in text (and, for some, in JSON). */
enum rgn_fig_kind {
	RGN_FIG_UINT,  /* decimal */
	RGN_FIG_INT,   /* signed decimal (pids, shmids) */
	RGN_FIG_BYTES, /* text: "1MB 24KB"; JSON: bytes */
	RGN_FIG_TIME,  /* text: ctime-like; JSON: seconds */
	RGN_FIG_HEX,   /* text: 0x%x */
	RGN_FIG_HEX64, /* text: 0x%016x; JSON adds KEY_hex */
	RGN_FIG_KEY,   /* text: 0x%08x, or 0 for none */
	RGN_FIG_MODE,  /* text: 0%03o */
	RGN_FIG_YESNO, /* text: yes/no; JSON: boolean */
	RGN_FIG_STR,   /* a string, escaped in every view */
	RGN_FIG_MUTEX, /* text: two lines; JSON: object */
};

/* The Prometheus type; a counter's family ends in _total, a gauge's never. */
enum rgn_fig_metric {
	RGN_FIG_NO_METRIC,
	RGN_FIG_GAUGE,
	RGN_FIG_COUNTER,
};

/* When a row exists at all. */
enum rgn_fig_need {
	RGN_FIG_ALWAYS,
	RGN_FIG_TEXT_IF_PRIVATE, /* text only for a private environment;
				    JSON always */
	RGN_FIG_DETAIL,		 /* region figures were read (detail 0) */
	RGN_FIG_ALLOC,		 /* ... and the region has an allocator
				    (not the primary) */
};

struct rgn_fig {
	const char *label;	  /* text "VALUE\tLABEL"; NULL: not in text */
	const char *key;	  /* JSON key; NULL: not in JSON */
	const char *metric;	  /* family after "regionfs_"; NULL: none */
	enum rgn_fig_metric type; /* gauge or counter when METRIC is set */
	const char *help;	  /* the family's one-line HELP */
	enum rgn_fig_kind kind;
	enum rgn_fig_need need;
	/* The value, from a struct rgn_env_stat or rgn_region_stat as the
	 * table says; exactly one is set, as KIND says.  Signed figures come
	 * back two's-complement in the uint64_t. */
	uint64_t (*num)(const void *obj);
	const char *(*str)(const void *obj);
	const struct rgn_mutex_stat *(*mutex)(const void *obj);
};

/* Environment figures (obj: struct rgn_env_stat), in text order. */
extern const struct rgn_fig rgn_env_figs[];
extern const size_t rgn_env_nfigs;
/* A region's own figures (obj: struct rgn_region_stat), in text order. */
extern const struct rgn_fig rgn_region_figs[];
extern const size_t rgn_region_nfigs;
/* Its allocator figures (obj: struct rgn_region_stat), JSON's "alloc". */
extern const struct rgn_fig rgn_alloc_figs[];
extern const size_t rgn_alloc_nfigs;

/* Whether region RS has the figure of row FIG (its need). */
int rgn_fig_region_has(const struct rgn_fig *fig,
		       const struct rgn_region_stat *rs);

/* Print NAME="VALUE" for a Prometheus label: VALUE escaped by our rule
 * (rgn_render_escape), then as the exposition format wants (\\, \" and
 * \n).  Shared by every Prometheus renderer. */
void rgn_prom_label(FILE *f, const char *name, const char *value);

#endif /* RGN_RENDER_INT_H */
