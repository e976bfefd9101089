# tests/fuse/t_view.sh - fuse subtests: what a mount shows (names, bytes, stat files,
# xattrs, leaked segments, writes refused).
# Sourced by run.sh, which sets up the harness (harness.sh: need, mount_fs; the
# homes under test) and runs every t_* function in the order defined.


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

# As root the kernel reads a region file itself (passthrough): the same
# bytes, no read request reaches the daemon, and the file maps.  With -o
# nopassthrough every read is the daemon's, and the bytes are the same.
t_region_reads_passthrough_or_not() {
	local m=$T/mp dl=$T/mp.log pid mode rc=0
	for mode in passthrough nopassthrough; do
		mkdir -p "$m"
		MOUNTS+=("$m")
		: >"$dl"
		if [ $mode = passthrough ]; then
			"$REGIONFS" "$HF" "$m" -d 2>>"$dl" &
		else
			"$REGIONFS" "$HF" "$m" -d -o nopassthrough 2>>"$dl" &
		fi
		pid=$!
		PIDS+=("$pid")
		wait_mounted "$m" || return 1
		need 'cmp -s "$HF/__db.007" "$m/__db.007"' "$mode: bytes differ" || rc=1
		need 'dd if="$m/__db.007" bs=128K skip=5 status=none | cmp -s - <(dd if="$HF/__db.007" bs=128K skip=5 status=none)' "$mode: 128K reads" || rc=1
		if [ $mode = passthrough ]; then
			need 'grep -aq "passthrough asked for" "$dl"' "the kernel did not offer passthrough" &&
				need '! grep -aq "opcode: READ " "$dl"' "a read reached the daemon" &&
				need 'python3 -c "import mmap, os, sys; f = os.open(sys.argv[1], os.O_RDONLY); m = mmap.mmap(f, 4096, prot=mmap.PROT_READ); sys.exit(m[:4096] != open(sys.argv[2], \"rb\").read(4096))" "$m/__db.007" "$HF/__db.007"' "mmap through the mount" || rc=1
		else
			need '! grep -aq "passthrough asked for" "$dl"' &&
				need 'grep -aq "opcode: READ " "$dl"' "no read reached the daemon" || rc=1
		fi
		unmount_fs "$m" "$pid" || rc=1
	done
	return $rc
}

# A region removed and made again under the same name while a reader
# still holds its old file (read by the kernel itself, passthrough): the
# name opens the new file at once, as another inode, and reads the new
# bytes; the old descriptor goes on reading the old file and never shows
# the new one's size; no EIO, no ENOENT.
t_region_made_again_while_open() {
	python3 - "$MF" "$HF" "$HELPER" <<'PY'
import errno, os, subprocess, sys
mnt, home, helper = sys.argv[1:4]
def run(*a):
    subprocess.run([helper, *a], check=True)
def file_of(name):
    out = subprocess.run([helper, "list", home], check=True,
                         capture_output=True, text=True).stdout
    return [l.split()[0] for l in out.splitlines() if l.split()[3] == name][0]
run("add", home, "again", "65536")
f = file_of("again")
old = os.open(os.path.join(mnt, f), os.O_RDONLY)
old_bytes = os.pread(old, 65536, 0)
run("remove", home, "again")
run("add", home, "again", "131072")
if file_of("again") != f:
    sys.exit("the region did not get its id again")
new = os.open(os.path.join(mnt, f), os.O_RDONLY)  # the kept name is stale
if os.fstat(new).st_ino == os.fstat(old).st_ino:
    sys.exit("the new file is the old inode")
got = os.pread(new, 131072, 0)
want = open(os.path.join(home, f), "rb").read()
if got != want:
    sys.exit("new file: %d bytes, not the region's %d" % (len(got), len(want)))
if os.pread(old, 65536, 0) != old_bytes:
    sys.exit("the old descriptor no longer reads the old file")
try:
    if os.fstat(old).st_size != 65536:
        sys.exit("the old descriptor shows the new file's size")
except OSError as e:
    if e.errno != errno.ESTALE:
        raise
os.close(old)
os.close(new)
run("remove", home, "again")
PY
}

