#!/usr/bin/env bash
# tools/demo.sh - the whole main job on a built-in demo:
#   1. install what is missing and build;
#   2. create a demo environment in files mode and one in system memory;
#   3. start a live holder, and make a crashed holder (kill -9) whose
#      segments are left orphaned;
#   4. mount the files environment and show ls -l, cat stat, ls sysv/leaked
#      and one leaked segment's stat;
#   5. unmount and remove everything it created.
# It runs in a private IPC namespace, so the host's segments are neither
# shown nor touched, and whatever happens nothing outlives it.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

if [ -z "${RGN_DEMO_NS:-}" ]; then
	. "$top/tools/deps.sh"
	rgn_install_deps
	echo "== building"
	if [ ! -f "$top/build/demo/build.ninja" ]; then
		meson setup "$top/build/demo" "$top" >/dev/null
	fi
	ninja -C "$top/build/demo" >/dev/null
	export RGN_DEMO_NS=1
	exec unshare --ipc "$0" "$@"
fi

bin=$top/build/demo
ctl=$bin/tools/regionctl
fs=$bin/fs/regionfs
work=$(mktemp -d /tmp/regionfs-demo.XXXXXX)
mnt=$work/mnt
holder=
crashed=

cleanup() {
	set +e
	if grep -qs " $mnt " /proc/mounts; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt"
	fi
	[ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null
	[ -n "$crashed" ] && kill -9 "$crashed" 2>/dev/null
	"$ctl" remove -h "$work/files" --force >/dev/null 2>&1
	"$ctl" remove -h "$work/sysv" --force >/dev/null 2>&1
	"$ctl" leaks --remove >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

run() {
	printf '\n$ %s\n' "$*"
	"$@"
}

# Start a holder in the background (a child of this shell, so it can be
# waited for) and wait until it prints its pid, which it does once
# attached.  Sets $started.
start_holder() {
	local out=$1
	shift
	"$ctl" hold "$@" >"$out" 2>&1 &
	started=$!
	for _ in $(seq 200); do
		grep -q '^[0-9]' "$out" 2>/dev/null && return 0
		kill -0 "$started" 2>/dev/null || break
		sleep 0.05
	done
	echo "holder did not start:" >&2
	cat "$out" >&2
	return 1
}

mkdir -p "$work/files" "$work/sysv" "$work/crashed" "$mnt"
echo "== creating environments in $work"
run "$ctl" create -h "$work/files"
run "$ctl" create -h "$work/sysv" --backing sysv --shm-key 0x5eed0000

echo
echo "== a live holder on the files environment, a crashed one on another"
start_holder "$work/holder.out" -h "$work/files" --alloc 100 --seconds 300
holder=$started
echo "live holder: pid $holder"
start_holder "$work/crashed.out" -h "$work/crashed" --create \
	--backing sysv --shm-key 0x5eed1000 --alloc 10 --seconds 300
crashed=$started
kill -9 "$crashed"
wait "$crashed" 2>/dev/null || true
echo "crashed holder: pid $crashed, killed with SIGKILL"
crashed=

echo
echo "== mounting $work/files on $mnt"
run "$fs" "$work/files" "$mnt"
run ls -l "$mnt"
run cat "$mnt/stat"
run ls -l "$mnt/sysv/leaked"
leak=$(ls "$mnt/sysv/leaked" | head -n 1)
if [ -n "$leak" ]; then
	run cat "$mnt/sysv/leaked/$leak/stat"
fi

echo
echo "== the same from the command line"
run "$ctl" leaks

echo
echo "== cleaning up"
run fusermount3 -u "$mnt"
kill "$holder"
wait "$holder" 2>/dev/null || true
holder=
run "$ctl" remove -h "$work/files"
run "$ctl" remove -h "$work/sysv"
run "$ctl" leaks --remove
echo
echo "demo done: everything it created is removed"
