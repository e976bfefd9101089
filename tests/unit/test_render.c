/*
 * test_render.c - the renderers on snapshots built by hand: size pieces in
 * Berkeley DB's style, the db_stat -e layout (VALUE<TAB>LABEL lines, the
 * 49-character separator), JSON that parses back to the same figures, the
 * leak table's alignment, and Prometheus text a scraper accepts.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>

#include <json-c/json.h>

#include "render.h"
#include "rgn.h"
#include "testutil.h"

#define NOW ((time_t)1795900000)

/* ---- fixtures ------------------------------------------------------------ */

struct fx {
	struct rgn_env_stat st;		   /* the environment */
	struct rgn_region_stat regions[3]; /* primary, mutex, cache */
	struct rgn_proc_stat procs[2];	   /* one live, one stale */
	struct rgn_leak segs[3];	   /* a small scan */
	struct rgn_leak_scan scan;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct rgn_region_stat *r;

	if (!fx)
		return -1;
	snprintf(fx->st.home, sizeof(fx->st.home), "/srv/db/\"quoted\"\\home");
	fx->st.magic = 0x5247e0e7;
	fx->st.format = 1;
	fx->st.backing = RGN_BACKING_SYSV;
	fx->st.shm_key = 0x5eed0000;
	fx->st.mode = 0660;
	fx->st.env_id = 0xfedcba9876543210ull; /* above 2^63: a uint64 */
	fx->st.ctime = NOW - 3600;
	fx->st.mtime = NOW - 60;
	fx->st.generation = 3;
	fx->st.primary_size = 588 * 1024;
	fx->st.mutex.requests = 25;
	fx->st.mutex.waits = 5;
	fx->st.live = 1;
	fx->st.stale = 1;

	r = &fx->regions[0];
	r->id = 1;
	r->type = RGN_TYPE_ENV;
	strcpy(r->name, "env");
	strcpy(r->file, "__db.001");
	r->size = r->max = 588 * 1024;
	r->shmid = 7;
	r->key = 0x5eed0000;
	r->mutex = fx->st.mutex;

	r = &fx->regions[1];
	r->id = 2;
	r->type = RGN_TYPE_MUTEX;
	strcpy(r->name, "mutex");
	strcpy(r->file, "__db.002");
	r->size = r->max = 1073152; /* 1MB 24KB */
	r->shmid = 8;
	r->key = 0x5eed0001;
	r->alloc.arena_bytes = 1024 * 1024;
	r->alloc.used_bytes = 286720; /* 280KB */
	r->alloc.free_bytes = 1024 * 1024 - 286720;
	r->alloc.largest_free = 700000;
	r->alloc.live_blocks = 7;
	r->alloc.nalloc = 9;
	r->alloc.nfree = 2;
	r->alloc.hist[4] = 5;  /* 16..31 bytes */
	r->alloc.hist[20] = 2; /* 1MB..2MB */
	r->mutex.requests = 4;
	r->mutex.holder = 4242;

	r = &fx->regions[2];
	r->id = 3;
	r->type = RGN_TYPE_MPOOL;
	strcpy(r->name, "cache");
	strcpy(r->file, "__db.003");
	r->size = r->max = 256 * 1024;
	r->shmid = 9;
	r->key = 0x5eed0002;
	r->detail = RGN_ECORRUPT; /* figures could not be read */

	fx->procs[0] = (struct rgn_proc_stat){
		.pid = 100, .start = 500, .attach_time = NOW - 10, .live = 1};
	fx->procs[1] = (struct rgn_proc_stat){
		.pid = 200, .start = 600, .attach_time = NOW - 20, .live = 0};
	fx->st.regions = fx->regions;
	fx->st.nregions = 3;
	fx->st.procs = fx->procs;
	fx->st.nprocs = 2;

