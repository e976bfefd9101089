/*
 * passthrough.c - let the kernel read region files itself.
 *
 * A read through the mount is one round trip to the daemon: two
 * cross-CPU wakeups that cost more than the copy for reads of 128 KiB
 * (reading a region at 0.3x the speed of the file itself, on a 2-CPU
 * VM).  Since Linux 6.9 a FUSE server may instead name, at open, a file
 * of its own (a "backing file") that the kernel then reads and maps
 * directly (FUSE passthrough): the region file is read at its own speed,
 * always its current bytes, and the daemon is not involved at all.
 *
 * libfuse 3.14 (Debian 12) predates passthrough, so this file speaks the
 * few parts of the kernel protocol it needs (include/uapi/linux/fuse.h,
 * protocol 7.40): it watches the connection through libfuse's custom I/O
 * hooks, adds the passthrough flag to libfuse's reply to the kernel's
 * INIT when the kernel offered it, registers backing files with the
 * FUSE device's ioctl and answers such an open with its own reply.
 * Registering needs CAP_SYS_ADMIN, so only a daemon running as root asks
 * for it; any refusal leaves the open to the daemon's reader, as before.
 *
 * The kernel lets one inode have one backing file at a time, and fails
 * with EIO any open of it that names another or none.  So opens of one
 * region file share one registration, counted here and closed with the
 * last release; and each file a region has had is an inode of its own
 * (rfs_node_settle), so that a region removed and made again while its
 * old file is still open is a new inode, free to name its new file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "regionfs.h"

/* ---- the kernel's protocol (uapi linux/fuse.h) ------------------------- */

#define K_FUSE_INIT	     26
#define K_INIT_EXT	     (1u << 30) /* flags2 is meaningful */
#define K_PASSTHROUGH_FLAGS2 (1u << 5)	/* FUSE_PASSTHROUGH (bit 37) */
#define K_FOPEN_PASSTHROUGH  (1u << 7)
#define K_MAX_STACK_DEPTH    1 /* we stack on ordinary file systems */

struct k_in_header {
	uint32_t len;
	uint32_t opcode;
	uint64_t unique;
	uint64_t nodeid;
	uint32_t uid, gid, pid;
	uint16_t total_extlen;
	uint16_t padding;
};

struct k_out_header {
	uint32_t len;
	int32_t error;
	uint64_t unique;
};

struct k_init_in {
	uint32_t major, minor, max_readahead, flags, flags2;
};

/* The fields of fuse_init_out we touch, at their offsets. */
#define K_INIT_OUT_FLAGS       12
#define K_INIT_OUT_FLAGS2      32
#define K_INIT_OUT_STACK_DEPTH 36
#define K_INIT_OUT_MIN	       40

struct k_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

struct k_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

#define K_IOC_BACKING_OPEN  _IOW(229, 1, struct k_backing_map)
#define K_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

/* ---- watching INIT ------------------------------------------------------- */

/* Add BITS to the 32-bit field at OFF of the INIT reply in IOV, or with
 * REPLACE make them its value. */
static void put_bits(struct iovec *iov, size_t off, uint32_t bits, int replace)
{
	uint32_t v;

	memcpy(&v, (char *)iov->iov_base + off, sizeof(v));
	v = replace ? bits : v | bits;
	memcpy((char *)iov->iov_base + off, &v, sizeof(v));
}

static int state(struct regionfs *fs)
{
	return __atomic_load_n(&fs->pt.state, __ATOMIC_ACQUIRE);
}

static void set_state(struct regionfs *fs, int st)
{
	__atomic_store_n(&fs->pt.state, st, __ATOMIC_RELEASE);
}

static ssize_t pt_read(int fd, void *buf, size_t len, void *userdata)
{
	struct regionfs *fs = userdata;
	ssize_t n = read(fd, buf, len);
	struct k_in_header h;
	struct k_init_in in;

	if (state(fs) != RFS_PT_UNSEEN || n < (ssize_t)(sizeof(h) + sizeof(in)))
		return n;
	memcpy(&h, buf, sizeof(h));
	if (h.opcode != K_FUSE_INIT)
		return n;
	memcpy(&in, (char *)buf + sizeof(h), sizeof(in));
	if ((in.flags & K_INIT_EXT) && (in.flags2 & K_PASSTHROUGH_FLAGS2)) {
		fs->pt.init_unique = h.unique;
		set_state(fs, RFS_PT_OFFERED);
	} else {
		set_state(fs, RFS_PT_OFF);
	}
	return n;
}

static ssize_t pt_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct regionfs *fs = userdata;
	struct k_out_header h;

	/* libfuse sends the INIT reply as header then argument. */
	if (state(fs) == RFS_PT_OFFERED && count >= 2 &&
	    iov[0].iov_len >= sizeof(h)) {
		memcpy(&h, iov[0].iov_base, sizeof(h));
		if (h.unique == fs->pt.init_unique) {
			int on = 0;

			if (h.error == 0 && iov[1].iov_len >= K_INIT_OUT_MIN) {
				put_bits(&iov[1], K_INIT_OUT_FLAGS, K_INIT_EXT,
					 0);
				put_bits(&iov[1], K_INIT_OUT_FLAGS2,
					 K_PASSTHROUGH_FLAGS2, 0);
				put_bits(&iov[1], K_INIT_OUT_STACK_DEPTH,
					 K_MAX_STACK_DEPTH, 1);
				on = 1;
			}
			set_state(fs, on ? RFS_PT_ON : RFS_PT_OFF);
			if (on && fs->debug)
				fprintf(stderr, "regionfs: passthrough asked "
						"for: the kernel reads region "
						"files itself\n");
		}
	}
	return writev(fd, iov, count);
}

