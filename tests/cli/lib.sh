# lib.sh - shared by the regionctl CLI tests; sourced, never run.
#
# Every test script runs inside its own IPC namespace (meson starts it under
# `unshare --ipc`), so the segments it makes are invisible to the host and
# vanish with the namespace.  What is left to clean up is ours: temporary
# homes and background processes.  The EXIT trap does both, even when a
# check fails or the script is interrupted.
#
# Usage: . lib.sh "$@"   with $1 = regionctl and $2 = shmhelper.

set -u

RC=${1:?usage: SCRIPT REGIONCTL SHMHELPER}
SHMHELPER=${2:?usage: SCRIPT REGIONCTL SHMHELPER}
TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/rgn-cli-XXXXXX")
chmod 755 "$TMPROOT"
PIDS=()
PASSED=0
FAILED=0

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$TMPROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! command -v jq >/dev/null; then
	echo "1..0 # SKIP jq is not installed"
	exit 77
fi

# The IPC namespace must be private: never touch the host's segments.
if [ "$(readlink /proc/self/ns/ipc)" = "$(readlink /proc/1/ns/ipc)" ]; then
	echo "Bail out! not in a private IPC namespace (run under unshare --ipc)"
	exit 99
fi

# A fresh home directory.
mkhome() {
	local d
	d=$(mktemp -d "$TMPROOT/home-XXXXXX")
	chmod 755 "$d"
	echo "$d"
}

ok() {
	PASSED=$((PASSED + 1))
	echo "ok $((PASSED + FAILED)) - $1"
}

not_ok() {
	FAILED=$((FAILED + 1))
	echo "not ok $((PASSED + FAILED)) - $1"
	shift
	local line
	for line in "$@"; do
		printf '#   %s\n' "$line"
	done
}

# run CMD...: run it, keep stdout in $OUT, stderr in $ERR, status in $ST.
run() {
	local o e
	o=$(mktemp "$TMPROOT/out-XXXXXX")
	e=$(mktemp "$TMPROOT/err-XXXXXX")
	"$@" >"$o" 2>"$e"
	ST=$?
	OUT=$(cat "$o")
	ERR=$(cat "$e")
	rm -f "$o" "$e"
}

# expect_status N DESC CMD...: CMD exits with N.
expect_status() {
	local want=$1 desc=$2
	shift 2
	run "$@"
	if [ "$ST" -eq "$want" ]; then
		ok "$desc"
	else
		not_ok "$desc" "exit $ST, expected $want: $*" "stdout: ${OUT:0:800}" \
			"stderr: ${ERR:0:800}"
	fi
}

# expect_fail N PATTERN DESC CMD...: exit N and stderr matching PATTERN
# (an extended regular expression).
expect_fail() {
	local want=$1 pat=$2 desc=$3
	shift 3
	run "$@"
	if [ "$ST" -eq "$want" ] && printf '%s' "$ERR" | grep -Eq -- "$pat"; then
		ok "$desc"
	else
		not_ok "$desc" "exit $ST (expected $want): $*" \
			"stderr: ${ERR:0:800}" "expected stderr to match: $pat"
	fi
}

# check DESC TEST...: a shell condition.
check() {
	local desc=$1
	shift
	if "$@"; then
		ok "$desc"
	else
		not_ok "$desc" "failed: $*"
	fi
}

# contains TEXT PATTERN: TEXT has a line matching the extended regex.
contains() {
	printf '%s\n' "$1" | grep -Eq -- "$2"
}

# Start CMD... in the background with stdout to FILE; wait until it printed
# a line (its pid or "ready"), record it for cleanup.  Sets BGPID.
start_bg() {
	local file=$1 i
	shift
	"$@" >"$file" 2>"$file.err" &
	BGPID=$!
	PIDS+=("$BGPID")
	for i in $(seq 1 200); do
		[ -s "$file" ] && return 0
		kill -0 "$BGPID" 2>/dev/null || break
		sleep 0.05
	done
	echo "# background command did not start: $* ($(cat "$file.err"))"
	return 1
}

# Stop a background process with SIGNAL; sets BGST to its exit status.
stop_bg() {
	local pid=$1 sig=${2:-TERM}
	kill "-$sig" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	BGST=$?
}

# Column N of the leaks table row with shmid ID.
leak_col() {
	"$RC" leaks | awk -v id="$1" -v n="$2" '$1 == id { print $n }'
}

# The shmid of the segment at KEY (0x hex, as /proc shows it in decimal).
shmid_of_key() {
	awk -v k="$(printf '%d' "$1")" 'NR > 1 && $1 == k { print $2 }' \
		/proc/sysvipc/shm
}

seg_exists() {
	awk -v id="$1" 'NR > 1 && $2 == id { f = 1 } END { exit !f }' \
		/proc/sysvipc/shm
}

export -f seg_exists

finish() {
	echo "1..$((PASSED + FAILED))"
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}
