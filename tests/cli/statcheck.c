/*
 * statcheck - regionctl prints exactly what the library renders.
 *
 * Makes an environment with regions, allocations and an attached handle
 * (this process), then runs `regionctl stat` in each form and compares its
 * output with rgn_render_* applied to rgn_stat_env of the same environment:
 * text byte for byte but for the "Local time" line, JSON as parsed objects
 * but for "local_time".  Run inside a private IPC namespace (meson does).
 * Usage: statcheck REGIONCTL
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
		const char *bname = backing == RGN_BACKING_FILES ? "files" : "sysv";
		const struct rgn_region_stat *rs;
		char what[128];

		printf("# %s backing\n", bname);
		rgn_env_config_init(&cfg);
		cfg.flags = RGN_CREATE;
		cfg.backing = backing;
		cfg.shm_key = 0x5eed4000;
		check(rgn_env_open(home, &cfg, &env), "create");
		check(rgn_region_create(env, "cache", RGN_TYPE_MPOOL, 1 << 20, &r),
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

		rgn_stat_free(st);
		rgn_env_close(obs);
		rgn_env_close(env);
		check(rgn_env_remove(home, 0), "remove");
	}
	printf("1..%d\n%d passed, %d failed\n", passed + failed, passed, failed);
	return failed ? 1 : 0;
}
