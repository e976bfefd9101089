#!/bin/sh
# smoke.sh CORPUS_DIR TARGET... - run each libFuzzer target for
# FUZZ_SECONDS (default 5) over its corpus CORPUS_DIR/NAME (NAME is the
# target without "fuzz_"), and fail on any finding.  New inputs and
# crash artifacts go to a scratch directory, so the source tree is never
# written; a finding's input is kept and its path printed.
set -u
corpus=$1
shift
secs=${FUZZ_SECONDS:-5}
# tmpfs when there is one: targets that rewrite a file each run must not
# wait for a disk.
base=${TMPDIR:-/tmp}
if [ -z "${TMPDIR:-}" ] && [ -w /dev/shm ]; then base=/dev/shm; fi
scratch=$(mktemp -d "$base/fuzz-smoke.XXXXXX") || exit 1
keep=0
cleanup() {
	if [ "$keep" = 0 ]; then rm -rf "$scratch"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail=0
for exe in "$@"; do
	name=$(basename "$exe")
	name=${name#fuzz_}
	mkdir -p "$scratch/$name/new" "$scratch/$name/tmp"
	seeds="$corpus/$name"
	# These make an IPC namespace of their own, which needs root.
	case $name in record|leakhdr)
		if [ "$(id -u)" != 0 ]; then
			echo "fuzz-smoke: $name SKIPPED: needs root (unshare -i)" >&2
			continue
		fi;;
	esac
	[ -d "$seeds" ] || { echo "fuzz-smoke: no corpus $seeds" >&2; fail=1; continue; }
	echo "fuzz-smoke: $name for ${secs}s"
	# The targets make their scratch homes under TMPDIR; it goes with
	# $scratch even when a target dies.
	if ! TMPDIR="$scratch/$name/tmp" "$exe" -max_total_time="$secs" \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$scratch/$name/" \
		"$scratch/$name/new" "$seeds" >"$scratch/$name/log" 2>&1; then
		tail -n 60 "$scratch/$name/log" >&2
		echo "fuzz-smoke: $name FAILED; input and log kept in $scratch/$name" >&2
		keep=1
		fail=1
		continue
	fi
	grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec' \
		"$scratch/$name/log" | tr '\n' ' '
	echo
done
exit $fail