	for (int i = 0; i < 3; i++) {
		struct rgn_leak *g = &fx->segs[i];

		g->shmid = 32768 * (i + 1);
		g->key = 0x5eed0000 + i;
		g->size = 65536u << (i * 4);
		g->mode = 0660;
		g->cpid = 10 + i;
		g->lpid = 20 + i;
		g->ctime = NOW - 100;
		g->idle = 100 + 90000 * i;
		g->cpid_alive = i == 0 ? RGN_LEAK_YES : RGN_LEAK_NO;
		g->rss = g->swap = RGN_LEAK_LIMIT_UNKNOWN;
		g->home = "";
		g->ours = RGN_LEAK_NO;
		snprintf(g->evidence, sizeof(g->evidence), "evidence %d", i);
	}
	fx->segs[0].cls = RGN_LEAK_LIVE;
	fx->segs[0].ours = RGN_LEAK_YES;
	fx->segs[0].home =
		"/a/very/long/home/path/that/is/wider/than/the/header";
	fx->segs[0].nattch = 12345;
	fx->segs[1].cls = RGN_LEAK_ORPHANED;
	fx->segs[1].ours = RGN_LEAK_YES;
	fx->segs[1].home = "/h";
	fx->segs[1].home_matches = RGN_LEAK_NO;
	fx->segs[2].cls = RGN_LEAK_FOREIGN_IDLE;
	fx->scan.time = NOW;
	fx->scan.source = RGN_LEAK_SRC_STAT_ANY;
	fx->scan.nsegs = 3;
	fx->scan.segs = fx->segs;
	for (int i = 0; i < 3; i++) {
		fx->scan.count[fx->segs[i].cls]++;
		fx->scan.bytes[fx->segs[i].cls] += fx->segs[i].size;
		fx->scan.total_bytes += fx->segs[i].size;
	}
	fx->scan.leaked_bytes = fx->segs[1].size + fx->segs[2].size;
	fx->scan.shmmni = 4096;
	fx->scan.shmall = 18446744073692774399ull;
	fx->scan.shmmax = RGN_LEAK_LIMIT_UNKNOWN;
	fx->scan.shm_rmid_forced = 0;
	fx->scan.page_size = 4096;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* Split BUF into lines in place; returns the count. */
static size_t lines(char *buf, char **v, size_t max)
{
	size_t n = 0;

	for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l && n < max;
	     l = strtok_r(NULL, "\n", &save))
		v[n++] = l;
	return n;
}

static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return 1;
	return 0;
}

#define assert_line(text, line)                                                \
	do {                                                                   \
		if (!has_line(text, line))                                     \
			fail_msg("no line \"%s\" in:\n%s", line, text);        \
	} while (0)

/* ---- formatters ---------------------------------------------------------- */

static void bytes_print_as_berkeley_db_pieces(void **state)
{
	static const struct {
		uint64_t v;
		const char *s;
	} cases[] = {
		{0, "0"},
		{1, "1B"},
		{1023, "1023B"},
		{1024, "1KB"},
		{1041, "1KB 17B"},
		{286720, "280KB"},
		{1048576, "1MB"},
		{1073152, "1MB 24KB"},
		{1073741824, "1GB"},
		{1073741824ull + 1, "1GB 1B"},
		{5ull * 1073741824 + 3 * 1048576 + 2048 + 7, "5GB 3MB 2KB 7B"},
		{2048ull * 1073741824, "2048GB"},
	};
	char buf[48];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(
			rgn_render_bytes(cases[i].v, buf, sizeof(buf)),
			cases[i].s);
	/* A short buffer is cut, never overrun. */
	memset(buf, 'x', sizeof(buf));
	rgn_render_bytes(1073152, buf, 4);
	assert_true(strlen(buf) < 4);
	assert_int_equal(buf[5], 'x');
}

static void short_sizes_read_like_lsipc(void **state)
{
	static const struct {
		uint64_t v;
		const char *s;
	} cases[] = {
		{0, "0B"},	    {512, "512B"},   {65536, "64K"},
		{1572864, "1.5M"},  {1048576, "1M"}, {12ull << 30, "12G"},
		{2ull << 40, "2T"}, {1048575, "1M"}, {10 * 1048576 + 1, "10M"},
		{1023, "1023B"},    {1536, "1.5K"},  {10239, "10K"},
	};
	char buf[16];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(
			rgn_render_size_short(cases[i].v, buf, sizeof(buf)),
			cases[i].s);
}

static void separator_is_49_characters(void **state)
{
	(void)state;
	assert_int_equal(strlen(RGN_RENDER_SEP), 49);
	assert_int_equal(RGN_RENDER_SEP_LEN, 49);
	assert_int_equal(RGN_RENDER_SEP[0], '=');
	assert_int_equal(RGN_RENDER_SEP[48], '=');
	for (int i = 0; i < 49; i++)
		assert_int_equal(RGN_RENDER_SEP[i], i % 2 ? '-' : '=');
}

