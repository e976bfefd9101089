#!/bin/bash
# bdb.sh - `regionctl stat -e` on Berkeley DB 5.3 homes made by the real
# library (tests/bdb/bdbhelper): files mode, system memory, held, a holder
# killed with SIGKILL, panic set, an empty __db.001.  Its figures are
# compared with db5.3_stat -e on the same home; every file and segment of
# the home must be byte-identical (and its times unchanged) across each
# regionctl run, and Berkeley DB must still open the environment after.
#
# Usage: bdb.sh REGIONCTL SHMHELPER BDBHELPER DB_STAT (under unshare --ipc)
. "$(dirname "$0")/lib.sh" "$@"

BDBH=${3:?usage: bdb.sh REGIONCTL SHMHELPER BDBHELPER DB_STAT}
DBSTAT=${4:?usage: bdb.sh REGIONCTL SHMHELPER BDBHELPER DB_STAT}
DBRECOVER=$(dirname "$DBSTAT")/db5.3_recover

# The segments of this namespace are all this script's: remove them on the
# way out as well (the namespace takes them anyway when its last process
# goes, but a holder killed late must not keep them).
rm_segments() {
	local id
	for id in $(awk 'NR > 1 { print $2 }' /proc/sysvipc/shm); do
		ipcrm -m "$id" 2>/dev/null
	done
}
trap 'cleanup; rm_segments' EXIT

# The value of the "VALUE<TAB>LABEL" line whose label is LABEL, in TEXT.
val() {
	printf '%s\n' "$1" | awk -F '\t' -v l="$2" '$2 == l { print $1; exit }'
}

# Everything of HOME that Berkeley DB keeps: each file's name, size, inode,
# modification and change times and a digest of its bytes; each segment's
# key, id, mode, size, creator, attach count and change time, and a digest
# of its bytes.  (Attach time, detach time and last pid are left out: a
# read-only attach, ours or the digest's, sets them.)
snap() {
	local f id
	for f in $(cd "$1" && ls -A | sort); do
		printf '%s %s\n' "$(stat -c '%n %s %i %y %z' "$1/$f")" \
			"$(sha256sum <"$1/$f" | cut -c1-64)"
	done
	awk 'NR > 1 { print $1, $2, $3, $4, $5, $7, $14 }' /proc/sysvipc/shm | sort
	for id in $(awk 'NR > 1 { print $2 }' /proc/sysvipc/shm | sort -n); do
		echo "segment $id $("$BDBH" sum "$id")"
	done
}

# ro_expect N DESC HOME CMD...: CMD exits N and leaves HOME (files and
# segments) exactly as it was.
ro_expect() {
	local want=$1 desc=$2 home=$3 before after
	shift 3
	before=$(snap "$home")
	run "$@"
	after=$(snap "$home")
	if [ "$ST" -ne "$want" ]; then
		not_ok "$desc" "exit $ST, expected $want: $*" \
			"stdout: ${OUT:0:800}" "stderr: ${ERR:0:800}"
	elif [ "$before" != "$after" ]; then
		not_ok "$desc" "the home changed: $*" \
			"$(diff <(echo "$before") <(echo "$after") | head -20)"
	else
		ok "$desc"
	fi
}

# JSON keys the issue requires, with their types.
json_shape() {
	jq -e '
	  .program == "berkeley-db" and
	  (.version | type) == "string" and
	  (.env_id_hex | type) == "string" and
	  (.references | type) == "number" and
	  (.panic | type) == "number" and
	  (.verdict | type) == "string" and
	  (.attached | type) == "array" and
	  all(.attached[]; (.pid | type) == "number" and
	      (.command | type) == "string" and (.start | type) == "number") and
	  (.regions | type) == "array" and (.regions | length) > 0 and
	  all(.regions[]; has("id") and has("type") and has("file") and
	      has("shmid") and has("size") and has("max"))' \
		>/dev/null <<<"$1"
}

# compare HOME WHAT: regionctl's figures against db5.3_stat -e's, which
# joins (and so counts itself, and moves counters): it runs first, and the
# snapshots are taken around regionctl alone.
compare() {
	local h=$1 what=$2 ds text j
	run "$DBSTAT" -e -h "$h"
	ds=$OUT
	check "$what: db5.3_stat -e reads it" [ "$ST" -eq 0 ]
	ro_expect 0 "$what: stat -e, home untouched" "$h" "$RC" stat -e -h "$h"
	text=$OUT
	ro_expect 0 "$what: stat -e --json, home untouched" "$h" \
		"$RC" stat -e -h "$h" --json
	j=$OUT
	local l
	for l in "Magic number" "Panic value" "Environment version" \
		"Environment ID" "Current region size" "Maximum region size"; do
		check "$what: $l as db5.3_stat says ($(val "$ds" "$l"))" \
			[ -n "$(val "$ds" "$l")" -a "$(val "$text" "$l")" = "$(val "$ds" "$l")" ]
	done
	check "$what: References = db5.3_stat's minus its own handle" \
		[ "$(val "$text" References)" = $(($(val "$ds" References) - 1)) ]
	check "$what: JSON has the keys the issue names" json_shape "$j"
	check "$what: JSON version, env_id_hex, references, panic agree" \
		[ "$(jq -r .version <<<"$j")" = "$(val "$ds" "Environment version")" \
		  -a "$(jq -r .env_id_hex <<<"$j")" = "$(val "$ds" "Environment ID")" \
		  -a "$(jq -r .references <<<"$j")" = "$(val "$text" References)" \
		  -a "$(jq -r .panic <<<"$j")" = "$(val "$ds" "Panic value")" ]
	TEXT=$text JSON=$j
}

