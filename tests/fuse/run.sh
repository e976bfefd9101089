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

abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
REGIONFS=$(abspath "${1:?usage: run.sh REGIONFS FSHELPER [REGIONCTL]}")
HELPER=$(abspath "${2:?usage: run.sh REGIONFS FSHELPER [REGIONCTL]}")
REGIONCTL=${3:-}
SELF=$(abspath "$0")
SRC=$(cd "$(dirname "$SELF")/../.." && pwd) # the source tree
[ -n "$REGIONCTL" ] && REGIONCTL=$(abspath "$REGIONCTL")
[ -n "$REGIONCTL" ] && [ ! -x "$REGIONCTL" ] && REGIONCTL=

if [ -z "${RFS_IN_IPC_NS:-}" ]; then
	if [ ! -c /dev/fuse ] || [ ! -r /dev/fuse ] || [ ! -w /dev/fuse ]; then
		echo "SKIP: /dev/fuse is missing or not accessible"; exit 77
	fi
	command -v fusermount3 >/dev/null || { echo "SKIP: no fusermount3"; exit 77; }
	unshare --ipc true 2>/dev/null ||
		{ echo "SKIP: cannot make a private IPC namespace"; exit 77; }
	RFS_IN_IPC_NS=1 exec unshare --ipc -- "$BASH" "$0" "$@"
fi

T=$(mktemp -d /tmp/regionfs-fuse.XXXXXX) || exit 1
chmod 755 "$T" # other users must reach the allow_other mount point
MOUNTS=()
PIDS=()
passed=0
failed=0
skipped=0
LOG=$T/daemon.log # every daemon's stderr: sanitizer reports land here
: >"$LOG"

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
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- harness ----------------------------------------------------------------

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