static void time_zero_is_never(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(rgn_render_time(0, buf, sizeof(buf)), "never");
	rgn_render_time(NOW, buf, sizeof(buf));
	assert_int_equal(strlen(buf), 24); /* "Sat Nov 28 23:31:39 2026" */
}

/* ---- environment text ---------------------------------------------------- */

static void env_text_follows_db_stat_layout(void **state)
{
	struct fx *fx = *state;
	char *out, *copy, *v[512];
	size_t len, n, seps = 0;

	tu_ok(rgn_render_env_text(&fx->st, NOW, &out, &len));
	assert_int_equal(strlen(out), len);
	assert_int_equal(out[len - 1], '\n');
	copy = strdup(out);
	n = lines(copy, v, 512);
	assert_true(strstr(v[0], "\tLocal time") != NULL);
	for (size_t i = 0; i < n; i++) {
		char *tab = strchr(v[i], '\t');

		if (strcmp(v[i], RGN_RENDER_SEP) == 0) {
			seps++;
			continue;
		}
		if (!tab || tab == v[i] || !tab[1] || strchr(tab + 1, '\t'))
			fail_msg("line %zu is not VALUE<TAB>LABEL: \"%s\"", i,
				 v[i]);
	}
	assert_int_equal(seps, 3 + 1); /* three regions, the processes */
	assert_line(out, "0x5247e0e7\tMagic number");
	assert_line(out, "sysv\tBacking");
	assert_line(out, "0x5eed0000\tBase System V key");
	assert_line(out, "0xfedcba9876543210\tEnvironment ID");
	assert_line(out, "1\tLive attached processes");
	assert_line(out, "1\tStale registry entries");
	/* db_stat -e's word, right after the live and stale lines. */
	assert_non_null(strstr(out, "1\tStale registry entries\n"
				    "1\tReferences\n3\tRegions\n"));
	assert_line(out, "3\tRegions");
	assert_line(out, "0\tEnvironment mutex [5/25 20% !Own]");
	assert_line(out, "588KB\tPrimary region size");
	/* Region sections. */
	assert_line(out, "1MB 24KB\tCurrent region size");
	assert_line(out, "280KB\tAllocator bytes used");
	assert_line(out, "5\tLive blocks of size [16B, 32B)");
	assert_line(out, "2\tLive blocks of size [1MB, 2MB)");
	assert_line(out, "4242\tRegion mutex [0/4 0% Own]");
	assert_line(out, "unavailable\tAllocator and mutex figures "
			 "(RGN_ECORRUPT: shared state is corrupt)");
	/* Only non-zero buckets print. */
	assert_null(strstr(out, "[32B, 64B)"));
	/* Processes. */
	assert_line(out, "2\tRegistered processes (1 live, 1 stale)");
	assert_non_null(strstr(out, "\n100\tlive process, started "));
	assert_non_null(strstr(out, "\n200\tstale process, started "));
	free(copy);
	free(out);
}

static void env_text_is_reproducible(void **state)
{
	struct fx *fx = *state;
	char *a, *b;
	size_t la, lb;

	tu_ok(rgn_render_env_text(&fx->st, NOW, &a, &la));
	tu_ok(rgn_render_env_text(&fx->st, NOW, &b, &lb));
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
}

static void private_env_seen_from_outside_names_its_owner(void **state)
{
	struct rgn_env_stat st;
	char *out;
	size_t len;

	(void)state;
	memset(&st, 0, sizeof(st));
	strcpy(st.home, "/srv/private");
	st.backing = RGN_BACKING_PRIVATE;
	st.private_owner = 31337;
	tu_ok(rgn_render_env_text(&st, NOW, &out, &len));
	assert_line(out, "private\tBacking");
	assert_line(out, "31337\tPrivate environment owner process ID");
	assert_line(out, RGN_RENDER_SEP);
	assert_null(strstr(out, "Region ID"));
	free(out);

	tu_ok(rgn_render_env_json(&st, NOW, &out, &len));
	{
		struct json_object *o = json_tokener_parse(out), *v;

		assert_non_null(o);
		assert_true(json_object_object_get_ex(o, "private", &v));
		assert_true(json_object_get_boolean(v));
		assert_true(json_object_object_get_ex(o, "private_owner", &v));
		assert_int_equal(json_object_get_int(v), 31337);
		assert_true(json_object_object_get_ex(o, "regions", &v));
		assert_int_equal(json_object_array_length(v), 0);
		json_object_put(o);
	}
	free(out);
}

