#!/bin/bash
# install.sh - `meson install` puts the pages and units where Debian looks.
#
#   install.sh MESON BUILDDIR PREFIX MANDIR BINDIR UNITDIR PAGE... -- UNIT...
#
# Installs the build into a temporary DESTDIR (never into the system) and
# checks that each page is under PREFIX/MANDIR/manN, on man-db's global
# search path, and shown by `man -l`; and that each unit is in UNITDIR, on
# systemd's unit search path, with every program it runs installed too.
# UNITDIR "no" means the units are not installed, and that is checked.
. "$(dirname "$0")/lib.sh"

MESON=${1:?usage: install.sh MESON BUILDDIR PREFIX MANDIR BINDIR UNITDIR PAGE... -- UNIT...}
BUILD=$2
PREFIX=$3
MANDIR=$4
BINDIR=$5
UNITDIR=$6
shift 6
pages=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	pages+=("$(basename "$1")")
	shift
done
[ $# -gt 0 ] && shift
units=()
for u in "$@"; do
	units+=("$(basename "$u")")
done

# Relative install dirs are relative to the prefix, as Meson takes them.
case $MANDIR in /*) ;; *) MANDIR=$PREFIX/$MANDIR ;; esac
case $BINDIR in /*) ;; *) BINDIR=$PREFIX/$BINDIR ;; esac

DEST=$TMPROOT/dest
if "$MESON" install -C "$BUILD" --no-rebuild --quiet --destdir "$DEST" \
	>"$TMPROOT/install.log" 2>&1; then
	ok "meson install --destdir succeeds"
else
	not_ok "meson install --destdir succeeds" "$(tail -20 "$TMPROOT/install.log")"
	finish
fi

on_manpath=0
if command -v manpath >/dev/null &&
	tr ':' '\n' <<<"$(manpath -g 2>/dev/null)" | grep -qxF "$MANDIR"; then
	on_manpath=1
fi
for page in "${pages[@]}"; do
	f=$DEST$MANDIR/man${page##*.}/$page
	if [ -f "$f" ]; then
		ok "$page is installed as $MANDIR/man${page##*.}/$page"
	else
		not_ok "$page is installed as $MANDIR/man${page##*.}/$page" \
			"$(cd "$DEST" && find . -name "$page*")"
		continue
	fi
	if MANWIDTH=80 MANPAGER=cat man -l "$f" 2>&1 | grep -q "^NAME"; then
		ok "man -l shows the installed $page"
	else
		not_ok "man -l shows the installed $page"
	fi
done
if [ "$on_manpath" = 1 ]; then
	ok "$MANDIR is on man-db's search path (manpath -g)"
else
	note "$MANDIR is not on man-db's global search path here: MANPATH needed"
fi

if [ "$UNITDIR" = no ]; then
	if [ -z "$(cd "$DEST" && find . -name '*.service' -o -name '*.timer')" ]; then
		ok "-Dsystemdunitdir=no installs no unit"
	else
		not_ok "-Dsystemdunitdir=no installs no unit"
	fi
	finish
fi

unit_path=""
if command -v systemd-analyze >/dev/null; then
	unit_path=$(systemd-analyze unit-paths 2>/dev/null)
fi
for unit in "${units[@]}"; do
	f=$DEST$UNITDIR/$unit
	if [ ! -f "$f" ]; then
		not_ok "$unit is installed in $UNITDIR" \
			"$(cd "$DEST" && find . -name "$unit")"
		continue
	fi
	ok "$unit is installed in $UNITDIR"
	# Every program of ours that it runs is installed where it says.
	for prog in $(grep -oE "$BINDIR/[a-z0-9-]+" "$f" | sort -u); do
		if [ -x "$DEST$prog" ]; then
			ok "$unit runs $prog, which is installed"
		else
			not_ok "$unit runs $prog, which is installed"
		fi
	done
done
if [ -z "$unit_path" ]; then
	note "systemd-analyze is not installed: the unit search path is not checked"
elif grep -qxF "$UNITDIR" <<<"$unit_path"; then
	ok "$UNITDIR is on systemd's unit search path"
else
	not_ok "$UNITDIR is on systemd's unit search path" "$unit_path"
fi

finish
