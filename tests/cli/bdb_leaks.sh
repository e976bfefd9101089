#!/bin/bash
# bdb_leaks.sh - the leak scanner on Berkeley DB 5.3's own System V
# segments, made by the real library (tests/bdb/bdbhelper) in this test's
# private IPC namespace, beside a real leak of ours:
#
#   at rest         created and closed cleanly          -> idle, not leaked
#   held            a process has it open               -> live
#   crashed         its holder killed with SIGKILL      -> needs-recovery,
#                   never removed, bytes untouched, Berkeley DB still opens it
#   dropped         its __db.* files deleted, DB_CONFIG -> idle without proof,
#                   kept (set_shm_key)                     orphaned with --home
#   ours            home deleted                        -> orphaned
#
# Usage: bdb_leaks.sh REGIONCTL SHMHELPER BDBHELPER
. "$(dirname "$0")/lib.sh" "$@"
BDB=${3:?usage: bdb_leaks.sh REGIONCTL SHMHELPER BDBHELPER}
PROMCHECK="$(dirname "$0")/promcheck.py"

class_of() { leak_col "$1" 12; }

# The SHA-256 of segment SHMID's bytes, read through a read-only attach.
seg_hash() {
	python3 - "$1" <<'EOF'
import ctypes, hashlib, sys
shmid = int(sys.argv[1])
size = None
with open("/proc/sysvipc/shm") as f:
    next(f)
    for line in f:
        w = line.split()
        if int(w[1]) == shmid:
            size = int(w[3])
if size is None:
    sys.exit("no segment %d" % shmid)
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
p = libc.shmat(shmid, None, 0o10000)  # SHM_RDONLY
if p is None or p == ctypes.c_void_p(-1).value:
    sys.exit("shmat %d: errno %d" % (shmid, ctypes.get_errno()))
print(hashlib.sha256(ctypes.string_at(p, size)).hexdigest())
libc.shmdt(p)
EOF
}

# Three segments per environment: the primary, the mutex and mpool regions.
segs_of() {
	local k=$(($1)) i out=""
	for i in 0 1 2; do
		out+="$(shmid_of_key "$(printf '0x%08x' $((k + i)))") "
	done
	echo "$out"
}

# ---- make them ------------------------------------------------------------------
HR=$(mkhome)
"$BDB" create "$HR" 0x7a100000
read -r R1 R2 R3 <<<"$(segs_of 0x7a100000)"

HH=$(mkhome)
start_bg "$TMPROOT/held" "$BDB" hold "$HH" 0x7b100000
read -r H1 H2 H3 <<<"$(segs_of 0x7b100000)"

HC=$(mkhome)
start_bg "$TMPROOT/crash" "$BDB" hold "$HC" 0x7c100000
stop_bg "$BGPID" KILL
read -r C1 C2 C3 <<<"$(segs_of 0x7c100000)"

# Its DB_CONFIG gives the key: the proof that this home made it.
HG=$(mkhome)
echo "set_shm_key 2098200576" >"$HG/DB_CONFIG" # 0x7d100000
"$BDB" create "$HG" 0x7d100000
read -r G1 G2 G3 <<<"$(segs_of 0x7d100000)"
rm -f "$HG"/__db.*

HO=$(mkhome)
"$RC" create -h "$HO" --backing sysv --shm-key 0x5eed4000 --region only:user:64K
O1=$(shmid_of_key 0x5eed4000)
O2=$(shmid_of_key 0x5eed4001)
rm -rf "$HO"

for v in R1 R2 R3 H1 H2 H3 C1 C2 C3 G1 G2 G3 O1 O2; do
	check "made segment $v (shmid ${!v})" [ -n "${!v}" ]
done

# ---- classes -----------------------------------------------------------------------
expect_status 0 "leaks" "$RC" leaks
for v in R1 R2 R3; do
	check "at rest: $v is idle" [ "$(class_of "${!v}")" = idle ]
done
for v in H1 H2 H3; do
	check "held: $v is live" [ "$(class_of "${!v}")" = live ]
done
for v in C1 C2 C3; do
	check "holder killed: $v needs recovery" \
		[ "$(class_of "${!v}")" = needs-recovery ]
done
for v in G1 G2 G3; do
	check "files deleted, no --home: $v is not orphaned (idle)" \
		[ "$(class_of "${!v}")" = idle ]
done
check "our leak beside them is orphaned" \
	[ "$(class_of "$O1")/$(class_of "$O2")" = orphaned/orphaned ]

expect_status 0 "leaks -o +PROGRAM" "$RC" leaks -o +PROGRAM --noheadings
T=$OUT
prog_of() { awk -v id="$1" '$1 == id { print $15 }' <<<"$T"; }
check "PROGRAM says berkeley-db for every Berkeley DB segment" \
	[ "$(for v in R1 R2 R3 H1 C2 G3; do prog_of "${!v}"; done | sort -u)" = berkeley-db ]
check "PROGRAM says regionfs for ours" [ "$(prog_of "$O1")" = regionfs ]
check "REGION names Berkeley DB's region types" \
	[ "$(awk -v id="$C2" '$1 == id { print $13 }' <<<"$T")" = 2:Mutex ]

# ---- JSON, --check, Prometheus: Berkeley DB's are never leaked ---------------------
expect_status 0 "leaks --json" "$RC" leaks --json
J=$OUT
seg_json() { jq -c --argjson id "$1" '.segments[] | select(.shmid == $id)' <<<"$J"; }
check "JSON: program and version of a crashed one" \
	[ "$(seg_json "$C1" | jq -r '"\(.program) \(.version) \(.class) \(.references)"')" = "berkeley-db 5.3.28 needs-recovery 1" ]
