/*
 * statcheck - regionctl prints exactly what the library renders.
 *
 * Makes an environment with regions, allocations and an attached handle
 * (this process), then runs `regionctl stat` in each form and compares its
 * output with rgn_render_* applied to rgn_stat_env of the same environment:
 * text byte for byte but for the "Local time" line, JSON as parsed objects
 * but for "local_time".  Checks db_stat's References line (this process's
 * handle).  Then scribbles on a region name in a real __db.001, in a home
 * whose path holds a newline and a byte that is not UTF-8, and checks that
 * every view keeps its lines, stays valid UTF-8 and gives the bytes back.
 * Run inside a private IPC namespace (meson does).
 * Usage: statcheck REGIONCTL
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "render.h"
#include "rgn.h"

static int failed, passed;
static char home[256];

static void result(int ok, const char *what)
{
	if (ok)
		passed++;
	else
		failed++;
	printf("%s %d - %s\n", ok ? "ok" : "not ok", passed + failed, what);
}

/* Run "REGIONCTL ARGS" and return its whole stdout (malloc'd). */
static char *capture(const char *rc, const char *args)
{
	char cmd[1024], *buf = NULL;
	size_t len = 0;
	FILE *out, *p;
	int c;

	snprintf(cmd, sizeof(cmd), "'%s' %s", rc, args);
	p = popen(cmd, "r");
	out = open_memstream(&buf, &len);
	if (!p || !out) {
		perror("popen");
		exit(1);
	}
	while ((c = fgetc(p)) != EOF)
		fputc(c, out);
	if (pclose(p) != 0)
		fprintf(stderr, "# %s: non-zero exit\n", cmd);
	fclose(out);
	return buf;
}

/* Drop the first line (Local time) of a db_stat-style text. */
static const char *after_first_line(const char *s)
{
	const char *nl = strchr(s, '\n');

	return nl ? nl + 1 : s;
}

static void compare_text(const char *what, const char *tool, const char *lib,
			 int skip_first)
{
	const char *a = skip_first ? after_first_line(tool) : tool;
	const char *b = skip_first ? after_first_line(lib) : lib;
	int same = strcmp(a, b) == 0;

	result(same, what);
	if (!same)
		printf("# regionctl:\n%s\n# library:\n%s\n", a, b);
}

static void compare_json(const char *what, const char *tool, const char *lib)
{
	struct json_object *a = json_tokener_parse(tool);
	struct json_object *b = json_tokener_parse(lib);
	int same;

	if (a && json_object_is_type(a, json_type_object))
		json_object_object_del(a, "local_time");
	if (b && json_object_is_type(b, json_type_object))
		json_object_object_del(b, "local_time");
	same = a && b && json_object_equal(a, b);
	result(same, what);
	if (!same)
		printf("# regionctl:\n%s\n# library:\n%s\n", tool, lib);
	json_object_put(a);
	json_object_put(b);
}

/* TEXT has the whole line LINE. */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return 1;
	return 0;
}

static int rm_one(const char *p, const struct stat *sb, int f, struct FTW *w)
{
	(void)sb, (void)f, (void)w;
	return remove(p);
}

static void cleanup(void)
{
	if (home[0])
		nftw(home, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void check(int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, "Bail out! %s: %s: %s\n", what,
			rgn_strerror(rc), rgn_errdetail());
		exit(1);
	}
}

/* ---- damaged names ------------------------------------------------------ */

#define PLACEHOLDER "placeholder-name-to-scribble-on"
/* What a stray write could leave: a forged line, a terminal escape, bytes
 * that are not UTF-8; shorter than PLACEHOLDER, so NUL-padded in place. */
#define DAMAGE "\n1\tInjected line\x1b[31m\xff\xfe"

/* Overwrite every copy of PLACEHOLDER in FILE (the table slot in
 * __db.001, the header of the region's own file) with DAMAGE; returns the
 * copies changed. */
static int scribble(const char *file)
{
	char name[sizeof(PLACEHOLDER)] = DAMAGE, *buf;
	size_t cap = 4u << 20; /* more than a test primary holds */
	int fd = open(file, O_RDWR), n = 0;
	ssize_t got;

	buf = malloc(cap);
	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return 0;
	}
	got = pread(fd, buf, cap, 0);
	for (ssize_t i = 0; got > 0 && i + (ssize_t)sizeof(name) <= got; i++)
		if (memcmp(buf + i, PLACEHOLDER, sizeof(name)) == 0 &&
		    pwrite(fd, name, sizeof(name), i) == (ssize_t)sizeof(name))
			n++;
	free(buf);
	close(fd);
	return n;
}

