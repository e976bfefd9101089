/*
 * bdb_home.c - a Berkeley DB home read from outside, and a verdict on it.
 *
 * The contract is "look, never touch": Berkeley DB coordinates only
 * through the bytes of its regions (an O_EXCL create of __db.001, the
 * magic written last, the reference count under a mutex inside the
 * region), so any write, lock, rename or unlink here could corrupt or
 * block a live environment.  Files are therefore opened O_RDONLY with
 * O_NOFOLLOW (and O_NONBLOCK, so a FIFO in its place cannot hang us) and
 * read with pread, never mapped (a file truncated under a mapping would
 * SIGBUS the reader).  A segment is attached read-only through the core's
 * identity module, only while bytes are copied out, and only if it is
 * still the segment that was seen.  Nothing sleeps or retries: a home
 * caught half-way is reported as it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bdb.h"
#include "rgn.h"
#include "shmid.h"

/* How much of a primary is read to decode it: REGENV, the allocator head
 * and the table (at 0x1d8 in 5.3.28, a few slots). */
#define HEAD_LEN 65536
/* A table claiming more than this is damaged: read no further. */
#define TABLE_LIMIT (4u << 20)

#define RECOVER_HINT "db_recover -h %s (db5.3_recover on Debian)"

static int open_ro(int dirfd, const char *name)
{
	return openat(dirfd, name,
		      O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
			      O_NOCTTY);
}

