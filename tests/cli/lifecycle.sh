#!/bin/bash
# lifecycle.sh - create, stat, hold and remove for real, with files, System V
# and private backings; stat's figures are cross-checked against the files
# in the home and against /proc/sysvipc/shm.
. "$(dirname "$0")/lib.sh" "$@"

SEP='=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-='

# ---- files backing, typical set ---------------------------------------------
H=$(mkhome)
expect_status 0 "create (files, typical set)" "$RC" create -h "$H"
check "typical set: __db.001 .. __db.006 exist" \
	bash -c 'for i in 1 2 3 4 5 6; do [ -f "$1/__db.00$i" ] || exit 1; done' _ "$H"

expect_status 0 "stat -e" "$RC" stat -e -h "$H"
S=$OUT
check "first line is the local time" contains "$(head -1 <<<"$S")" $'^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} [0-9]{4}\tLocal time$'
check "every line is VALUE<TAB>LABEL or the separator" \
	bash -c '! grep -vP "^[^\t]+\t[^\t]+$" <<<"$1" | grep -vxF -- "$2" | grep -q .' _ "$S" "$SEP"
check "separator is 49 characters" [ ${#SEP} -eq 49 ]
check "7 separators: 6 regions and the processes" \
	[ "$(grep -cxF -- "$SEP" <<<"$S")" -eq 7 ]
check "6 regions counted" contains "$S" $'^6\tRegions$'
check "backing files" contains "$S" $'^files\tBacking$'
check "nobody attached (stat does not count itself)" \
	contains "$S" $'^0\tLive attached processes$'
check "no processes registered" contains "$S" $'^0\tRegistered processes \\(0 live, 0 stale\\)$'
check "env mutex in db_stat style" \
	contains "$S" $'^[0-9]+\tEnvironment mutex \\[[0-9]+/[0-9]+ [0-9]+% !Own\\]$'
check "mutex region is 256KB" \
	bash -c 'grep -A4 -P "^mutex\tRegion name$" <<<"$1" | grep -qP "^256KB\tCurrent region size$"' _ "$S"
check "log region is 1MB" \
	bash -c 'grep -A4 -P "^log\tRegion name$" <<<"$1" | grep -qP "^1MB\tCurrent region size$"' _ "$S"

# The file sizes in the home agree with the sizes stat reports.
expect_status 0 "stat --json" "$RC" stat -e -h "$H" --json
J=$OUT
check "stat --json is valid JSON" bash -c 'jq -e . >/dev/null <<<"$1"' _ "$J"
for id in 2 3 4 5 6; do
	f=$(printf '%s/__db.%03d' "$H" "$id")
	want=$(jq -r ".regions[] | select(.id == $id) | .size" <<<"$J")
	have=$(stat -c %s "$f")
	# A file holds the region, rounded to whole pages at most.
	check "__db.00$id is $want bytes as stat says (file: $have)" \
		[ "$have" -ge "$want" -a "$have" -le $((want + 4096)) ]
done
check "JSON numbers are numbers" \
	bash -c '[ "$(jq -r ".regions[1].size | type" <<<"$1")" = number ]' _ "$J"
check "JSON env_id agrees with the text" \
	contains "$S" "^$(jq -r .env_id_hex <<<"$J")"$'\tEnvironment ID$'
check "JSON and text agree on the region count" \
	[ "$(jq '.regions | length' <<<"$J")" -eq 6 ]

expect_status 0 "stat --region 2" "$RC" stat -h "$H" --region 2
check "one region alone: no separator, starts with its id" \
	bash -c '[ "$(head -1 <<<"$1")" = "$(printf "2\tRegion ID")" ] && ! grep -qxF -- "$2" <<<"$1"' _ "$OUT" "$SEP"
expect_status 0 "stat --region 2 --json" "$RC" stat -h "$H" --region 2 --json
check "region JSON names the region" bash -c '[ "$(jq -r .name <<<"$1")" = mutex ]' _ "$OUT"
expect_status 0 "stat --prometheus" "$RC" stat -h "$H" --prometheus
P=$OUT
check "prometheus: HELP and TYPE for env_live_processes" \
	bash -c 'grep -qx "# TYPE regionfs_env_live_processes gauge" <<<"$1" && grep -q "^# HELP regionfs_env_live_processes " <<<"$1"' _ "$P"
check "prometheus: a region sample with escaped labels" \
	contains "$P" "^regionfs_region_size_bytes\\{home=\"$H\",region=\"log\",id=\"4\",type=\"log\"\\} 1048576$"
check "prometheus: every sample line is NAME{...} VALUE" \
	bash -c '! grep -v "^#" <<<"$1" | grep -vE "^regionfs_[a-z_]+(\{[^}]*\})? [0-9]+$" | grep -q .' _ "$P"

# ---- hold: a live attacher, allocations, clean exit on SIGTERM ---------------
start_bg "$TMPROOT/hold1" "$RC" hold -h "$H" --alloc 3
HP=$BGPID
check "hold prints its pid" [ "$(head -1 "$TMPROOT/hold1")" = "$HP" ]
expect_status 0 "stat while held" "$RC" stat -e -h "$H"
check "one live process while held" contains "$OUT" $'^1\tLive attached processes$'
check "the holder is listed as live" contains "$OUT" "^$HP"$'\tlive process, started '
check "3 live blocks in the first region" \
	bash -c 'grep -A30 -P "^mutex\tRegion name$" <<<"$1" | grep -qP "^3\tLive blocks$"' _ "$OUT"
check "3 allocations counted" \
	bash -c 'grep -A30 -P "^mutex\tRegion name$" <<<"$1" | grep -qP "^3\tAllocations$"' _ "$OUT"
check "their sizes in the histogram" \
	bash -c 'grep -A30 -P "^mutex\tRegion name$" <<<"$1" | grep -qP "^3\tLive blocks of size \[64B, 128B\)$"' _ "$OUT"
expect_status 0 "stat --processes" "$RC" stat -h "$H" --processes
check "processes: count line then the holder" \
	bash -c '[ "$(sed -n 2p <<<"$1" | cut -f1)" = "$2" ]' _ "$OUT" "$HP"
expect_fail 1 "^regionctl: cannot remove environment \"$H\": Device or resource busy" \
	"remove refuses while a process is attached" "$RC" remove -h "$H"
stop_bg "$HP" TERM
check "SIGTERM ends hold with exit 0" [ "$BGST" -eq 0 ]
expect_status 0 "stat after the holder left" "$RC" stat -e -h "$H"
check "clean close: no live and no stale entries" \
	bash -c 'grep -qP "^0\tLive attached processes$" <<<"$1" && grep -qP "^0\tStale registry entries$" <<<"$1"' _ "$OUT"
check "allocations outlive the holder" \
	bash -c 'grep -A30 -P "^mutex\tRegion name$" <<<"$1" | grep -qP "^3\tLive blocks$"' _ "$OUT"

start_bg "$TMPROOT/hold2" "$RC" hold -h "$H" --seconds 1
HP=$BGPID
wait "$HP"
check "hold --seconds 1 ends by itself with exit 0" [ $? -eq 0 ]

# --seconds 0 means no time at all (it used to mean "forever"); timeout
# turns a regression into a failure instead of a hang.
expect_status 0 "hold --seconds 0 returns at once with exit 0" \
	timeout 10 "$RC" hold -h "$H" --seconds 0
check "  ... after printing its pid" bash -c '[[ "$1" =~ ^[0-9]+$ ]]' _ "$OUT"
expect_status 0 "stat after hold --seconds 0" "$RC" stat -e -h "$H"
check "  ... which detached cleanly: no live and no stale entries" \
	bash -c 'grep -qP "^0\tLive attached processes$" <<<"$1" && grep -qP "^0\tStale registry entries$" <<<"$1"' _ "$OUT"
expect_status 0 "hold --help says what no --seconds means" "$RC" hold --help
check "  ... (until a signal) and what 0 means" \
	bash -c 'grep -q "0 detaches" <<<"$1" && grep -q "default: until SIGTERM" <<<"$1"' _ "$OUT"

# kill -9: the entry stays, as stale, and does not count as live.
start_bg "$TMPROOT/hold3" "$RC" hold -h "$H"
HP=$BGPID
stop_bg "$HP" KILL
expect_status 0 "stat after kill -9 of the holder" "$RC" stat -e -h "$H"
check "killed holder: 0 live, 1 stale" \
	bash -c 'grep -qP "^0\tLive attached processes$" <<<"$1" && grep -qP "^1\tStale registry entries$" <<<"$1"' _ "$OUT"
check "killed holder listed as stale" contains "$OUT" "^$HP"$'\tstale process'
expect_status 0 "remove succeeds: dead processes do not count" "$RC" remove -h "$H"
check "remove took every __db file" bash -c '! ls "$1"/__db.* >/dev/null 2>&1' _ "$H"

# ---- System V backing ---------------------------------------------------------
H=$(mkhome)
KEY=0x5eed0100
expect_status 0 "create (sysv, two regions)" "$RC" create -h "$H" --backing sysv \
	--shm-key $KEY --mode 0640 --region cache:mpool:2M --region locks:lock:300K
expect_status 0 "stat sysv --json" "$RC" stat -h "$H" --json
J=$OUT
check "sysv: 3 regions" [ "$(jq '.regions | length' <<<"$J")" -eq 3 ]
check "sysv: __db.001 is only a small record" [ "$(stat -c %s "$H/__db.001")" -lt 4096 ]
for id in 1 2 3; do
	key=$(printf '%d' $((KEY + id - 1)))
	line=$(awk -v k="$key" 'NR > 1 && $1 == k' /proc/sysvipc/shm)
	check "region $id: a segment at key base+$((id - 1))" [ -n "$line" ]
	read -r _ pshmid pperms psize _ <<<"$line"
	check "region $id: shmid as /proc/sysvipc/shm says" \
		[ "$(jq ".regions[] | select(.id == $id) | .shmid" <<<"$J")" = "$pshmid" ]
	check "region $id: size as /proc/sysvipc/shm says" \
		[ "$(jq ".regions[] | select(.id == $id) | .size" <<<"$J")" = "$psize" ]
	check "region $id: mode 0640 as asked" [ "$((8#$pperms & 0777))" -eq $((0640)) ]
done
check "300K rounds up to whole pages" \
	[ "$(jq '.regions[] | select(.name == "locks") | .size' <<<"$J")" -eq 307200 ]
expect_status 0 "stat sysv text" "$RC" stat -h "$H"
check "sysv: base key in hex" contains "$OUT" $'^0x5eed0100\tBase System V key$'
check "sysv: 2MB region" contains "$OUT" $'^2MB\tCurrent region size$'
check "sysv: 300KB region" contains "$OUT" $'^300KB\tMaximum region size$'
expect_status 0 "remove sysv" "$RC" remove -h "$H"
check "remove took every segment" \
	[ "$(awk 'NR > 1' /proc/sysvipc/shm | wc -l)" -eq 0 ]

# hold --create makes the typical set when the environment is new.
H=$(mkhome)
start_bg "$TMPROOT/hold4" "$RC" hold -h "$H" --create --backing sysv \
	--shm-key 0x5eed0200 --alloc 2
HP=$BGPID
expect_status 0 "stat of a held sysv environment" "$RC" stat -h "$H" --json
check "hold --create made the typical set" [ "$(jq '.regions | length' <<<"$OUT")" -eq 6 ]
check "hold --create: 1 live" [ "$(jq .live <<<"$OUT")" -eq 1 ]
check "hold --alloc 2: two live blocks in region 2" \
	[ "$(jq '.regions[] | select(.id == 2) | .alloc.live_blocks' <<<"$OUT")" -eq 2 ]
expect_status 0 "remove --force while held" "$RC" remove -h "$H" --force
check "forced remove: what the holder still maps is only marked for removal" \
	bash -c '! awk "NR > 1" /proc/sysvipc/shm | while read -r k id perms rest; do
		[ $((8#$perms & 01000)) -ne 0 ] || echo "$id not SHM_DEST"; done | grep -q .'
expect_status 0 "leaks after the forced remove" "$RC" leaks --json
check "  ... shows them as removing" \
	[ "$(jq '.counts.removing == (.segments | length) and (.segments | length) > 0' <<<"$OUT")" = true ]
check "forced remove took the files" \
	bash -c '! ls "$1"/__db.* >/dev/null 2>&1' _ "$H"
stop_bg "$HP" TERM
check "the segments go with the holder" \
	[ "$(awk 'NR > 1' /proc/sysvipc/shm | wc -l)" -eq 0 ]

# ---- private: visible from outside only as "private, owned by PID" ----------
H=$(mkhome)
start_bg "$TMPROOT/hold5" "$RC" hold -h "$H" --create --backing private
HP=$BGPID
expect_status 0 "stat of a private environment from outside" "$RC" stat -e -h "$H"
check "private: says so" contains "$OUT" $'^private\tBacking$'
check "private: names the owner" contains "$OUT" "^$HP"$'\tPrivate environment owner process ID$'
check "private: cannot be read from outside" contains "$OUT" 'cannot be read from outside'
expect_status 0 "stat --json of a private environment" "$RC" stat -e -h "$H" --json
check "private JSON: private true, owner pid" \
	bash -c '[ "$(jq -r "[.private, .private_owner] | @tsv" <<<"$1")" = "$(printf "true\t%s" "$2")" ]' _ "$OUT" "$HP"
check "private makes no segments" [ "$(awk 'NR > 1' /proc/sysvipc/shm | wc -l)" -eq 0 ]
expect_fail 1 "private environment" "create refuses a home a private owner holds" \
	"$RC" create -h "$H" --backing private
H2=$(mkhome)
expect_status 0 "create --backing private makes and releases one" "$RC" create -h "$H2" --backing private
check "  ... and says it was released" contains "$OUT" 'released as regionctl exits'
check "  ... leaving the home empty" [ -z "$(ls -A "$H2")" ]
expect_fail 1 "private environment" "remove refuses a private environment in use" \
	"$RC" remove -h "$H"
stop_bg "$HP" TERM
check "private holder exits 0 on SIGTERM" [ "$BGST" -eq 0 ]
expect_fail 1 "home holds no environment" "a private environment dies with its process" \
	"$RC" stat -h "$H"

finish
