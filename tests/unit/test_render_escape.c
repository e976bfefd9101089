/*
 * test_render_escape.c - the one escaping rule, and every view that uses
 * it, on names and homes as a damaged __db.001 or segment header could
 * hold them: a name that forges a "VALUE<TAB>LABEL" line, a terminal
 * escape sequence, bytes that are not UTF-8, a home with a newline.
 *
 * Each view must keep one record to one line, carry no raw control byte,
 * be valid UTF-8 (JSON through json-c's strict UTF-8 check), and give the
 * exact bytes back when \\ and \xNN are undone.  The snapshots are built by
 * hand, which the renderers allow: they read nothing but the snapshot.
 */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <json-c/json.h>

#include "render.h"
#include "rgn.h"
#include "testutil.h"

#define NOW ((time_t)1795900000)

/* What a scribbled __db.001 can put in front of a reader. */
#define FORGED "\n1\tInjected line"
#define ESCSEQ "\x1b]0;owned\x07\x1b[31mred"
#define NOTUTF "bad\xff\xfe"
#define HOME   "/srv/a\nb\xff/\\home"

/* ---- helpers ------------------------------------------------------------- */

/* Undo \\ and \xNN in S (as a reader would) into a malloc'd string. */
static char *unescape(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\\') {
			*o++ = '\\';
			i++;
		} else if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x') {
			char hex[3] = {s[i + 2], s[i + 3], 0};

			*o++ = (char)strtoul(hex, NULL, 16);
			i += 3;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* Valid UTF-8 by the C library's own decoder, not ours. */
static int valid_utf8(const char *s)
{
	mbstate_t ps;
	size_t n = strlen(s);

	memset(&ps, 0, sizeof(ps));
	while (n) {
		size_t k = mbrtowc(NULL, s, n, &ps);

		if (k == (size_t)-1 || k == (size_t)-2)
			return 0;
		s += k;
		n -= k;
	}
	return 1;
}

/* No control byte but the line structure's own tab and newline. */
static void assert_no_raw_controls(const char *out)
{
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f)
			fail_msg("raw control byte 0x%02x at %zu in:\n%s", *p,
				 (size_t)(p - (const unsigned char *)out), out);
	if (!valid_utf8(out))
		fail_msg("not valid UTF-8:\n%s", out);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The VALUE of the line "VALUE\tLABEL" in TEXT, unescaped (malloc'd). */
static char *value_of(const char *text, const char *label)
{
	char want[128];
	const char *p, *start;

	snprintf(want, sizeof(want), "\t%s\n", label);
	p = strstr(text, want);
	if (!p)
		fail_msg("no line labelled \"%s\" in:\n%s", label, text);
	for (start = p; start > text && start[-1] != '\n'; start--)
		;
	return unescape(start, (size_t)(p - start));
}

/* ---- fixtures ------------------------------------------------------------ */

struct fx {
	struct rgn_env_stat st;
	struct rgn_region_stat regions[3];
	struct rgn_leak seg;
	struct rgn_leak_scan scan;
};

/* A snapshot whose region names are NAMES[0..1] (NULL: clean names) and
 * whose home is HOME_ (NULL: a clean one). */
static void fill(struct fx *fx, const char *n1, const char *n2,
		 const char *home)
{
	memset(fx, 0, sizeof(*fx));
	snprintf(fx->st.home, sizeof(fx->st.home), "%s",
		 home ? home : "/srv/a");
	fx->st.backing = RGN_BACKING_FILES;
	fx->st.nregions = 3;
	fx->st.regions = fx->regions;
	for (int i = 0; i < 3; i++) {
		struct rgn_region_stat *r = &fx->regions[i];

		r->id = (uint32_t)i + 1;
		r->type = i ? RGN_TYPE_USER : RGN_TYPE_ENV;
		snprintf(r->file, sizeof(r->file), "__db.%03d", i + 1);
		r->size = r->max = 1 << 20;
		r->shmid = -1;
	}
	strcpy(fx->regions[0].name, "env");
	snprintf(fx->regions[1].name, sizeof(fx->regions[1].name), "%s",
		 n1 ? n1 : "one");
	snprintf(fx->regions[2].name, sizeof(fx->regions[2].name), "%s",
		 n2 ? n2 : "two");

	fx->seg.shmid = 32768;
	fx->seg.key = 0x5eed0001;
	fx->seg.size = 65536;
	fx->seg.mode = 0600;
	fx->seg.cls = RGN_LEAK_ORPHANED;
	fx->seg.ours = RGN_LEAK_YES;
	fx->seg.home_matches = RGN_LEAK_NO;
	fx->seg.rss = fx->seg.swap = RGN_LEAK_LIMIT_UNKNOWN;
	fx->seg.home = fx->st.home;
	fx->seg.region_id = 2;
	snprintf(fx->seg.region_name, sizeof(fx->seg.region_name), "%s",
		 fx->regions[1].name);
	snprintf(fx->seg.evidence, sizeof(fx->seg.evidence),
		 "home %.200s holds another environment", fx->st.home);
	fx->scan.time = NOW;
	fx->scan.nsegs = 1;
	fx->scan.segs = &fx->seg;
	fx->scan.shmmni = fx->scan.shmall = fx->scan.shmmax =
		RGN_LEAK_LIMIT_UNKNOWN;
}

static int setup(void **state)
{
	struct fx *fx = malloc(2 * sizeof(*fx));

	if (!fx)
		return -1;
	fill(&fx[0], NULL, NULL, NULL);
	fill(&fx[1], FORGED, ESCSEQ NOTUTF, HOME);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* ---- the rule ------------------------------------------------------------ */

static void escape_follows_the_one_rule(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"", ""},
		{"plain name", "plain name"},
		{"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80", /* é ✓ 😀 */
		 "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80"},
		{"a\\b", "a\\\\b"},
		{FORGED, "\\x0a1\\x09Injected line"},
		{"\x1b[31m", "\\x1b[31m"},
		{"\x7f", "\\x7f"},
		{"\xff\xfe", "\\xff\\xfe"},
		{"\xc2\x85", "\\xc2\\x85"},	     /* C1 NEL */
		{"\xe2\x80\xa8", "\\xe2\\x80\\xa8"}, /* LINE SEPARATOR */
		{"\xc0\xaf", "\\xc0\\xaf"},	     /* overlong '/' */
		{"\xed\xa0\x80", "\\xed\\xa0\\x80"}, /* a surrogate */
		{"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"}, /* > U+10FFFF */
		{"x\xe2\x9c", "x\\xe2\\x9c"}, /* cut at the end */
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *d = rgn_render_escape_dup(cases[i].in);

		assert_string_equal(
			rgn_render_escape(cases[i].in, buf, sizeof(buf)),
			cases[i].out);
		assert_non_null(d);
		assert_string_equal(d, cases[i].out);
		free(d);
	}
	assert_string_equal(rgn_render_escape(NULL, buf, sizeof(buf)), "");
}

