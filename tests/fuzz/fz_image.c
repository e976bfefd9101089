/*
 * fz_image.c - the windows of the images the targets build (see fuzz.h),
 * in one place so that the targets and mkseed always agree, and the
 * run's scratch directory.
 */
#include <ftw.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "layout.h"

size_t fz_region_windows(uint64_t size, struct fz_window w[4])
{
	/* Everything but rh_home, which is last and only ever compared. */
	const size_t home = offsetof(struct rgn_shm_region, rh_home);
	size_t head = (size_t)size - 16 - RGN_HDR_SIZE;

	if (head > FZ_ARENA_HEAD)
		head = FZ_ARENA_HEAD;
	w[0] = (struct fz_window){0, home};
	/* The tail before the head, so that a short input cuts only the
	 * head, which is mostly zeros. */
	w[1] = (struct fz_window){(size_t)size - 16, 16};
	w[2] = (struct fz_window){RGN_HDR_SIZE, head};
	return 3;
}

uint64_t fz_region_size(const uint8_t *hdr, size_t len)
{
	const size_t at = offsetof(struct rgn_shm_region, rh_size);
	uint64_t size;

	if (len < at + sizeof(size))
		return FZ_REGION_DEFAULT;
	memcpy(&size, hdr + at, sizeof(size));
	if (size < FZ_REGION_MIN || size > FZ_REGION_MAX || size % 16)
		return FZ_REGION_DEFAULT;
	return size;
}

size_t fz_primary_windows(struct fz_window w[4])
{
	w[0] = (struct fz_window){0, offsetof(struct rgn_shm_region, rh_home)};
	w[1] = (struct fz_window){RGN_ENV_OFF, sizeof(struct rgn_shm_env)};
	w[2] = (struct fz_window){
		RGN_PROCS_OFF, FZ_PRIMARY_PROCS * sizeof(struct rgn_shm_proc)};
	w[3] = (struct fz_window){
		RGN_TABLE_OFF, FZ_PRIMARY_SLOTS * sizeof(struct rgn_shm_slot)};
	return 4;
}

static char tmpdir[PATH_MAX];
static pid_t tmpdir_owner;

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Only the process that made it removes it: libFuzzer's -fork workers
 * and any child of a target inherit the handler. */
static void rm_tmpdir(void)
{
	if (tmpdir[0] && getpid() == tmpdir_owner)
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void fz_finding(void)
{
	rm_tmpdir();
	abort();
}

const char *fz_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (tmpdir[0])
		return tmpdir;
	/* tmpfs by default: a target that rewrites a file each run must
	 * not wait for a disk (ext4 discards freed blocks at truncate). */
	if (!base || !base[0])
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/rgnfuzz.XXXXXX", base);
	if (!mkdtemp(tmpdir)) {
		perror("fuzz: mkdtemp");
		tmpdir[0] = '\0';
		return NULL;
	}
	tmpdir_owner = getpid();
	atexit(rm_tmpdir);
	return tmpdir;
}
