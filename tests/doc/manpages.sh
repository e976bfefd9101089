#!/bin/bash
# manpages.sh - the manual pages against the programs they describe.
#
#   manpages.sh REGIONCTL REGIONFS RGN_H PAGE...
#
# REGIONCTL and REGIONFS are the built binaries (REGIONFS empty when FUSE
# is disabled), RGN_H the public header, PAGE the built pages.  It checks:
#  - every option that `regionfs --help`, `regionctl --help` and the help of
#    every regionctl command (and command of a command, such as `region
#    create`) lists appears in the page, and every command has a synopsis
#    line: the help is a subset of the page, never the other way round, so
#    a page may document an option before the program grows it;
#  - every identifier that rgn.h declares appears in libregion(3);
#  - each page renders without a single warning (groff -ww, for a terminal
#    and for PostScript), `MANWIDTH=80 man -l` shows it, and no line of it
#    is wider than 80 columns;
#  - option dashes in the sources are written \- (a bare - renders as a
#    hyphen in UTF-8, which a shell does not take as an option).
. "$(dirname "$0")/lib.sh"

REGIONCTL=${1:?usage: manpages.sh REGIONCTL REGIONFS RGN_H PAGE...}
REGIONFS=$2
RGN_H=${3:?usage: manpages.sh REGIONCTL REGIONFS RGN_H PAGE...}
shift 3
declare -A PAGE TEXT
for p in "$@"; do
	PAGE[$(basename "$p")]=$p
done

for tool in groff man perl; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool is not installed (groff-base, man-db, perl-base)"
		exit 77
	fi
done

# ---- every page renders cleanly ---------------------------------------

for name in "${!PAGE[@]}"; do
	src=${PAGE[$name]}
	TEXT[$name]=$(page_text "$src")
	for dev in utf8 ps; do
		warn=$(groff -man -ww -z -T"$dev" "$src" 2>&1)
		if [ -z "$warn" ]; then
			ok "$name renders for $dev without warnings"
		else
			not_ok "$name renders for $dev without warnings" "$warn"
		fi
	done

	out=$TMPROOT/$name.txt
	MANWIDTH=80 MANPAGER=cat man --warnings -l "$src" >"$out" \
		2>"$out.err"
	st=$?
	if [ "$st" -eq 0 ] && [ ! -s "$out.err" ] && [ -s "$out" ]; then
		ok "MANWIDTH=80 man -l $name shows it, silently"
	else
		not_ok "MANWIDTH=80 man -l $name shows it, silently" \
			"exit $st" "stderr: $(head -c 800 "$out.err")"
	fi
	width=$(wc -L <"$out")
	if [ "$width" -le 80 ]; then
		ok "$name fits 80 columns"
	else
		not_ok "$name fits 80 columns" "widest line: $width columns" \
			"$(awk 'length > 80' "$out" | head -3)"
	fi

	# A - that starts a word outside a comment: an option written with a
	# hyphen.  Words such as read-only have letters before theirs.
	bad=$(grep -nE '(^|[[:space:]("[|,]|\\f[BIRP])--?[A-Za-z]' "$src" |
		grep -v '^[0-9]*:\.\\"')
	if [ -z "$bad" ]; then
		ok "$name writes option dashes as \\-"
	else
		not_ok "$name writes option dashes as \\-" "$bad"
	fi
done

# ---- the options of a help text are in a page -------------------------

# Options a help text lists: --long, -x, and the NAME of -o NAME.
help_options() {
	grep -oE -- '(^|[^A-Za-z0-9_-])--?[A-Za-z][A-Za-z0-9-]*' <<<"$1" |
		sed -E 's/^[^-]*//' |
		awk 'substr($0, 2, 1) == "-" || length($0) == 2' | sort -u
}
help_o_names() {
	grep -oE -- '(^|[^A-Za-z0-9_-])-o[[:space:]]+[a-z_][a-z0-9_]*' <<<"$1" |
		sed -E 's/.*-o[[:space:]]+//' | sort -u
}

# check_help WHAT HELP PAGE-NAME: every option of HELP is in the page.
check_help() {
	local what=$1 help=$2 name=$3 text opt missing=()

	if [ -z "${PAGE[$name]:-}" ]; then
		not_ok "$what: its page $name was given" "pages: ${!PAGE[*]}"
		return
	fi
	text=${TEXT[$name]}
	for opt in $(help_options "$help"); do
		has_option "$text" "$opt" || missing+=("$opt")
	done
	for opt in $(help_o_names "$help"); do
		# -o takes a comma-separated list; its words are case-blind
		# for regionctl's columns, as for lsipc's.
		printf '%s\n' "$text" |
			grep -Eiq -- "(^|[^A-Za-z0-9_-])-o ([A-Za-z0-9_,]*,)?$opt([^A-Za-z0-9_]|\$)" ||
			missing+=("-o $opt")
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		ok "$what: every option it lists is in $name"
	else
		not_ok "$what: every option it lists is in $name" \
			"missing from $name: ${missing[*]}"
	fi
}

