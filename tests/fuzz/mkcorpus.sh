#!/bin/sh
# mkcorpus.sh BUILD_DIR [CORPUS_DIR] - make the seed corpora of tests/fuzz
# again from real environments: regionctl's (files and System V), and
# Berkeley DB 5.3's from tests/bdb/bdbhelper, cut down by fuzz_mkseed.
# BUILD_DIR is a build configured with -Dfuzz=enabled.  Runs as root in
# an IPC namespace of its own (unshare -i), so its segments never meet
# the host's and go with it; its homes are removed at exit.
set -eu
build=$(cd "$1" && pwd)
corpus=${2:-$(cd "$(dirname "$0")" && pwd)/corpus}
if [ -z "${RGN_MKCORPUS_NS:-}" ]; then
	RGN_MKCORPUS_NS=1 exec unshare -i "$0" "$build" "$corpus"
fi
ctl=$build/tools/regionctl
seed=$build/tests/fuzz/fuzz_mkseed
bdb=$build/tests/bdb/bdbhelper
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mkcorpus.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for d in primary region leakhdr record bdb fspath; do mkdir -p "$corpus/$d"; done

# shmid of the segment at KEY (ipcs prints the key as 0x%08x).
shmid_of() {
	ipcs -m | awk -v k="$(printf '0x%08x' "$1")" '$1 == k { print $2 }'
}

# A files environment: regions with a few allocations, one untouched.
f=$tmp/files
mkdir "$f"
"$ctl" create -h "$f" --region user:user:64K --region log:log:128K >/dev/null
"$ctl" hold -h "$f" --alloc 7 --seconds 0 >/dev/null
"$seed" primary "$f/__db.001" "$f/__db.002" "$corpus/primary/files-env"
"$seed" region "$f/__db.002" "$corpus/region/user-64k-7-allocs"
"$seed" region "$f/__db.003" "$corpus/region/log-128k-unused"
"$seed" leakhdr "$f/__db.002" "$corpus/leakhdr/file-region"
"$seed" leakhdr "$f/__db.001" "$corpus/leakhdr/file-primary-at-home" @
"$ctl" remove -h "$f" >/dev/null

# A System V environment: its __db.001 record and its segments.
s=$tmp/sysv
key=0x5247f000 # FZ_RECORD_KEY of fuzz_record.c
mkdir "$s"
"$ctl" create -h "$s" --backing sysv --shm-key $key --region user:user:64K >/dev/null
"$ctl" hold -h "$s" --alloc 3 --seconds 0 >/dev/null
"$seed" record "$s/__db.001" "$corpus/record/sysv-record"
"$seed" leakhdr "shm:$(shmid_of $key)" "$corpus/leakhdr/sysv-primary-at-home" @
"$seed" leakhdr "shm:$(shmid_of $((key + 1)))" "$corpus/leakhdr/sysv-region"
"$seed" region "shm:$(shmid_of $((key + 1)))" "$corpus/region/sysv-user-64k-3-allocs"
"$ctl" remove -h "$s" >/dev/null

# Berkeley DB 5.3: a files REGENV, the 24-byte record of system memory
# mode and its primary segment, and the empty __db.001 of a dead creator.
if [ -x "$bdb" ]; then
	b=$tmp/bdb-files
	mkdir "$b"
	"$bdb" create "$b"
	"$seed" bdb "$b/__db.001" "$corpus/bdb/files-regenv"
	b=$tmp/bdb-sysv
	bkey=0x5247e000
	mkdir "$b"
	"$bdb" create "$b" $bkey
	cp "$b/__db.001" "$corpus/bdb/sysv-ref"
	cp "$b/__db.001" "$corpus/record/bdb-sysv-ref"
	"$seed" bdb "shm:$(shmid_of $bkey)" "$corpus/bdb/sysv-primary-segment"
	b=$tmp/bdb-half
	mkdir "$b"
	"$bdb" half "$b"
	cp "$b/__db.001" "$corpus/bdb/half-empty"
fi

# Names of the mount: the first byte picks the table (bit 0: private;
# the rest: how many regions), then the path.
i=0
for p in '\006__db.001' '\006regions/__db.002/stat.json' '\004regions/__db.0042/stat' \
	 '\002sysv/123/stat' '\002sysv/123/data' '\002sysv/leaked/7' \
	 '\001processes' '\000stat.json' '\012metrics' '\006regions/__db.1/stat'; do
	printf "$p" >"$corpus/fspath/name-$i"
	i=$((i + 1))
done
chmod -R u=rwX,go=rX "$corpus"
du -sh "$corpus"