static void region_text_is_one_section(void **state)
{
	struct fx *fx = *state;
	struct rgn_region_stat outside = fx->regions[1];
	char *out;
	size_t len;

	tu_ok(rgn_render_region_text(&fx->st, &fx->regions[1], &out, &len));
	assert_true(strncmp(out, "2\tRegion ID\n", 12) == 0);
	assert_null(strstr(out, RGN_RENDER_SEP));
	assert_null(strstr(out, "Local time"));
	assert_line(out, "mutex\tRegion type");
	assert_line(out, "8\tSegment ID");
	assert_line(out, "0x5eed0001\tSegment key");
	free(out);
	/* A region that is not part of the snapshot is refused. */
	assert_int_equal(rgn_render_region_text(&fx->st, &outside, &out, &len),
			 -EINVAL);
	assert_null(out);
	assert_int_equal(len, 0);
	assert_ptr_equal(rgn_render_find_region(&fx->st, 3), &fx->regions[2]);
	assert_null(rgn_render_find_region(&fx->st, 4));
}

static void procs_text_lists_each_entry(void **state)
{
	struct fx *fx = *state;
	char *out, *v[8];
	size_t len;

	tu_ok(rgn_render_procs_text(&fx->st, &out, &len));
	assert_int_equal(lines(out, v, 8), 3);
	assert_string_equal(v[0], "2\tRegistered processes (1 live, 1 stale)");
	assert_true(strncmp(v[1], "100\tlive process", 16) == 0);
	assert_true(strncmp(v[2], "200\tstale process", 17) == 0);
	free(out);
}

/* ---- JSON ---------------------------------------------------------------- */

/* Walk "a.b.0.c"; *found says whether the last key exists (its value may
 * be JSON null, which json-c represents as NULL). */
static struct json_object *walk(struct json_object *o, const char *path,
				int *found)
{
	char buf[128], *save = NULL;

	*found = 1;
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k;
	     k = strtok_r(NULL, ".", &save)) {
		struct json_object *next = NULL;

		if (!o) {
			*found = 0;
			return NULL;
		}
		if (json_object_is_type(o, json_type_array)) {
			next = json_object_array_get_idx(o, (size_t)atoi(k));
			*found = next != NULL;
		} else {
			*found = json_object_object_get_ex(o, k, &next);
		}
		o = next;
	}
	return o;
}

static struct json_object *get(struct json_object *o, const char *path)
{
	int found;

	o = walk(o, path, &found);
	if (!o)
		fail_msg("no %s in the JSON", path);
	return o;
}

static void assert_json_null(struct json_object *o, const char *path)
{
	int found;

	if (walk(o, path, &found) || !found)
		fail_msg("%s is not null in the JSON", path);
}

