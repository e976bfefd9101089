# tests/fuse/t_access.sh - fuse subtests: who may see what, and a daemon that
# survives its home changing under it.
# Sourced by run.sh, which sets up the harness (harness.sh: need, mount_fs; the
# homes under test) and runs every t_* function in the order defined.

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
