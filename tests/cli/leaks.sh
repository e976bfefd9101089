#!/bin/bash
# leaks.sh - every leak class made for real, then safe removal and each of
# its refusals.
#
#   live            a holder attached (regionctl hold)
#   orphaned        a holder killed with -9; an environment whose home was
#                   deleted
#   foreign-idle    another program's segment whose creator exited
#   foreign-in-use  another program's segment, still attached
#   removing        another program's segment marked IPC_RMID while attached
. "$(dirname "$0")/lib.sh" "$@"

class_of() { leak_col "$1" 12; }

# ---- make one of each --------------------------------------------------------
HL=$(mkhome)
start_bg "$TMPROOT/live" "$RC" hold -h "$HL" --create --backing sysv --shm-key 0x5eed1000
LIVEPID=$BGPID
LIVE1=$(shmid_of_key 0x5eed1000)  # primary: the holder is attached
LIVE3=$(shmid_of_key 0x5eed1002)  # lock region: nobody attached

HK=$(mkhome)
start_bg "$TMPROOT/killed" "$RC" hold -h "$HK" --create --backing sysv --shm-key 0x5eed2000
stop_bg "$BGPID" KILL
KILLED1=$(shmid_of_key 0x5eed2000)
KILLED2=$(shmid_of_key 0x5eed2001)

HD=$(mkhome)
"$RC" create -h "$HD" --backing sysv --shm-key 0x5eed3000 --region only:user:64K
DELETED1=$(shmid_of_key 0x5eed3000)
DELETED2=$(shmid_of_key 0x5eed3001)
rm -rf "$HD"

FIDLE=$("$SHMHELPER" create 0x0f0f0001 100000)
start_bg "$TMPROOT/fuse" "$SHMHELPER" hold 0x0f0f0002 65536
FUSEPID=$BGPID
FUSE=$(cat "$TMPROOT/fuse")
start_bg "$TMPROOT/frm" "$SHMHELPER" hold-rmid 0x0f0f0003 65536
FRMPID=$BGPID
FRM=$(cat "$TMPROOT/frm")

for v in LIVE1 LIVE3 KILLED1 KILLED2 DELETED1 DELETED2 FIDLE FUSE FRM; do
	check "made segment $v (shmid ${!v})" [ -n "${!v}" ]
done

# ---- the scan ---------------------------------------------------------------------
expect_status 0 "leaks" "$RC" leaks
T=$OUT
check "table header like ipcs" contains "$T" '^SHMID +KEY +OWNER +PERMS +SIZE +NATTCH +CPID +LPID +ATTACHED +DETACHED +IDLE +CLASS +REGION +WHERE$'
check "live holder's primary is live" [ "$(class_of "$LIVE1")" = live ]
check "live holder's idle region is live" [ "$(class_of "$LIVE3")" = live ]
check "killed holder's segments are orphaned" \
	[ "$(class_of "$KILLED1")/$(class_of "$KILLED2")" = orphaned/orphaned ]
check "deleted home's segments are orphaned" \
	[ "$(class_of "$DELETED1")/$(class_of "$DELETED2")" = orphaned/orphaned ]
check "exited creator's segment is foreign-idle" [ "$(class_of "$FIDLE")" = foreign-idle ]
check "its dead creator is starred" \
	bash -c '[[ "$(awk -v id="$1" "\$1 == id { print \$7 }" <<<"$2")" == *"*" ]]' _ "$FIDLE" "$T"
check "attached foreign segment is foreign-in-use" [ "$(class_of "$FUSE")" = foreign-in-use ]
check "IPC_RMID'd attached segment is removing" [ "$(class_of "$FRM")" = removing ]
check "ours show their home" \
	[ "$(awk -v id="$KILLED1" '$1 == id { print $14 }' <<<"$T")" = "$HK" ]
check "columns are aligned" \
	bash -c '[ "$(sed "/^=-=/,\$d" <<<"$1" | awk "{ print index(\$0, \$12) }" | sort -u | wc -l)" -eq 1 ]' _ "$T"
check "summary: 8 orphaned (6 of the killed holder, 2 of the deleted home)" \
	contains "$T" $'^8\torphaned segments \\('
check "summary: kernel limits" contains "$T" $'^[0-9]+\tshmmni: most segments$'
check "summary: shm_rmid_forced" contains "$T" $'^[01]\tshm_rmid_forced'

