/*
 * fshelper.c - builds what the fuse suite mounts, through the library
 * alone, so that every byte and figure seen through regionfs can be compared
 * with what libregion itself wrote or reports.
 *
 *   fshelper create HOME files|sysv KEY MODE N SIZE   N regions r0001...
 *   fshelper add HOME NAME SIZE                       one more region
 *   fshelper remove HOME NAME
 *   fshelper list HOME        "FILE SIZE MODE NAME TYPE SHMID KEY" lines
 *   fshelper dump HOME ID OUT the region's bytes, read by the library
 *   fshelper stat HOME        rgn_render_env_text, as regionctl prints it
 *   fshelper hold HOME        attach every region, print "ready", wait
 *   fshelper private HOME     a private environment: print "ready", wait
 *   fshelper shmget SIZE MODE OUT [hold]
 *                             a foreign segment filled with a pattern
 *                             (also written to OUT); prints its shmid;
 *                             with hold, stays alive (its creator lives)
 *
 * Every region's payload gets one allocation filled with a pattern that
 * depends on the region id, so the allocator stays valid (stat shows it)
 * and a mix-up of regions or offsets cannot go unnoticed.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#include "render.h"
#include "rgn.h"

static int fail(const char *what, int rc)
{
	fprintf(stderr, "fshelper: %s: %s: %s\n", what, rgn_strerror(rc),
		rgn_errdetail());
	return 1;
}

static void pattern(uint8_t *p, uint64_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	for (uint64_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

/* Fill most of the region's arena through one allocation. */
static int fill_region(rgn_region *r)
{
	struct rgn_alloc_stat st;
	uint64_t off, len;
	int rc;

	rc = rgn_alloc_stat(r, &st);
	if (rc < 0)
		return rc;
	len = st.largest_free > 1024 ? st.largest_free - 1024 : 16;
	rc = rgn_alloc(r, len, &off);
	if (rc < 0)
		return rc;
	pattern(rgn_ptr(r, off), len, rgn_region_id(r));
	return 0;
}

static int open_env(const char *home, uint32_t flags, rgn_env **env)
{
	struct rgn_env_config cfg;

	rgn_env_config_init(&cfg);
	cfg.flags = flags;
	return rgn_env_open(home, &cfg, env);
}

static int add_region(rgn_env *env, const char *name, uint64_t size)
{
	rgn_region *r;
	int rc = rgn_region_create(env, name, RGN_TYPE_USER, size, &r);

	if (rc < 0)
		return rc;
	rc = fill_region(r);
	rgn_region_detach(r);
	return rc;
}

static int cmd_create(char **av)
{
	struct rgn_env_config cfg;
	rgn_env *env;
	unsigned n = (unsigned)strtoul(av[4], NULL, 0);
	uint64_t size = strtoull(av[5], NULL, 0);
	char name[32];
	int rc;

	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE | RGN_EXCL;
	cfg.backing = strcmp(av[1], "sysv") == 0 ? RGN_BACKING_SYSV
						 : RGN_BACKING_FILES;
	cfg.shm_key = (int32_t)strtol(av[2], NULL, 0);
	cfg.mode = (mode_t)strtoul(av[3], NULL, 8);
	rc = rgn_env_open(av[0], &cfg, &env);
	if (rc < 0)
		return fail("create", rc);
	for (unsigned i = 1; i <= n && rc == 0; i++) {
		snprintf(name, sizeof(name), "r%04u", i);
		rc = add_region(env, name, size);
	}
	rgn_env_close(env);
	return rc < 0 ? fail("region", rc) : 0;
}

static int cmd_add(char **av)
{
	rgn_env *env;
	int rc = open_env(av[0], 0, &env);

	if (rc < 0)
		return fail("open", rc);
	rc = add_region(env, av[1], strtoull(av[2], NULL, 0));
	rgn_env_close(env);
	return rc < 0 ? fail("add", rc) : 0;
}

static int cmd_remove(char **av)
{
	rgn_env *env;
	int rc = open_env(av[0], 0, &env);

	if (rc < 0)
		return fail("open", rc);
	rc = rgn_region_remove(env, av[1]);
	rgn_env_close(env);
	return rc < 0 ? fail("remove", rc) : 0;
}

/* churn HOME NAME COUNT: create and remove region NAME COUNT times in one
 * process, as fast as it goes, sizes alternating so that an id taken again
 * holds a region of another size: a reader that opens the file of a region
 * just removed must see ENOENT, never EIO. */
static int cmd_churn(char **av)
{
	unsigned long count = strtoul(av[2], NULL, 0);
	rgn_env *env;
	int rc = open_env(av[0], 0, &env);

	if (rc < 0)
		return fail("open", rc);
	for (unsigned long i = 0; i < count && rc >= 0; i++) {
		rc = add_region(env, av[1], i % 2 ? 131072 : 65536);
		if (rc >= 0)
			rc = rgn_region_remove(env, av[1]);
	}
	rgn_env_close(env);
	return rc < 0 ? fail("churn", rc) : 0;
}

static int with_stat(const char *home, struct rgn_env_stat **st, rgn_env **env)
{
	int rc = open_env(home, RGN_INSPECT, env);

	if (rc < 0)
		return rc;
	rc = rgn_stat_env(*env, st);
	if (rc < 0)
		rgn_env_close(*env);
	return rc;
}