/* Up to LEN bytes at OFF of an open file, short only at its end. */
static int64_t pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t r;

	while (done < len) {
		r = pread(fd, (char *)buf + done, len - done,
			  (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (int64_t)done;
}

/* Copy LEN bytes at OFF out of segment SHMID (which must still have KEY
 * and CTIME), attached read-only only for the copy. */
static int64_t shm_copy(int32_t shmid, int32_t key, int64_t ctime, uint64_t off,
			void *buf, size_t len)
{
	struct rgn_shm_seen seen = {.shmid = shmid, .key = key, .ctime = ctime};
	const void *base;
	uint64_t size;
	int rc;

	/* Berkeley DB's remove marks segments for removal; their bytes stay
	 * intact until the last detach, and the key then reads as private,
	 * so the creation time alone identifies them. */
	rc = rgn_shm_attach_ro(&seen, RGN_SHM_ALLOW_REMOVING | RGN_SHM_ANY_KEY,
			       &base, &size);
	if (rc < 0)
		return rc;
	if (off >= size) {
		len = 0;
	} else {
		if (len > size - off)
			len = (size_t)(size - off);
		memcpy(buf, (const char *)base + off, len);
	}
	rgn_shm_detach(base);
	return (int64_t)len;
}

/* Read the primary's first bytes (file or segment) into a malloc'd
 * buffer of *LEN bytes, enough to hold its region table. */
static int read_primary(struct rgn_bdb *b, int fd, unsigned char **out,
			size_t *len)
{
	struct rgn_bdb_regenv probe;
	uint64_t total, want;
	unsigned char *buf = NULL, *nb;
	int64_t r;

	total = b->sysmem ? b->regions[0].bytes : b->file_len;
	want = total < HEAD_LEN ? total : HEAD_LEN;
	for (int pass = 0; pass < 2; pass++) {
		nb = realloc(buf, want ? want : 1);
		if (!nb) {
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
		if (b->sysmem)
			r = shm_copy((int32_t)b->ref.shmid, b->regions[0].key,
				     b->regions[0].shm_ctime, 0, buf,
				     (size_t)want);
		else
			r = pread_all(fd, buf, (size_t)want, 0);
		if (r < 0) {
			free(buf);
			return (int)r;
		}
		*out = buf;
		*len = (size_t)r;
		/* A table beyond the first read: read once more, to its end
		 * (bounded, a damaged count must not make us read the
		 * whole of a huge file). */
		if (rgn_bdb_decode_regenv(buf, *len, &probe) < 0 ||
		    !probe.decoded)
			break;
		uint64_t end = probe.region_off +
			       (uint64_t)probe.region_cnt * RGN_BDB_SLOT_LEN;
		if (end <= *len || end > TABLE_LIMIT || end > total)
			break;
		want = end;
	}
	return 0;
}

/* A region's allocator figures: its head is at 0, or after REGENV in the
 * primary (already decoded with it). */
static void read_alloc(struct rgn_bdb *b, struct rgn_bdb_region *rg)
{
	unsigned char head[RGN_BDB_ALLOC_LEN];
	int64_t r;
	int fd;

	if (rg->slot.id == 1) {
		rg->has_alloc = b->env.has_alloc;
		rg->alloc = b->env.alloc;
		return;
	}
	if (b->sysmem) {
		r = shm_copy((int32_t)rg->slot.segid, rg->key, rg->shm_ctime, 0,
			     head, sizeof(head));
	} else {
		fd = open_ro(b->dirfd, rg->file);
		if (fd < 0) {
			rg->error = -errno;
			return;
		}
		r = pread_all(fd, head, sizeof(head), 0);
		close(fd);
	}
	if (r < 0) {
		rg->error = (int)r;
		return;
	}
	rg->has_alloc =
		rgn_bdb_decode_alloc(head, (size_t)r, 0, &rg->alloc) == 0;
}

/* Where a region is now: its file's identity, or its segment's. */
static void locate(struct rgn_bdb *b, struct rgn_bdb_region *rg)
{
	struct rgn_shm_info in;
	struct stat sb;
	int rc;

	snprintf(rg->file, sizeof(rg->file), "__db.%03u", rg->slot.id);
	if (b->sysmem) {
		if (rg->slot.segid < 0 || rg->slot.segid > INT32_MAX) {
			rg->error = -ENOENT;
			return;
		}
		rc = rgn_shm_stat((int32_t)rg->slot.segid, &in);
		if (rc < 0) {
			rg->error = rc;
			return;
		}
		rg->present = 1;
		rg->bytes = in.size;
		rg->key = in.key;
		rg->shm_ctime = in.ctime;
		rg->nattch = in.nattch;
		return;
	}
	if (fstatat(b->dirfd, rg->file, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		rg->error = -errno;
		return;
	}
	if (!S_ISREG(sb.st_mode)) {
		rg->error = -EINVAL;
		return;
	}
	rg->present = 1;
	rg->bytes = (uint64_t)sb.st_size;
	rg->dev = sb.st_dev;
	rg->ino = sb.st_ino;
	rg->mtime = sb.st_mtime;
}

/* The regions of the snapshot: the table's, or only the primary when
 * the table could not be decoded. */
static void collect_regions(struct rgn_bdb *b)
{
	if (b->have_env && b->env.decoded) {
		for (uint32_t i = 0; i < b->env.nslots; i++)
			b->regions[b->nregions++].slot = b->env.slots[i];
	} else if (b->nregions == 0) {
		struct rgn_bdb_slot *s = &b->regions[b->nregions++].slot;

		s->id = 1;
		s->type = RGN_BDB_TYPE_ENV;
		s->size = s->max = b->file_len;
		s->segid = -1;
	}
	for (uint32_t i = 0; i < b->nregions; i++) {
		struct rgn_bdb_region *rg = &b->regions[i];

		if (b->sysmem && rg->slot.id == 1 && rg->slot.segid < 0)
			rg->slot.segid = b->ref.shmid;
		if (rg->present == 0)
			locate(b, rg);
		if (rg->present && b->have_env && b->env.decoded)
			read_alloc(b, rg);
	}
}

static int scan_procs(struct rgn_bdb *b)
{
	struct rgn_bdb_target t[RGN_BDB_MAX_REGIONS + 1];
	size_t n = 0;

	memset(t, 0, sizeof(t));
	if (b->sysmem) {
		uint64_t nattch = 0;

		for (uint32_t i = 0; i < b->nregions; i++) {
			if (!b->regions[i].present)
				continue;
			nattch += b->regions[i].nattch;
			t[n].is_segment = 1;
			t[n++].shmid = (int32_t)b->regions[i].slot.segid;
		}
		/* The kernel counts every attach (a forked child's too): when
		 * no segment has one, no process maps any, and the walk over
		 * every process's maps, most of what a stat costs, would only
		 * confirm it. */
		if (nattch == 0)
			return 0;
	} else {
		for (uint32_t i = 0; i < b->nregions; i++) {
			if (!b->regions[i].present)
				continue;
			t[n].dev = b->regions[i].dev;
			t[n++].ino = b->regions[i].ino;
		}
		if (n == 0 && b->file_len > 0) {
			t[n].dev = b->file_dev;
			t[n++].ino = b->file_ino;
		}
	}
	return rgn_bdb_procs_scan(t, n, &b->procs, &b->nprocs,
				  &b->procs_denied);
}

static void verdict(struct rgn_bdb *b, enum rgn_bdb_verdict v, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

static void verdict(struct rgn_bdb *b, enum rgn_bdb_verdict v, const char *fmt,
		    ...)
{
	va_list ap;

	b->verdict = v;
	va_start(ap, fmt);
	vsnprintf(b->reason, sizeof(b->reason), fmt, ap);
	va_end(ap);
}

/* How many processes really have the environment: those found in /proc,
 * or in system memory the primary's nattch when larger (processes of
 * another pid namespace attach without showing in our /proc). */
static size_t mappers(const struct rgn_bdb *b, char *how, size_t len)
{
	uint64_t nattch = 0;

	for (uint32_t i = 0; b->sysmem && i < b->nregions; i++)
		if (b->regions[i].slot.id == 1 && b->regions[i].present)
			nattch = b->regions[i].nattch;
	/* The reason is read by people: "1 process maps", "2 processes map". */
	snprintf(how, len, "%zu %s it", b->nprocs,
		 b->nprocs == 1 ? "process maps" : "processes map");
	if (b->sysmem)
		snprintf(how + strlen(how), len - strlen(how),
			 " (primary nattch %llu)", (unsigned long long)nattch);
	if (b->procs_denied)
		snprintf(how + strlen(how), len - strlen(how),
			 "; the maps of %zu %s could not be read",
			 b->procs_denied,
			 b->procs_denied == 1 ? "process" : "processes");
	return nattch > b->nprocs ? (size_t)nattch : b->nprocs;
}

static void judge(struct rgn_bdb *b)
{
	const char *h = b->home;
	char how[160];
	size_t p = mappers(b, how, sizeof(how));
	uint32_t refs = b->env.refcnt;

	if (b->form == RGN_BDB_FORM_EMPTY) {
		verdict(b, RGN_BDB_HALF_CREATED,
			"__db.001 is empty: a process creating the environment "
			"died before writing it, and every Berkeley DB open "
			"now waits 18 s and fails to join; %s, remove the "
			"empty "
			"%s/__db.001 and create the environment again (or "
			"run " RECOVER_HINT ")",
			p ? "once the processes mapping it have exited"
			  : "nothing maps it",
			h, h);
	} else if (b->sysmem && b->primary_error) {
		verdict(b,
			b->primary_error == -EACCES ? RGN_BDB_UNDECODED
						    : RGN_BDB_NEEDS_RECOVERY,
			"__db.001 names primary segment shmid %lld, which %s; "
			"run " RECOVER_HINT " to recreate the environment",
			(long long)b->ref.shmid,
			b->primary_error == -EACCES
				? "we may not read"
				: "is gone or is another program's now",
			h);
	} else if (b->have_env && b->env.magic == 0) {
		verdict(b, RGN_BDB_HALF_CREATED,
			"the magic number was never written: a creator is at "
			"work or died half-way; %s, run " RECOVER_HINT,
			p ? "once the processes mapping it have exited"
			  : "nothing maps it",
			h);
	} else if (b->have_env && b->env.panic) {
		verdict(b, RGN_BDB_NEEDS_RECOVERY,
			"the panic flag is set: Berkeley DB refuses every "
			"operation until recovery; %s; run " RECOVER_HINT
			" once they have exited",
			how, h);
	} else if (!b->have_env || !b->env.decoded) {
		verdict(b, RGN_BDB_UNDECODED,
			"Berkeley DB %u.%u.%u (%s): References not decoded; %s",
			b->env.major, b->env.minor, b->env.patch,
			b->env.why[0] ? b->env.why : "not read", how);
	} else if (refs == 0) {
		verdict(b, RGN_BDB_AT_REST,
			"References 0: every process closed the environment; "
			"%s",
			how);
	} else if (p >= refs) {
		verdict(b, RGN_BDB_IN_USE, "References %u, and %s", refs, how);
	} else {
		verdict(b, RGN_BDB_NEEDS_RECOVERY,
			"References %u but %s: %zu %s left by %s that died "
			"attached (Berkeley DB never takes %s back); "
			"run " RECOVER_HINT
			" once nothing uses the environment",
			refs, how, refs - p,
			refs - p == 1 ? "reference was" : "references were",
			refs - p == 1 ? "a process" : "processes",
			refs - p == 1 ? "it" : "them", h);
	}
}

/* The primary segment named by the 24-byte __db.001. */
static void read_sysmem_primary(struct rgn_bdb *b)
{
	struct rgn_bdb_region *rg = &b->regions[0];

	b->nregions = 1;
	rg->slot.id = 1;
	rg->slot.type = RGN_BDB_TYPE_ENV;
	rg->slot.size = b->ref.size;
	rg->slot.max = b->ref.max;
	rg->slot.segid = b->ref.shmid;
	locate(b, rg);
	if (!rg->present)
		b->primary_error = rg->error ? rg->error : -ENOENT;
}

static int decode_primary(struct rgn_bdb *b, int fd)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc;

	rc = read_primary(b, fd, &buf, &len);
	if (rc < 0) {
		if (rc == -ENOMEM)
			return rc;
		b->primary_error = rc;
		return 0;
	}
	if (rgn_bdb_decode_regenv(buf, len, &b->env) == 0)
		b->have_env = 1;
	else if (b->sysmem)
		b->primary_error = RGN_EFOREIGN;
	free(buf);
	if (b->have_env && b->env.decoded && b->sysmem) {
		/* The table says it all, the primary's slot included. */
		memset(b->regions, 0, sizeof(b->regions));
		b->nregions = 0;
	}
	return 0;
}

int rgn_bdb_open(const char *home, struct rgn_bdb **out)
{
	return rgn_bdb_open_flags(home, 0, out);
}

int rgn_bdb_open_flags(const char *home, unsigned flags, struct rgn_bdb **out)
{
	unsigned char head[RGN_BDB_PREFIX_LEN];
	struct rgn_bdb *b;
	struct stat sb;
	int fd = -1, rc;
	int64_t r;

	if (!home || !out)
		return -EINVAL;
	*out = NULL;
	if (strlen(home) >= sizeof(b->home))
		return -ENAMETOOLONG;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	strcpy(b->home, home);
	b->dirfd = open(home, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (b->dirfd < 0) {
		rc = -errno;
		goto fail;
	}
	fd = open_ro(b->dirfd, "__db.001");
	if (fd < 0) {
		rc = errno == ENOENT ? RGN_BDB_NOT_BDB : -errno;
		goto fail;
	}
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = RGN_BDB_NOT_BDB;
		goto fail;
	}
	b->file_len = (uint64_t)sb.st_size;
	b->file_dev = sb.st_dev;
	b->file_ino = sb.st_ino;
	r = pread_all(fd, head, sizeof(head), 0);
	if (r < 0) {
		rc = (int)r;
		goto fail;
	}
	b->form = rgn_bdb_classify(head, (size_t)r, b->file_len);
	switch (b->form) {
	case RGN_BDB_FORM_NONE:
		rc = RGN_BDB_NOT_BDB;
		goto fail;
	case RGN_BDB_FORM_EMPTY:
		break;
	case RGN_BDB_FORM_REF: {
		unsigned char ref[RGN_BDB_REF_LEN];

		r = pread_all(fd, ref, sizeof(ref), 0);
		if (r < 0) {
			rc = (int)r;
			goto fail;
		}
		if (rgn_bdb_decode_ref(ref, (size_t)r, &b->ref) < 0) {
			rc = RGN_BDB_NOT_BDB; /* shrank under us */
			goto fail;
		}
		b->sysmem = 1;
		read_sysmem_primary(b);
		if (!b->primary_error && (rc = decode_primary(b, fd)) < 0)
			goto fail;
		break;
	}
	case RGN_BDB_FORM_REGENV:
		if ((rc = decode_primary(b, fd)) < 0)
			goto fail;
		break;
	}
	close(fd);
	fd = -1;
	if (b->form != RGN_BDB_FORM_EMPTY)
		collect_regions(b);
	rc = flags & RGN_BDB_OPEN_NOPROCS ? 0 : scan_procs(b);
	if (rc < 0 && rc != -ENOMEM)
		rc = 0; /* no /proc: nobody can be shown, say so below */
	if (rc < 0)
		goto fail;
	judge(b);
	*out = b;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	rgn_bdb_close(b);
	return rc;
}

void rgn_bdb_close(struct rgn_bdb *bdb)
{
	if (!bdb)
		return;
	if (bdb->dirfd >= 0)
		close(bdb->dirfd);
	free(bdb->procs);
	free(bdb);
}

int64_t rgn_bdb_read_region(const struct rgn_bdb *bdb, uint32_t id,
			    uint64_t off, void *buf, size_t len)
{
	const struct rgn_bdb_region *rg = NULL;
	struct stat sb;
	int64_t r;
	int fd;

	if (!bdb || (!buf && len))
		return -EINVAL;
	for (uint32_t i = 0; i < bdb->nregions; i++)
		if (bdb->regions[i].slot.id == id)
			rg = &bdb->regions[i];
	if (!rg || !rg->present)
		return -ENOENT;
	if (bdb->sysmem)
		return shm_copy((int32_t)rg->slot.segid, rg->key, rg->shm_ctime,
				off, buf, len);
	fd = open_ro(bdb->dirfd, rg->file);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		r = -errno;
	} else if (sb.st_dev != rg->dev || sb.st_ino != rg->ino) {
		r = -ESTALE; /* removed and made again since the snapshot */
	} else {
		uint64_t end = (uint64_t)sb.st_size;

		if (off >= end)
			len = 0;
		else if (len > end - off)
			len = (size_t)(end - off);
		r = pread_all(fd, buf, len, off);
	}
	close(fd);
	return r;
}

/* The base key a home's DB_CONFIG gives ("set_shm_key N", decimal as
 * Berkeley DB parses it): 1 with *KEY, 0 if none, -errno. */
static int config_key(int dirfd, int32_t *key)
{
	char buf[65536], *line, *save = NULL;
	int64_t r;
	int fd, found = 0;

	fd = open_ro(dirfd, "DB_CONFIG");
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = pread_all(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (r < 0)
		return (int)r;
	buf[r] = '\0';
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[32], *end;
		long v;
		int pos = 0;

		if (sscanf(line, " %31s %n", name, &pos) != 1 ||
		    strcmp(name, "set_shm_key") != 0)
			continue;
		v = strtol(line + pos, &end, 10);
		if (end == line + pos || v <= 0 || v > INT32_MAX)
			continue;
		*key = (int32_t)v; /* the last one wins, as in Berkeley DB */
		found = 1;
	}
	return found;
}

int rgn_bdb_home_claim(const char *home, int32_t shmid, int32_t key,
		       enum rgn_bdb_claim *claim)
{
	unsigned char ref[RGN_BDB_REF_LEN];
	struct rgn_bdb_ref rf;
	struct stat sb;
	int32_t base;
	int dirfd, fd, rc = 0, other = 0;

	if (!home || !claim)
		return -EINVAL;
	*claim = RGN_BDB_CLAIM_UNRELATED;
	dirfd = open(home, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	/* OTHER: __db.001 is absent, or a whole environment that is not
	 * this segment (another shmid, or files mode).  An empty one proves
	 * nothing: its creator may have died on this very segment. */
	fd = open_ro(dirfd, "__db.001");
	if (fd >= 0) {
		if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			other = 0;
		} else if (sb.st_size == RGN_BDB_REF_LEN) {
			if (pread_all(fd, ref, sizeof(ref), 0) ==
				    RGN_BDB_REF_LEN &&
			    rgn_bdb_decode_ref(ref, sizeof(ref), &rf) == 0) {
				if (rf.shmid == shmid)
					*claim = RGN_BDB_CLAIM_REFERS;
				else
					other = 1;
			}
		} else if (sb.st_size >= RGN_BDB_REGENV_LEN) {
			other = 1;
		}
		close(fd);
	} else if (errno == ENOENT) {
		other = 1;
	} else {
		rc = -errno;
	}
	if (rc == 0 && other) {
		/* Made here only if the home's own configuration puts its
		 * environment at this key; an application may also set the
		 * key in code, which we cannot see: then nothing is proven. */
		rc = config_key(dirfd, &base);
		if (rc == 1 && base == key)
			*claim = RGN_BDB_CLAIM_DROPPED;
		rc = rc < 0 ? rc : 0;
	}
	close(dirfd);
	return rc;
}