/* Undo \\ and \xNN. */
static void unescape(const char *s, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\\') {
			*out++ = '\\';
			i++;
		} else if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x') {
			char hex[3] = {s[i + 2], s[i + 3], 0};

			*out++ = (char)strtoul(hex, NULL, 16);
			i += 3;
		} else {
			*out++ = s[i];
		}
	}
	*out = '\0';
}

/* The unescaped VALUE of "VALUE\tLABEL" in TEXT into OUT (256 bytes). */
static int value_of(const char *text, const char *label, char *out)
{
	char want[64];
	const char *p, *start;

	snprintf(want, sizeof(want), "\t%s\n", label);
	p = strstr(text, want);
	if (!p)
		return 0;
	for (start = p; start > text && start[-1] != '\n'; start--)
		;
	if (p - start > 255)
		return 0;
	unescape(start, (size_t)(p - start), out);
	return 1;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static int no_raw_controls(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f)
			return 0;
	return 1;
}

static void damaged_names(const char *rc)
{
	struct rgn_env_config cfg;
	struct json_object *o = NULL, *v;
	struct json_tokener *tok;
	char dir[512], path[600], args[1024], got[256];
	char *before, *after;
	rgn_env *env;
	rgn_region *r;
	int n;

	printf("# damaged names\n");
	snprintf(dir, sizeof(dir), "%s/new\nline\xff", home);
	if (mkdir(dir, 0755) != 0) {
		perror("mkdir");
		exit(1);
	}
	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	check(rgn_env_open(dir, &cfg, &env), "create");
	check(rgn_region_create(env, PLACEHOLDER, RGN_TYPE_USER, 1 << 16, &r),
	      "region");
	check(rgn_env_close(env), "close");
	snprintf(args, sizeof(args), "stat -e -h '%s'", dir);
	before = capture(rc, args);
	snprintf(path, sizeof(path), "%s/__db.001", dir);
	n = scribble(path);
	result(n >= 1, "the region name was scribbled on in __db.001");
	snprintf(path, sizeof(path), "%s/__db.002", dir);
	scribble(path);
	after = capture(rc, args);
	result(count_lines(after) == count_lines(before),
	       "stat -e: as many lines as before the damage");
	result(strstr(after, "\n1\tInjected line") == NULL,
	       "stat -e: no forged line");
	result(no_raw_controls(after), "stat -e: no raw control byte");
	result(value_of(after, "Home", got) && strcmp(got, dir) == 0,
	       "stat -e: the Home line unescapes to the path");
	result(value_of(after, "Region name", got) &&
		       (strcmp(got, DAMAGE) == 0 || strcmp(got, "env") == 0),
	       "stat -e: Region name lines unescape to what is stored");
	result(strstr(after, "\\x0a1\\x09Injected line\\x1b[31m\\xff\\xfe\t"
			     "Region name\n") != NULL,
	       "stat -e: the damaged name, escaped");
	if (failed)
		printf("# regionctl %s:\n%s\n", args, after);
	free(before);
	free(after);

	/* JSON: json-c's strict UTF-8 check accepts it. */
	snprintf(args, sizeof(args), "stat -e -h '%s' --json", dir);
	after = capture(rc, args);
	tok = json_tokener_new();
	if (tok) {
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
						    JSON_TOKENER_VALIDATE_UTF8);
		o = json_tokener_parse_ex(tok, after, (int)strlen(after));
		json_tokener_free(tok);
	}
	result(o != NULL, "stat -e --json: strict UTF-8 JSON");
	if (o && json_object_object_get_ex(o, "home", &v)) {
		unescape(json_object_get_string(v),
			 strlen(json_object_get_string(v)), got);
		result(strcmp(got, dir) == 0,
		       "stat -e --json: home recoverable");
	} else {
		result(0, "stat -e --json: home recoverable");
	}
	json_object_put(o);
	free(after);
	check(rgn_env_remove(dir, 0), "remove");
}