static void env_json_parses_back_to_the_figures(void **state)
{
	struct fx *fx = *state;
	struct json_object *o;
	char *out;
	size_t len;

	tu_ok(rgn_render_env_json(&fx->st, NOW, &out, &len));
	assert_int_equal(out[len - 1], '\n');
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_int_equal(json_object_get_int64(get(o, "local_time")), NOW);
	/* Escaped by the one rule: the backslash doubled. */
	assert_string_equal(json_object_get_string(get(o, "home")),
			    "/srv/db/\"quoted\"\\\\home");
	assert_int_equal(json_object_get_int(get(o, "references")), 1);
	assert_true(json_object_is_type(get(o, "env_id"), json_type_int));
	assert_true(json_object_get_uint64(get(o, "env_id")) ==
		    0xfedcba9876543210ull);
	assert_string_equal(json_object_get_string(get(o, "env_id_hex")),
			    "0xfedcba9876543210");
	assert_string_equal(json_object_get_string(get(o, "backing")), "sysv");
	assert_int_equal(json_object_get_int(get(o, "mutex.waits")), 5);
	assert_int_equal(json_object_array_length(get(o, "regions")), 3);
	assert_int_equal(json_object_get_int64(get(o, "regions.1.size")),
			 1073152);
	assert_int_equal(
		json_object_get_int(get(o, "regions.1.alloc.live_blocks")), 7);
	assert_int_equal(
		json_object_array_length(get(o, "regions.1.alloc.histogram")),
		2);
	assert_int_equal(
		json_object_get_int(get(o, "regions.1.alloc.histogram.0.min")),
		16);
	assert_int_equal(
		json_object_get_int(get(o, "regions.1.alloc.histogram.0.max")),
		31);
	assert_int_equal(json_object_get_int(
				 get(o, "regions.1.alloc.histogram.0.count")),
			 5);
	assert_string_equal(json_object_get_string(get(o, "regions.2.error")),
			    rgn_strerror(RGN_ECORRUPT));
	assert_json_null(o, "regions.1.error");
	assert_json_null(o, "regions.0.alloc"); /* the primary has none */
	assert_int_equal(json_object_array_length(get(o, "processes")), 2);
	assert_false(json_object_get_boolean(get(o, "processes.1.live")));
	json_object_put(o);
	free(out);
}

static void region_and_procs_json_are_valid(void **state)
{
	struct fx *fx = *state;
	struct json_object *o;
	char *out;
	size_t len;

	tu_ok(rgn_render_region_json(&fx->st, &fx->regions[1], &out, &len));
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_string_equal(json_object_get_string(get(o, "name")), "mutex");
	assert_int_equal(json_object_get_int(get(o, "mutex.holder")), 4242);
	json_object_put(o);
	free(out);

	tu_ok(rgn_render_procs_json(&fx->st, &out, &len));
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_array));
	assert_int_equal(json_object_get_int(get(o, "0.pid")), 100);
	json_object_put(o);
	free(out);
}

static void leaks_json_parses_back(void **state)
{
	struct fx *fx = *state;
	struct json_object *o;
	char *out;
	size_t len;

	tu_ok(rgn_render_leaks_json(&fx->scan, &out, &len));
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_int_equal(json_object_get_int(get(o, "counts.orphaned")), 1);
	assert_int_equal(json_object_get_int(get(o, "counts.foreign-idle")), 1);
	assert_json_null(o, "shmmax");
	assert_true(json_object_get_uint64(get(o, "shmall")) ==
		    18446744073692774399ull);
	assert_int_equal(json_object_array_length(get(o, "segments")), 3);
	assert_string_equal(json_object_get_string(get(o, "segments.1.class")),
			    "orphaned");
	assert_string_equal(json_object_get_string(get(o, "segments.1.home")),
			    "/h");
	assert_false(
		json_object_get_boolean(get(o, "segments.1.home_matches")));
	assert_string_equal(
		json_object_get_string(get(o, "segments.2.key_hex")),
		"0x5eed0002");
	/* Foreign segments carry no "ours" details. */
	assert_false(json_object_object_get_ex(
		json_object_array_get_idx(get(o, "segments"), 2), "home",
		NULL));
	json_object_put(o);
	free(out);

	tu_ok(rgn_render_leak_json(&fx->segs[0], &out, &len));
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_int_equal(json_object_get_int(get(o, "nattch")), 12345);
	json_object_put(o);
	free(out);
}

/* ---- leaks text ---------------------------------------------------------- */

static void leak_table_columns_are_aligned(void **state)
{
	struct fx *fx = *state;
	char *out, *v[8];
	size_t len, n;
	const char *cols[] = {"KEY", "OWNER", "PERMS", "CLASS", "WHERE"};

	tu_ok(rgn_render_leaks_table(&fx->scan, &out, &len));
	n = lines(out, v, 8);
	assert_int_equal(n, 4);
	assert_true(strncmp(v[0], "SHMID ", 6) == 0);
	/* Left-aligned columns start where their heading starts. */
	for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++) {
		size_t at = (size_t)(strstr(v[0], cols[c]) - v[0]);

		for (size_t i = 1; i < n; i++) {
			assert_true(strlen(v[i]) > at);
			assert_true(v[i][at] != ' ');
			assert_true(v[i][at - 1] == ' ');
		}
	}
	/* Right-aligned ones end where their heading ends. */
	{
		size_t end = (size_t)(strstr(v[0], "NATTCH") - v[0]) + 6;

		for (size_t i = 1; i < n; i++)
			assert_true(v[i][end] == ' ' && v[i][end - 1] != ' ');
	}
	assert_non_null(strstr(v[1], "12345"));
	assert_non_null(strstr(v[1], "live"));
	assert_non_null(strstr(v[2], "11*"));  /* creator dead */
	assert_non_null(strstr(v[2], "1d1h")); /* idle 90100 s */
	assert_non_null(strstr(v[3], "16M"));
	free(out);
}

