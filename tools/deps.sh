# tools/deps.sh - sourced by the demo and the test runner: install the Debian
# packages regionfs needs, when they are missing and we may (root with
# apt-get).  Otherwise say what is missing and stop.

# Build: meson, a C compiler, libfuse3, json-c, libsmartcols (the leaks
# table, as lsipc prints it).  Tests: cmocka, Berkeley DB 5.3 (the library
# and its utilities, to make and check real Berkeley DB homes), the
# Prometheus client's parsers, groff and man-db (man pages render without
# warnings), systemd (systemd-analyze verifies the units), clang and its
# runtime with libFuzzer (the fuzz targets), clang-format (CI checks the
# tree against .clang-format), and the tools the suites drive.
rgn_deps_pkgs="meson ninja-build pkg-config gcc libc6-dev libfuse3-dev fuse3
libcmocka-dev libjson-c-dev libsmartcols-dev libdb5.3-dev db5.3-util
python3-prometheus-client groff-base man-db systemd util-linux mount attr
python3 jq procps less clang libclang-rt-14-dev clang-format"

# Install the Debian packages named, those not installed yet.  Returns 1
# (saying what to run) when some are missing and we may not install them.
rgn_install_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "installing: ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "${missing[@]}" >/dev/null
	else
		echo "missing Debian packages: ${missing[*]}" >&2
		echo "install them (as root: apt-get install ${missing[*]})" >&2
		return 1
	fi
}

rgn_install_deps() {
	# shellcheck disable=SC2086 # a word list on purpose
	rgn_install_pkgs $rgn_deps_pkgs
}
