#!/usr/bin/env bash
# tests/bench/setup.sh - install the peers the benchmarks compare against,
# from Debian: Berkeley DB 5.3 (libdb5.3-dev) and Boost.Interprocess
# (header-only, in libboost-dev).  Installs only what is missing, and only
# as root with apt-get; otherwise says what is missing and exits 0, because
# each benchmark that lacks its peer is skipped rather than failed.
# Run it before `meson setup`, which looks for the peers once.
set -euo pipefail

pkgs="libdb5.3-dev libboost-dev g++"
missing=()
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "bench setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
	echo "bench setup: missing ${missing[*]}; as root: apt-get install" \
	     "${missing[*]} (the benchmarks against them are skipped)" >&2
fi
