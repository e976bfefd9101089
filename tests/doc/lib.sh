# lib.sh - shared by the documentation tests; sourced, never run.
#
# TAP-like output ("ok N - ...", "not ok N - ..." with indented details),
# ending "N passed, M failed"; the exit status is 0 only when nothing
# failed.  Every script gets a private temporary directory, removed by the
# EXIT trap even when a check fails or the script is interrupted.

set -u

TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/rgn-doc-XXXXXX")
PASSED=0
FAILED=0

trap 'rm -rf "$TMPROOT"' EXIT
trap 'exit 130' INT TERM

ok() {
	PASSED=$((PASSED + 1))
	echo "ok $((PASSED + FAILED)) - $1"
}

not_ok() {
	FAILED=$((FAILED + 1))
	echo "not ok $((PASSED + FAILED)) - $1"
	shift
	local line
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/#   /'
	done
}

note() {
	echo "# $*"
}

# A page as plain text on one line: rendered for a terminal without
# hyphenation or bold/underline overstrikes, every run of white space made
# one space.  Line breaks fall only at spaces, so joining the lines gives
# back every word and option whole, wherever the renderer broke them.
page_text() {
	groff -man -Tascii -rHY=0 -rLL=200n -P-c -P-b -P-o -P-u "$1" 2>/dev/null |
		tr -s '[:space:]' ' '
}

# has_option TEXT OPT: TEXT holds OPT as a whole word: not inside a longer
# option (-f is not found in -fo or --foo) and not inside a word.
has_option() {
	printf '%s\n' "$1" |
		grep -Eq -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|\$)"
}

finish() {
	echo "1..$((PASSED + FAILED))"
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}
