#!/usr/bin/env bash
# tests/run.sh - build regionfs and run the whole test suite, twice: a plain
# build and an AddressSanitizer + UndefinedBehaviorSanitizer build, both
# with warnings as errors.  On a fresh Debian 12 machine as root it first
# installs the Debian packages it needs.  Benchmarks are not run here (see
# README); CI adds one quick benchmark pass (.ci/run).
#
# Prints "N passed, M failed[, K skipped]" last and exits non-zero on any
# failure.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. "$top/tools/deps.sh"
rgn_install_deps
# The benchmark peers are looked for when meson configures: install them
# first, so the quick benchmark pass in CI measures against real peers.
"$top/tests/bench/setup.sh"

builds=${RGN_BUILDS:-"plain asan"}
status=0
for b in $builds; do
	dir="$top/build/$b"
	opts=(-Dwerror=true -Dbuildtype=debugoptimized)
	if [ "$b" = asan ]; then
		opts+=(-Db_sanitize=address,undefined -Db_lundef=false
		       "-Dc_args=-fno-sanitize-recover=all -fno-omit-frame-pointer")
	fi
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "${opts[@]}" >/dev/null
	else
		meson setup "$dir" "${opts[@]}" >/dev/null
	fi
	ninja -C "$dir"
	echo "== $b build: running the suites"
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	if ! meson test -C "$dir" --no-suite bench --no-suite soak --print-errorlogs \
		--num-processes 2; then
		status=1
	fi
done

# One closing line over every build, from meson's own logs.
python3 - $builds <<'PY'
import json, sys, os
p = f = s = 0
for b in sys.argv[1:]:
    log = os.path.join("build", b, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        continue
    for line in open(log):
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            p += 1
        elif r == "SKIP":
            s += 1
        else:
            f += 1
print(f"{p} passed, {f} failed" + (f", {s} skipped" if s else ""))
PY
exit $status