/* Without these libfuse would stop splicing replies. */
static ssize_t pt_splice_receive(int fdin, off_t *offin, int fdout,
				 off_t *offout, size_t len, unsigned int flags,
				 void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

static ssize_t pt_splice_send(int fdin, off_t *offin, int fdout, off_t *offout,
			      size_t len, unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

int rfs_passthrough_install(struct regionfs *fs, struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.read = pt_read,
		.writev = pt_writev,
		.splice_receive = pt_splice_receive,
		.splice_send = pt_splice_send,
	};

	if (geteuid() != 0)
		return 0;
	if (fuse_session_custom_io(se, &io, fuse_session_fd(se)) != 0)
		return 0;
	set_state(fs, RFS_PT_UNSEEN);
	return 0;
}

void rfs_passthrough_init(struct regionfs *fs)
{
	memset(&fs->pt, 0, sizeof(fs->pt));
	pthread_mutex_init(&fs->pt.lock, NULL);
}

void rfs_passthrough_fini(struct regionfs *fs)
{
	free(fs->pt.v);
	fs->pt.v = NULL;
	fs->pt.n = 0;
	pthread_mutex_destroy(&fs->pt.lock);
}

/* ---- backing files ------------------------------------------------------- */

int rfs_passthrough_get(struct regionfs *fs, uint32_t key, int fd,
			struct rfs_backing *b)
{
	struct k_backing_map map = {.fd = fd};
	struct rfs_pt_file *f = NULL;
	struct stat st;
	int id;

	memset(b, 0, sizeof(*b));
	b->fs = fs;
	if (state(fs) != RFS_PT_ON || !fs->se)
		return -ENOSYS;
	if (fstat(fd, &st) < 0)
		return -errno;
	pthread_mutex_lock(&fs->pt.lock);
	for (size_t i = 0; i < fs->pt.n; i++)
		if (fs->pt.v[i].key == key && fs->pt.v[i].dev == st.st_dev &&
		    fs->pt.v[i].ino == st.st_ino) {
			f = &fs->pt.v[i];
			break;
		}
	if (!f) {
		if (fs->pt.n == fs->pt.cap) {
			size_t cap = fs->pt.cap ? fs->pt.cap * 2 : 16;
			struct rfs_pt_file *v =
				realloc(fs->pt.v, cap * sizeof(*v));

			if (!v) {
				pthread_mutex_unlock(&fs->pt.lock);
				return -ENOMEM;
			}
			fs->pt.v = v;
			fs->pt.cap = cap;
		}
		id = ioctl(fuse_session_fd(fs->se), K_IOC_BACKING_OPEN, &map);
		if (id <= 0) {
			int err = id < 0 ? -errno : -EIO;

			/* Refused once (no CAP_SYS_ADMIN in our user
			 * namespace, say): refused for good. */
			if (err == -EPERM)
				set_state(fs, RFS_PT_OFF);
			pthread_mutex_unlock(&fs->pt.lock);
			return err;
		}
		f = &fs->pt.v[fs->pt.n++];
		f->key = key;
		f->dev = st.st_dev;
		f->ino = st.st_ino;
		f->id = id;
		f->refs = 0;
	}
	f->refs++;
	b->id = f->id;
	b->fs = fs;
	b->dev = f->dev;
	b->ino = f->ino;
	pthread_mutex_unlock(&fs->pt.lock);
	return 0;
}

void rfs_passthrough_put(struct rfs_backing *b)
{
	struct regionfs *fs = b->fs;

	if (b->id <= 0 || !fs)
		return;
	pthread_mutex_lock(&fs->pt.lock);
	for (size_t i = 0; i < fs->pt.n; i++) {
		struct rfs_pt_file *f = &fs->pt.v[i];
		uint32_t id;

		if (f->id != b->id || f->dev != b->dev || f->ino != b->ino)
			continue;
		if (--f->refs == 0) {
			id = (uint32_t)f->id;
			ioctl(fuse_session_fd(fs->se), K_IOC_BACKING_CLOSE,
			      &id);
			*f = fs->pt.v[--fs->pt.n];
		}
		break;
	}
	pthread_mutex_unlock(&fs->pt.lock);
	b->id = 0;
}

int rfs_passthrough_reply_open(fuse_req_t req, uint64_t fh,
			       const struct rfs_backing *b)
{
	struct k_open_out out = {
		.fh = fh,
		.open_flags = K_FOPEN_PASSTHROUGH,
		.backing_id = b->id,
	};

	return fuse_reply_buf(req, (const char *)&out, sizeof(out));
}
