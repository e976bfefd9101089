#!/bin/bash
# region.sh - `regionctl region create|remove` on a live environment, held
# by `regionctl hold`, for both backings that outlive a process: the change
# shows in `stat`, the holder stays attached and unharmed, and every refusal
# is the library's code and detail, exit 1 (exit 2 for bad usage).
. "$(dirname "$0")/lib.sh" "$@"

# region_field HOME NAME JQ: a field of region NAME in `stat --json`, or "".
region_field() {
	"$RC" stat -h "$1" --json |
		jq -r --arg n "$2" ".regions[] | select(.name == \$n) | $3"
}

# ---- files backing ------------------------------------------------------------
H=$(mkhome)
start_bg "$TMPROOT/hold" "$RC" hold -h "$H" --create
HP=$BGPID

expect_status 0 "region create on a held environment" \
	"$RC" region create -h "$H" cache:user:1M
check "  ... prints nothing" [ -z "$OUT$ERR" ]
check "  ... shows in stat -e" contains "$("$RC" stat -e -h "$H")" $'^cache\tRegion name$'
check "  ... as a user region of 1MB" \
	[ "$(region_field "$H" cache '"\(.type) \(.size)"')" = "user 1048576" ]
check "  ... with its file" [ -f "$H/__db.$(printf '%03d' "$(region_field "$H" cache .id)")" ]
check "  ... while the holder stays the one live process" \
	[ "$("$RC" stat -h "$H" --json | jq .live)" -eq 1 ]
expect_status 0 "a 300K region" "$RC" region create -h "$H" small:mpool:300K
check "  ... rounded up to whole pages" [ "$(region_field "$H" small .size)" -eq 307200 ]

# Refusals: the library's reason and detail, nothing changed.
N=$("$RC" stat -h "$H" --json | jq '.regions | length')
expect_fail 1 "^regionctl: cannot create region \"cache\" in \"$H\": File exists: region \"cache\" exists" \
	"a duplicate name is refused" "$RC" region create -h "$H" cache:log:64K
check "  ... and the first one is unchanged" [ "$(region_field "$H" cache .type)" = user ]
expect_fail 2 'unknown type "bogus"' "a bad type is bad usage" \
	"$RC" region create -h "$H" other:bogus:64K
expect_fail 1 "^regionctl: cannot create region \"huge\" in \"$H\": Numerical result out of range" \
	"a region past the largest size (1T) is refused" \
	"$RC" region create -h "$H" huge:user:2048G
expect_fail 1 "^regionctl: cannot create region \"tiny\" in \"$H\": Numerical result out of range" \
	"a region below the smallest size (64K) is refused" \
	"$RC" region create -h "$H" tiny:user:1K
expect_fail 1 "^regionctl: cannot create region \"prim\" in \"$H\": Invalid argument: region type 1 cannot be created" \
	"a second primary (type env) is refused" "$RC" region create -h "$H" prim:env:64K
expect_fail 1 "^regionctl: cannot create region \"a/b\" in \"$H\": Invalid argument: region name \"a/b\" has '/'" \
	"a name with a slash is refused" "$RC" region create -h "$H" a/b:user:64K
check "the refusals added no region" \
	[ "$("$RC" stat -h "$H" --json | jq '.regions | length')" -eq "$N" ]

expect_fail 1 "^regionctl: cannot remove region \"nope\" from \"$H\": No such file or directory: no region \"nope\"" \
	"removing a region that does not exist is refused" "$RC" region remove -h "$H" nope
expect_fail 1 "^regionctl: cannot remove region \"env\" from \"$H\": No such file or directory" \
	"the primary cannot be removed" "$RC" region remove -h "$H" env

ID=$(region_field "$H" cache .id)
expect_status 0 "region remove on a held environment" "$RC" region remove -h "$H" cache
check "  ... gone from stat" [ -z "$(region_field "$H" cache .id)" ]
check "  ... and its file with it" [ ! -e "$H/__db.$(printf '%03d' "$ID")" ]
expect_fail 1 "no region \"cache\"" "removing it twice is refused" \
	"$RC" region remove -h "$H" cache
expect_status 0 "the name can be used again" "$RC" region create -h "$H" cache:txn:64K
check "  ... with the new type" [ "$(region_field "$H" cache .type)" = txn ]

check "the holder is still alive" kill -0 "$HP"
check "  ... and registered live" [ "$("$RC" stat -h "$H" --json | jq .live)" -eq 1 ]
stop_bg "$HP" TERM
check "  ... and leaves cleanly (exit 0)" [ "$BGST" -eq 0 ]

# Joining, never creating: a home without an environment stays empty.
E=$(mkhome)
expect_fail 1 "^regionctl: cannot open environment \"$E\": RGN_ENOTENV: home holds no environment" \
	"region create in a home without an environment" "$RC" region create -h "$E" a:user:64K
check "  ... creates nothing there" bash -c '[ -z "$(ls -A "$1")" ]' _ "$E"
expect_fail 1 "^regionctl: cannot open environment \"$TMPROOT/missing\"" \
	"region remove in a missing home" "$RC" region remove -h "$TMPROOT/missing" a

# ---- System V backing: the segment appears and goes ------------------------------
HS=$(mkhome)
KEY=0x5eed4000
start_bg "$TMPROOT/holds" "$RC" hold -h "$HS" --create --backing sysv --shm-key $KEY
HSP=$BGPID
expect_status 0 "region create on a held sysv environment" \
	"$RC" region create -h "$HS" extra:user:128K
ID=$(region_field "$HS" extra .id)
SHMID=$(region_field "$HS" extra .shmid)
check "  ... is a segment at base key + id - 1" \
	[ "$(shmid_of_key $((KEY + ID - 1)))" = "$SHMID" ]
check "  ... of 128K" \
	[ "$(awk -v id="$SHMID" 'NR > 1 && $2 == id { print $4 }' /proc/sysvipc/shm)" -eq 131072 ]
check "  ... that the leak scanner calls live" [ "$(leak_col "$SHMID" 12)" = live ]
expect_status 0 "region remove on a held sysv environment" \
	"$RC" region remove -h "$HS" extra
check "  ... removes its segment" bash -c '! seg_exists "$1"' _ "$SHMID"
stop_bg "$HSP" TERM
check "the sysv holder leaves cleanly" [ "$BGST" -eq 0 ]
expect_status 0 "and the environment is removed whole" "$RC" remove -h "$HS"
check "  ... with no segment left" [ "$(awk 'NR > 1' /proc/sysvipc/shm | wc -l)" -eq 0 ]

finish