static void leak_text_and_summary(void **state)
{
	struct fx *fx = *state;
	char *out;
	size_t len;

	tu_ok(rgn_render_leak_text(&fx->segs[1], &out, &len));
	assert_true(strncmp(out,
			    "shmid 65536 key 0x5eed0001 size 1MB class "
			    "orphaned\n",
			    49) == 0);
	assert_non_null(
		strstr(out, "home /h (does not hold this environment)"));
	assert_non_null(strstr(out, "  evidence: evidence 1\n"));
	free(out);

	tu_ok(rgn_render_leaks_summary(&fx->scan, &out, &len));
	assert_line(out, "3\tSegments");
	assert_line(out, "1\torphaned segments (1MB)");
	assert_line(out, "1\tforeign-idle segments (16MB)");
	assert_line(out, "17MB\tHeld by leaked segments (orphaned, and "
			 "foreign-idle whose creator is dead)");
	assert_line(out, "4096\tshmmni: most segments");
	assert_line(out, "unknown\tshmmax: most bytes in one segment");
	free(out);
}

/* ---- Prometheus ---------------------------------------------------------- */

static void prometheus_text_is_well_formed(void **state)
{
	struct fx *fx = *state;
	const struct rgn_env_stat *envs[2] = {&fx->st, NULL};
	char *out, *copy, *v[1024], seen[64][80];
	size_t len, n, nseen = 0;
	regex_t sample, help, type;

	tu_ok(rgn_render_prometheus(envs, 2, &fx->scan, &out, &len));
	assert_int_equal(regcomp(&sample,
				 "^regionfs_[a-z_]+(\\{([a-z_]+=\"([^\"\\\\]|"
				 "\\\\[\\\\\"n])*\",?)*\\})? [0-9]+$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	assert_int_equal(regcomp(&help, "^# HELP regionfs_[a-z_]+ [^\n]+$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	assert_int_equal(regcomp(&type,
				 "^# TYPE regionfs_[a-z_]+ (gauge|counter)$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	copy = strdup(out);
	n = lines(copy, v, 1024);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(v[i], "# HELP ", 7) == 0) {
			char name[80];

			assert_int_equal(regexec(&help, v[i], 0, NULL, 0), 0);
			/* Each family once, TYPE right after HELP. */
			sscanf(v[i] + 7, "%79s", name);
			for (size_t k = 0; k < nseen; k++)
				if (strcmp(seen[k], name) == 0)
					fail_msg("family %s twice", name);
			assert_true(nseen < 64);
			strcpy(seen[nseen++], name);
			assert_true(i + 1 < n);
			assert_int_equal(regexec(&type, v[i + 1], 0, NULL, 0),
					 0);
			assert_true(strncmp(v[i + 1] + 7, name, strlen(name)) ==
				    0);
			/* A counter ends in _total and a gauge never does,
			 * or a Prometheus server mistypes it. */
			{
				size_t nl = strlen(name);
				int total = nl > 6 && strcmp(name + nl - 6,
							     "_total") == 0;
				int counter =
					strstr(v[i + 1], " counter") != NULL;

				if (total != counter)
					fail_msg("%s: %s", name, v[i + 1]);
			}
			continue;
		}
		if (v[i][0] == '#')
			continue;
		if (regexec(&sample, v[i], 0, NULL, 0) != 0)
			fail_msg("not a sample line: %s", v[i]);
		/* A sample belongs to the family declared last. */
		assert_true(nseen > 0);
		assert_true(strncmp(v[i], seen[nseen - 1],
				    strlen(seen[nseen - 1])) == 0);
	}
	/* Label values escaped: quote, backslash. */
	/* Label values escaped by our rule (the backslash doubled), then as
	 * the format says (quote and backslash). */
	assert_non_null(strstr(out,
			       "regionfs_env_info{home=\"/srv/db/\\\"quoted"
			       "\\\"\\\\\\\\home\",backing=\"sysv\",env_id=\""
			       "0xfedcba9876543210\"} 1\n"));
	assert_non_null(strstr(out,
			       "regionfs_region_size_bytes{home=\"/srv/db/"
			       "\\\"quoted\\\"\\\\\\\\home\",region=\"mutex\","
			       "id=\"2\",type=\"mutex\"} 1073152\n"));
	assert_non_null(strstr(out, "regionfs_env_generation_total{home="));
	assert_non_null(
		strstr(out, "regionfs_shm_segments{class=\"orphaned\"} 1\n"));
	assert_non_null(strstr(out, "regionfs_shm_leaked_bytes 17825792\n"));
	/* Counters end in _total. */
	assert_non_null(strstr(out, "# TYPE regionfs_region_allocations_total "
				    "counter\n"));
	/* No allocator figures for a region whose detail failed. */
	assert_null(strstr(out, "region=\"cache\",id=\"3\",type=\"mpool\"} 0\n"
				"regionfs_region_used"));
	assert_null(strstr(out, "regionfs_region_used_bytes{home=\"/srv/db/"
				"\\\"quoted\\\"\\\\home\",region=\"cache\""));
	/* An unknown limit is left out rather than invented. */
	assert_null(strstr(out, "regionfs_shm_shmmax_bytes"));
	regfree(&sample);
	regfree(&help);
	regfree(&type);
	free(copy);
	free(out);
}

