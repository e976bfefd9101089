#!/bin/bash
# tests/fuse/bdb.sh - regionfs on Berkeley DB homes made by the real libdb
# 5.3 (tests/bdb/bdbhelper), mounted for real.
#
#   bdb.sh REGIONFS BDBHELPER [REGIONCTL]
#
# What it holds the mount to: one __db.NNN per region with the size and the
# bytes of the region's file or segment, stat as `regionctl stat -e`, a
# metrics file Prometheus takes, user.region.program; a home left
# byte-for-byte and time-for-time as it was; and Berkeley DB itself
# opening, creating and removing the environment under the mount, never
# blocked (each bounded by timeout), with the regions following.
#
# Exit status: 0 all passed, 1 some failed, 77 skipped.  Everything runs in
# one private IPC namespace (unshare --ipc), daemons included; the EXIT trap
# unmounts, kills and removes whatever a failed test left.
set -u

. "$(cd "$(dirname "$0")" && pwd)/harness.sh"
USAGE="usage: bdb.sh REGIONFS BDBHELPER [REGIONCTL]"
REGIONFS=$(abspath "${1:?$USAGE}")
BDBHELPER=$(abspath "${2:?$USAGE}")
REGIONCTL=${3:-}
[ -n "$REGIONCTL" ] && REGIONCTL=$(abspath "$REGIONCTL")
# Debian's python3-prometheus-client is for /usr/bin/python3; a python3
# earlier in PATH (pyenv, a venv) may not see it.
PY=python3
/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null && PY=/usr/bin/python3

harness_enter "$@"
harness_init regionfs-bdb

# until_true 'CONDITION': poll for up to 5 s (the mount promises a second).
until_true() {
	for _ in $(seq 100); do eval "$1" && return 0; sleep 0.05; done
	echo "    never true: $1" >&2
	return 1
}

# shm_bytes SHMID: a segment's bytes on stdout, attached read-only here
# (ctypes: no System V module is needed).
shm_bytes() {
	python3 - "$1" <<'EOF'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
shmid = int(sys.argv[1])
size = None
with open("/proc/sysvipc/shm") as f:
    for line in f.readlines()[1:]:
        v = line.split()
        if int(v[1]) == shmid:
            size = int(v[3])
if size is None:
    sys.exit("no segment %d" % shmid)
addr = libc.shmat(shmid, None, 0o10000)  # SHM_RDONLY
if addr in (None, ctypes.c_void_p(-1).value):
    sys.exit("shmat %d: %s" % (shmid, os.strerror(ctypes.get_errno())))
sys.stdout.buffer.write(ctypes.string_at(addr, size))
libc.shmdt(addr)
EOF
}

shm_size() { awk -v id="$1" 'NR > 1 && $2 == id { print $4 }' /proc/sysvipc/shm; }