static int cmd_list(char **av)
{
	struct rgn_env_stat *st;
	rgn_env *env;
	int rc = with_stat(av[0], &st, &env);

	if (rc < 0)
		return fail("stat", rc);
	for (size_t i = 0; i < st->nregions; i++) {
		const struct rgn_region_stat *rs = &st->regions[i];

		printf("%s %" PRIu64 " %03o %s %s %d 0x%08x\n", rs->file,
		       rs->size, st->mode, rs->name, rgn_type_name(rs->type),
		       rs->shmid, (unsigned)rs->key);
	}
	rgn_stat_free(st);
	rgn_env_close(env);
	return 0;
}

static int cmd_dump(char **av)
{
	uint32_t id = (uint32_t)strtoul(av[1], NULL, 0);
	size_t chunk = 1 << 20;
	char *buf = malloc(chunk);
	uint64_t off = 0;
	rgn_env *env;
	FILE *out;
	ssize_t n;
	int rc;

	rc = open_env(av[0], RGN_INSPECT, &env);
	if (rc < 0 || !buf) {
		free(buf);
		return fail("open", rc);
	}
	out = fopen(av[2], "w");
	while (out && (n = rgn_region_pread(env, id, buf, chunk, off)) > 0) {
		fwrite(buf, 1, (size_t)n, out);
		off += (uint64_t)n;
	}
	rc = out && fclose(out) == 0 ? 0 : -EIO;
	rgn_env_close(env);
	free(buf);
	return rc < 0 ? fail("dump", rc) : 0;
}

static int cmd_stat(char **av)
{
	struct rgn_env_stat *st;
	rgn_env *env;
	char *text;
	size_t len;
	int rc = with_stat(av[0], &st, &env);

	if (rc < 0)
		return fail("stat", rc);
	rc = rgn_render_env_text(st, time(NULL), &text, &len);
	if (rc == 0) {
		fwrite(text, 1, len, stdout);
		free(text);
	}
	rgn_stat_free(st);
	rgn_env_close(env);
	return rc < 0 ? fail("render", rc) : 0;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void wait_for_signal(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	while (!stop)
		pause();
}

static int cmd_hold(char **av)
{
	struct rgn_env_stat *st;
	rgn_region *r[64];
	size_t nr = 0;
	rgn_env *env;
	int rc = open_env(av[0], 0, &env);

	if (rc < 0)
		return fail("open", rc);
	rc = rgn_stat_env(env, &st);
	if (rc < 0)
		return fail("stat", rc);
	for (size_t i = 0; i < st->nregions && nr < 64; i++)
		if (rgn_region_attach_id(env, st->regions[i].id, &r[nr]) == 0)
			nr++;
	rgn_stat_free(st);
	wait_for_signal();
	while (nr > 0)
		rgn_region_detach(r[--nr]);
	rgn_env_close(env);
	return 0;
}

static int cmd_private(char **av)
{
	struct rgn_env_config cfg;
	rgn_env *env;
	int rc;

	rgn_env_config_init(&cfg);
	cfg.flags = RGN_CREATE;
	cfg.backing = RGN_BACKING_PRIVATE;
	rc = rgn_env_open(av[0], &cfg, &env);
	if (rc < 0)
		return fail("private", rc);
	rc = add_region(env, "mine", 1 << 20);
	if (rc < 0)
		return fail("region", rc);
	wait_for_signal();
	rgn_env_close(env);
	return 0;
}

static int cmd_shmget(int ac, char **av)
{
	size_t size = strtoull(av[0], NULL, 0);
	int mode = (int)strtol(av[1], NULL, 8);
	int id = shmget(IPC_PRIVATE, size, IPC_CREAT | mode);
	FILE *out;
	void *p;

	if (id < 0 || (p = shmat(id, NULL, 0)) == (void *)-1) {
		perror("fshelper: shmget");
		return 1;
	}
	pattern(p, size, (uint64_t)id + 77);
	out = fopen(av[2], "w");
	if (!out || fwrite(p, 1, size, out) != size || fclose(out) != 0) {
		perror("fshelper: write");
		return 1;
	}
	shmdt(p);
	printf("%d\n", id);
	fflush(stdout);
	if (ac > 3 && strcmp(av[3], "hold") == 0)
		wait_for_signal();
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int nargs;
		int (*fn)(char **av);
	} cmds[] = {
		{"create", 6, cmd_create}, {"add", 3, cmd_add},
		{"remove", 2, cmd_remove}, {"list", 1, cmd_list},
		{"dump", 3, cmd_dump},	   {"stat", 1, cmd_stat},
		{"hold", 1, cmd_hold},	   {"private", 1, cmd_private},
		{"churn", 3, cmd_churn},
	};

	if (argc >= 5 && strcmp(argv[1], "shmget") == 0)
		return cmd_shmget(argc - 2, argv + 2);
	for (size_t i = 0; argc > 1 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0 &&
		    argc - 2 == cmds[i].nargs)
			return cmds[i].fn(argv + 2);
	fprintf(stderr, "usage: see tests/fuse/fshelper.c\n");
	return 2;
}
