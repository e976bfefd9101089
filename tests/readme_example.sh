#!/usr/bin/env bash
# The C example in README.md is compiled against the built library and run,
# so the documentation cannot drift from the API.
# usage: readme_example.sh README.md SRC_DIR BUILD_DIR [SANITIZERS]
set -euo pipefail
readme=$1 src=$2 build=$3 san=${4:-none}
flags=()
# a sanitized library needs a sanitized program (the runtime comes first)
[ "$san" = none ] || flags+=("-fsanitize=$san")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk '/^```c$/ {on=1; next} /^```$/ {if (on) exit} on' "$readme" > "$work/example.c"
[ -s "$work/example.c" ] || { echo "no C example in $readme"; exit 1; }
cc -std=gnu11 -Wall -Wextra -Werror "${flags[@]}" -I"$src" "$work/example.c" \
	-L"$build/src" -lregion -Wl,-rpath,"$build/src" -o "$work/example"
mkdir "$work/home"
out=$("$work/example" "$work/home")
echo "$out"
[[ "$out" == "read back: hello from pid "* ]] || { echo "unexpected output"; exit 1; }
[ -z "$(ls -A "$work/home")" ] || { echo "example left files behind"; exit 1; }
