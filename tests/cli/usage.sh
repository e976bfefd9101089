#!/bin/bash
# usage.sh - regionctl's command line: help for every subcommand, and every
# kind of bad argument refused with a message naming it (exit 2), or a
# failure to open (exit 1) with the library's reason.
. "$(dirname "$0")/lib.sh" "$@"

expect_status 2 "no command is bad usage" "$RC"
expect_fail 2 'unknown command "frobnicate"' "unknown command" "$RC" frobnicate
expect_status 0 "top-level --help" "$RC" --help
check "top-level help lists every command" \
	bash -c '[ "$(printf "%s\n" "$1" | grep -cE "^  (create|stat|hold|remove|region|leaks) ")" -eq 6 ]' _ "$OUT"
expect_status 0 "--version" "$RC" --version
check "--version: one line, \"regionctl VERSION\"" \
	bash -c '[[ "$1" =~ ^regionctl\ [0-9]+\.[0-9]+\.[0-9]+$ ]]' _ "$OUT"
V=$OUT
expect_status 0 "-V" "$RC" -V
check "-V prints what --version prints" [ "$OUT" = "$V" ]
check "  ... and nothing on stderr" [ -z "$ERR" ]

for sub in create stat hold remove leaks; do
	expect_status 0 "$sub --help exits 0" "$RC" "$sub" --help
	check "$sub --help prints its usage" contains "$OUT" "^Usage: regionctl $sub"
	expect_fail 2 "unrecognized option '--bogus'" "$sub rejects an unknown flag" \
		"$RC" "$sub" --bogus
done

for sub in create remove; do
	expect_status 0 "region $sub --help exits 0" "$RC" region "$sub" --help
	check "region $sub --help prints its usage" contains "$OUT" "^Usage: regionctl region $sub"
	expect_fail 2 "^regionctl region $sub: unrecognized option '--bogus'" \
		"region $sub rejects an unknown flag, naming itself" \
		"$RC" region "$sub" --bogus
done
expect_status 0 "region --help exits 0" "$RC" region --help
check "region --help names both commands" \
	bash -c 'grep -q "^Usage: regionctl region create" <<<"$1" && grep -q "regionctl region remove" <<<"$1"' _ "$OUT"
expect_fail 2 'missing a command: create or remove' "region without a command" "$RC" region
expect_fail 2 'unknown command "grow"' "region with an unknown command" "$RC" region grow

H=$(mkhome)
expect_fail 2 'missing -h HOME' "create without a home" "$RC" create
expect_fail 2 'missing -h HOME' "stat without a home" "$RC" stat -e
expect_fail 2 'missing -h HOME' "hold without a home" "$RC" hold
expect_fail 2 'missing -h HOME' "remove without a home" "$RC" remove
expect_fail 2 'unexpected argument "extra"' "stray operand" "$RC" stat -e -h "$H" extra

for key in zz 0x 0x123456789 12abc -0x5 "" 99999999999; do
	expect_fail 2 "invalid --shm-key value \"$key\"" \
		"malformed key \"$key\" names flag and value" \
		"$RC" create -h "$H" --backing sysv --shm-key "$key"
done
for spec in a:mutex:12Q a:mutex: a:bogus:1M nocolon :mutex:1M a:mutex:-1 \
	a:mutex:1MB a:mutex:99999999999G; do
	expect_fail 2 "invalid --region value \"$spec\"" \
		"malformed region \"$spec\" names flag and value" \
		"$RC" create -h "$H" --region "$spec"
done
for mode in 9 abc 0x660 77777 ""; do
	expect_fail 2 "invalid --mode value \"$mode\"" "malformed mode \"$mode\"" \
		"$RC" create -h "$H" --mode "$mode"
done
expect_fail 2 'invalid --backing value "tape"' "unknown backing" \
	"$RC" create -h "$H" --backing tape
expect_fail 2 'invalid --seconds value "-1"' "negative seconds" \
	"$RC" hold -h "$H" --seconds -1
expect_fail 2 'invalid --alloc value "many"' "malformed alloc count" \
	"$RC" hold -h "$H" --alloc many
