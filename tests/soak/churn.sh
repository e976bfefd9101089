#!/bin/bash
# churn.sh - FUSE churn soak: regionfs mounted on a home while 4 readers
# list it and read random region and stat files and a writer creates and
# removes regions, for the duration.  No read of an open file may fail,
# the daemon must be alive at the end, unmount cleanly and leave no mount.
# EIO when opening a file that is being removed is a violation too (issue
# 11, defect 4: ENOENT is meant); RGN_SOAK_ALLOW_OPEN_EIO=1 only counts it.
#
#   churn.sh REGIONFS CHURN [SECONDS]      (else $RGN_SOAK_SECONDS, else 60)
#
# Exit 0 passed, 1 failed, 77 skipped (no /dev/fuse, fusermount3 or IPC
# namespace).  Runs in its own IPC namespace; the EXIT trap unmounts, kills
# the daemon and every helper, and removes the temporary directory, also
# when a check fails half-way.
set -u

# abspath, and harness_enter: the same private IPC namespace and skips as
# the fuse suites.
. "$(dirname "$0")/../fuse/harness.sh"
REGIONFS=$(abspath "${1:?usage: churn.sh REGIONFS CHURN [SECONDS]}")
CHURN=$(abspath "${2:?usage: churn.sh REGIONFS CHURN [SECONDS]}")
SECS=${3:-${RGN_SOAK_SECONDS:-60}}

harness_enter "$@"

T=$(mktemp -d /tmp/rgn-soak-churn.XXXXXX) || exit 1
HOME_DIR=$T/home
MNT=$T/mnt
PIDS=()
DAEMON=

is_mounted() { grep -qs " $1 fuse" /proc/mounts; }

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	if is_mounted "$MNT"; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null ||
			umount -l "$MNT" 2>/dev/null
	fi
	[ -n "$DAEMON" ] && kill -KILL "$DAEMON" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "soak churn: FAILED: $*"; exit 1; }

mkdir -p "$HOME_DIR" "$MNT"
"$CHURN" setup "$HOME_DIR" || fail "cannot create the environment"
"$REGIONFS" "$HOME_DIR" "$MNT" -f 2>"$T/daemon.log" &
DAEMON=$!
for _ in $(seq 200); do is_mounted "$MNT" && break; sleep 0.025; done
is_mounted "$MNT" || fail "regionfs never mounted: $(head -5 "$T/daemon.log")"

for i in 1 2 3 4; do
	"$CHURN" reader "$MNT" "$SECS" "$RANDOM$i" >"$T/reader$i.out" &
	PIDS+=($!)
done
"$CHURN" writer "$HOME_DIR" "$SECS" >"$T/writer.out" &
PIDS+=($!)

bad=0
for p in "${PIDS[@]}"; do wait "$p" || bad=$((bad + 1)); done
PIDS=()

kill -0 "$DAEMON" 2>/dev/null || fail "the daemon died: $(head -20 "$T/daemon.log")"
fusermount3 -u "$MNT" || fail "unmount failed"
wait "$DAEMON"
rc=$?
DAEMON=
[ "$rc" -eq 0 ] || fail "daemon exited with $rc"
is_mounted "$MNT" && fail "a mount is left"
if grep -qE "AddressSanitizer|LeakSanitizer|runtime error" "$T/daemon.log"; then
	head -40 "$T/daemon.log"
	fail "sanitizer report from the daemon"
fi

# One summary line: the readers' counts summed, and the writer's.
summary=$(cat "$T"/reader*.out | awk '
	{ o += $2; g += $4; e += $8; b += $12; r += $14; v += $16 }
	END { printf "%d opens, %d gone at open, %d EIO at open, %.0f bytes read, %d read errors after open, %d violations", o, g, e, b, r, v }')
echo "soak churn $SECS s: 4 readers: $summary; $(cat "$T/writer.out"); daemon alive, unmounted, $bad failed helpers"
[ "$bad" -eq 0 ]