int main(int argc, char **argv)
{
	struct rgn_env_config cfg;
	struct rgn_env_stat *st;
	rgn_env *env, *obs;
	rgn_region *r;
	char *tool, *lib;
	size_t len;
	uint64_t off;
	char args[512];
	const char *tmp = getenv("TMPDIR");

	if (argc != 2) {
		fprintf(stderr, "usage: statcheck REGIONCTL\n");
		return 2;
	}
	snprintf(home, sizeof(home), "%s/rgn-statcheck-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(home)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);

	for (int backing = RGN_BACKING_FILES; backing <= RGN_BACKING_SYSV;
	     backing++) {
		const char *bname =
			backing == RGN_BACKING_FILES ? "files" : "sysv";
		const struct rgn_region_stat *rs;
		char what[128];

		printf("# %s backing\n", bname);
		rgn_env_config_init(&cfg);
		cfg.flags = RGN_CREATE;
		cfg.backing = backing;
		cfg.shm_key = 0x5eed4000;
		check(rgn_env_open(home, &cfg, &env), "create");
		check(rgn_region_create(env, "cache", RGN_TYPE_MPOOL, 1 << 20,
					&r),
		      "region");
		for (int i = 0; i < 10; i++)
			check(rgn_alloc(r, 24u << i, &off), "alloc");
		check(rgn_free(r, off), "free");
		check(rgn_region_create(env, "locks", RGN_TYPE_LOCK, 256 << 10,
					&r),
		      "region");

		/* The library's view, as an observer like regionctl. */
		rgn_env_config_init(&cfg);
		cfg.flags = RGN_INSPECT;
		check(rgn_env_open(home, &cfg, &obs), "inspect");
		check(rgn_stat_env(obs, &st), "stat");

#define CMP_TEXT(desc, call, a, skip)                                          \
	do {                                                                   \
		snprintf(args, sizeof(args), a, home);                         \
		tool = capture(argv[1], args);                                 \
		check(call, "render");                                         \
		snprintf(what, sizeof(what), "%s: %s", bname, desc);           \
		compare_text(what, tool, lib, skip);                           \
		free(tool);                                                    \
		free(lib);                                                     \
	} while (0)
#define CMP_JSON(desc, call, a)                                                \
	do {                                                                   \
		snprintf(args, sizeof(args), a, home);                         \
		tool = capture(argv[1], args);                                 \
		check(call, "render");                                         \
		snprintf(what, sizeof(what), "%s: %s", bname, desc);           \
		compare_json(what, tool, lib);                                 \
		free(tool);                                                    \
		free(lib);                                                     \
	} while (0)

		CMP_TEXT("stat -e text",
			 rgn_render_env_text(st, time(NULL), &lib, &len),
			 "stat -e -h '%s'", 1);
		CMP_JSON("stat -e --json",
			 rgn_render_env_json(st, time(NULL), &lib, &len),
			 "stat -e -h '%s' --json");
		rs = rgn_render_find_region(st, 2);
		result(rs != NULL, "region 2 is in the snapshot");
		if (!rs)
			break;
		CMP_TEXT("stat --region 2",
			 rgn_render_region_text(st, rs, &lib, &len),
			 "stat -h '%s' --region 2", 0);
		CMP_JSON("stat --region 2 --json",
			 rgn_render_region_json(st, rs, &lib, &len),
			 "stat -h '%s' --region 2 --json");
		CMP_TEXT("stat --processes",
			 rgn_render_procs_text(st, &lib, &len),
			 "stat -h '%s' --processes", 0);
		CMP_JSON("stat --processes --json",
			 rgn_render_procs_json(st, &lib, &len),
			 "stat -h '%s' --processes --json");
		{
			const struct rgn_env_stat *one = st;

			CMP_TEXT("stat --prometheus",
				 rgn_render_prometheus(&one, 1, NULL, &lib,
						       &len),
				 "stat -h '%s' --prometheus", 0);
		}
		/* Figures that must be there, not just equal. */
		result(st->live == 1 && st->nprocs == 1 && st->nregions == 3,
		       "snapshot: 1 live process, 3 regions");
		result(rs->alloc.live_blocks == 9 && rs->alloc.nalloc == 10 &&
			       rs->alloc.nfree == 1,
		       "snapshot: 9 live blocks, 10 allocations, 1 free");

		/* db_stat -e's References: this process's one handle. */
		snprintf(args, sizeof(args), "stat -e -h '%s'", home);
		tool = capture(argv[1], args);
		snprintf(what, sizeof(what), "%s: References line", bname);
		result(has_line(tool, "1\tReferences") &&
			       strstr(tool, "\tStale registry entries\n"
					    "1\tReferences\n") != NULL,
		       what);
		free(tool);
		snprintf(args, sizeof(args), "stat -e -h '%s' --json", home);
		tool = capture(argv[1], args);
		{
			struct json_object *o = json_tokener_parse(tool), *v;

			snprintf(what, sizeof(what), "%s: \"references\": 1",
				 bname);
			result(o &&
				       json_object_object_get_ex(
					       o, "references", &v) &&
				       json_object_get_int(v) == 1,
			       what);
			json_object_put(o);
		}
		free(tool);

		rgn_stat_free(st);
		rgn_env_close(obs);
		rgn_env_close(env);
		check(rgn_env_remove(home, 0), "remove");
	}
	damaged_names(argv[1]);
	printf("1..%d\n%d passed, %d failed\n", passed + failed, passed,
	       failed);
	return failed ? 1 : 0;
}
