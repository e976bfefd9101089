# tests/fuse/harness.sh - what the fuse suites (run.sh, bdb.sh) share: the
# private IPC namespace, the scratch directory and the cleanup that undoes
# everything a failed test left, mounting and unmounting, and the report of
# each subtest.  Sourced by them (and, for harness_enter, by the FUSE soak
# tests/soak/churn.sh), never run.
#
#   harness_enter "$@"  re-run the script inside a private IPC namespace
#                       (unshare --ipc), so that no System V segment of the
#                       machine is ever seen or touched; exit 77 (skipped)
#                       where the machine lacks FUSE or namespaces
#   harness_init NAME   the scratch directory $T (/tmp/NAME.XXXXXX), the
#                       daemons' log $LOG, the counters, and the EXIT trap

abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

harness_enter() {
	[ -n "${RFS_IN_IPC_NS:-}" ] && return 0
	if [ ! -c /dev/fuse ] || [ ! -r /dev/fuse ] || [ ! -w /dev/fuse ]; then
		echo "SKIP: /dev/fuse is missing or not accessible"; exit 77
	fi
	command -v fusermount3 >/dev/null || { echo "SKIP: no fusermount3"; exit 77; }
	unshare --ipc true 2>/dev/null ||
		{ echo "SKIP: cannot make a private IPC namespace"; exit 77; }
	RFS_IN_IPC_NS=1 exec unshare --ipc -- "$BASH" "$0" "$@"
}

harness_init() {
	T=$(mktemp -d "/tmp/$1.XXXXXX") || exit 1
	MOUNTS=()
	PIDS=()
	passed=0
	failed=0
	skipped=0
	LOG=$T/daemon.log # every daemon's stderr: sanitizer reports land here
	: >"$LOG"
	trap cleanup EXIT
	trap 'exit 130' INT TERM
}

# The EXIT trap: unmount every mount (aborting a stuck connection), kill
# every process, remove the namespace's segments and the scratch directory.
cleanup() {
	local m p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for m in "${MOUNTS[@]}"; do
		grep -qs " $m fuse" /proc/mounts || continue
		fusermount3 -u "$m" 2>/dev/null && continue
		abort_conn "$m" # a stuck daemon: umount would wait for it
		fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	ipcrm --all=shm 2>/dev/null # this namespace's only
	[ -n "${RFS_KEEP:-}" ] || rm -rf "$T"
}

# need 'SHELL CONDITION' [what]: report and fail the test when false.
need() {
	if ! eval "$1"; then
		echo "    failed: $1${2:+  ($2)}" >&2
		return 1
	fi
}

# A subtest returns 0 (passed), 77 (skipped: this machine lacks what it
# needs; said on stderr) or anything else (failed).
run() {
	local name=$1 rc=0
	"t_$name" || rc=$?
	case $rc in
	0) passed=$((passed + 1)); echo "ok - $name" ;;
	77) skipped=$((skipped + 1)); echo "ok - $name # SKIP" ;;
	*) failed=$((failed + 1)); echo "not ok - $name" ;;
	esac
}

is_mounted() { grep -qs " $1 fuse" /proc/mounts; }

wait_mounted() {
	for _ in $(seq 200); do is_mounted "$1" && return 0; sleep 0.025; done
	echo "    $1 never got mounted" >&2
	return 1
}

# mount_fs HOME MNT [regionfs options]: a foreground daemon in the
# background; DAEMON_PID is its pid.
mount_fs() {
	local home=$1 mnt=$2
	shift 2
	mkdir -p "$mnt"
	MOUNTS+=("$mnt")
	"$REGIONFS" "$home" "$mnt" -f "$@" 2>>"$LOG" &
	DAEMON_PID=$!
	PIDS+=("$DAEMON_PID")
	wait_mounted "$mnt"
}

# unmount_fs MNT PID: unmount and check that the daemon exits with 0.
unmount_fs() {
	local rc
	fusermount3 -u "$1" || return 1
	wait "$2"
	rc=$?
	need '[ $rc -eq 0 ]' "daemon exit status $rc" && need '! is_mounted "$1"'
}

# abort_conn MNT: abort the FUSE connection of MNT, so that requests stuck
# in it (a daemon waiting on itself cannot even exit) fail at once.  Through
# fusectl, mounted in a private mount namespace when it is not mounted.
abort_conn() {
	local dev
	dev=$(awk -v m="$1" '$5 == m { split($3, d, ":"); print d[2] }' /proc/self/mountinfo | tail -1)
	[ -n "$dev" ] || return 0
	if [ -e "/sys/fs/fuse/connections/$dev/abort" ]; then
		echo 1 >"/sys/fs/fuse/connections/$dev/abort"
	else
		unshare --mount --propagation private -- sh -c \
			"mount -t fusectl none /sys/fs/fuse/connections && echo 1 >/sys/fs/fuse/connections/$dev/abort" 2>/dev/null
	fi
}

# kill_mount MNT PID: a daemon that may be stuck: abort, kill, detach.
kill_mount() {
	abort_conn "$1"
	kill -KILL "$2" 2>/dev/null
	fusermount3 -uz "$1" 2>/dev/null || umount -l "$1" 2>/dev/null
}
