# tests/fuse/t_cli.sh - fuse subtests: the command line, signals, fstab and what
# is left at the end (these run last).
# Sourced by run.sh, which sets up the harness (harness.sh: need, mount_fs; the
# homes under test) and runs every t_* function in the order defined.

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