static void escape_truncates_between_units(void **state)
{
	char buf[8];

	(void)state;
	/* "ab" fits, then "\x0a" (4 bytes) would not: cut before it. */
	memset(buf, 'Z', sizeof(buf));
	assert_string_equal(rgn_render_escape("ab\ncd", buf, 6), "ab");
	assert_int_equal(buf[6], 'Z');
	/* Never half a UTF-8 character. */
	assert_string_equal(rgn_render_escape("a\xf0\x9f\x98\x80", buf, 5),
			    "a");
	assert_string_equal(rgn_render_escape("\\", buf, 2), "");
	assert_string_equal(rgn_render_escape("abc", buf, 1), "");
}

static void escape_round_trips_every_byte(void **state)
{
	char in[256 * 2], *esc, *back;
	size_t n = 0;

	(void)state;
	/* Every byte value, and every one after a lead byte. */
	for (int b = 1; b < 256; b++)
		in[n++] = (char)b;
	for (int b = 0x80; b < 0x100 && n + 2 < sizeof(in); b += 7) {
		in[n++] = (char)0xe2;
		in[n++] = (char)b;
	}
	in[n] = '\0';
	esc = rgn_render_escape_dup(in);
	assert_non_null(esc);
	assert_no_raw_controls(esc);
	assert_null(strchr(esc, '\n'));
	back = unescape(esc, strlen(esc));
	assert_string_equal(back, in);
	free(back);
	free(esc);
}

/* ---- the views ----------------------------------------------------------- */

static void env_text_keeps_its_lines_under_damaged_names(void **state)
{
	struct fx *fx = *state;
	char *clean, *bad, *v;
	size_t len;

	tu_ok(rgn_render_env_text(&fx[0].st, NOW, &clean, &len));
	tu_ok(rgn_render_env_text(&fx[1].st, NOW, &bad, &len));
	/* No forged line: the damaged snapshot renders as many lines. */
	assert_int_equal(count_lines(bad), count_lines(clean));
	assert_null(strstr(bad, "\n1\tInjected line"));
	assert_no_raw_controls(bad);
	v = value_of(bad, "Home");
	assert_string_equal(v, HOME);
	free(v);
	free(clean);
	free(bad);

	tu_ok(rgn_render_region_text(&fx[1].st, &fx[1].regions[1], &bad, &len));
	assert_no_raw_controls(bad);
	v = value_of(bad, "Region name");
	assert_string_equal(v, FORGED);
	free(v);
	free(bad);
	tu_ok(rgn_render_region_text(&fx[1].st, &fx[1].regions[2], &bad, &len));
	assert_no_raw_controls(bad);
	v = value_of(bad, "Region name");
	assert_string_equal(v, ESCSEQ NOTUTF);
	free(v);
	free(bad);
}

