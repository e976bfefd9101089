#!/bin/bash
# remove.sh - `regionctl remove` tells the truth: when the primary segment
# was destroyed from outside (ipcrm here; Berkeley DB does it at its key)
# the rest of the environment is still removed, exit 0; a segment still
# attached is printed by shmid and key with the reason, __db.001 stays and
# the exit status is 1 until a later remove finishes; another program's
# segment at one of our keys is never touched.  With a third argument (the
# bdbhelper of tests/bdb), create and hold --create refuse real Berkeley DB
# homes, naming Berkeley DB, and change nothing in them.
#
# Usage: remove.sh REGIONCTL SHMHELPER [BDBHELPER]
. "$(dirname "$0")/lib.sh" "$@"
BDBHELPER=${3:-}

KEY=0x5eed0000
keyplus() { printf '0x%08x' $((KEY + $1)); }

# ---- the primary destroyed from outside: the rest goes, exit 0 -------------
H=$(mkhome)
expect_status 0 "create (sysv, typical set)" \
	"$RC" create -h "$H" --backing sysv --shm-key "$KEY"
check "six segments" [ "$(($(wc -l </proc/sysvipc/shm) - 1))" -eq 6 ]
ipcrm -m "$(shmid_of_key "$KEY")"
expect_status 0 "remove after ipcrm of the primary exits 0" "$RC" remove -h "$H"
check "remove printed nothing" [ -z "$ERR" ]
check "no segment left" [ "$(($(wc -l </proc/sysvipc/shm) - 1))" -eq 0 ]
check "the home is empty" [ -z "$(ls -A "$H")" ]

# ---- a region still attached: printed, exit 1, finished later -------------
H=$(mkhome)
expect_status 0 "create (sysv) again" \
	"$RC" create -h "$H" --backing sysv --shm-key "$KEY"
HELD=$(shmid_of_key "$(keyplus 1)")
start_bg "$TMPROOT/hold.out" "$RC" hold -h "$H" --alloc 1
HOLDER=$BGPID
ipcrm -m "$(shmid_of_key "$KEY")"
expect_fail 1 "^regionctl: left shmid $HELD key $(keyplus 1): 1 process attached\$" \
	"remove with a region attached names it and exits 1" "$RC" remove -h "$H"
check "__db.001 is named as kept" \
	contains "$ERR" "^regionctl: left $H/__db.001: kept "
check "the last line says why remove failed" \
	contains "$(tail -1 <<<"$ERR")" "^regionctl: cannot remove environment \"$H\": .*2 things .* left"
check "only the attached segment is left" \
	[ "$(awk 'NR > 1 && $1 != 0 { n++ } END { print n + 0 }' /proc/sysvipc/shm)" -eq 1 ]
check "it is the attached one" seg_exists "$HELD"
check "__db.001 stays for a later remove" [ -f "$H/__db.001" ]
stop_bg "$HOLDER" TERM
check "the holder closed cleanly" [ "$BGST" -eq 0 ]
expect_status 0 "once it is free, remove finishes: exit 0" "$RC" remove -h "$H"
check "and prints nothing" [ -z "$ERR" ]
check "no segment left after the second remove" \
	[ "$(($(wc -l </proc/sysvipc/shm) - 1))" -eq 0 ]
check "the home is empty after the second remove" [ -z "$(ls -A "$H")" ]

# ---- another program's segment at one of our keys: never touched ----------
H=$(mkhome)
expect_status 0 "create (sysv) a third time" \
	"$RC" create -h "$H" --backing sysv --shm-key "$KEY"
ipcrm -m "$(shmid_of_key "$(keyplus 2)")"
run "$SHMHELPER" create "$(keyplus 2)" 65536
FOREIGN=$OUT
# key, shmid, perms, size, cpid and ctime: what identifies it
ident() {
	awk -v id="$1" 'NR > 1 && $2 == id { print $1, $2, $3, $4, $5, $14 }' \
		/proc/sysvipc/shm
}
BEFORE=$(ident "$FOREIGN")
ipcrm -m "$(shmid_of_key "$KEY")"
expect_status 0 "remove with a foreign segment at one of its keys exits 0" \
	"$RC" remove -h "$H"
check "the foreign segment is still there, the same one" \
	[ -n "$BEFORE" -a "$(ident "$FOREIGN")" = "$BEFORE" ]
check "nothing else is left" \
	[ "$(($(wc -l </proc/sysvipc/shm) - 1))" -eq 1 ]
ipcrm -m "$FOREIGN"

# ---- Berkeley DB homes: refused, and nothing changes -----------------------
# The listing with sizes, modes, inodes and mtimes, and every file's bytes.
home_state() {
	(cd "$1" && ls -lAi --time-style=full-iso && sha256sum -- *)
}

if [ -n "$BDBHELPER" ]; then
	for kind in files sysmem empty; do
		H=$(mkhome)
		case $kind in
		files) "$BDBHELPER" create "$H" ;;
		sysmem) "$BDBHELPER" create "$H" 0x7b610000 ;;
		empty) "$BDBHELPER" half "$H" ;;
		esac
		BEFORE=$(home_state "$H")
		expect_fail 1 "Berkeley DB environment|Berkeley DB creator" \
			"create in a Berkeley DB home ($kind) is refused, naming it" \
			"$RC" create -h "$H"
		expect_fail 1 "Berkeley DB environment|Berkeley DB creator" \
			"hold --create in a Berkeley DB home ($kind) is refused" \
			"$RC" hold -h "$H" --create --seconds 0
		expect_fail 1 "Berkeley DB environment|Berkeley DB creator" \
			"remove of a Berkeley DB home ($kind) is refused" \
			"$RC" remove -h "$H"
		check "the Berkeley DB home ($kind) is unchanged (no __db.lck)" \
			[ "$(home_state "$H")" = "$BEFORE" ]
	done
else
	echo "# bdbhelper not built: Berkeley DB homes not tested here"
fi

finish
