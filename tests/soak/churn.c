/*
 * churn.c - the two sides of the FUSE churn soak (churn.sh runs them):
 *
 *   churn setup HOME               an environment (files backing)
 *   churn writer HOME SECONDS      create and remove regions all along
 *   churn reader MNT SECONDS SEED  list the mount, open a random region
 *                                  file or stat file, read it whole
 *
 * A reader may find a file gone when it opens it (ENOENT, counted); once
 * a file is open, every read must succeed even if its region is removed
 * meanwhile: an error then is a violation.  EIO at open is counted on its
 * own (issue 11, defect 4: ENOENT is meant) and is a violation too unless
 * RGN_SOAK_ALLOW_OPEN_EIO is set.  Each prints one line of counts; exit
 * 1 on a violation.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rgn.h"
#include "soak.h"

#define MAX_LIVE 24

static int open_env(const char *home, uint32_t flags, rgn_env **envp)
{
	struct rgn_env_config cfg;

	rgn_env_config_init(&cfg);
	cfg.flags = flags;
	return rgn_env_open(home, &cfg, envp);
}

static int fail(const char *what, const char *name, int rc)
{
	fprintf(stderr, "churn: %s %s: %s: %s\n", what, name, rgn_strerror(rc),
		rgn_errdetail());
	return 1;
}

static int setup(const char *home)
{
	rgn_env *env;
	rgn_region *r;
	int rc = open_env(home, RGN_CREATE | RGN_EXCL, &env);

	if (rc == 0)
		rc = rgn_region_create(env, "steady", RGN_TYPE_USER, 1 << 16,
				       &r);
	if (rc < 0)
		return fail("create environment in", home, rc);
	return rgn_env_close(env) ? 1 : 0;
}

static int writer(const char *home, int seconds)
{
	unsigned long long creates = 0, removes = 0, serial = 0;
	char live[MAX_LIVE][32];
	uint64_t rnd = (uint64_t)getpid() | 1;
	int64_t end = soak_now_ms() + (int64_t)seconds * 1000;
	int nlive = 0, rc;
	rgn_env *env;
	rgn_region *r;
	uint64_t off;

	rc = open_env(home, 0, &env);
	if (rc < 0)
		return fail("join", home, rc);
	while (soak_now_ms() < end) {
		if (nlive < MAX_LIVE && (nlive < 4 || soak_rand(&rnd) % 2)) {
			snprintf(live[nlive], sizeof(live[0]), "c%llu",
				 serial++);
			rc = rgn_region_create(env, live[nlive], RGN_TYPE_USER,
					       (64u << 10) << (serial % 4), &r);
			if (rc == 0)
				rc = rgn_alloc(r, 4096, &off);
			if (rc < 0)
				return fail("create region", live[nlive], rc);
			memset(rgn_ptr(r, off), 0x3c, 4096);
			rgn_region_detach(r);
			nlive++;
			creates++;
		} else {
			int i = (int)(soak_rand(&rnd) % (uint64_t)nlive);

			rc = rgn_region_remove(env, live[i]);
			if (rc < 0)
				return fail("remove region", live[i], rc);
			memcpy(live[i], live[--nlive], sizeof(live[0]));
			removes++;
		}
	}
	rgn_env_close(env);
	printf("writer: %llu creates, %llu removes\n", creates, removes);
	return 0;
}

/* A random name in DIR matching PREFIX, or 0 if none. */
static int pick(const char *dir, const char *prefix, uint64_t *rnd, char *out,
		size_t len)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, NULL), found = 0, cand = 0;

	for (int i = 0; i < n; i++) {
		if (strncmp(ents[i]->d_name, prefix, strlen(prefix)) == 0 &&
		    soak_rand(rnd) % (uint64_t)++cand == 0) {
			snprintf(out, len, "%s/%s", dir, ents[i]->d_name);
			found = 1;
		}
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	if (n >= 0)
		free(ents);
	return found;
}

static int reader(const char *mnt, int seconds, uint64_t seed)
{
	static const char *const pseudo[] = {"stat", "stat.json", "processes",
					     "metrics"};
	unsigned long long opens = 0, gone = 0, eio_open = 0, bytes = 0;
	unsigned long long bad = 0, read_errors = 0;
	int allow_open_eio = getenv("RGN_SOAK_ALLOW_OPEN_EIO") != NULL;
	uint64_t rnd = seed | 1;
	int64_t end = soak_now_ms() + (int64_t)seconds * 1000;
	char path[8500], dir[4200], sub[4300], buf[65536];

	while (soak_now_ms() < end) {
		uint64_t what = soak_rand(&rnd) % 8;
		ssize_t n;
		int fd;

		snprintf(dir, sizeof(dir), "%s/regions", mnt);
		if (what < 4) {
			if (!pick(mnt, "__db.", &rnd, path, sizeof(path)))
				continue;
		} else if (what < 6) {
			if (!pick(dir, "__db.", &rnd, sub, sizeof(sub)))
				continue;
			snprintf(path, sizeof(path), "%s/stat%s", sub,
				 what == 5 ? ".json" : "");
		} else {
			snprintf(path, sizeof(path), "%s/%s", mnt,
				 pseudo[soak_rand(&rnd) % 4]);
		}
		fd = open(path, O_RDONLY);
		if (fd < 0) {
			if (errno == ENOENT) {
				gone++;
				continue;
			}
			if (errno == EIO) {
				eio_open++;
				if (allow_open_eio)
					continue;
			}
			fprintf(stderr, "churn: open %s: %s\n", path,
				strerror(errno));
			bad++;
			continue;
		}
		opens++;
		/* now and then give the writer time to remove it */
		if (soak_rand(&rnd) % 4 == 0)
			usleep(2000);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			bytes += (unsigned long long)n;
		if (n < 0) {
			fprintf(stderr, "churn: read %s after open: %s\n", path,
				strerror(errno));
			read_errors++;
			bad++;
		}
		close(fd);
	}
	printf("reader: %llu opens, %llu gone at open, %llu EIO at open, "
	       "%llu bytes, %llu read-errors, %llu violations\n",
	       opens, gone, eio_open, bytes, read_errors, bad);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "setup") == 0)
		return setup(argv[2]);
	if (argc == 4 && strcmp(argv[1], "writer") == 0)
		return writer(argv[2], atoi(argv[3]));
	if (argc == 5 && strcmp(argv[1], "reader") == 0)
		return reader(argv[2], atoi(argv[3]),
			      strtoull(argv[4], NULL, 0));
	fprintf(stderr, "usage: see tests/soak/churn.c\n");
	return 2;
}
