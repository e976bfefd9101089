/*
 * main.c - regionfs: mount an environment home as a file system.
 *
 *   regionfs HOME MOUNTPOINT [-f] [-d] [-s] [-o OPTIONS]
 *
 * Everything that can be checked is checked before mounting, so a bad HOME
 * or a dead mount point is a message and an exit status, never an empty
 * mount: HOME must open as an environment (inspecting: the mount is no
 * attached process), and a mount point whose stat fails with ENOTCONN is a
 * FUSE mount whose daemon died, which only `fusermount3 -u` can clear.
 * A Berkeley DB home is recognised first, by reading its __db.001 only,
 * and mounted through the read-only reader (bdbtable.c, bdbview.c): our
 * own open would only refuse it, and must not be the first to touch it.
 *
 * A mount point that is not empty, or is already a mount point, is
 * refused unless -o nonempty is given.  -h/--help alone prints help;
 * with other arguments it is a usage error (exit 2), since regionctl's -h
 * names a home.  -V/--version prints one line.
 *
 * Options are the standard FUSE ones.  The mount is read-only unless -o rw
 * is given; fstab words that mean nothing to a FUSE mount (nofail, noauto,
 * _netdev, user, users, defaults, x-*, ...) are accepted and ignored, so
 *   HOME  MNT  fuse.regionfs  ro,nofail  0 0
 * works through mount.fuse3.  Without -f the daemon detaches once mounted;
 * SIGTERM, SIGINT and SIGHUP unmount it cleanly with exit status 0.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mountinfo.h"
#include "regionfs.h"
#include "rgn_config.h"

/*
 * Worker threads unless -o max_threads=N says otherwise.  Few on purpose:
 * idle workers take requests in turn, so with many of them consecutive
 * requests of one `ls -l` land on threads that last ran on other CPUs, and
 * each cross-CPU wakeup costs more than the request (measured 10 us vs
 * 20-60 us per getxattr on a 2-CPU VM).  A second thread keeps a slow
 * rendering (a leak scan of thousands of segments) from stalling the rest.
 */
#define RFS_MAX_THREADS 2

struct rfs_args {
	const char *home;	/* first non-option */
	const char *mountpoint; /* second, also left for libfuse */
	int readwrite;		/* the last of ro/rw given */
	int ro_rw_given;
	int fsname_given;
	int max_threads_given; /* -o max_threads=N */
	int nonempty;	       /* -o nonempty: mount over anything */
	int shared;	       /* -o allow_other or allow_root */
	int nopassthrough;     /* -o nopassthrough */
	int help;	       /* -h or --help */
	int version;	       /* -V or --version */
	int nargs;	       /* arguments other than -h/--help */
};

enum {
	KEY_RO,
	KEY_RW,
	KEY_FSNAME,
	KEY_MAX_THREADS,
	KEY_HELP,
	KEY_VERSION,
	KEY_NONEMPTY,
	KEY_SHARED,
	KEY_NOPASSTHROUGH,
};

