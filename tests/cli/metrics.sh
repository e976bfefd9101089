#!/bin/bash
# metrics.sh - regionctl's Prometheus output on real environments, read by
# python3-prometheus-client's parsers (text format and OpenMetrics, see
# promcheck.py), and stat's text and JSON on a home whose path holds a
# newline and a byte that is not UTF-8: one line per record, strict JSON.
. "$(dirname "$0")/lib.sh" "$@"

PROMCHECK="$(dirname "$0")/promcheck.py"

# Debian's python3-prometheus-client installs for /usr/bin/python3; a
# python3 earlier in PATH (pyenv, a venv) may not see it.
PY=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import prometheus_client' 2>/dev/null; then
		PY=$p
		break
	fi
done
if [ -z "$PY" ]; then
	echo "1..0 # SKIP python3-prometheus-client is not installed"
	exit 77
fi

# promcheck DESC KIND FILE: promcheck.py's own lines become comments here,
# its verdict one result.
promcheck() {
	local desc=$1 o
	shift
	o=$(PROMCHECK_HOME=$H "$PY" "$PROMCHECK" "$@" 2>&1)
	local st=$?
	printf '%s\n' "$o" | sed 's/^/#   /'
	check "$desc" [ "$st" -eq 0 ]
}

# ---- a home with a newline and a stray byte in its path ---------------------------
BASE=$(mkhome)
H="$BASE/we"$'\n'"ird"$'\xff'
mkdir "$H"
expect_status 0 "create in a home whose path holds a newline" \
	"$RC" create -h "$H" --backing sysv --shm-key 0x5eed6000
start_bg "$TMPROOT/hold" "$RC" hold -h "$H"
HOLDPID=$BGPID

expect_status 0 "stat -e --prometheus" "$RC" stat -e -h "$H" --prometheus
printf '%s\n' "$OUT" >"$TMPROOT/env.prom"
promcheck "stat -e --prometheus: both parsers, names, home label" \
	env "$TMPROOT/env.prom"

expect_status 0 "leaks --prometheus" "$RC" leaks --prometheus
printf '%s\n' "$OUT" >"$TMPROOT/scan.prom"
promcheck "leaks --prometheus: both parsers, names, host-wide only" \
	scan "$TMPROOT/scan.prom"

# ---- the same home in text and JSON ------------------------------------------------
"$RC" stat -e -h "$H" >"$TMPROOT/env.txt"
check "stat -e: the Home line is escaped on one line" \
	grep -qxF "$BASE/we\\x0aird\\xff	Home" "$TMPROOT/env.txt"
check "stat -e: every line is VALUE<TAB>LABEL or the separator" \
	bash -c '! grep -avP "^[^\t]+\t[^\t]+$" "$1" | grep -avxF -- "=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=" | grep -q .' _ "$TMPROOT/env.txt"
check "stat -e: References counts the holder" \
	grep -qxP '1\tReferences' "$TMPROOT/env.txt"
check "stat -e: References follows the live and stale lines" \
	bash -c 'grep -A1 -P "^\d+\tStale registry entries$" "$1" | tail -1 | grep -qP "^1\tReferences$"' _ "$TMPROOT/env.txt"

"$RC" stat -e -h "$H" --json >"$TMPROOT/env.json"
promcheck "stat -e --json: strict UTF-8 JSON, home and references recoverable" \
	json "$TMPROOT/env.json"

"$RC" leaks >"$TMPROOT/leaks.txt"
# The table (before the summary): a header and the 6 segments.
check "leaks: every segment on one line, WHERE escaped" \
	bash -c '[ "$(grep -c "we\\\\x0aird\\\\xff$" "$1")" -eq 6 ] &&
		[ "$(sed "/^=-=/,\$d" "$1" | wc -l)" -eq 7 ]' _ "$TMPROOT/leaks.txt"

stop_bg "$HOLDPID" TERM
expect_status 0 "remove" "$RC" remove -h "$H"
finish