t_region_bytes_sysv_detached_after() {
	local shmid
	cmp_regions "$HS" "$MS" || return 1
	# The mount attaches only while it reads: nobody stays attached.
	for shmid in $("$HELPER" list "$HS" | awk '{ print $6 }'); do
		need 'detached_soon "$shmid"' "shmid $shmid" || return 1
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
		need 'TERM=xterm LINES=200 COLUMNS=200 SHELL=/bin/sh script -qefc "timeout --foreground -k 1 10 watch -g -t -n 0.5 cat $MF/stat" /dev/null </dev/null 2>/dev/null | tr -d "\033" | grep -q "Registered processes"' watch
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

# A mount of one user's: the kernel keeps a segment directory's listing
# and no opendir reaches the daemon after the first, yet names that come
# and go show at once (in the root and regions/, also when the home's own
# mtime says nothing: regions in segments; and in sysv/), each time they
# are listed.  A mount shared with other users still opens each
# directory, where each requester is checked.
t_listings_kept_yet_fresh() {
	local m=$T/mk dl=$T/mk.log ms=$T/mko dls=$T/mko.log pid spid id id2 file rc=0
	mkdir -p "$m" "$ms"
	MOUNTS+=("$m" "$ms")
	"$REGIONFS" "$HS" "$m" -d 2>>"$dl" &
	pid=$!
	PIDS+=("$pid")
	wait_mounted "$m" || return 1
	id=$("$HELPER" shmget 4096 600 "$T/kpat") || return 1
	ls "$m/sysv/$id" >/dev/null
	: >"$dl"
	need '[ "$(ls "$m/sysv/$id" | tr "\n" " ")" = "data stat stat.json " ]' || rc=1
	need '! grep -aqE "opcode: (OPENDIR|READDIR)" "$dl"' \
		"a kept listing was asked for: $(grep -acE 'opcode: (OPENDIR|READDIR)' "$dl")" || rc=1
	ls "$m" "$m/regions" "$m/sysv" >/dev/null
	"$HELPER" add "$HS" kept $((64 * 1024)) || rc=1
	file=$("$HELPER" list "$HS" | awk '$4 == "kept" { print $1 }')
	need '[ -n "$file" ]' &&
		need 'ls "$m" | grep -qx "$file"' "new region not listed" &&
		need 'ls "$m/regions" | grep -qx "$file"' || rc=1
	"$HELPER" remove "$HS" kept || rc=1
	need '! ls "$m" | grep -qx "$file"' "removed region still listed" &&
		need '! ls "$m/regions" | grep -qx "$file"' || rc=1
	id2=$("$HELPER" shmget 4096 600 "$T/kpat2") || rc=1
	need 'ls "$m/sysv" | grep -qx "$id2"' "new segment not listed" || rc=1
	ipcrm -m "$id2"
	need '! ls "$m/sysv" | grep -qx "$id2"' "removed segment still listed" || rc=1
	unmount_fs "$m" "$pid" || rc=1
	"$REGIONFS" "$HS" "$ms" -d -o allow_other 2>>"$dls" &
	spid=$!
	PIDS+=("$spid")
	wait_mounted "$ms" || { ipcrm -m "$id"; return 1; }
	ls "$ms/sysv/$id" >/dev/null && ls "$ms/sysv/$id" >/dev/null
	need '[ "$(grep -ac "opcode: OPENDIR" "$dls")" -ge 2 ]' "shared mount: no opendir" || rc=1
	unmount_fs "$ms" "$spid" || rc=1
	ipcrm -m "$id"
	return $rc
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
                "user.region.backing": backing, "user.region.id": str(int(f[5:])),
                "user.region.program": "regionfs"}
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
		need 'detached_soon "$id"'
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