# Every region of JSON is in HOME: files mode as __db.NNN of its size at
# most (BDB's files are sparse, one byte short of a page at the end is
# fine), system memory as a segment of this namespace of its size.
regions_exist() {
	local h=$1 j=$2 id file shmid size
	while read -r id file shmid size; do
		if [ "$file" != null ]; then
			[ "$file" = "$(printf '__db.%03d' "$id")" ] || return 1
			[ -f "$h/$file" ] || return 1
		else
			awk -v s="$shmid" -v z="$size" 'NR > 1 && $2 == s && $4 == z { f = 1 }
				END { exit !f }' /proc/sysvipc/shm || return 1
		fi
	done < <(jq -r '.regions[] | "\(.id) \(.file) \(.shmid) \(.size)"' <<<"$j")
}

# ---- files mode, at rest ------------------------------------------------------
F=$(mkhome)
expect_status 0 "bdbhelper makes a files-mode home" "$BDBH" create "$F"
compare "$F" "files"
check "files: verdict at-rest, nobody attached" \
	[ "$(jq -r '.verdict, (.attached | length)' <<<"$JSON" | tr '\n' ' ')" = "at-rest 0 " ]
check "files: regions are __db.NNN files of the home, shmid null" \
	regions_exist "$F" "$JSON"
check "files: as many regions as __db.0NN files" \
	[ "$(jq '.regions | length' <<<"$JSON")" -eq "$(ls "$F" | grep -c '^__db\.[0-9][0-9][0-9]$')" ]
check "files: text ends with the verdict and its reason" \
	contains "$(tail -2 <<<"$TEXT")" $'^at-rest\tVerdict$'
for o in --prometheus "--region 1" --processes; do
	# shellcheck disable=SC2086
	ro_expect 2 "files: $o refused (exit 2), home untouched" "$F" \
		"$RC" stat -e -h "$F" $o
	check "files: $o refusal names Berkeley DB and --json" \
		contains "$ERR" "Berkeley DB home: ${o%% *} .*--json"
done
expect_status 0 "files: Berkeley DB still opens it" "$BDBH" join "$F"

# ---- system memory, at rest ---------------------------------------------------
S=$(mkhome)
expect_status 0 "bdbhelper makes a system-memory home" "$BDBH" create "$S" 0x7a0b0000
check "system memory: __db.001 is the 24-byte record" [ "$(stat -c %s "$S/__db.001")" -eq 24 ]
compare "$S" "system memory"
check "system memory: mode and at-rest" \
	[ "$(jq -r '.mode, .verdict' <<<"$JSON" | tr '\n' ' ')" = "system-memory at-rest " ]
check "system memory: each region is a segment of its size, file null" \
	regions_exist "$S" "$JSON"
check "system memory: the regions' shmids are the namespace's segments" \
	[ "$(jq -r '.regions[].shmid' <<<"$JSON" | sort -n | tr '\n' ' ')" = \
	  "$(awk 'NR > 1 { print $2 }' /proc/sysvipc/shm | sort -n | tr '\n' ' ')" ]
expect_status 0 "system memory: Berkeley DB still opens it" "$BDBH" join "$S" 0x7a0b0000
# The first segments of this namespace: the primary is shmid 0, which a
# maps line shows in the inode column, where 0 otherwise means anonymous.
check "system memory: the primary is shmid 0" [ "$(jq .primary_shmid <<<"$JSON")" -eq 0 ]
if start_bg "$TMPROOT/hold-s0" "$BDBH" hold "$S" 0x7a0b0000; then
	NREG=$(jq '.regions | length' <<<"$JSON")
	ro_expect 0 "system memory, held: stat -e, home untouched" "$S" \
		"$RC" stat -e -h "$S"
	check "system memory, held: the holder maps all $NREG segments, shmid 0 too" \
		contains "$OUT" "^$BGPID"$'\t'"bdbhelper, started .*, $NREG mappings\$"
	stop_bg "$BGPID" KILL
else
	not_ok "bdbhelper hold (system memory, shmid 0) starts"
fi