# run_help CMD...: its --help on stdout, which must exit 0.
run_help() {
	HELP=$("$@" --help 2>"$TMPROOT/help.err")
	HELPST=$?
}

if [ -n "$REGIONFS" ]; then
	run_help "$REGIONFS"
	if [ "$HELPST" -eq 0 ] && [ -n "$HELP" ]; then
		ok "regionfs --help exits 0"
		check_help "regionfs --help" "$HELP" regionfs.8
	else
		not_ok "regionfs --help exits 0" "exit $HELPST" \
			"stderr: $(head -c 800 "$TMPROOT/help.err")"
	fi
else
	note "regionfs is not built (-Dfuse=disabled): its help is not checked"
fi

# Commands a help text lists in a "Commands:" block (two-space indented
# names up to the next blank line), and those it shows after PREFIX in a
# usage line, such as "regionctl region create".
help_commands() {
	local help=$1 prefix=$2
	{
		awk '/^Commands:/ { on = 1; next }
		     on && /^$/ { on = 0 }
		     on && /^  [a-z]/ { print $1 }' <<<"$help"
		grep -oE -- "$prefix [a-z][a-z-]*" <<<"$help" |
			awk '{ print $NF }'
	} | sort -u
}

rc_text=${TEXT[regionctl.1]:-}
run_help "$REGIONCTL"
if [ "$HELPST" -eq 0 ] && [ -n "$HELP" ]; then
	ok "regionctl --help exits 0"
	check_help "regionctl --help" "$HELP" regionctl.1
else
	not_ok "regionctl --help exits 0" "exit $HELPST"
fi
commands=$(help_commands "$HELP" "regionctl")
if [ -n "$commands" ]; then
	ok "regionctl --help lists commands: $(echo $commands)"
else
	not_ok "regionctl --help lists commands" "help: ${HELP:0:800}"
fi
for cmd in $commands; do
	run_help "$REGIONCTL" "$cmd"
	if [ "$HELPST" -ne 0 ]; then
		not_ok "regionctl $cmd --help exits 0" "exit $HELPST" \
			"stderr: $(head -c 800 "$TMPROOT/help.err")"
		continue
	fi
	check_help "regionctl $cmd --help" "$HELP" regionctl.1
	subs=$(help_commands "$HELP" "regionctl $cmd")
	if [ -z "$subs" ]; then
		if has_option "$rc_text" "regionctl $cmd"; then
			ok "regionctl.1 has a synopsis of regionctl $cmd"
		else
			not_ok "regionctl.1 has a synopsis of regionctl $cmd"
		fi
		continue
	fi
	for sub in $subs; do
		run_help "$REGIONCTL" "$cmd" "$sub"
		if [ "$HELPST" -ne 0 ]; then
			# A word after "regionctl CMD" in prose that is no
			# command: nothing to document.
			note "regionctl $cmd $sub --help: exit $HELPST, not a command"
			continue
		fi
		check_help "regionctl $cmd $sub --help" "$HELP" regionctl.1
		if has_option "$rc_text" "regionctl $cmd $sub"; then
			ok "regionctl.1 has a synopsis of regionctl $cmd $sub"
		else
			not_ok "regionctl.1 has a synopsis of regionctl $cmd $sub"
		fi
	done
done

# ---- libregion(3) covers rgn.h ------------------------------------------

# Identifiers outside comments: functions, types, flags, limits, codes.
# RGN_H and RGN_API are the header's own plumbing.
idents=$(perl -0777 -pe 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g' "$RGN_H" |
	grep -oE '\b(rgn|RGN)_[A-Za-z0-9_]+' | sort -u |
	grep -vxE 'RGN_H|RGN_API')
lib_text=${TEXT[libregion.3]:-}
missing=()
for id in $idents; do
	has_option "$lib_text" "$id" || missing+=("$id")
done
if [ -n "$idents" ] && [ "${#missing[@]}" -eq 0 ]; then
	ok "libregion.3 names all $(wc -w <<<"$idents") identifiers of rgn.h"
else
	not_ok "libregion.3 names every identifier of rgn.h" \
		"missing: ${missing[*]:-(none found in $RGN_H)}"
fi

# Each RGN_E* code is explained under ERRORS: a tag of its name, then text.
errors=$(awk '/^\.SH / { on = ($2 == "ERRORS") } on' "${PAGE[libregion.3]}")
codes=$(grep -oE '\bRGN_E[A-Z]+[[:space:]]*=[[:space:]]*RGN_EBASE' "$RGN_H" |
	grep -oE '^RGN_E[A-Z]+')
[ -n "$codes" ] || not_ok "rgn.h defines RGN_E* codes from RGN_EBASE"
for code in $codes; do
	if grep -A1 -xF ".B $code" <<<"$errors" | sed -n 2p |
		grep -q '^[^.]'; then
		ok "libregion.3 explains $code under ERRORS"
	else
		not_ok "libregion.3 explains $code under ERRORS" \
			"expected a \".B $code\" tag followed by its meaning"
	fi
done

finish
