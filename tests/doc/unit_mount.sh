#!/bin/bash
# unit_mount.sh - regionfs@.service's command lines, run for real.
#
#   unit_mount.sh UNIT BINDIR REGIONFS REGIONCTL
#
# No systemd runs the tests, so this does what systemd would do with the
# unit: make the RuntimeDirectory, run ExecStart as a forking service
# (the start is over when the command returns), kill the daemon, run
# ExecStopPost, start again, stop with SIGTERM.  The lines come from the
# built unit, with the built regionfs for BINDIR/regionfs, a home under a
# temporary directory for %f, and that directory's run/regionfs for
# /run/regionfs.  The home's name holds a hyphen, so the instance name
# (and the mount point) holds systemd-escape's \x2d.
#
# Suite fuse: it mounts.  It runs in a private IPC namespace, and the EXIT
# trap unmounts, kills the daemons it started and removes the directory,
# also when a check fails half-way.  Skips (77) without /dev/fuse.
. "$(dirname "$0")/lib.sh"

UNIT=${1:?usage: unit_mount.sh UNIT BINDIR REGIONFS REGIONCTL}
BINDIR=${2:?usage: unit_mount.sh UNIT BINDIR REGIONFS REGIONCTL}
REGIONFS=${3:?usage: unit_mount.sh UNIT BINDIR REGIONFS REGIONCTL}
REGIONCTL=${4:?usage: unit_mount.sh UNIT BINDIR REGIONFS REGIONCTL}

if [ -z "${RGN_DOC_IN_IPC_NS:-}" ]; then
	if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
		echo "1..0 # SKIP no /dev/fuse or no fusermount3"
		exit 77
	fi
	if ! unshare --ipc true 2>/dev/null; then
		echo "1..0 # SKIP cannot make a private IPC namespace"
		exit 77
	fi
	rm -rf "$TMPROOT" # the child makes its own
	RGN_DOC_IN_IPC_NS=1 exec unshare --ipc -- "$BASH" "$0" "$@"
fi

chmod 755 "$TMPROOT"
HOMEDIR=$TMPROOT/my-env
if command -v systemd-escape >/dev/null; then
	INST=$(systemd-escape --path "$HOMEDIR")
