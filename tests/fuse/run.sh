#!/bin/bash
# tests/fuse/run.sh - the fuse suite: mount environments for real with
# regionfs and check what ordinary tools see against what libregion wrote.
#
#   run.sh REGIONFS FSHELPER [REGIONCTL]
#
# Exit status: 0 all passed, 1 some failed, 77 skipped (no FUSE here, or no
# way to get a private IPC namespace).  Everything runs inside one private
# IPC namespace (unshare --ipc), the daemons included, so no System V
# segment of the machine is ever seen or touched.  The EXIT trap unmounts
# every mount, kills every process and removes every home and segment, also
# when a test fails half-way.
set -u

. "$(cd "$(dirname "$0")" && pwd)/harness.sh"
REGIONFS=$(abspath "${1:?usage: run.sh REGIONFS FSHELPER [REGIONCTL]}")
HELPER=$(abspath "${2:?usage: run.sh REGIONFS FSHELPER [REGIONCTL]}")
REGIONCTL=${3:-}
SELF=$(abspath "$0")
SRC=$(cd "$(dirname "$SELF")/../.." && pwd) # the source tree
[ -n "$REGIONCTL" ] && REGIONCTL=$(abspath "$REGIONCTL")
[ -n "$REGIONCTL" ] && [ ! -x "$REGIONCTL" ] && REGIONCTL=

harness_enter "$@"
harness_init regionfs-fuse
chmod 755 "$T" # other users must reach the allow_other mount point

# ---- harness ----------------------------------------------------------------

wait_gone() { # PID: wait for a process that is not our child
	for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.025; done
	return 1
}

# wait_ready FILE: a helper printed "ready" (it is attached, or holds).
wait_ready() {
	for _ in $(seq 400); do grep -qs '^ready$' "$1" && return 0; sleep 0.025; done
	echo "    helper never got ready" >&2
	return 1
}

nattch_of() { awk -v id="$1" '$2 == id { print $7 }' /proc/sysvipc/shm; }
# detached_soon SHMID: nobody attached within 2 s.  The mount replies
# straight from a momentary attachment and detaches right after the reply
# is sent, so a reader that has its bytes may look before the detach.
detached_soon() {
	local i
	for i in $(seq 20); do
		[ "$(nattch_of "$1")" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}
lpid_of() { awk -v id="$1" '$2 == id { print $6 }' /proc/sysvipc/shm; }
AS_NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
# A python3 that nobody may run (root's may be a shim in /root), or "".
NOBODY_PY=$(for p in /usr/bin/python3 /usr/local/bin/python3 "$(command -v python3)"; do
	[ -x "$p" ] && $AS_NOBODY "$p" -c '' 2>/dev/null && { echo "$p"; break; }; done)

segment_exists() { awk -v id="$1" '$2 == id { f = 1 } END { exit !f }' /proc/sysvipc/shm; }
nolocal() { grep -v $'\tLocal time$'; }

# ---- the environments under test ------------------------------------------------

HF=$T/files		# files backing, mode 0640
HS=$T/sysv		# system memory backing, mode 0600
MF=$T/mf		# HF, read-only
MS=$T/ms		# HS, read-only
MSW=$T/msw		# HS, rw
mkdir -p "$HF" "$HS"
"$HELPER" create "$HF" files 0 640 4 $((256 * 1024)) &&
	"$HELPER" add "$HF" small $((64 * 1024)) &&
	"$HELPER" add "$HF" large $((8 * 1024 * 1024)) &&
	"$HELPER" create "$HS" sysv 0x5eed0100 600 3 $((512 * 1024)) ||
	{ echo "Bail out! cannot create the test environments"; exit 1; }
mount_fs "$HF" "$MF" || { echo "Bail out! cannot mount"; exit 1; }
MF_PID=$DAEMON_PID
mount_fs "$HS" "$MS" || { echo "Bail out! cannot mount"; exit 1; }
MS_PID=$DAEMON_PID
MSW_PID=

# ---- tests ------------------------------------------------------------------
# The subtests are the functions named t_* in these files, run in the order
# they are defined, file by file (t_cli.sh ends with no_mount_left and
# daemon_logs_clean).
SUBTEST_FILES=(t_view.sh t_access.sh t_cli.sh)
DIR=$(dirname "$SELF")
for f in "${SUBTEST_FILES[@]}"; do
	# shellcheck source=/dev/null
	. "$DIR/$f"
done
for f in "${SUBTEST_FILES[@]}"; do
	for t in $(sed -n 's/^t_\([a-z0-9_]*\)() {$/\1/p' "$DIR/$f"); do
		run "$t"
	done
done

# CI has everything a subtest needs: a skip there hides a missing piece.
if [ "${CI:-}" = true ] && [ "$skipped" -gt 0 ]; then
	echo "CI: $skipped subtests skipped" >&2
	failed=$((failed + skipped))
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