static void prometheus_escapes_newlines_in_labels(void **state)
{
	struct fx *fx = *state;
	const struct rgn_env_stat *envs[1] = {&fx->st};
	char *out;
	size_t len;

	strcpy(fx->st.home, "/tmp/a\nb");
	tu_ok(rgn_render_prometheus(envs, 1, NULL, &out, &len));
	/* The newline is \x0a by our rule, its backslash doubled by the
	 * format's: one line, and the bytes recoverable. */
	assert_non_null(strstr(out, "home=\"/tmp/a\\\\x0ab\""));
	assert_null(strstr(out, "/tmp/a\nb"));
	assert_null(strstr(out, "regionfs_shm_")); /* no scan given */
	free(out);
	tu_ok(rgn_render_prometheus(NULL, 0, NULL, &out, &len));
	assert_int_equal(len, 0);
	free(out);
}

static void renderers_refuse_null(void **state)
{
	char *out = (char *)1;
	size_t len = 1;

	(void)state;
	assert_int_equal(rgn_render_env_text(NULL, NOW, &out, &len), -EINVAL);
	assert_null(out);
	assert_int_equal(rgn_render_env_json(NULL, NOW, &out, &len), -EINVAL);
	assert_int_equal(rgn_render_leaks_table(NULL, &out, &len), -EINVAL);
	assert_int_equal(rgn_render_leaks_json(NULL, &out, &len), -EINVAL);
	assert_int_equal(rgn_render_leak_text(NULL, &out, &len), -EINVAL);
	assert_int_equal(rgn_render_procs_text(NULL, &out, &len), -EINVAL);
	assert_int_equal(rgn_render_prometheus(NULL, 1, NULL, &out, &len),
			 -EINVAL);
}

int main(void)
{
	tu_private_ipc();
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bytes_print_as_berkeley_db_pieces),
		cmocka_unit_test(short_sizes_read_like_lsipc),
		cmocka_unit_test(separator_is_49_characters),
		cmocka_unit_test(time_zero_is_never),
		T(env_text_follows_db_stat_layout),
		T(env_text_is_reproducible),
		cmocka_unit_test(private_env_seen_from_outside_names_its_owner),
		T(region_text_is_one_section),
		T(procs_text_lists_each_entry),
		T(env_json_parses_back_to_the_figures),
		T(region_and_procs_json_are_valid),
		T(leaks_json_parses_back),
		T(leak_table_columns_are_aligned),
		T(leak_text_and_summary),
		T(prometheus_text_is_well_formed),
		T(prometheus_escapes_newlines_in_labels),
		cmocka_unit_test(renderers_refuse_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