wait_gone() { # PID: wait for a process that is not our child
	for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.025; done
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

# wait_ready FILE: a helper printed "ready" (it is attached, or holds).
wait_ready() {
	for _ in $(seq 400); do grep -qs '^ready$' "$1" && return 0; sleep 0.025; done
	echo "    helper never got ready" >&2
	return 1
}

nattch_of() { awk -v id="$1" '$2 == id { print $7 }' /proc/sysvipc/shm; }
lpid_of() { awk -v id="$1" '$2 == id { print $6 }' /proc/sysvipc/shm; }
AS_NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
# A python3 that nobody may run (root's may be a shim in /root), or "".
NOBODY_PY=$(for p in /usr/bin/python3 /usr/local/bin/python3 "$(command -v python3)"; do
	[ -x "$p" ] && $AS_NOBODY "$p" -c '' 2>/dev/null && { echo "$p"; break; }; done)

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

# ---- tests -------------------------------------------------------------------------

t_bad_home_missing() {
	local out rc
	mkdir -p "$T/m-bad"
	out=$("$REGIONFS" "$T/no-such-home" "$T/m-bad" 2>&1)
	rc=$?
	need '[ $rc -ne 0 ]' &&
		need 'grep -q "^regionfs: cannot open environment \"$T/no-such-home\": " <<<"$out"' "$out" &&
		need '! is_mounted "$T/m-bad"'
}

t_bad_home_not_an_environment() {
	local out rc
	mkdir -p "$T/not-env" "$T/m-bad"
	out=$("$REGIONFS" "$T/not-env" "$T/m-bad" 2>&1)
	rc=$?
	need '[ $rc -ne 0 ]' &&
		need 'grep -q "^regionfs: cannot open environment \"$T/not-env\": RGN_ENOTENV: home holds no environment" <<<"$out"' "$out" &&
		need '! is_mounted "$T/m-bad"'
}

t_dead_mountpoint_explained() {
	local m=$T/m-dead out rc
	mount_fs "$HF" "$m" || return 1
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	need '! stat "$m" >/dev/null 2>&1' "the mount should be dead" || return 1
	out=$("$REGIONFS" "$HF" "$m" 2>&1)
	rc=$?
	fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m"
	need '[ $rc -ne 0 ]' &&
		need 'grep -q "dead FUSE mount" <<<"$out"' "$out" &&
		need 'grep -qF "fusermount3 -u $m" <<<"$out"' "$out"
}

t_ls_matches_regions() {
	local want got
	want=$("$HELPER" list "$HF" | awk '{ print $1, $2, $3 }')
	got=$(cd "$MF" && stat -c '%n %s %a' __db.*)
	need '[ "$want" = "$got" ]' "$(diff <(echo "$want") <(echo "$got"))" || return 1
	want=$("$HELPER" list "$HS" | awk '{ print $1, $2, $3 }')
	got=$(cd "$MS" && stat -c '%n %s %a' __db.*)
	need '[ "$want" = "$got" ]' "$(diff <(echo "$want") <(echo "$got"))" || return 1
	want=$( { "$HELPER" list "$HF" | awk '{ print $1 }'; printf '%s\n' metrics processes regions stat stat.json sysv; } | LC_ALL=C sort)
	got=$(LC_ALL=C ls "$MF")
	need '[ "$want" = "$got" ]' "$(diff <(echo "$want") <(echo "$got"))" &&
		need '[ "$(ls "$MF/regions" | wc -l)" = "$("$HELPER" list "$HF" | wc -l)" ]'
}

# Region bytes through the mount are the bytes libregion reads itself.
cmp_regions() { # HOME MNT
	local home=$1 mnt=$2 file size mode name type shmid key id
	while read -r file size mode name type shmid key; do
		id=$((10#${file#__db.}))
		"$HELPER" dump "$home" "$id" "$T/dump" || return 1
		need 'cmp -s "$T/dump" "$mnt/$file"' "$file differs" || return 1
		need '[ "$(stat -c %s "$T/dump")" = "$size" ]' || return 1
	done < <("$HELPER" list "$home")
}

t_region_bytes_files() {
	cmp_regions "$HF" "$MF" &&
		need 'cmp -s "$HF/__db.006" "$MF/__db.006"' &&
		need 'dd if="$MF/__db.007" bs=1M status=none | cmp -s - "$HF/__db.007"' &&
		need 'dd if="$MF/__db.007" bs=4097 skip=3 status=none | cmp -s - <(dd if="$HF/__db.007" bs=4097 skip=3 status=none)' &&
		need 'cp "$MF/__db.007" "$T/copy" && cmp -s "$T/copy" "$HF/__db.007"' cp &&
		need 'python3 -c "import sys; sys.exit(open(sys.argv[1], \"rb\").read() != open(sys.argv[2], \"rb\").read())" "$MF/__db.007" "$HF/__db.007"' python3
}

t_region_bytes_sysv_detached_after() {
	local shmid
	cmp_regions "$HS" "$MS" || return 1
	# The mount attaches only while it reads: nobody stays attached.
	for shmid in $("$HELPER" list "$HS" | awk '{ print $6 }'); do
		need '[ "$(nattch_of "$shmid")" = 0 ]' "shmid $shmid" || return 1
	done
	need 'grep -q "^0	Live attached processes$" "$MS/stat"'
}

t_stat_equals_regionctl() {
	local ref
	if [ -n "$REGIONCTL" ]; then
		ref=$("$REGIONCTL" stat -e -h "$HF" | nolocal)
	else
		echo "    (regionctl not built: comparing with rgn_render_env_text)" >&2
		ref=$("$HELPER" stat "$HF" | nolocal)
	fi
	need '[ "$ref" = "$(nolocal <"$MF/stat")" ]' "$(diff <(echo "$ref") <(nolocal <"$MF/stat"))" || return 1
	[ -n "$REGIONCTL" ] || return 0
	need 'python3 - "$MF/stat.json" <("$REGIONCTL" stat -e --json -h "$HF") <<"EOF"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    d.pop("local_time", None)
sys.exit(a != b)
EOF' "stat.json differs from regionctl --json" &&
		need '[ "$("$REGIONCTL" stat -e -h "$HF" --region 2)" = "$(cat "$MF/regions/__db.002/stat")" ]' &&
		need '[ "$("$REGIONCTL" stat -e -h "$HF" --region 1)" = "$(cat "$MF/regions/__db.001/stat")" ]' &&
		need '[ "$("$REGIONCTL" stat -e -h "$HS" --region 3)" = "$(cat "$MS/regions/__db.003/stat")" ]' &&
		need '[ "$("$REGIONCTL" stat -e -h "$HF" --json --region 2)" = "$(cat "$MF/regions/__db.002/stat.json")" ]' &&
		need '[ "$("$REGIONCTL" stat -e -h "$HF" --processes)" = "$(cat "$MF/processes")" ]'
}

t_tools_see_full_stat() {
	local ref n
	ref=$(nolocal <"$MF/stat")
	n=$(wc -l <<<"$ref")
	need '[ "$n" -gt 20 ]' "stat has only $n lines" &&
		need '[ "$(cat "$MF/stat" | nolocal)" = "$ref" ]' cat &&
		need '[ "$(less -F "$MF/stat" </dev/null | nolocal)" = "$ref" ]' less &&
		need 'cp "$MF/stat" "$T/stat.copy" && [ "$(nolocal <"$T/stat.copy")" = "$ref" ]' cp &&
		need '[ "$(grep -c "" "$MF/stat")" = $((n + 1)) ]' grep &&
		need '[ "$(tail -n 7 "$MF/stat")" = "$(tail -n 7 <<<"$ref")" ]' tail &&
		need '[ "$(tail -c 300 "$MF/stat")" = "$(tail -c 300 <<<"$ref")" ]' "tail -c" &&
		need '[ "$(python3 -c "import sys; sys.stdout.write(open(sys.argv[1]).read())" "$MF/stat" | nolocal)" = "$ref" ]' python3 &&
		need '[ "$(dd if="$MF/stat" bs=7 status=none | nolocal)" = "$ref" ]' "dd bs=7" &&
		need '[ "$(head -c 20 "$MF/stat" | wc -c)" = 20 ]' head &&
		need '[ "$(wc -c <"$MF/stat")" -eq $(( $(wc -c <<<"$ref") + $(head -1 "$MF/stat" | wc -c) )) ]' "wc -c" &&
		need 'TERM=xterm LINES=200 COLUMNS=200 SHELL=/bin/sh script -qefc "timeout --foreground -k 1 1.5 watch -t -n 0.5 cat $MF/stat" /dev/null </dev/null 2>/dev/null | tr -d "\033" | grep -q "Registered processes"' watch
}

t_region_appears_and_vanishes() {
	local file
	"$HELPER" add "$HF" late $((128 * 1024)) || return 1
	file=$("$HELPER" list "$HF" | awk '$4 == "late" { print $1 }')
	need '[ -n "$file" ]' &&
		need 'ls "$MF" | grep -qx "$file"' "new region not listed" &&
		need '[ "$(wc -c <"$MF/$file")" = 131072 ]' &&
		need '[ -r "$MF/regions/$file/stat" ]' &&
		need 'grep -q "late	Region name" "$MF/regions/$file/stat"' || return 1
	"$HELPER" remove "$HF" late || return 1
	need '! ls "$MF" | grep -qx "$file"' "removed region still listed" &&
		need '! ls "$MF/regions" | grep -qx "$file"' || return 1
	sleep 1.1 # the kernel may trust a name it was given for a second
	need '[ ! -e "$MF/$file" ]' && need '[ ! -e "$MF/regions/$file" ]'
}

t_xattrs() {
	need 'python3 - "$MF" "$MS" <("$HELPER" list "$HF") <("$HELPER" list "$HS") <<"EOF"
import os, sys
ok = True
for mnt, listing, backing in ((sys.argv[1], sys.argv[3], "files"), (sys.argv[2], sys.argv[4], "sysv")):
    for line in open(listing):
        f, size, mode, name, typ, shmid, key = line.split()
        p = os.path.join(mnt, f)
        want = {"user.region.name": name, "user.region.type": typ,
                "user.region.backing": backing, "user.region.id": str(int(f[5:]))}
        if backing == "sysv":
            want["user.region.key"] = key
            want["user.region.shmid"] = shmid
        got = {n: os.getxattr(p, n).decode() for n in os.listxattr(p)}
        if got != want:
            print("   ", p, got, "!=", want, file=sys.stderr)
            ok = False
try:
    os.getxattr(os.path.join(sys.argv[1], "stat"), "user.region.name")
    ok = False
except OSError:
    pass
# Only user.* is ours: other namespaces are "not supported" (ls -l then
# stops asking), user names we lack are "no such attribute".
import errno
region = os.path.join(sys.argv[1], "__db.001")
for name, want in (("security.selinux", errno.EOPNOTSUPP),
                   ("system.posix_acl_access", errno.EOPNOTSUPP),
                   ("user.foo", errno.ENODATA)):
    try:
        os.getxattr(region, name)
        ok = False
    except OSError as e:
        if e.errno != want:
            print("   ", name, e.errno, "!=", want, file=sys.stderr)
            ok = False
sys.exit(not ok)
EOF' || return 1
	if command -v getfattr >/dev/null; then
		need 'getfattr -n user.region.type --only-values "$MF/__db.002" | grep -qx user'
	fi
}

t_private_environment() {
	local hp=$T/private m=$T/mp pid out
	mkdir -p "$hp"
	"$HELPER" private "$hp" >"$T/private.out" &
	pid=$!
	PIDS+=("$pid")
	wait_ready "$T/private.out" && mount_fs "$hp" "$m" || return 1
	out=$(ls "$m")
	need '! grep -q "^__db" <<<"$out"' "region files shown: $out" &&
		need 'grep -qx stat <<<"$out"' &&
		need 'grep -qx private <<<"$(cut -f1 "$m/stat")"' &&
		need 'grep -q "$pid" "$m/stat"' "owner pid $pid not named" &&
		need '[ ! -e "$m/regions" ]' || return 1
	kill -TERM "$pid"
	wait "$pid"
	unmount_fs "$m" "$DAEMON_PID"
}

t_leaked_after_kill9() {
	local hp ids id
	"$HELPER" hold "$HS" >"$T/hold.out" &
	hp=$!
	PIDS+=("$hp")
	wait_ready "$T/hold.out" || return 1
	ids=$("$HELPER" list "$HS" | awk '{ print $6 }')
	for id in $ids; do
		need 'grep -q "class live" "$MS/sysv/$id/stat"' "shmid $id" &&
			need '[ ! -e "$MS/sysv/leaked/$id" ]' || return 1
	done
	kill -KILL "$hp"
	wait "$hp" 2>/dev/null
	for id in $ids; do
		need 'grep -q "class orphaned" "$MS/sysv/$id/stat"' "shmid $id" &&
			need 'ls "$MS/sysv/leaked" | grep -qx "$id"' &&
			need '[ "$(readlink "$MS/sysv/leaked/$id")" = "../$id" ]' &&
			need '[ -d "$MS/sysv/leaked/$id/" ]' &&
			need 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d[\"class\"] != \"orphaned\")" "$MS/sysv/$id/stat.json"' || return 1
	done
	need 'grep -q "orphaned" "$MS/sysv/stat"'
}

t_segment_data() {
	local id
	id=$("$HELPER" list "$HS" | awk 'NR == 2 { print $6 }')
	"$HELPER" dump "$HS" 2 "$T/dump" || return 1
	need 'cmp -s "$T/dump" <(head -c "$(stat -c %s "$T/dump")" "$MS/sysv/$id/data")' &&
		need '[ "$(nattch_of "$id")" = 0 ]'
}

t_rm_leaked_refused_read_only() {
	local id out
	id=$("$HELPER" list "$HS" | awk 'NR == 3 { print $6 }')
	need '[ -L "$MS/sysv/leaked/$id" ]' || return 1
	out=$(rm "$MS/sysv/leaked/$id" 2>&1)
	need '[ $? -ne 0 ]' && need 'grep -q "Read-only file system" <<<"$out"' "$out" &&
		need 'segment_exists "$id"'
}

t_writes_refused() {
	need '! touch "$MF/new" 2>/dev/null' && need '! sh -c "echo x >\"$MF/__db.002\"" 2>/dev/null' &&
		need '[ "$(LC_ALL=C touch "$MF/new" 2>&1 | grep -c "Read-only file system")" = 1 ]' &&
		need '! mkdir "$MF/d" 2>/dev/null' && need '! rm -f "$MF/stat" 2>/dev/null' &&
		need '[ -e "$MF/stat" ]' || return 1
	mount_fs "$HS" "$MSW" -o rw || return 1
	MSW_PID=$DAEMON_PID
	need '[ "$(LC_ALL=C touch "$MSW/new" 2>&1 | grep -c "Permission denied")" = 1 ]' &&
		need '! sh -c "echo x >\"$MSW/__db.002\"" 2>/dev/null' &&
		need '! mkdir "$MSW/d" 2>/dev/null' && need '! rm -f "$MSW/stat" 2>/dev/null' &&
		need '! rm -f "$MSW/__db.002" 2>/dev/null' && need '[ -e "$MSW/__db.002" ]'
}

t_rm_leaked_rw_removes() {
	local id
	id=$("$HELPER" list "$HS" | awk 'NR == 3 { print $6 }')
	need 'is_mounted "$MSW"' && need '[ -L "$MSW/sysv/leaked/$id" ]' || return 1
	need 'rm "$MSW/sysv/leaked/$id"' && need '! segment_exists "$id"' "shmid $id still in /proc/sysvipc/shm" &&
		need '! ls "$MSW/sysv/leaked" | grep -qx "$id"' && need '[ ! -e "$MSW/sysv/$id" ]'
}

t_foreign_segments_not_removable() {
	local fp fid did out
	"$HELPER" shmget 65536 600 "$T/fpat" hold >"$T/foreign.out" &
	fp=$!
	PIDS+=("$fp")
	wait_ready "$T/foreign.out" || return 1
	fid=$(head -1 "$T/foreign.out")
	# Idle, creator alive: foreign-idle, not leaked, and not removable.
	need 'grep -q "class foreign-idle" "$MSW/sysv/$fid/stat"' &&
		need '! ls "$MSW/sysv/leaked" | grep -qx "$fid"' &&
		need '! rm "$MSW/sysv/leaked/$fid" 2>/dev/null' &&
		need '! rm -f "$MSW/sysv/$fid/stat" 2>/dev/null' &&
		need 'cmp -s "$T/fpat" "$MSW/sysv/$fid/data"' &&
		need 'segment_exists "$fid"' || return 1
	# Creator dead: leaked (nobody will free it), yet rm refuses: only
	# `regionctl leaks --remove --force-foreign SHMID` may remove it.
	did=$("$HELPER" shmget 65536 600 "$T/dpat") || return 1
	need '[ -L "$MSW/sysv/leaked/$did" ]' || return 1
	out=$(rm "$MSW/sysv/leaked/$did" 2>&1)
	need '[ $? -ne 0 ]' && need 'grep -q "Operation not permitted" <<<"$out"' "$out" &&
		need 'segment_exists "$did"'
}

t_permissions_allow_other() {
	local m=$T/mao fid as_nobody
	fid=$(head -1 "$T/foreign.out")
	as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
	# Without allow_other nobody else gets in at all.
	need '! $as_nobody ls "$MS" >/dev/null 2>&1' || return 1
	mount_fs "$HS" "$m" -o allow_other || return 1
	need '$as_nobody ls "$m" >/dev/null' &&
		need '$as_nobody cat "$m/sysv/$fid/stat" >/dev/null' "segment stat is for all" &&
		need '! $as_nobody cat "$m/sysv/$fid/data" >/dev/null 2>&1' "0600 segment data" &&
		need 'cat "$m/sysv/$fid/data" >/dev/null' "root reads it" &&
		need '! $as_nobody cat "$m/__db.002" >/dev/null 2>&1' "0600 region" &&
		need '[ -z "$NOBODY_PY" ] || $as_nobody "$NOBODY_PY" -c "import errno, os, sys
try:
    os.getxattr(sys.argv[1], \"user.region.name\")
except OSError as e:
    sys.exit(e.errno != errno.EACCES)
sys.exit(1)" "$m/__db.002"' "user.region.name of a 0600 region" &&
		need '! $as_nobody cat "$m/stat" >/dev/null 2>&1' "0600 environment" &&
		unmount_fs "$m" "$DAEMON_PID"
}

# The daemon reads headers as root; a requester who may not read a segment
# sees what `regionctl leaks` run by that requester says.
t_sysv_shown_as_the_requester_may_see() {
	local m=$T/mred id out ref rc=0
	id=$("$HELPER" list "$HS" | awk 'NR == 2 { print $6 }')
	need 'grep -q "class orphaned" "$MS/sysv/$id/stat"' || return 1
	mount_fs "$HS" "$m" -o allow_other || return 1
	out=$($AS_NOBODY cat "$m/sysv/$id/stat")
	need 'grep -q "class unknown" <<<"$out"' "$out" &&
		need 'grep -q "evidence: cannot attach to read its header: Permission denied" <<<"$out"' "$out" &&
		need '! grep -q "^  home " <<<"$out"' "$out" &&
		need '[ -z "$NOBODY_PY" ] || $AS_NOBODY "$NOBODY_PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d[\"class\"] != \"unknown\" or \"$HS\" in json.dumps(d))" "$m/sysv/$id/stat.json"' "stat.json" &&
		need 'ls "$m/sysv/leaked" | grep -qx "$id"' "root" &&
		need '! $AS_NOBODY ls "$m/sysv/leaked" | grep -qx "$id"' "leaked/ as nobody" &&
		need '! $AS_NOBODY test -e "$m/sysv/leaked/$id"' "leaked/$id as nobody" &&
		need '$AS_NOBODY grep -q "^0	orphaned segments" "$m/sysv/stat"' "$($AS_NOBODY cat "$m/sysv/stat")" &&
		need '$AS_NOBODY cat "$m/sysv/$id/data" >/dev/null 2>&1; [ $? -ne 0 ]' "0600 segment data" || rc=1
	if [ $rc -eq 0 ] && [ -n "$REGIONCTL" ]; then
		ref=$($AS_NOBODY "$REGIONCTL" leaks -v | awk -v id="$id" '/^shmid / { p = $2 == id } p && /^shmid |evidence/')
		need '[ "$ref" = "$(grep "^shmid \|evidence" <<<"$out")" ]' "$(diff <(echo "$ref") <(echo "$out"))" &&
			need '[ "$($AS_NOBODY "$REGIONCTL" leaks | sed "1,/^=-=-=/d")" = "$($AS_NOBODY cat "$m/sysv/stat")" ]' \
				"$(diff <($AS_NOBODY "$REGIONCTL" leaks | sed "1,/^=-=-=/d") <($AS_NOBODY cat "$m/sysv/stat"))" || rc=1
	fi
	unmount_fs "$m" "$DAEMON_PID" || rc=1
	return $rc
}

# With allow_other the files' own modes decide, and a 0700 home keeps
# others out of the mount as out of the home.
t_modes_follow_files_allow_other() {
	local h=$T/modes m=$T/mmodes rc=0
	mkdir -p "$h"
	"$HELPER" create "$h" files 0 644 4 65536 || return 1
	chmod 700 "$h"
	chmod 600 "$h/__db.002" "$h/__db.003"
	mount_fs "$h" "$m" -o allow_other || return 1
	need '! $AS_NOBODY ls "$m" >/dev/null 2>&1' "listed a 0700 home" &&
		need '! $AS_NOBODY cat "$m/stat" >/dev/null 2>&1' "stat of a 0700 home" &&
		need '! $AS_NOBODY cat "$m/__db.004" >/dev/null 2>&1' "0644 region in a 0700 home" &&
		need '! $AS_NOBODY cat "$m/sysv/stat" >/dev/null 2>&1' "sysv/ of a 0700 home" &&
		need 'cat "$m/stat" >/dev/null && cat "$m/__db.002" >/dev/null' "root" &&
		need '[ "$(stat -c %a "$m")" = 500 ]' "root dir $(stat -c %a "$m")" &&
		need '[ "$(stat -c %a "$m/__db.002")" = 600 ]' "__db.002 $(stat -c %a "$m/__db.002")" || rc=1
	unmount_fs "$m" "$DAEMON_PID" || rc=1
	[ $rc -eq 0 ] || return 1
	chmod 755 "$h"
	mount_fs "$h" "$m" -o allow_other || return 1
	need '$AS_NOBODY ls "$m" >/dev/null' &&
		need '$AS_NOBODY cat "$m/stat" >/dev/null' "stat, __db.001 being 0644" &&
		need '! $AS_NOBODY cat "$m/__db.002" >/dev/null 2>&1' "0600 region" &&
		need '! $AS_NOBODY cat "$m/regions/__db.002/stat" >/dev/null 2>&1' "0600 region's stat" &&
		need '$AS_NOBODY cat "$m/__db.004" >/dev/null' "0644 region" &&
		need '[ -z "$NOBODY_PY" ] || $AS_NOBODY "$NOBODY_PY" - "$m" <<"EOF"
import errno, os, sys
ok = True
for f in ("__db.002",):
    for call in (lambda p: os.getxattr(p, "user.region.name"), os.listxattr):
        try:
            call(os.path.join(sys.argv[1], f))
            ok = False
        except OSError as e:
            ok = ok and e.errno == errno.EACCES
ok = ok and os.getxattr(os.path.join(sys.argv[1], "__db.004"), "user.region.id") == b"4"
sys.exit(not ok)
EOF' "user.region.* of a 0600 region" || rc=1
	# The file's mode at open decides, not the attributes shown a moment ago.
	chmod 600 "$h/__db.004"
	need '! $AS_NOBODY cat "$m/__db.004" >/dev/null 2>&1' "region made 0600 after mount" || rc=1
	unmount_fs "$m" "$DAEMON_PID" || rc=1
	return $rc
}

# Every supplementary group of the requester counts, not the first 64.
t_group_beyond_the_64th() {
	local h=$T/groups m=$T/mgroups many rc=0
	mkdir -p "$h"
	"$HELPER" create "$h" files 0 640 2 65536 || return 1
	chgrp 4242 "$h/__db.002"
	mount_fs "$h" "$m" -o allow_other || return 1
	many=$(seq -s, 3000 3069),4242 # sorted, the one that may read is 71st
	need '! $AS_NOBODY cat "$m/__db.002" >/dev/null 2>&1' "0640 region, other group" &&
		need 'setpriv --reuid=65534 --regid=65534 --groups=$many cat "$m/__db.002" >/dev/null' "0640 region, 71st group" || rc=1
	unmount_fs "$m" "$DAEMON_PID" || rc=1
	return $rc
}

# A segment's header names its home, and anybody who can make a segment can
# write one.  A home that now leads into a FUSE mount (the daemon's own,
# through a symbolic link or by its very path) must never be entered: the
# scanning thread would wait on a lookup that waits on its scan.
t_scan_never_enters_a_mount() {
	local p=$T/loop hx=$T/lx m=$T/loop ida idb out rc=0
	mkdir -p "$p/sysv/0" "$hx"
	"$HELPER" create "$p/sysv/0" sysv 0x5eed0200 600 1 65536 &&
		"$HELPER" create "$hx" sysv 0x5eed0300 600 1 65536 || return 1
	ida=$("$HELPER" list "$p/sysv/0" | awk 'NR == 1 { print $6 }')
	idb=$("$HELPER" list "$hx" | awk 'NR == 1 { print $6 }')
	# Home A now lies under the mount point; home B is a link into it.
	rm -rf "$p/sysv" "$hx"
	ln -s "$m/sysv/0" "$hx"
	mount_fs "$HF" "$m" || return 1
	need 'timeout -k 1 5 cat "$m/sysv/stat" >/dev/null' "sysv/stat hangs" &&
		need 'timeout -k 1 5 ls "$m/sysv" | grep -qx "$ida"' "sysv/ no longer answers" &&
		need 'timeout -k 1 5 cat "$m/sysv/$ida/stat" >"$T/loop.out"' "sysv/$ida/stat hangs" &&
		need 'grep -q "class unknown" "$T/loop.out"' "$(cat "$T/loop.out")" &&
		need 'grep -q "not entered: it is on the FUSE file system mounted at $m" "$T/loop.out"' "$(cat "$T/loop.out")" &&
		need 'timeout -k 1 5 cat "$m/sysv/$idb/stat" >"$T/loop.out"' "sysv/$idb/stat hangs" &&
		need 'grep -q "class orphaned" "$T/loop.out"' "$(cat "$T/loop.out")" &&
		need 'grep -q "home is now a symbolic link" "$T/loop.out"' "$(cat "$T/loop.out")" &&
		need 'timeout -k 1 5 cat "$m/stat" >/dev/null' "the daemon no longer answers" || rc=1
	if [ $rc -eq 0 ]; then
		unmount_fs "$m" "$DAEMON_PID" || rc=1
	else
		kill_mount "$m" "$DAEMON_PID"
	fi
	ipcrm -m "$ida" -m "$idb" 2>/dev/null
	rm -rf "$hx" "$p"
	return $rc
}

# Few workers unless -o max_threads says otherwise (RFS_MAX_THREADS): the
# main thread plus two, however many readers come at once.
t_worker_threads_capped() {
	local pids=() i n
	for i in $(seq 24); do
		cat "$MF/__db.007" >/dev/null & pids+=($!)
		cat "$MF/metrics" >/dev/null & pids+=($!)
	done
	wait "${pids[@]}"
	n=$(ls "/proc/$MF_PID/task" | wc -l)
	need '[ "$n" -le 3 ]' "$n threads"
}

# Root may execute only what has an x bit, as the kernel decides.
t_root_execute_needs_x_bit() {
	need '[ ! -x "$MF/stat" ]' && need '[ ! -x "$MF/__db.002" ]' && need '[ -x "$MF/regions" ]'
}

# Looking up a segment id nobody holds costs no scan (a scan attaches every
# segment that may be ours, which moves their last pid to the daemon's).
t_unknown_segment_costs_no_scan() {
	local id lp i rc=0
	ls "$MS/sysv" >/dev/null # a fresh index, good for a second
	id=$("$HELPER" shmget 65536 600 "$T/npat") || return 1
	lp=$(lpid_of "$id")
	for i in $(seq 20); do stat "$MS/sysv/$((2000000000 + i))" >/dev/null 2>&1; done
	need '[ "$(lpid_of "$id")" = "$lp" ]' "last pid $(lpid_of "$id"), was $lp" || rc=1
	ipcrm -m "$id"
	return $rc
}

t_survives_truncate_and_remove() {
	local h=$T/trunc m=$T/mt
	mkdir -p "$h"
	"$HELPER" create "$h" files 0 640 3 $((1024 * 1024)) && mount_fs "$h" "$m" || return 1
	# Truncated under an open reader, and before an open; removed.
	need 'python3 - "$m/__db.002" "$h/__db.002" <<"EOF"
import os, sys
f = open(sys.argv[1], "rb", buffering=0)
assert len(f.read(65536)) == 65536
os.truncate(sys.argv[2], 4096)
try:
    rest = f.read()
    sys.exit(len(rest) >= 1024 * 1024 - 65536)
except OSError as e:
    import errno
    sys.exit(e.errno not in (errno.EIO, errno.ENOENT))
EOF' "reader of a truncated region" || return 1
	truncate -s 4096 "$h/__db.003"
	rm "$h/__db.004"
	need '! cat "$m/__db.003" >/dev/null 2>&1' && need '! cat "$m/__db.004" >/dev/null 2>&1' &&
		need 'kill -0 "$DAEMON_PID"' && need 'grep -q "Home" "$m/stat"' || return 1
	# The whole home goes.
	rm -rf "$h"
	need '! cat "$m/stat" >/dev/null 2>&1' && need 'ls "$m" >/dev/null' &&
		need 'kill -0 "$DAEMON_PID"' && unmount_fs "$m" "$DAEMON_PID"
}

# A daemon (it chdirs to /) given a relative HOME follows the home when it
# is removed and an environment made anew at the same path.
t_home_made_anew() {
	local h=$T/anew m=$T/manew pid
	mkdir -p "$h" "$m"
	"$HELPER" create "$h" files 0 640 1 65536 || return 1
	(cd "$T" && "$REGIONFS" anew manew 2>>"$LOG") || return 1
	MOUNTS+=("$m")
	need 'is_mounted "$m"' && need '[ "$(ls "$m" | grep -c "^__db")" = 2 ]' || return 1
	rm -rf "$h"
	need '! cat "$m/stat" >/dev/null 2>&1' || return 1
	mkdir -p "$h"
	"$HELPER" create "$h" files 0 640 3 65536 || return 1
	need '[ "$(ls "$m" | grep -c "^__db")" = 4 ]' "$(ls "$m")" &&
		need '[ "$("$HELPER" stat "$h" | nolocal)" = "$(nolocal <"$m/stat")" ]' &&
		need 'cmp -s "$h/__db.004" "$m/__db.004"' || return 1
	pid=$(pgrep -f -- "regionfs anew manew\$")
	need '[ -n "$pid" ]' && kill -TERM $pid && need 'wait_gone $pid' && need '! is_mounted "$m"'
}

# Each mount's metrics carry its own environment only, labelled with its
# home; the host-wide regionfs_shm_* series come from one exporter per
# host, never once per mount.
t_metrics_and_sysv_summary() {
	local nseg
	nseg=$(($(wc -l </proc/sysvipc/shm) - 1))
	need 'grep -q "^regionfs_env_info{home=\"$HF\"" "$MF/metrics"' "$(grep env_info "$MF/metrics")" &&
		need 'grep -q "^regionfs_region_size_bytes{home=\"$HF\"" "$MF/metrics"' &&
		need '! grep -q "regionfs_shm_" "$MF/metrics"' "$(grep regionfs_shm_ "$MF/metrics" | head -3)" &&
		need '! grep -q "regionfs_shm_" "$MS/metrics"' &&
		need '! grep "^regionfs_" "$MF/metrics" | grep -v "home=\"$HF\"" | grep -q .' "a series without its home" &&
		need '[ "$(head -1 "$MF/sysv/stat" | cut -f1)" = "$nseg" ]' "sysv/stat counts $(head -1 "$MF/sysv/stat")"
}

# -h is help only alone: with a home and a mount point it is a usage error
# that says how to mount, and mounts nothing.
t_help_with_arguments_is_usage_error() {
	local m=$T/m-help out rc
	mkdir -p "$m"
	out=$("$REGIONFS" -h "$HF" "$m" 2>&1)
	rc=$?
	need '[ $rc -eq 2 ]' "exit status $rc" &&
		need 'grep -q "to mount: regionfs HOME MOUNTPOINT" <<<"$out"' "$out" &&
		need '! is_mounted "$m"' || return 1
	out=$("$REGIONFS" "$HF" "$m" --help 2>&1)
	rc=$?
	need '[ $rc -eq 2 ]' "--help with arguments: exit status $rc" &&
		need '! is_mounted "$m"' || return 1
	out=$("$REGIONFS" --help 2>/dev/null)
	rc=$?
	need '[ $rc -eq 0 ]' "--help alone: exit status $rc" &&
		need 'grep -q "^usage: regionfs HOME MOUNTPOINT" <<<"$out"' "$out" &&
		need 'grep -q -- "-o nonempty" <<<"$out"' "nonempty not documented" &&
		need '[ "$("$REGIONFS" -h 2>/dev/null)" = "$out" ]' "-h differs from --help"
}

# -V and --version: one line on stdout, exit 0.
t_version_one_line() {
	local out rc opt
	for opt in -V --version; do
		out=$("$REGIONFS" $opt 2>"$T/version.err")
		rc=$?
		need '[ $rc -eq 0 ]' "$opt: exit status $rc" &&
			need '[ "$(wc -l <<<"$out")" = 1 ]' "$opt: $out" &&
			need 'grep -qx "regionfs [0-9][0-9.]*[^ ]*" <<<"$out"' "$opt: $out" &&
			need '[ ! -s "$T/version.err" ]' "$opt: $(cat "$T/version.err")" || return 1
	done
}

# A mount point with files in it is refused, naming it, unless -o nonempty.
t_nonempty_mountpoint_refused() {
	local m=$T/m-full out rc
	mkdir -p "$m"
	echo keep >"$m/file"
	MOUNTS+=("$m") # not -f: a regionfs that mounts anyway must not hang here
	out=$("$REGIONFS" "$HF" "$m" 2>&1)
	rc=$?
	is_mounted "$m" && fusermount3 -u "$m"
	need '[ $rc -eq 1 ]' "exit status $rc" &&
		need 'grep -qF "mount point \"$m\" is not empty" <<<"$out"' "$out" &&
		need 'grep -q -- "-o nonempty" <<<"$out"' "$out" &&
		need '! is_mounted "$m"' && need '[ "$(cat "$m/file")" = keep ]' || return 1
	mount_fs "$HF" "$m" -o nonempty || return 1
	need 'grep -q "Home" "$m/stat"' && unmount_fs "$m" "$DAEMON_PID" &&
		need '[ "$(cat "$m/file")" = keep ]'
}

# A second mount on a mount point is refused rather than stacked.
t_mounted_point_refused() {
	local out rc n
	out=$("$REGIONFS" "$HS" "$MF" 2>&1) # not -f: see nonempty_mountpoint_refused
	rc=$?
	n=$(grep -c " $MF fuse" /proc/mounts)
	[ "$n" -gt 1 ] && fusermount3 -u "$MF" # the stacked one, on top
	need '[ $rc -eq 1 ]' "exit status $rc" &&
		need 'grep -qF "mount point \"$MF\" is already a mount point" <<<"$out"' "$out" &&
		need '[ "$n" = 1 ]' "$n mounts on $MF"
}

# fs/ reads regions through the backing's reader and segments through
# fsview: it makes no System V call of its own.
t_no_sysv_calls_in_fs() {
	local hits
	need '[ -d "$SRC/fs" ]' "no sources at $SRC/fs" || return 1
	hits=$(grep -rn 'sys/shm.h\|shmat\|shmctl\|shmdt' "$SRC/fs")
	need '[ -z "$hits" ]' "$hits"
}

# A region removed (and another made in its place) between the listing and
# the open is ENOENT, never EIO.  One process creates and removes regions;
# another lists and opens them until the first is done.
t_region_removed_while_opening_is_enoent() {
	local h=$T/churn m=$T/mchurn cpid rc=0
	mkdir -p "$h"
	"$HELPER" create "$h" files 0 640 1 65536 && mount_fs "$h" "$m" || return 1
	rm -f "$T/churn.done"
	# Two churners: an id one of them frees is soon taken by the other,
	# and more contenders make the reader lose the CPU between its table
	# read and its open more often.
	( "$HELPER" churn "$h" churn1 2000 & "$HELPER" churn "$h" churn2 2000
	  wait; touch "$T/churn.done" ) &
	cpid=$!
	PIDS+=("$cpid")
	need 'python3 - "$m" "$T/churn.done" <<"EOF"
import errno, os, sys
mnt, done = sys.argv[1], sys.argv[2]
opens = eio = 0
while not os.path.exists(done) or opens == 0:
    for name in os.listdir(mnt):
        if not name.startswith("__db.") or name == "__db.001":
            continue
        try:
            with open(os.path.join(mnt, name), "rb") as f:
                f.read(4096)
            opens += 1
        except OSError as e:
            if e.errno == errno.EIO:
                eio += 1
            elif e.errno != errno.ENOENT:
                print("    %s: %s" % (name, e), file=sys.stderr)
                sys.exit(1)
print("    %d opens, %d EIO" % (opens, eio), file=sys.stderr)
sys.exit(eio != 0)
EOF' "EIO for a region removed while opening" || rc=1
	wait "$cpid"
	need 'kill -0 "$DAEMON_PID"' "daemon died" || rc=1
	unmount_fs "$m" "$DAEMON_PID" || rc=1
	return $rc
}

# After the home is deleted under a mount, nothing lists with mode 0 or a
# 1970 time: the environment's files are gone, the rest keep sane
# attributes, and the daemon answers.
t_deleted_home_attributes() {
	local h=$T/gone m=$T/mgone bad backing key rc=0
	# The sysv backing too: its primary segment outlives the home.
	for backing in files sysv; do
		key=0
		[ $backing = sysv ] && key=0x5eed0400
		mkdir -p "$h"
		"$HELPER" create "$h" $backing $key 640 2 65536 && mount_fs "$h" "$m" || return 1
		need 'grep -q "Home" "$m/stat"' || rc=1
		rm -rf "$h"
		sleep 1.1 # the kernel may trust attributes it was given for a second
		bad=$(cd "$m" && stat -c '%A %Y %n' . * 2>&1 | awk '$1 == "----------" || $2 < 86400 || /No such/')
		need '[ -z "$bad" ]' "$backing: $bad" &&
			need '[ ! -e "$m/stat" ]' "$backing: stat still listed" &&
			need 'ls "$m" | grep -qx sysv' "$backing: sysv/ gone" &&
			need 'kill -0 "$DAEMON_PID"' || rc=1
		unmount_fs "$m" "$DAEMON_PID" || rc=1
		[ $rc -eq 0 ] || return 1
	done
}

t_sigterm_and_sigint_unmount() {
	local m=$T/msig pid rc
	for sig in TERM INT; do
		mount_fs "$HF" "$m" || return 1
		kill -"$sig" "$DAEMON_PID"
		wait "$DAEMON_PID"
		rc=$?
		need '[ $rc -eq 0 ]' "SIG$sig: exit status $rc" && need '! is_mounted "$m"' || return 1
	done
	# As a daemon (no -f): it detaches once mounted.
	"$REGIONFS" "$HF" "$m" 2>>"$LOG" || return 1
	MOUNTS+=("$m")
	need 'is_mounted "$m"' || return 1
	pid=$(pgrep -f -- "regionfs $HF $m\$")
	need '[ -n "$pid" ]' && kill -TERM $pid && need 'wait_gone $pid' && need '! is_mounted "$m"'
}

# mount(8) hands helpers no PATH, so mount.fuse3's `sh -c "regionfs HOME
# MNT -o ..."` finds regionfs only in sh's default PATH (/usr/local/sbin
# first): an installed regionfs.  Installed here by bind-mounting a
# directory over /usr/local/sbin inside a private mount namespace, which
# also takes the mount away if anything below fails.
mount_helper_check() { # run inside: unshare --mount
	local m=$T/mmount rc
	mount --bind "$T/bin" /usr/local/sbin || return 1
	mount -t fuse.regionfs "$HF" "$m" -o ro,nofail 2>>"$LOG"
	rc=$?
	need '[ $rc -eq 0 ]' "mount -t fuse.regionfs: $rc" && need 'wait_mounted "$m"' &&
		need 'grep -q "^$HF $m fuse.regionfs ro," /proc/mounts' "$(grep " $m " /proc/mounts)" &&
		need 'grep -q "Home" "$m/stat"' && need 'umount "$m"' && need '! is_mounted "$m"' || return 1
	printf '%s %s fuse.regionfs ro,nofail,noauto,_netdev,x-systemd.automount 0 0\n' "$HF" "$m" >"$T/fstab"
	mount -T "$T/fstab" "$m" 2>>"$LOG"
	rc=$?
	need '[ $rc -eq 0 ]' "mount -T fstab: $rc" && need 'wait_mounted "$m"' &&
		need 'grep -q "^$HF $m fuse.regionfs ro," /proc/mounts' &&
		need 'grep -q "Home" "$m/stat"' && need 'umount "$m"'
}

t_mount_fuse_type_and_fstab() {
	if [ "$(id -u)" != 0 ] || ! unshare --mount true 2>/dev/null; then
		echo "    (needs root and mount namespaces: skipped)" >&2
		return 77
	fi
	mkdir -p "$T/bin" "$T/mmount"
	ln -sf "$REGIONFS" "$T/bin/regionfs"
	export -f mount_helper_check need wait_mounted is_mounted
	T=$T HF=$HF LOG=$LOG unshare --mount --propagation private -- "$BASH" -c mount_helper_check
}

t_fstab_words_ignored() {
	local m=$T/mopts
	mount_fs "$HF" "$m" -o ro,nofail,noauto,_netdev,user,users,defaults,x-systemd.automount,fsname=myhome,subtype=regionfs || return 1
	need 'grep -q "^myhome $m fuse.regionfs ro," /proc/mounts' "$(grep " $m " /proc/mounts)" &&
		unmount_fs "$m" "$DAEMON_PID"
}

t_no_mount_left() {
	if is_mounted "$MSW"; then unmount_fs "$MSW" "$MSW_PID" || return 1; fi
	unmount_fs "$MF" "$MF_PID" && unmount_fs "$MS" "$MS_PID" || return 1
	need '! grep -q "$T" /proc/mounts' "$(grep "$T" /proc/mounts)"
}

t_daemon_logs_clean() {
	need '! grep -E "AddressSanitizer|LeakSanitizer|runtime error|SIGBUS" "$LOG"' "$(head -40 "$LOG")"
}

# The subtests are the functions named t_*, run in the order they are
# defined in this file (no_mount_left and daemon_logs_clean come last).
for t in $(sed -n 's/^t_\([a-z0-9_]*\)() {$/\1/p' "$SELF"); do
	run "$t"
done

# CI has everything a subtest needs: a skip there hides a missing piece.
if [ "${CI:-}" = true ] && [ "$skipped" -gt 0 ]; then
	echo "CI: $skipped subtests skipped" >&2
	failed=$((failed + skipped))
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
