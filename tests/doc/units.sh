#!/bin/bash
# units.sh - the systemd units, checked by systemd itself.
#
#   units.sh BINDIR REGIONCTL REGIONFS FILE...
#
# FILE is a built unit (*.service, *.timer) or a built man page (*.[1-8]);
# BINDIR is where the units expect the programs once installed, REGIONCTL
# and REGIONFS the built binaries (REGIONFS empty without FUSE).
#
# `systemd-analyze verify` checks that a command a unit runs exists, and
# nothing is installed at test time, so it runs on test copies whose
# BINDIR/regionctl and BINDIR/regionfs are the built binaries; the copies
# must differ from the units in nothing else.  Every line verify prints
# about our units fails the test (it exits 0 after many of its warnings,
# "ignoring" the setting it could not parse).  The pages go on a MANPATH
# of their own, so the units' Documentation=man:... lines are checked to
# name pages that exist.  Skips (77) where systemd is not installed.
. "$(dirname "$0")/lib.sh"

BINDIR=${1:?usage: units.sh BINDIR REGIONCTL REGIONFS FILE...}
REGIONCTL=${2:?usage: units.sh BINDIR REGIONCTL REGIONFS FILE...}
REGIONFS=$3
shift 3

for tool in systemd-analyze systemd-escape; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool is not installed (systemd)"
		exit 77
	fi
done

UNITS=$TMPROOT/units
export MANPATH=$TMPROOT/man
mkdir -p "$UNITS" "$MANPATH"/man{1,3,8}
units=()
for f in "$@"; do
	case $f in
	*.service | *.timer)
		units+=("$(basename "$f")")
		sed -e "s|$BINDIR/regionctl\\b|$REGIONCTL|g" \
		    -e "s|$BINDIR/regionfs\\b|${REGIONFS:-$BINDIR/regionfs}|g" \
		    "$f" >"$UNITS/$(basename "$f")"
		;;
	*.[1-8])
		cp "$f" "$MANPATH/man${f##*.}/"
		;;
	esac
done
if [ "${#units[@]}" -eq 0 ]; then
	echo "Bail out! no unit files given"
	exit 99
fi

# verify_unit DESC PATH...: systemd-analyze verify says nothing about ours.
verify_unit() {
	local desc=$1 out st ours
	shift
	out=$(systemd-analyze verify "$@" 2>&1)
	st=$?
	ours=$(grep -E 'regionfs@|regionctl-leaks-metrics|'"$UNITS" <<<"$out")
	if [ "$st" -eq 0 ] && [ -z "$ours" ]; then
		ok "$desc"
		[ -n "$out" ] && note "about other units: ${out:0:400}"
	else
		not_ok "$desc" "systemd-analyze verify $* exited $st" \
			"${out:0:1200}"
	fi
}

for u in "${units[@]}"; do
	if grep -q "$BINDIR/region" "$UNITS/$u"; then
		not_ok "test copy of $u runs the built programs" \
			"$(grep -n "$BINDIR/region" "$UNITS/$u")"
		continue
	fi
	case $u in
	*@.service)
		# A template is verified through instances: a plain home and
		# one whose escaped name holds a \x2d.
		for home in /srv/env /srv/my-env; do
			inst=$(systemd-escape --path "$home")
			verify_unit "systemd-analyze verify ${u/@/@$inst}" \
				"$UNITS/${u/@/@$inst}"
		done
		;;
	*.timer)
		# A timer is verified with the service it starts.
		verify_unit "systemd-analyze verify $u" "$UNITS/$u" \
			"$UNITS/${u%.timer}.service"
		;;
	*)
		verify_unit "systemd-analyze verify $u" "$UNITS/$u"
		;;
	esac
done

