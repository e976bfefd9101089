#!/usr/bin/env bash
# tests/bench/setup.sh - install the peers the benchmarks compare against,
# from Debian: Berkeley DB 5.3 (libdb5.3-dev) and Boost.Interprocess
# (header-only, in libboost-dev, compiled with g++).  Installs only what is
# missing, and only as root with apt-get; otherwise says what is missing
# and exits 0, because each benchmark that lacks its peer is skipped rather
# than failed.  Run it before `meson setup`, which looks for the peers once.
set -euo pipefail

. "$(cd "$(dirname "$0")/../.." && pwd)/tools/deps.sh"
rgn_install_pkgs libdb5.3-dev libboost-dev g++ ||
	echo "bench setup: the benchmarks against missing peers are skipped" >&2
exit 0