expect_status 0 "leaks --json" "$RC" leaks --json
J=$OUT
jseg() { jq -r --argjson id "$1" ".segments[] | select(.shmid == \$id) | $2" <<<"$J"; }
check "json: valid, with counts" [ "$(jq '.counts.orphaned' <<<"$J")" -eq 8 ]
check "json: live count" [ "$(jq '.counts.live' <<<"$J")" -eq 6 ]
check "json: one foreign-idle, one in use, one removing" \
	[ "$(jq -r '[.counts["foreign-idle"], .counts["foreign-in-use"], .counts.removing] | @csv' <<<"$J")" = "1,1,1" ]
check "json: killed holder's evidence names the stale process" \
	bash -c '[[ "$1" == *"no live process (1 stale)"* ]]' _ "$(jseg "$KILLED1" .evidence)"
check "json: killed holder's home still matches" [ "$(jseg "$KILLED1" .home_matches)" = true ]
check "json: deleted home's evidence says so" \
	bash -c '[[ "$1" == "home no longer exists"* ]]' _ "$(jseg "$DELETED1" .evidence)"
check "json: deleted home does not match" [ "$(jseg "$DELETED1" .home_matches)" = false ]
check "json: region names from the headers" \
	[ "$(jseg "$DELETED2" .region_name)/$(jseg "$DELETED2" .region_id)" = only/2 ]
check "json: foreign creator dead" [ "$(jseg "$FIDLE" .cpid_alive)" = false ]
check "json: foreign in use, creator alive" \
	[ "$(jseg "$FUSE" .cpid_alive)/$(jseg "$FUSE" .nattch)" = true/1 ]
check "json: foreign segments are not ours" [ "$(jseg "$FIDLE" .ours)" = false ]
check "json: sizes in bytes" [ "$(jseg "$FIDLE" .size)" -eq 100000 ]
check "json: leaked bytes = orphans + dead-creator foreign" \
	[ "$(jq '.leaked_bytes' <<<"$J")" -eq "$(jq '[.segments[] | select(.class == "orphaned" or (.class == "foreign-idle" and .cpid_alive == false)) | .size] | add' <<<"$J")" ]
check "json: keys are snake_case" \
	bash -c '! jq -r "[paths | .[-1] | strings] | unique[]" <<<"$1" | grep -v -e "^foreign-" -e "^needs-recovery$" | grep -qvE "^[a-z][a-z0-9_]*$"' _ "$J"

expect_status 0 "leaks --shmctl agrees with /proc/sysvipc/shm" "$RC" leaks --shmctl --json
check "shmctl listing gives the same classes" \
	[ "$(jq -c '[.segments[] | [.shmid, .class]]' <<<"$OUT")" = "$(jq -c '[.segments[] | [.shmid, .class]]' <<<"$J")" ]

expect_status 0 "leaks --verbose" "$RC" leaks -v
check "verbose: one block per segment" \
	[ "$(grep -c '^shmid ' <<<"$OUT")" -eq "$(jq '.segments | length' <<<"$J")" ]
check "verbose: evidence lines" contains "$OUT" '^  evidence: home no longer exists'

expect_status 0 "leaks --prometheus" "$RC" leaks --prometheus
check "prometheus: orphaned gauge" contains "$OUT" '^regionfs_shm_segments\{class="orphaned"\} 8$'
check "prometheus: TYPE before samples" \
	bash -c '[ "$(grep -n "^# TYPE regionfs_shm_segments " <<<"$1" | cut -d: -f1)" -lt "$(grep -n "^regionfs_shm_segments{" <<<"$1" | head -1 | cut -d: -f1)" ]' _ "$OUT"

# ---- refusals --------------------------------------------------------------------
expect_status 1 "foreign-idle refused without --force-foreign" "$RC" leaks --remove "$FIDLE"
check "  ... and says why" contains "$OUT" "^skipped shmid $FIDLE: foreign: "
check "  ... and it is still there" seg_exists "$FIDLE"
expect_fail 2 "give their SHMIDs" "--force-foreign without SHMIDs is bad usage" \
	"$RC" leaks --remove --force-foreign
