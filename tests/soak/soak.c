/*
 * soak.c - helpers of the soak programs (see soak.h).  Homes are removed
 * by an atexit handler of the process that made them, so a failed check
 * still leaves nothing behind.
 */
#include <dirent.h>
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "soak.h"

static char homes[8][4096];
static int nhomes;
static pid_t home_owner;

int soak_seconds(int argc, char **argv)
{
	const char *s = argc > 1 ? argv[1] : getenv("RGN_SOAK_SECONDS");
	int n = s && *s ? atoi(s) : 60;

	return n > 0 ? n : 60;
}

void soak_private_ipc(void)
{
	if (unshare(CLONE_NEWIPC) != 0) {
		perror("skip: unshare(CLONE_NEWIPC)");
		exit(77);
	}
}

int64_t soak_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_homes(void)
{
	if (getpid() != home_owner)
		return; /* a forked child must not remove its parent's homes */
	for (int i = 0; i < nhomes; i++)
		nftw(homes[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *soak_mkhome(void)
{
	const char *tmp = getenv("TMPDIR");

	if (nhomes == 8) {
		fprintf(stderr, "soak: too many homes\n");
		exit(1);
	}
	if (!home_owner) {
		home_owner = getpid();
		atexit(rm_homes);
	}
	snprintf(homes[nhomes], sizeof(homes[0]), "%s/rgn-soak-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(homes[nhomes])) {
		perror("soak: mkdtemp");
		exit(1);
	}
	return homes[nhomes++];
}

int soak_dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

int soak_segments(void)
{
	FILE *f = fopen("/proc/sysvipc/shm", "r");
	char line[512];
	int n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

uint64_t soak_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}
