#!/bin/bash
# allow_other.sh - refusals through an allow_other mount, as an
# unprivileged uid: a files home and a System V home whose files and
# segments are 0600 root are mounted with -o allow_other (the System V one
# read-write, with leaked segments under sysv/leaked), and uid 65534 tries
# to read the regions, the stat files, the segments' data and the xattrs,
# and to rm leaked segments, in rounds for the duration.  Every attempt
# must be refused and every segment must still exist; that uid must still
# be let in where nothing is private (ls, sysv/stat), or the refusals
# would prove nothing.
#
#   allow_other.sh REGIONFS REGIONCTL [SECONDS]  (else $RGN_SOAK_SECONDS, else 60)
#
# Exit 0 passed, 1 failed, 77 skipped (no /dev/fuse, fusermount3, setpriv,
# getfattr, root or IPC namespace).  The EXIT trap unmounts, kills and
# removes everything, also when a check fails half-way.
set -u

abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
REGIONFS=$(abspath "${1:?usage: allow_other.sh REGIONFS REGIONCTL [SECONDS]}")
RC=$(abspath "${2:?usage: allow_other.sh REGIONFS REGIONCTL [SECONDS]}")
SECS=${3:-${RGN_SOAK_SECONDS:-60}}

if [ -z "${RGN_SOAK_IN_NS:-}" ]; then
	if [ ! -c /dev/fuse ] || [ ! -r /dev/fuse ] || [ ! -w /dev/fuse ]; then
		echo "SKIP: /dev/fuse is missing or not accessible"; exit 77
	fi
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
	for c in fusermount3 setpriv getfattr; do
		command -v $c >/dev/null || { echo "SKIP: no $c"; exit 77; }
	done
	unshare --ipc true 2>/dev/null ||
		{ echo "SKIP: cannot make a private IPC namespace"; exit 77; }
	RGN_SOAK_IN_NS=1 exec unshare --ipc -- "$BASH" "$0" "$@"
fi

T=$(mktemp -d /tmp/rgn-soak-allow.XXXXXX) || exit 1
chmod 755 "$T" # uid 65534 must reach the mount points
HF=$T/files
HS=$T/sysv
MF=$T/mf
MS=$T/ms
PIDS=()
MOUNTS=()
AS_NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"

is_mounted() { grep -qs " $1 fuse" /proc/mounts; }

cleanup() {
	local p m
	for m in "${MOUNTS[@]}"; do
		is_mounted "$m" || continue
		fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null ||
			umount -l "$m" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	ipcrm --all=shm 2>/dev/null # this namespace's only
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "soak allow_other: FAILED: $*"; exit 1; }

mount_fs() { # HOME MNT OPTIONS
	mkdir -p "$2"
	MOUNTS+=("$2")
	"$REGIONFS" "$1" "$2" -f -o "$3" 2>>"$T/daemon.log" &
	PIDS+=($!)
	for _ in $(seq 200); do is_mounted "$2" && return 0; sleep 0.025; done
	fail "regionfs never mounted $2: $(head -5 "$T/daemon.log")"
}

mkdir -p "$HF" "$HS"
"$RC" create -h "$HF" --mode 0600 >/dev/null &&
	"$RC" create -h "$HS" --backing sysv --shm-key 0x5e0f0000 --mode 0600 >/dev/null ||
	fail "cannot create the environments"
# A holder killed with SIGKILL leaves the System V segments orphaned.
"$RC" hold -h "$HS" >"$T/hold.out" &
hp=$!
for _ in $(seq 400); do [ -s "$T/hold.out" ] && break; sleep 0.025; done
{ kill -KILL "$hp"; wait "$hp"; } 2>/dev/null
mount_fs "$HF" "$MF" allow_other
mount_fs "$HS" "$MS" allow_other,rw

LEAKED=$(ls "$MS/sysv/leaked")
SHMIDS=$(awk 'NR > 1 { print $2 }' /proc/sysvipc/shm)
[ -n "$LEAKED" ] || fail "no leaked segment to try rm on"
# The refusals below mean something only if that uid gets in at all, and
# root may read what it is refused.
$AS_NOBODY ls "$MF" "$MS" >/dev/null || fail "uid 65534 cannot list the mounts"
$AS_NOBODY cat "$MS/sysv/stat" >/dev/null || fail "uid 65534 cannot read sysv/stat"
cat "$MF/__db.002" "$MF/stat" >/dev/null || fail "root cannot read what it is refused"

attempts=0
refused=0
# try DESC CMD...: one attempt as uid 65534; it must fail.
try() {
	local desc=$1
	shift
	attempts=$((attempts + 1))
	if $AS_NOBODY "$@" >/dev/null 2>&1; then
		echo "    allowed: $desc: $*"
	else
		refused=$((refused + 1))
	fi
}

one_round() {
	local m f id
	for m in "$MF" "$MS"; do
		for f in "$m"/__db.*; do
			try "region bytes" cat "$f"
			try "region xattr" getfattr -n user.region.name "$f"
		done
		for f in stat stat.json processes; do
			try "environment $f" cat "$m/$f"
		done
		for f in "$m"/regions/*/stat "$m"/regions/*/stat.json; do
			try "region stat" cat "$f"
		done
	done
	for id in $SHMIDS; do
		try "segment data" cat "$MS/sysv/$id/data"
	done
	for id in $LEAKED; do
		try "rm of a leaked segment" rm "$MS/sysv/leaked/$id"
	done
}

rounds=0
end=$((SECONDS + SECS))
while :; do
	one_round
	rounds=$((rounds + 1))
	[ "$SECONDS" -lt "$end" ] && [ "$refused" -eq "$attempts" ] || break
done

left=0
for id in $SHMIDS; do
	awk -v id="$id" 'NR > 1 && $2 == id { f = 1 } END { exit !f }' /proc/sysvipc/shm &&
		left=$((left + 1))
done
for m in "$MF" "$MS"; do
	fusermount3 -u "$m" || fail "cannot unmount $m"
done
wait "${PIDS[@]}" 2>/dev/null
is_mounted "$MF" || is_mounted "$MS" && fail "a mount is left"

nseg=$(echo $SHMIDS | wc -w)
echo "soak allow_other $SECS s: $rounds rounds, $attempts attempts as uid 65534, $refused refused; $left of $nseg segments still there"
[ "$refused" -eq "$attempts" ] && [ "$left" -eq "$nseg" ]