expect_status 1 "live segment refused" "$RC" leaks --remove "$LIVE3"
check "  ... as live" contains "$OUT" "^skipped shmid $LIVE3: live: in use: its environment has 1 live process"
expect_status 1 "attached live segment refused" "$RC" leaks --remove "$LIVE1"
check "  ... as attached" contains "$OUT" "^skipped shmid $LIVE1: attached: 1 process attached"
expect_status 1 "foreign in use refused even with --force-foreign" \
	"$RC" leaks --remove --force-foreign "$FUSE"
check "  ... as attached" contains "$OUT" "^skipped shmid $FUSE: attached"
check "  ... and it is still there" seg_exists "$FUSE"
expect_status 1 "removing segment refused" "$RC" leaks --remove "$FRM"
check "  ... as removing" contains "$OUT" "^skipped shmid $FRM: removing"
expect_status 1 "a segment that does not exist" "$RC" leaks --remove 987654
check "  ... is gone" contains "$OUT" '^skipped shmid 987654: gone'

# Another user may not remove root's orphan.
if setpriv --reuid=65534 --regid=65534 --clear-groups "$RC" --version >/dev/null 2>&1; then
	expect_status 1 "non-owner refused" setpriv --reuid=65534 --regid=65534 \
		--clear-groups "$RC" leaks --remove "$KILLED2"
	check "  ... as not-owner" contains "$OUT" "^skipped shmid $KILLED2: not-owner: uid 65534 neither owns nor created it"
	check "  ... and it is still there" seg_exists "$KILLED2"
	expect_status 0 "non-root can still scan" setpriv --reuid=65534 \
		--regid=65534 --clear-groups "$RC" leaks
	check "  ... and sees root's 0660 segments as unknown" \
		bash -c '[ "$(awk -v id="$1" "\$1 == id { print \$12 }" <<<"$2")" = unknown ]' _ "$KILLED2" "$OUT"
else
	echo "# skip: uid 65534 cannot run $RC (build directory not reachable)"
fi

# ---- removal --------------------------------------------------------------------
expect_status 0 "dry run" "$RC" leaks --remove --dry-run
check "dry run lists the 8 orphans" [ "$(grep -c '^would remove shmid ' <<<"$OUT")" -eq 8 ]
check "dry run removes nothing" seg_exists "$KILLED1"
check "dry run summary" contains "$OUT" '^8 removable, 0 skipped$'

expect_status 0 "remove with --force-foreign and an explicit SHMID" \
	"$RC" leaks --remove --force-foreign "$FIDLE"
check "  ... removed" contains "$OUT" "^removed shmid $FIDLE "
check "  ... gone from /proc/sysvipc/shm" bash -c '! seg_exists "$1"' _ "$FIDLE"

expect_status 0 "remove the orphans" "$RC" leaks --remove
check "8 removed" [ "$(grep -c '^removed shmid ' <<<"$OUT")" -eq 8 ]
for v in KILLED1 KILLED2 DELETED1 DELETED2; do
	check "$v gone" bash -c '! seg_exists "$1"' _ "${!v}"
done
for v in LIVE1 LIVE3 FUSE FRM; do
	check "$v kept" seg_exists "${!v}"
done
expect_status 0 "nothing left to remove" "$RC" leaks --remove
check "  ... says so" contains "$OUT" '^no orphaned segments$'

# When the holder leaves cleanly its environment is at rest: idle, not a
# leak, and the leak remover refuses it; regionctl remove is the way.
stop_bg "$LIVEPID" TERM
check "live holder exits 0" [ "$BGST" -eq 0 ]
check "a cleanly closed environment's segments are idle" [ "$(class_of "$LIVE3")" = idle ]
expect_status 0 "the leak remover finds nothing to remove" "$RC" leaks --remove
check "  ... says so" contains "$OUT" '^no orphaned segments$'
expect_status 1 "an idle segment named explicitly is refused" "$RC" leaks --remove "$LIVE3"
check "  ... as not a leak" contains "$OUT" 'not a leak'
check "  ... and kept" seg_exists "$LIVE3"
expect_status 0 "regionctl remove clears it" "$RC" remove -h "$HL"
check "  ... segments gone" bash -c '! seg_exists "$1" && ! seg_exists "$2"' _ "$LIVE1" "$LIVE3"

stop_bg "$FRMPID" TERM
check "a removing segment goes with its last process" bash -c '! seg_exists "$1"' _ "$FRM"

finish