# ---- held: in use ---------------------------------------------------------------
H=$(mkhome)
if start_bg "$TMPROOT/hold" "$BDBH" hold "$H"; then
	HPID=$BGPID
	compare "$H" "held"
	check "held: References 1 (db5.3_stat says 2)" [ "$(jq .references <<<"$JSON")" -eq 1 ]
	check "held: verdict in-use" [ "$(jq -r .verdict <<<"$JSON")" = in-use ]
	check "held: the holder is attached, by pid, command and start" \
		[ "$(jq -r '.attached | map("\(.pid) \(.command) \(.start > 0)") | join(",")' <<<"$JSON")" = "$HPID bdbhelper true" ]
	check "held: the text lists the holder" contains "$TEXT" "^$HPID"$'\t'"bdbhelper, started "
	stop_bg "$HPID" KILL
	# ---- its holder killed: needs recovery --------------------------------------
	compare "$H" "killed"
	check "killed: References still 1, nobody attached" \
		[ "$(jq -r '"\(.references) \(.attached | length)"' <<<"$JSON")" = "1 0" ]
	check "killed: verdict needs-recovery" [ "$(jq -r .verdict <<<"$JSON")" = needs-recovery ]
	check "killed: the reason explains the stale reference and names db_recover" \
		contains "$(val "$TEXT" Reason)" "^References 1 but 0 processes map it.*: 1 reference was left by a process that died attached.*db_recover -h $H"
	expect_status 0 "killed: Berkeley DB still opens it" "$BDBH" join "$H"
else
	not_ok "bdbhelper hold starts"
fi

# ---- held in system memory ----------------------------------------------------
HS=$(mkhome)
if start_bg "$TMPROOT/hold-s" "$BDBH" hold "$HS" 0x7a0c0000; then
	HPID=$BGPID
	compare "$HS" "held, system memory"
	check "held, system memory: in-use with the holder attached" \
		[ "$(jq -r '"\(.verdict) \(.attached[0].pid)"' <<<"$JSON")" = "in-use $HPID" ]
	stop_bg "$HPID" KILL
	ro_expect 0 "killed, system memory: stat -e --json, home untouched" "$HS" \
		"$RC" stat -e -h "$HS" --json
	check "killed, system memory: needs-recovery" \
		[ "$(jq -r .verdict <<<"$OUT")" = needs-recovery ]
	expect_status 0 "killed, system memory: Berkeley DB still opens it" \
		"$BDBH" join "$HS" 0x7a0c0000
else
	not_ok "bdbhelper hold (system memory) starts"
fi

# ---- panic set ------------------------------------------------------------------
P=$(mkhome)
expect_status 0 "bdbhelper makes a home" "$BDBH" create "$P"
expect_status 0 "bdbhelper sets panic" "$BDBH" panic "$P"
ro_expect 0 "panic: stat -e, home untouched" "$P" "$RC" stat -e -h "$P"
check "panic: Panic value 1, needs-recovery" \
	[ "$(val "$OUT" "Panic value") $(val "$OUT" Verdict)" = "1 needs-recovery" ]
check "panic: the reason names the flag and db_recover" \
	contains "$(val "$OUT" Reason)" "panic flag is set.*db_recover -h $P"
ro_expect 0 "panic: stat -e --json, home untouched" "$P" "$RC" stat -e -h "$P" --json
check "panic: JSON panic 1" [ "$(jq .panic <<<"$OUT")" -eq 1 ]
if [ -x "$DBRECOVER" ]; then
	expect_status 0 "panic: db5.3_recover recovers it" "$DBRECOVER" -h "$P"
	# db_recover leaves no regions behind: the next open creates them.
	expect_status 0 "panic: Berkeley DB opens it after recovery" "$BDBH" create "$P"
fi

# ---- half-created ---------------------------------------------------------------
E=$(mkhome)
expect_status 0 "bdbhelper leaves an empty __db.001" "$BDBH" half "$E"
ro_expect 0 "half-created: stat -e answers, home untouched" "$E" "$RC" stat -e -h "$E"
check "half-created: verdict, and the reason says what to do" \
	[ "$(val "$OUT" Verdict)" = half-created ] && contains "$(val "$OUT" Reason)" "remove the empty $E/__db.001"
ro_expect 0 "half-created: --json, home untouched" "$E" "$RC" stat -e -h "$E" --json
check "half-created: JSON verdict, no references, no regions" \
	[ "$(jq -r '"\(.program) \(.verdict) \(.references) \(.regions | length)"' <<<"$OUT")" = "berkeley-db half-created null 0" ]

# ---- our own environments are not taken for Berkeley DB's --------------------------
O=$(mkhome)
expect_status 0 "create one of ours" "$RC" create -h "$O"
expect_status 0 "ours: stat -e --json" "$RC" stat -e -h "$O" --json
check "ours: our own layout, not berkeley-db" \
	[ "$(jq -r '"\(.program) \(.backing)"' <<<"$OUT")" = "null files" ]
expect_status 0 "ours: remove" "$RC" remove -h "$O"

finish