static void leak_views_keep_one_record_per_line(void **state)
{
	struct fx *fx = *state;
	char *out, *nl;
	size_t len;

	tu_ok(rgn_render_leaks_table(&fx[1].scan, &out, &len));
	assert_int_equal(count_lines(out), 2); /* header and one segment */
	assert_no_raw_controls(out);
	/* WHERE is last: the rest of the second line is the home. */
	nl = strrchr(out, ' ');
	assert_non_null(nl);
	out[len - 1] = '\0';
	{
		char *back = unescape(nl + 1, strlen(nl + 1));

		assert_string_equal(back, HOME);
		free(back);
	}
	free(out);

	tu_ok(rgn_render_leak_text(&fx[1].seg, &out, &len));
	assert_no_raw_controls(out);
	assert_int_equal(count_lines(out), 7); /* as with a clean segment */
	assert_null(strstr(out, "\n1\tInjected"));
	free(out);
}

/* JSON: strict json-c (UTF-8 checked) parses it, and the strings unescape
 * back to the snapshot's bytes. */
static struct json_object *parse_strict(const char *text)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	assert_non_null(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)strlen(text));
	if (!o)
		fail_msg("strict JSON parse failed (%s):\n%s",
			 json_tokener_error_desc(json_tokener_get_error(tok)),
			 text);
	json_tokener_free(tok);
	return o;
}

static void assert_json_string(struct json_object *o, const char *want)
{
	const char *s = json_object_get_string(o);
	char *back;

	assert_non_null(s);
	back = unescape(s, strlen(s));
	assert_string_equal(back, want);
	free(back);
}

static void json_is_valid_utf8_and_recoverable(void **state)
{
	struct fx *fx = *state;
	struct json_object *o, *r;
	char *out;
	size_t len;

	tu_ok(rgn_render_env_json(&fx[1].st, NOW, &out, &len));
	o = parse_strict(out);
	assert_json_string(json_object_object_get(o, "home"), HOME);
	r = json_object_array_get_idx(json_object_object_get(o, "regions"), 1);
	assert_json_string(json_object_object_get(r, "name"), FORGED);
	r = json_object_array_get_idx(json_object_object_get(o, "regions"), 2);
	assert_json_string(json_object_object_get(r, "name"), ESCSEQ NOTUTF);
	json_object_put(o);
	free(out);

	tu_ok(rgn_render_leaks_json(&fx[1].scan, &out, &len));
	o = parse_strict(out);
	r = json_object_array_get_idx(json_object_object_get(o, "segments"), 0);
	assert_json_string(json_object_object_get(r, "home"), HOME);
	assert_json_string(json_object_object_get(r, "region_name"), FORGED);
	json_object_put(o);
	free(out);
}

static void prometheus_labels_stay_on_one_line(void **state)
{
	struct fx *fx = *state;
	const struct rgn_env_stat *one = &fx[1].st, *clean = &fx[0].st;
	char *out, *ref, *p;
	size_t len;

	tu_ok(rgn_render_prometheus(&clean, 1, NULL, &ref, &len));
	tu_ok(rgn_render_prometheus(&one, 1, NULL, &out, &len));
	assert_int_equal(count_lines(out), count_lines(ref));
	assert_no_raw_controls(out);
	assert_null(strchr(out, '\t'));
	/* home="..." undone twice (the format's escapes, then ours). */
	p = strstr(out, "regionfs_env_info{home=\"");
	assert_non_null(p);
	p += strlen("regionfs_env_info{home=\"");
	{
		char raw[256], *back;
		size_t n = 0;

		for (; *p && *p != '"' && n + 1 < sizeof(raw); p++) {
			if (*p == '\\') {
				p++;
				raw[n++] = *p == 'n' ? '\n' : *p;
			} else {
				raw[n++] = *p;
			}
		}
		raw[n] = '\0';
		back = unescape(raw, n);
		assert_string_equal(back, HOME);
		free(back);
	}
	free(ref);
	free(out);
}

int main(void)
{
	/* The C library's decoder judges UTF-8 in valid_utf8. */
	if (!setlocale(LC_CTYPE, "C.UTF-8")) {
		fprintf(stderr, "test_render_escape: no C.UTF-8 locale\n");
		return 1;
	}
	tu_private_ipc();
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escape_follows_the_one_rule),
		cmocka_unit_test(escape_truncates_between_units),
		cmocka_unit_test(escape_round_trips_every_byte),
		T(env_text_keeps_its_lines_under_damaged_names),
		T(leak_views_keep_one_record_per_line),
		T(json_is_valid_utf8_and_recoverable),
		T(prometheus_labels_stay_on_one_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