# What the units and the pages promise each other.
if [[ " ${units[*]} " == *" regionfs@.service "* ]]; then
	unit=$UNITS/regionfs@.service
	inst=$(systemd-escape --path /srv/env)
	page=$(page_text "$MANPATH/man8/regionfs.8")
	if [ "$inst" = srv-env ] && has_option "$page" "/run/regionfs/$inst" &&
		grep -q '/run/regionfs/%i' "$unit" &&
		grep -qx 'RuntimeDirectory=regionfs/%i' "$unit"; then
		ok "regionfs@$inst.service mounts /srv/env on /run/regionfs/$inst, as regionfs.8 says"
	else
		not_ok "regionfs@$inst.service mounts /srv/env on /run/regionfs/$inst, as regionfs.8 says" \
			"systemd-escape --path /srv/env: $inst"
	fi
	# regionfs detaches only once mounted, so the unit is forking; a -f
	# would make systemd wait for a fork that never comes.
	if grep -qx 'Type=forking' "$unit" && ! grep -E '^ExecStart=.* -f( |$)' "$unit" >/dev/null &&
		grep -qE '^ExecStart=.* -o ro ' "$unit" &&
		grep -qx 'Restart=on-failure' "$unit" &&
		grep -qE '^ExecStopPost=-.*fusermount3 -u' "$unit"; then
		ok "regionfs@.service: forking, read-only, restarts on failure, clears a dead mount"
	else
		not_ok "regionfs@.service: forking, read-only, restarts on failure, clears a dead mount" \
			"$(grep -E '^(Type|ExecStart|Restart|ExecStopPost)=' "$unit")"
	fi
fi

if [[ " ${units[*]} " == *" regionctl-leaks-metrics.service "* ]]; then
	unit=$UNITS/regionctl-leaks-metrics.service
	# The file is written beside its final name (same directory: the
	# rename is atomic) under a name the collector ignores.
	if grep -qE '^ExecStart=/bin/sh -c .* /var/lib/prometheus/node-exporter/[a-z-]+\.prom$' "$unit"; then
		ok "regionctl-leaks-metrics.service writes into node_exporter's textfile directory"
	else
		not_ok "regionctl-leaks-metrics.service writes into node_exporter's textfile directory" \
			"$(grep '^ExecStart=' "$unit")"
	fi
	# Run its script as systemd would ($$ is a $), with the built
	# regionctl, in a private IPC namespace so the host's segments are
	# neither scanned nor attached; then with a regionctl that fails.
	script=$(sed -n "s/^ExecStart=\/bin\/sh -c '\(.*\)' [^ ]* [^ ]*\$/\1/p" "$unit")
	script=${script//\$\$/\$}
	prom=$TMPROOT/textfile/regionfs-shm.prom
	mkdir -p "$TMPROOT/textfile"
	if [ -z "$script" ]; then
		not_ok "the metrics unit's ExecStart is /bin/sh -c 'SCRIPT' REGIONCTL FILE" \
			"$(grep '^ExecStart=' "$unit")"
	elif ! command -v unshare >/dev/null; then
		note "unshare is not installed: the metrics script is not run"
	else
		unshare --ipc /bin/sh -c "$script" "$REGIONCTL" "$prom"
		st=$?
		if [ "$st" -eq 0 ] && grep -q '^regionfs_shm_' "$prom" &&
			[ ! -e "$prom.tmp" ] &&
			[ "$(stat -c %a "$prom")" = 644 ]; then
			ok "the metrics script leaves regionfs_shm_* series in a 0644 .prom file and no temporary"
		else
			not_ok "the metrics script leaves regionfs_shm_* series in a 0644 .prom file and no temporary" \
				"exit $st" "$(ls -l "$TMPROOT/textfile")"
		fi
		before=$(cat "$prom")
		/bin/sh -c "$script" false "$prom"
		st=$?
		if [ "$st" -ne 0 ] && [ "$(cat "$prom")" = "$before" ] &&
			[ ! -e "$prom.tmp" ]; then
			ok "a failing regionctl fails the unit and leaves the previous .prom file whole"
		else
			not_ok "a failing regionctl fails the unit and leaves the previous .prom file whole" \
				"exit $st" "$(ls -l "$TMPROOT/textfile")"
		fi
	fi
fi

finish