else
	INST=${HOMEDIR#/} # what the escape makes of a path without - or .
	INST=${INST//\//-}
fi
RUN=$TMPROOT/run/regionfs
MNT=$RUN/$INST

# MNT's line of /proc/self/mountinfo, which writes a backslash as \134
# (the instance name has one).  Through ENVIRON: awk -v would unescape it.
mountinfo() {
	M=${MNT//\\/\\134} awk '$5 == ENVIRON["M"]' /proc/self/mountinfo
}
is_mounted() {
	[ -n "$(mountinfo)" ]
}

# The pids of regionfs daemons whose arguments include our mount point:
# only ours can, the directory is fresh.
daemon_pids() {
	local p
	for p in /proc/[0-9]*; do
		tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qxF "$MNT" &&
			echo "${p#/proc/}"
	done
}

cleanup() {
	local p
	if is_mounted; then
		fusermount3 -u -z "$MNT" 2>/dev/null
	fi
	for p in $(daemon_pids); do
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$TMPROOT"
}
trap cleanup EXIT

# wait_for CONDITION: poll until it holds; 1 if it still does not after 20
# s.  A bound for a hung daemon, never a measure: checks are on states.
wait_for() {
	local i
	for i in $(seq 1 200); do
		eval "$1" && return 0
		sleep 0.1
	done
	return 1
}

# unit_cmd KEY: the unit's KEY= command line as words, resolved as systemd
# would resolve it for our instance (the unit must use no quoting).
unit_cmd() {
	local line
	line=$(sed -n "s/^$1=//p" "$UNIT")
	case $line in *\"* | *\'*)
		echo "Bail out! $1 uses quoting this script does not parse: $line"
		exit 99 ;;
	esac
	line=${line//$BINDIR\/regionfs/$REGIONFS}
	line=${line//\$REGIONFS_OPTIONS/}
	line=${line//\/run\/regionfs\/%i/$MNT}
	line=${line//%f/$HOMEDIR}
	read -ra CMD <<<"$line"
}

# The unit's default for the options variable: none.
if grep -qx 'Environment=REGIONFS_OPTIONS=' "$UNIT"; then
	ok "REGIONFS_OPTIONS is empty unless a drop-in sets it"
else
	not_ok "REGIONFS_OPTIONS is empty unless a drop-in sets it" \
		"$(grep '^Environment=' "$UNIT")"
fi

mkdir -p "$HOMEDIR"
if ! "$REGIONCTL" create -h "$HOMEDIR" >"$TMPROOT/create.log" 2>&1; then
	echo "Bail out! regionctl create failed: $(cat "$TMPROOT/create.log")"
	exit 99
fi
mkdir -p "$MNT" # RuntimeDirectory=regionfs/%i

start() {
	unit_cmd ExecStart
	"${CMD[@]}" 2>"$TMPROOT/start.err"
}
stop_post() {
	unit_cmd ExecStopPost
	CMD[0]=${CMD[0]#-} # "-": its failure does not fail the stop
	"${CMD[@]}" 2>"$TMPROOT/stoppost.err"
}

start
st=$?
# Checked at once, without waiting: Type=forking counts the start done
# when the command returns, so the mount must be there by then.
if [ "$st" -eq 0 ] && is_mounted && grep -q . "$MNT/stat"; then
	ok "ExecStart returns once $MNT is mounted and readable"
else
	not_ok "ExecStart returns once $MNT is mounted and readable" \
		"exit $st" "$(cat "$TMPROOT/start.err")"
fi
if mountinfo | awk '{ exit !($6 ~ /(^|,)ro(,|$)/) }'; then
	ok "the mount is read-only"
else
	not_ok "the mount is read-only" "$(mountinfo)"
fi

# A daemon that dies leaves a dead mount; ExecStopPost clears it.
pids=$(daemon_pids)
for p in $pids; do
	kill -KILL "$p"
done
if [ -n "$pids" ] && wait_for "[ -z \"\$(daemon_pids)\" ]" &&
	is_mounted && ! ls "$MNT" >/dev/null 2>&1; then
	ok "kill -9 of the daemon leaves a dead mount behind"
else
	not_ok "kill -9 of the daemon leaves a dead mount behind" "pids: $pids"
fi
stop_post
if ! is_mounted && ls "$MNT" >/dev/null 2>&1; then
	ok "ExecStopPost clears the dead mount"
else
	not_ok "ExecStopPost clears the dead mount" "$(cat "$TMPROOT/stoppost.err")"
fi

# Restart=on-failure starts again on the same directory.
start
st=$?
if [ "$st" -eq 0 ] && is_mounted && grep -q . "$MNT/stat"; then
	ok "a restart mounts again on the same directory"
else
	not_ok "a restart mounts again on the same directory" "exit $st" \
		"$(cat "$TMPROOT/start.err")"
fi

# systemctl stop: SIGTERM unmounts, and the daemon goes.
pids=$(daemon_pids)
for p in $pids; do
	kill -TERM "$p"
done
if [ -n "$pids" ] && wait_for '! is_mounted' &&
	wait_for "[ -z \"\$(daemon_pids)\" ]"; then
	ok "SIGTERM unmounts and ends the daemon"
else
	not_ok "SIGTERM unmounts and ends the daemon" "pids: $pids"
fi
stop_post
st=$?
if [ "$st" -ne 0 ] && [ ! -s "$TMPROOT/stoppost.err" ]; then
	ok "after a clean stop, ExecStopPost fails quietly (its - keeps the stop clean)"
else
	not_ok "after a clean stop, ExecStopPost fails quietly" "exit $st" \
		"$(cat "$TMPROOT/stoppost.err")"
fi

# A home without an environment fails the start and mounts nothing.
HOMEDIR=$TMPROOT/empty-home
mkdir -p "$HOMEDIR"
start
st=$?
if [ "$st" -ne 0 ] && ! is_mounted &&
	grep -q "$HOMEDIR" "$TMPROOT/start.err"; then
	ok "a home without an environment fails the start, naming the home"
else
	not_ok "a home without an environment fails the start, naming the home" \
		"exit $st" "$(cat "$TMPROOT/start.err")"
fi

finish