static const struct fuse_opt rfs_opts[] = {
	FUSE_OPT_KEY("ro", KEY_RO), FUSE_OPT_KEY("rw", KEY_RW),
	FUSE_OPT_KEY("fsname=", KEY_FSNAME),
	/* Noted, then left for fuse_parse_cmdline: it defaults the count
	 * to 10 itself, so only this says whether one was given. */
	FUSE_OPT_KEY("max_threads=", KEY_MAX_THREADS),
	FUSE_OPT_KEY("-h", KEY_HELP), FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION), FUSE_OPT_KEY("--version", KEY_VERSION),
	/* Ours: libfuse 3 has no such option and mounts over anything. */
	FUSE_OPT_KEY("nonempty", KEY_NONEMPTY),
	/* Noted (other users then share the kernel's caches, see
	 * regionfs_init), then left for libfuse. */
	FUSE_OPT_KEY("allow_other", KEY_SHARED),
	FUSE_OPT_KEY("allow_root", KEY_SHARED),
	/* Ours: every read of a region file comes to the daemon. */
	FUSE_OPT_KEY("nopassthrough", KEY_NOPASSTHROUGH),
	/* mount(8) and fstab words, meaningless to a FUSE mount: libfuse
	 * would reject them as unknown. */
	FUSE_OPT_KEY("nofail", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("_netdev", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("user", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nouser", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("users", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("owner", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("group", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("defaults", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("comment=", FUSE_OPT_KEY_DISCARD), FUSE_OPT_END};

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct rfs_args *a = data;

	(void)outargs;
	if (key != KEY_HELP)
		a->nargs++;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!a->home) {
			a->home = arg;
			return 0; /* ours alone */
		}
		if (!a->mountpoint) {
			a->mountpoint = arg;
			return 1; /* fuse_parse_cmdline wants it too */
		}
		fprintf(stderr, "regionfs: unexpected argument \"%s\"\n", arg);
		return -1;
	case FUSE_OPT_KEY_OPT:
		/* x-systemd.automount and friends are for systemd. */
		return strncmp(arg, "x-", 2) == 0 ? 0 : 1;
	case KEY_RO:
	case KEY_RW:
		a->readwrite = key == KEY_RW;
		a->ro_rw_given = 1;
		return 1;
	case KEY_FSNAME:
		a->fsname_given = 1;
		return 1;
	case KEY_MAX_THREADS:
		a->max_threads_given = 1;
		return 1;
	case KEY_HELP:
		a->help = 1;
		return 0;
	case KEY_VERSION:
		a->version = 1;
		return 0;
	case KEY_NONEMPTY:
		a->nonempty = 1;
		return 0;
	case KEY_SHARED:
		a->shared = 1;
		return 1;
	case KEY_NOPASSTHROUGH:
		a->nopassthrough = 1;
		return 0;
	}
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: regionfs HOME MOUNTPOINT [-f] [-d] [-s] [-o OPTIONS]\n"
		"\n"
		"Show the environment in HOME as files: one per region, stat,\n"
		"stat.json, processes, metrics, regions/ and sysv/ (the System "
		"V\n"
		"segments of this IPC namespace, leaked ones under "
		"sysv/leaked/).\n"
		"HOME may be a Berkeley DB home: it is read, never joined.\n"
		"\n"
		"    -o ro                  read-only (the default)\n"
		"    -o rw                  allow `rm sysv/leaked/SHMID`\n"
		"    -o allow_other         let other users in (file modes "
		"apply)\n"
		"    -o default_permissions let the kernel check file modes "
		"too\n"
		"    -o auto_unmount        unmount when the daemon dies\n"
		"    -o fsname=NAME         source shown in /proc/mounts "
		"(HOME)\n"
		"    -o subtype=NAME        type shown as fuse.NAME "
		"(regionfs)\n"
		"    -o nonempty            mount even on a mount point that "
		"is not\n"
		"                           empty or is already a mount point\n"
		"    -o nopassthrough       read region files through the "
		"daemon,\n"
		"                           not by the kernel itself\n"
		"    -o max_threads=N       worker threads (default %d)\n"
		"    -f                     stay in the foreground\n"
		"    -d                     debug: log every request (implies "
		"-f)\n"
		"    -s                     one thread\n"
		"    -h, --help             this help (alone: with other "
		"arguments\n"
		"                           it is a usage error, exit status "
		"2)\n"
		"    -V, --version          print \"regionfs VERSION\" and "
		"exit\n"
		"\n"
		"fstab: HOME MOUNTPOINT fuse.regionfs ro,nofail 0 0\n"
		"Exit status: 0 unmounted cleanly, 1 failure, 2 bad usage.\n",
		RFS_MAX_THREADS);
}