expect_fail 2 'missing -h HOME' "region create without a home" "$RC" region create a:user:64K
expect_fail 2 'missing NAME:TYPE:SIZE' "region create without a region" "$RC" region create -h "$H"
expect_fail 2 'missing NAME$' "region remove without a name" "$RC" region remove -h "$H"
expect_fail 2 'unexpected argument "b"' "region remove of two names" "$RC" region remove -h "$H" a b
for spec in a:user:12Q nocolon :user:1M a:bogus:1M; do
	expect_fail 2 "invalid NAME:TYPE:SIZE value \"$spec\"" \
		"region create refuses \"$spec\" before opening anything" \
		"$RC" region create -h "$H" "$spec"
done
check "nothing was created by the refused commands" \
	bash -c '[ -z "$(ls -A "$1")" ]' _ "$H"

expect_fail 2 'need --remove' "--dry-run needs --remove" "$RC" leaks --dry-run
expect_fail 2 'need --remove' "--force-foreign needs --remove" "$RC" leaks --force-foreign
expect_fail 2 'give their SHMIDs' "--force-foreign without SHMIDs" \
	"$RC" leaks --remove --force-foreign
expect_fail 2 'invalid SHMID value "abc"' "malformed SHMID" "$RC" leaks --remove abc
expect_fail 2 'unexpected argument "7"' "SHMID without --remove" "$RC" leaks 7
expect_fail 2 'exclude each other' "--json with --verbose" "$RC" leaks --json -v
expect_fail 2 'exclude each other' "--check with --json" "$RC" leaks --check --json
expect_fail 2 'drop --json, --verbose, --prometheus and --check' "--check with --remove" \
	"$RC" leaks --check --remove
for opt in "-o shmid" --raw --noheadings; do
	# shellcheck disable=SC2086 # OPT is an option and maybe its value
	expect_fail 2 'shape the table' "$opt with --json" "$RC" leaks $opt --json
	expect_fail 2 'shape the table' "$opt with --check" "$RC" leaks $opt --check
done
expect_fail 2 'always give bytes' "--bytes with --prometheus" "$RC" leaks --bytes --prometheus
expect_fail 2 '^regionctl leaks: unknown column "bogus" in --output "shmid,bogus"' \
	"an unknown column is bad usage, named" "$RC" leaks -o shmid,bogus
expect_fail 2 'unknown column ""' "an empty column name" "$RC" leaks --output shmid,,class
expect_fail 2 'unknown column "nope"' "an unknown column after +" "$RC" leaks -o +nope
expect_fail 2 'exclude each other' "stat --json with --prometheus" \
	"$RC" stat -h "$H" --json --prometheus

# Failures to open: exit 1 and the library's reason, in the agreed form.
expect_fail 1 "^regionctl: cannot open environment \"$TMPROOT/missing\": No such file or directory" \
	"stat of a missing home" "$RC" stat -e -h "$TMPROOT/missing"
expect_fail 1 "^regionctl: cannot open environment \"$H\": RGN_ENOTENV: home holds no environment" \
	"stat of a directory without an environment" "$RC" stat -e -h "$H"
touch "$TMPROOT/plainfile"
expect_fail 1 "^regionctl: cannot open environment \"$TMPROOT/plainfile\": Not a directory" \
	"stat of a plain file" "$RC" stat -e -h "$TMPROOT/plainfile"
echo "not an environment" >"$H/__db.001"
expect_fail 1 "^regionctl: cannot open environment \"$H\": RGN_EBADMAGIC: not a regionfs environment" \
	"stat of a home whose __db.001 is not ours" "$RC" stat -e -h "$H"
expect_fail 1 "^regionctl: cannot remove environment \"$TMPROOT/missing\"" \
	"remove of a missing home" "$RC" remove -h "$TMPROOT/missing"
check "the foreign __db.001 was left alone" test -s "$H/__db.001"
expect_fail 1 "^regionctl: cannot create environment \"$H\"" \
	"create over a foreign __db.001" "$RC" create -h "$H"

H2=$(mkhome)
expect_fail 1 "system memory backing needs a base key" \
	"sysv backing without a key" "$RC" create -h "$H2" --backing sysv
expect_fail 1 'cannot create region "tiny"' "a region below the minimum size" \
	"$RC" create -h "$H2" --region tiny:user:1K
check "a failed create leaves no environment behind" \
	bash -c '! ls "$1"/__db.0* >/dev/null 2>&1' _ "$H2"
expect_status 0 "create succeeds" "$RC" create -h "$H2"
expect_fail 1 "already holds an environment" "create refuses an existing environment" \
	"$RC" create -h "$H2"
expect_fail 1 "no region with id 99" "stat of a region that does not exist" \
	"$RC" stat -h "$H2" --region 99

finish