# state HOME: every file of the home (name, size, mtime to the nanosecond,
# inode, checksum) and every segment (key, shmid, size, checksum).
state() {
	local f id
	for f in "$1"/*; do
		[ -f "$f" ] || continue
		printf '%s %s\n' "$(stat -c '%n %s %.9Y %i' "$f")" \
			"$(sha256sum <"$f" | cut -d' ' -f1)"
	done
	for id in $(awk 'NR > 1 { print $2 }' /proc/sysvipc/shm); do
		printf 'shm %s %s %s\n' \
			"$(awk -v id="$id" 'NR > 1 && $2 == id { print $1, $2, $4 }' /proc/sysvipc/shm)" \
			"$(shm_bytes "$id" | sha256sum | cut -d' ' -f1)"
	done
}

# regions MNT: the __db.NNN names the mount lists.
regions() { ls "$1" 2>/dev/null | grep '^__db\.' | tr '\n' ' '; }

# regions_bytes DIR: the sizes of its __db.NNN files, summed.
regions_bytes() { stat -c %s "$1"/__db.0* 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }

# read_all MNT: every file of the mount read once, as a curious user would.
read_all() {
	local f
	for f in "$1"/__db.* "$1"/stat "$1"/stat.json "$1"/processes \
		"$1"/metrics "$1"/regions/*/stat "$1"/regions/*/stat.json; do
		cat "$f" >/dev/null || return 1
	done
	getfattr --absolute-names -d "$1"/__db.* >/dev/null 2>&1
	return 0
}

# prom_ok FILE: Prometheus's own text parser takes it, counters end in
# _total and gauges never do, and every series names its home and
# program="berkeley-db".
prom_ok() {
	"$PY" - "$1" <<'EOF'
import sys
from prometheus_client import parser
text = open(sys.argv[1], encoding="utf-8").read()
fams = list(parser.text_string_to_metric_families(text))
assert fams, "no families"
for line in text.splitlines():
    if line.startswith("# TYPE "):
        _, _, name, kind = line.split()
        assert kind in ("counter", "gauge"), line
        assert name.endswith("_total") == (kind == "counter"), line
for f in fams:
    for s in f.samples:
        assert s.labels.get("program") == "berkeley-db", s
        assert s.labels.get("home"), s
EOF
}

# same_as_regionctl MNT HOME: stat equals `regionctl stat -e` but for the
# Local time line.  77 when this regionctl cannot read Berkeley DB homes.
same_as_regionctl() {
	local want=$T/want.stat got=$T/got.stat
	[ -n "$REGIONCTL" ] || return 77
	if ! "$REGIONCTL" stat -e -h "$2" 2>/dev/null | grep -v 'Local time$' >"$want" ||
	   ! grep -q 'Magic number$' "$want"; then
		echo "    (regionctl stat -e does not read Berkeley DB homes here)" >&2
		return 77
	fi
	grep -v 'Local time$' "$1/stat" >"$got"
	need 'cmp -s "$want" "$got"' "$(diff "$want" "$got" | head -5)"
}

# ---- the view ---------------------------------------------------------------

# Each region file: the size and bytes of the real file.
t_files_home() {
	local home=$T/files mnt=$T/m-files before after f n ok=0 rc
	mkdir -p "$home"
	"$BDBHELPER" create "$home" >/dev/null || return 1
	before=$(state "$home")
	mount_fs "$home" "$mnt" || return 1
	need '[ -n "$(regions "$mnt")" ]' "no regions listed" || ok=1
	for f in "$home"/__db.0*; do
		n=$(basename "$f")
		need '[ "$(stat -c %s "$mnt/$n")" = "$(stat -c %s "$f")" ]' "size of $n" || ok=1
		need 'cmp -s "$f" "$mnt/$n"' "bytes of $n" || ok=1
	done
	need '[ "$(regions "$mnt")" = "$(ls "$home" | grep "^__db\.0" | tr "\n" " ")" ]' \
		"$(regions "$mnt")" || ok=1
	need '[ "$(getfattr --absolute-names --only-values -n user.region.program "$mnt/__db.001")" = berkeley-db ]' || ok=1
	need 'head -1 "$mnt/stat" | grep -q "Local time$"' || ok=1
	need 'grep -q "^at-rest	Verdict$" "$mnt/stat"' "$(grep Verdict "$mnt/stat")" || ok=1
	need 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"program\"] == \"berkeley-db\" and d[\"version\"] == \"5.3.28\" and d[\"references\"] == 0" "$mnt/stat.json"' || ok=1
	need 'grep -q "^2	Region ID$" "$mnt/regions/__db.002/stat"' || ok=1
	need 'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"id\"] == 2 and d[\"file\"] == \"__db.002\"" "$mnt/regions/__db.002/stat.json"' || ok=1
	need 'grep -q "^0	Attached processes" "$mnt/processes"' || ok=1
	need 'grep -q "^regionfs_env_references{home=\"$home\",program=\"berkeley-db\"} 0$" "$mnt/metrics"' || ok=1
	if "$PY" -c 'import prometheus_client' 2>/dev/null; then
		cat "$mnt/metrics" >"$T/metrics"
		need 'prom_ok "$T/metrics"' || ok=1
	else
		echo "    (python3-prometheus-client missing: metrics not parsed)" >&2
	fi
	same_as_regionctl "$mnt" "$home"
	rc=$?
	[ $rc -eq 0 ] || [ $rc -eq 77 ] || ok=1
	read_all "$mnt" || ok=1
	unmount_fs "$mnt" "$DAEMON_PID" || ok=1
	after=$(state "$home")
	need '[ "$before" = "$after" ]' "the home changed: $(diff <(echo "$before") <(echo "$after") | head -4)" || ok=1
	need '"$BDBHELPER" join "$home"' "Berkeley DB no longer opens it" || ok=1
	return $ok
}

# Each region file: the size and bytes of its System V segment.
t_sysmem_home() {
	local home=$T/sysmem mnt=$T/m-sysmem before after n id ok=0 rc
	mkdir -p "$home"
	"$BDBHELPER" create "$home" 0x6b0000 >/dev/null || return 1
	need '[ "$(stat -c %s "$home/__db.001")" = 24 ]' "not a system-memory home" || return 1
	before=$(state "$home")
	mount_fs "$home" "$mnt" || return 1
	need '[ -n "$(regions "$mnt")" ]' "no regions listed" || ok=1
	for n in $(regions "$mnt"); do
		id=$(getfattr --absolute-names --only-values -n user.region.shmid "$mnt/$n")
		need '[ -n "$id" ] && [ "$(stat -c %s "$mnt/$n")" = "$(shm_size "$id")" ]' \
			"size of $n (shmid $id)" || ok=1
		need 'cmp -s <(shm_bytes "$id") "$mnt/$n"' "bytes of $n (shmid $id)" || ok=1
	done
	need '[ "$(getfattr --absolute-names --only-values -n user.region.program "$mnt/__db.001")" = berkeley-db ]' || ok=1
	need '[ "$(getfattr --absolute-names --only-values -n user.region.backing "$mnt/__db.001")" = sysv ]' || ok=1
	need 'grep -q "^system memory	Mode$" "$mnt/stat"' || ok=1
	# The daemon's reads leave nobody attached.
	need '[ "$(awk "NR > 1 { s += \$7 } END { print s + 0 }" /proc/sysvipc/shm)" = 0 ]' \
		"segments still attached" || ok=1
	same_as_regionctl "$mnt" "$home"
	rc=$?
	[ $rc -eq 0 ] || [ $rc -eq 77 ] || ok=1
	read_all "$mnt" || ok=1
	id=$(getfattr --absolute-names --only-values -n user.region.shmid "$mnt/__db.001")
	need 'ls "$mnt/sysv" | grep -qx "$id"' "primary segment $id not under sysv/" || ok=1
	need 'cmp -s "$mnt/sysv/$id/data" "$mnt/__db.001"' "sysv/$id/data" || ok=1
	unmount_fs "$mnt" "$DAEMON_PID" || ok=1
	after=$(state "$home")
	need '[ "$before" = "$after" ]' "the home changed: $(diff <(echo "$before") <(echo "$after") | head -4)" || ok=1
	need '"$BDBHELPER" join "$home" 0x6b0000' "Berkeley DB no longer opens it" || ok=1
	return $ok
}

# Berkeley DB opens, grows, holds, creates and removes the environment
# under the mount, never waiting on it; the mount follows within a second
# or so.
t_bdb_under_mount() {
	local home=$T/live mnt=$T/m-live hold=$T/hold.out pid ok=0 size1 db
	command -v db5.3_recover >/dev/null ||
		{ echo "    (no db5.3_recover: db5.3-util)" >&2; return 77; }
	mkdir -p "$home"
	"$BDBHELPER" create "$home" >/dev/null || return 1
	mount_fs "$home" "$mnt" || return 1
	read_all "$mnt" || ok=1
	need 'timeout 20 "$BDBHELPER" join "$home"' "open and close while mounted" || ok=1
	# db_load's databases grow the cache (__db.003) past its initial
	# size: the mount follows the files.
	size1=$(regions_bytes "$home")
	seq 1 20000 | awk '{ print "k" $1; print "value-" $1 "-0123456789abcdef" }' >"$T/records"
	for db in a b; do
		need 'timeout 60 db5.3_load -T -t btree -h "$home" -f "$T/records" "$db.db"' \
			"db_load under the mount" || ok=1
	done
	need '[ "$(regions_bytes "$home")" -gt "$size1" ]' "no region grew" || ok=1
	until_true '[ "$(regions_bytes "$mnt")" = "$(regions_bytes "$home")" ]' || ok=1
	for db in "$home"/__db.0*; do
		need 'cmp -s "$db" "$mnt/${db##*/}"' "bytes of the grown ${db##*/}" || ok=1
	done
	"$BDBHELPER" hold "$home" >"$hold" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	until_true 'grep -qs "^ready$" "$hold"' || ok=1
	need 'grep -q "^$pid	" "$mnt/processes"' "the holder is not listed" || ok=1
	need 'grep -q "^in-use	Verdict$" "$mnt/stat"' "$(grep Verdict "$mnt/stat")" || ok=1
	read_all "$mnt" || ok=1
	kill "$pid"
	wait "$pid" 2>/dev/null
	# db_recover creates the environment anew, recovers and removes it.
	need 'timeout 30 db5.3_recover -h "$home"' "db_recover under the mount" || ok=1
	need '! ls "$home"/__db.0* >/dev/null 2>&1' "db_recover left regions" || ok=1
	until_true '[ -z "$(regions "$mnt")" ]' || ok=1
	need 'ls "$mnt" >/dev/null' "listing a removed environment fails" || ok=1
	need '! cat "$mnt/stat" 2>/dev/null' "stat of a removed environment" || ok=1
	need 'timeout 20 "$BDBHELPER" create "$home" >/dev/null' "create under the mount" || ok=1
	until_true '[ "$(regions "$mnt")" = "$(ls "$home" | grep "^__db\.0" | tr "\n" " ")" ]' || ok=1
	need 'cmp -s "$home/__db.002" "$mnt/__db.002"' "bytes of the new __db.002" || ok=1
	# The whole home gone: an empty root (sysv/ aside), not errors.
	rm -rf "$home"
	until_true '[ -z "$(regions "$mnt")" ]' || ok=1
	need '[ "$(ls "$mnt")" = sysv ]' "$(ls "$mnt" | tr '\n' ' ')" || ok=1
	unmount_fs "$mnt" "$DAEMON_PID" || ok=1
	return $ok
}