check "JSON: its evidence names db_recover" \
	contains "$(seg_json "$C3" | jq -r .evidence)" 'db_recover -h .*db5\.3_recover'
check "JSON: ours is program regionfs" \
	[ "$(seg_json "$O1" | jq -r .program)" = regionfs ]
size_of() { seg_json "$1" | jq .size; }
check "JSON: leaked_bytes holds only our leak" \
	[ "$(jq .leaked_bytes <<<"$J")" = $(($(size_of "$O1") + $(size_of "$O2"))) ]
check "JSON: needs_recovery counts the crashed environment" \
	[ "$(jq .needs_recovery <<<"$J")" = 3 ]
AT_REST=0
for v in R1 R2 R3 G1 G2 G3; do AT_REST=$((AT_REST + $(size_of "${!v}"))); done
check "JSON: bdb_at_rest_bytes holds the environments at rest" \
	[ "$(jq .bdb_at_rest_bytes <<<"$J")" = "$AT_REST" ]

expect_status 1 "leaks --check: our leak" "$RC" leaks --check
check "--check names only our leaked segments" \
	contains "$OUT" "^regionctl: 2 leaked segments, .*: shmid $O1, $O2\$|^regionctl: 2 leaked segments, .*: shmid $O2, $O1\$"

expect_status 0 "leaks --prometheus" "$RC" leaks --prometheus
P=$OUT
check "Prometheus: the needs-recovery class" \
	contains "$P" '^regionfs_shm_segments\{class="needs-recovery"\} 3$'
check "Prometheus: leaked bytes are our leak's only" \
	contains "$P" "^regionfs_shm_leaked_bytes $(jq .leaked_bytes <<<"$J")\$"
check "Prometheus: bytes at rest" \
	contains "$P" "^regionfs_shm_bdb_at_rest_bytes $AT_REST\$"
if /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
	printf '%s\n' "$P" >"$TMPROOT/scan.prom"
	o=$(/usr/bin/python3 "$PROMCHECK" scan "$TMPROOT/scan.prom" 2>&1)
	st=$?
	printf '%s\n' "$o" | sed 's/^/#   /'
	check "Prometheus: the output still parses" [ "$st" -eq 0 ]
fi

# ---- removal refuses them, and leaves them byte for byte -------------------------
declare -A BEFORE
for v in C1 C2 C3 R1; do BEFORE[$v]=$(seg_hash "${!v}"); done
expect_status 1 "--remove --force-foreign on a crashed environment is refused" \
	"$RC" leaks --remove --force-foreign "$C1" "$C2" "$C3"
check "each refusal says why and names db_recover" \
	[ "$(grep -c "^skipped shmid [0-9]*: berkeley-db: .*needs recovery.*db_recover -h" <<<"$OUT")" = 3 ]
expect_status 1 "--remove --force-foreign on one at rest is refused" \
	"$RC" leaks --remove --force-foreign "$R1"
check "that refusal names DB_ENV->remove" \
	contains "$OUT" "^skipped shmid $R1: berkeley-db: not a leak: .*DB_ENV->remove"
expect_status 1 "--remove --force-foreign on a held one is refused" \
	"$RC" leaks --remove --force-foreign "$H2"
check "that refusal says it is attached" \
	contains "$OUT" "^skipped shmid $H2: attached: "
expect_status 1 "--remove without --force-foreign is refused too" \
	"$RC" leaks --remove "$C1"
for v in C1 C2 C3 R1; do
	check "segment $v byte-identical after the refusals" \
		[ "$(seg_hash "${!v}")" = "${BEFORE[$v]}" ]
done
expect_status 0 "Berkeley DB still opens the crashed environment" \
	"$BDB" join "$HC" 0x7c100000
expect_status 0 "Berkeley DB still opens the one at rest" \
	"$BDB" join "$HR" 0x7a100000

# ---- proof: --home ------------------------------------------------------------------
expect_status 0 "leaks --home (the dropped and the intact homes)" \
	"$RC" leaks --home "$HG" --home "$HR" -o SHMID,CLASS,WHERE
for v in G1 G2 G3; do
	check "--home proves $v orphaned" \
		contains "$OUT" "^ *${!v} +orphaned +$HG\$"
done
check "--home of an intact home: still idle, its home named" \
	contains "$OUT" "^ *$R1 +idle +$HR\$"
expect_status 0 "leaks --home of an unrelated home proves nothing" \
	"$RC" leaks --home "$HR" -o SHMID,CLASS
check "dropped environment still idle" contains "$OUT" "^ *$G1 +idle\$"

expect_status 0 "--remove without --home removes only our leak" "$RC" leaks --remove
check "our leak is gone" bash -c '! seg_exists "$1" && ! seg_exists "$2"' _ "$O1" "$O2"
check "every Berkeley DB segment is still there" \
	bash -c 'for s; do seg_exists "$s" || exit 1; done' _ \
	"$R1" "$R2" "$R3" "$H1" "$H2" "$H3" "$C1" "$C2" "$C3" "$G1" "$G2" "$G3"
expect_status 0 "--remove --home removes the proven orphan, whole" \
	"$RC" leaks --remove --home "$HG"
check "all three of its segments removed" contains "$OUT" '^3 removed, 0 skipped$'
check "they are gone" \
	bash -c '! seg_exists "$1" && ! seg_exists "$2" && ! seg_exists "$3"' _ \
	"$G1" "$G2" "$G3"
expect_status 0 "leaks --check: nothing leaked with Berkeley DB's left" \
	"$RC" leaks --check

finish