/* A mount point we can never mount on, explained; 0 if it looks usable. */
static int check_mountpoint(const char *mnt)
{
	struct stat st;

	if (stat(mnt, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		fprintf(stderr,
			"regionfs: mount point \"%s\" is not a "
			"directory\n",
			mnt);
		return -1;
	}
	if (errno == ENOTCONN)
		fprintf(stderr,
			"regionfs: mount point \"%s\" is a dead FUSE mount "
			"(%s): its daemon exited without unmounting; run "
			"`fusermount3 -u %s` first\n",
			mnt, strerror(ENOTCONN), mnt);
	else
		fprintf(stderr, "regionfs: cannot use mount point \"%s\": %s\n",
			mnt, strerror(errno));
	return -1;
}

/* Does directory MNT hold any name but "." and ".."?  1, 0, or -1 with
 * errno. */
static int dir_has_entries(const char *mnt)
{
	DIR *d = opendir(mnt);
	struct dirent *de;
	int found = 0;

	if (!d)
		return -1;
	while (!found && (de = readdir(d)) != NULL)
		found = strcmp(de->d_name, ".") != 0 &&
			strcmp(de->d_name, "..") != 0;
	closedir(d);
	return found;
}

/*
 * Is MNT already a mount point?  Its device differs from its parent's
 * for most mounts; a bind mount of the same file system shows only in
 * /proc/self/mountinfo (field 5 is the mount point).
 */
static int is_mount_point(const char *mnt)
{
	char real[PATH_MAX], *parent = NULL, line[8192];
	struct stat st, up;
	int found = 0;
	FILE *f;

	if (!realpath(mnt, real))
		return 0;
	if (strcmp(real, "/") == 0)
		return 1;
	if (asprintf(&parent, "%s/..", real) < 0)
		return 0;
	if (stat(real, &st) == 0 && stat(parent, &up) == 0 &&
	    st.st_dev != up.st_dev)
		found = 1;
	free(parent);
	f = fopen("/proc/self/mountinfo", "re");
	while (!found && f && fgets(line, sizeof(line), f)) {
		char *field = strtok(line, " "); /* mount id */

		for (int i = 1; field && i < 5; i++)
			field = strtok(NULL, " ");
		if (!field)
			continue;
		rgn_mountinfo_unescape(field);
		found = strcmp(field, real) == 0;
	}
	if (f)
		fclose(f);
	return found;
}

/*
 * Refuse to cover what is already there: files in the mount point would
 * vanish from view, and a second mount on the same point would stack on
 * the first.  -o nonempty says that is meant.
 */
static int check_mountpoint_free(const char *mnt, int nonempty)
{
	int has;

	if (nonempty)
		return 0;
	if (is_mount_point(mnt)) {
		fprintf(stderr,
			"regionfs: mount point \"%s\" is already a mount "
			"point; "
			"unmount it first, or give -o nonempty to mount on "
			"top of it\n",
			mnt);
		return -1;
	}
	has = dir_has_entries(mnt);
	if (has < 0) {
		fprintf(stderr,
			"regionfs: cannot read mount point \"%s\": %s\n", mnt,
			strerror(errno));
		return -1;
	}
	if (has) {
		fprintf(stderr,
			"regionfs: mount point \"%s\" is not empty; its files "
			"would be hidden: give -o nonempty to mount anyway\n",
			mnt);
		return -1;
	}
	return 0;
}

static int open_home(const char *home, rgn_env **envp)
{
	struct rgn_env_config cfg;
	const char *detail;
	int rc;

	rgn_env_config_init(&cfg);
	cfg.flags = RGN_INSPECT;
	rc = rgn_env_open(home, &cfg, envp);
	if (rc < 0) {
		detail = rgn_errdetail();
		fprintf(stderr,
			"regionfs: cannot open environment \"%s\": %s%s%s\n",
			home, rgn_strerror(rc), detail[0] ? ": " : "", detail);
	}
	return rc;
}

/* -o fsname=HOME, escaped as libfuse wants commas and backslashes. */
static int add_fsname(struct fuse_args *args, const char *home)
{
	char *opt = NULL, *kv;
	int rc = -1;

	if (asprintf(&kv, "fsname=%s", home) < 0)
		return -1;
	if (fuse_opt_add_opt_escaped(&opt, kv) == 0 &&
	    fuse_opt_add_arg(args, "-o") == 0 &&
	    fuse_opt_add_arg(args, opt) == 0)
		rc = 0;
	free(kv);
	free(opt);
	return rc;
}

static int run_loop(struct fuse_session *se,
		    const struct fuse_cmdline_opts *opts, int max_threads_given)
{
	struct fuse_loop_config *cfg;
	int rc;

	if (opts->singlethread)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, (unsigned)opts->clone_fd);
	if (opts->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, opts->max_idle_threads);
	fuse_loop_cfg_set_max_threads(cfg, max_threads_given ? opts->max_threads
							     : RFS_MAX_THREADS);
	rc = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return rc;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct fuse_session *se = NULL;
	struct rfs_args a = {0};
	struct regionfs fs;
	rgn_env *env = NULL;
	int status = 1, inited = 0, mounted = 0, handlers = 0, bdb = 0;

	memset(&opts, 0, sizeof(opts));
	if (fuse_opt_parse(&args, &a, rfs_opts, opt_proc) < 0) {
		status = 2;
		goto out;
	}
	/*
	 * -h is help only on its own: regionctl's -h is a home, and
	 * `regionfs -h HOME MNT` must not exit 0 having mounted nothing, as
	 * if it had.
	 */
	if (a.help && a.nargs == 0) {
		usage(stdout);
		status = 0;
		goto out;
	}
	if (a.help) {
		fprintf(stderr,
			"regionfs: -h/--help takes no other arguments (there "
			"is "
			"no -h HOME here); to mount: regionfs HOME MOUNTPOINT "
			"[-o OPTIONS]\n");
		status = 2;
		goto out;
	}
	if (a.version) {
		printf("regionfs %s\n", RGN_VERSION);
		status = fflush(stdout) == 0 ? 0 : 1;
		goto out;
	}
	/* Before fuse_parse_cmdline: it resolves the mount point and would
	 * report a dead mount only as "bad mount point". */
	if (!a.home || !a.mountpoint) {
		usage(stderr);
		status = 2;
		goto out;
	}
	/* A negative probe (HOME unreadable) is left for open_home to
	 * explain in its own words. */
	bdb = rfs_bdb_probe(a.home) == 1;
	if ((!bdb && open_home(a.home, &env) < 0) ||
	    check_mountpoint(a.mountpoint) < 0 ||
	    check_mountpoint_free(a.mountpoint, a.nonempty) < 0)
		goto out;
	if (fuse_parse_cmdline(&args, &opts) != 0)
		goto out;
	if ((!a.ro_rw_given && fuse_opt_add_arg(&args, "-oro") < 0) ||
	    (!a.fsname_given &&
	     add_fsname(&args, bdb ? a.home : rgn_env_home(env)) < 0)) {
		fprintf(stderr, "regionfs: out of memory\n");
		goto out;
	}
	if (rfs_init(&fs, env, a.home) < 0) {
		fprintf(stderr, "regionfs: out of memory\n");
		goto out;
	}
	env = NULL; /* fs owns it now */
	inited = 1;
	fs.readwrite = a.readwrite;
	fs.debug = opts.debug;
	fs.shared = a.shared;

	se = fuse_session_new(&args, &regionfs_ops, sizeof(regionfs_ops), &fs);
	if (!se)
		goto out; /* libfuse said why (an unknown option, ...) */
	fs.se = se;
	/*
	 * A shell starts background commands with SIGINT ignored, and
	 * libfuse leaves ignored signals alone; but SIGINT must unmount
	 * however we were started.
	 */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	handlers = 1;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out;
	mounted = 1;
	/* Before the loop answers the kernel's INIT. */
	if (!a.nopassthrough)
		rfs_passthrough_install(&fs, se);
	/* Detach only now, so every error above reached the terminal. */
	if (fuse_daemonize(opts.foreground) != 0)
		goto out;
	/* The loop returns the number of the signal that ended it (a clean
	 * stop), or a negative code. */
	status = run_loop(se, &opts, a.max_threads_given) < 0 ? 1 : 0;
out:
	if (mounted)
		fuse_session_unmount(se);
	if (handlers)
		fuse_remove_signal_handlers(se);
	if (se)
		fuse_session_destroy(se);
	if (inited)
		rfs_fini(&fs);
	if (env)
		rgn_env_close(env);
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return status;
}