# An empty __db.001 (a creator died): no region files, and stat says so.
t_half_created() {
	local home=$T/half mnt=$T/m-half before ok=0
	mkdir -p "$home"
	"$BDBHELPER" half "$home" >/dev/null 2>&1
	need '[ -f "$home/__db.001" ] && [ ! -s "$home/__db.001" ]' "no empty __db.001" || return 1
	before=$(state "$home")
	mount_fs "$home" "$mnt" || return 1
	need '[ -z "$(regions "$mnt")" ]' "$(regions "$mnt")" || ok=1
	need 'grep -q "^half-created	Verdict$" "$mnt/stat"' "$(grep Verdict "$mnt/stat")" || ok=1
	read_all "$mnt" 2>/dev/null
	unmount_fs "$mnt" "$DAEMON_PID" || ok=1
	need '[ "$before" = "$(state "$home")" ]' "the home changed" || ok=1
	return $ok
}

# Our own environments say so too.
t_own_program() {
	local home=$T/own mnt=$T/m-own ok=0
	[ -n "$REGIONCTL" ] || return 77
	mkdir -p "$home"
	"$REGIONCTL" create -h "$home" >/dev/null || return 1
	mount_fs "$home" "$mnt" || return 1
	need '[ "$(getfattr --absolute-names --only-values -n user.region.program "$mnt/__db.001")" = regionfs ]' || ok=1
	unmount_fs "$mnt" "$DAEMON_PID" || ok=1
	"$REGIONCTL" remove -h "$home" >/dev/null 2>&1
	return $ok
}

run files_home
run sysmem_home
run bdb_under_mount
run half_created
run own_program

if grep -q 'ERROR: \(Address\|Leak\)Sanitizer\|runtime error:' "$LOG"; then
	echo "not ok - daemons ran clean under the sanitizers"
	sed -n 1,40p "$LOG"
	failed=$((failed + 1))
fi
echo "# passed $passed, failed $failed, skipped $skipped"
[ $failed -eq 0 ]
