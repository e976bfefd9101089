#!/usr/bin/env bash
# tests/bench/run.sh - run the benchmark programs and merge their rows into
# one table (stdout) and one JSON document.
#
#   run.sh [--quick] [--json FILE] [--only TEXT] [--runs N]
#          [--regionctl PATH] [--regionfs PATH] [--mkenv PATH]
#          [--skip 'PROGRAM: why']... PROGRAM...
#
# Options may come after the programs too (meson's --test-args appends
# them there).  --skip records a program that was not built, and why.
#
# Meson runs it as `meson test -C build --suite bench` and as the run
# targets `bench` and `bench-quick`, passing every built benchmark.
#
# A PROGRAM is anything executable that accepts the common options
# (--quick, --runs N, --json FILE, --only TEXT; bench_leaks also takes
# --regionctl, bench_fuse.py --regionfs and --mkenv) and appends one JSON object per row to the --json file:
#   {"program", "group", "measure", "unit", "fs" (the filesystem of the
#    measure's homes, from statfs: "ext4", "tmpfs", ... or "-"),
#    "higher_is_better", "quick",
#    "runs", "regionfs": {"median", "runs": [...]}, "peer_name",
#    "peer": {"median", "runs"} | null, "ratio" (median of the per-pair
#    ratios regionfs/peer) | null, "pair_ratios", "target": {"op",
#    "value", "on": "ratio" | "value"} | null, "met": true | false | null, "status": "ok" |
#    "skipped: ..." | "peer skipped: ..." | "error: ...", "note"}
# or, for a growth series, {"program", "group", "measure", "unit",
#    "growth": {"over", "sizes", "medians", "exponent", "shape"}}.
# The C programs do this through bench.c; a shell benchmark (the FUSE
# measures, say) can print the same lines with printf.
#
# Exit status: 0 whether targets are met or not; 1 when a program crashed
# or reported an error.  Homes on disk go under a temporary directory that
# is removed on exit, whatever happens; the programs' System V segments
# and tmpfs files die with their private namespaces.
set -euo pipefail

quick=0 json="" only="" runs="" regionctl="" regionfs="" mkenv=""
progs=() skips=()
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--json) json=$2; shift ;;
	--only) only=$2; shift ;;
	--runs) runs=$2; shift ;;
	--regionctl) regionctl=$2; shift ;;
	--regionfs) regionfs=$2; shift ;;
	--mkenv) mkenv=$2; shift ;;
	--skip) skips+=("$2"); shift ;;
	--) ;;
	-h|--help) sed -n '2,30p' "$0"; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) progs+=("$1") ;;
	esac
	shift
done
[ -n "${RGN_BENCH_QUICK:-}" ] && [ "${RGN_BENCH_QUICK}" != 0 ] && quick=1
# Meson passes paths relative to the build directory: make them absolute.
abs() { [ -z "$1" ] || realpath -e -- "$1" 2>/dev/null || echo "$1"; }
regionctl=$(abs "$regionctl")
regionfs=$(abs "$regionfs")
mkenv=$(abs "$mkenv")
for i in "${!progs[@]}"; do
	progs[$i]=$(abs "${progs[$i]}")
done
if [ ${#progs[@]} -eq 0 ]; then
	echo "run.sh: no benchmark programs given" >&2
	exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rgn-bench-run.XXXXXX")
children=()
cleanup() {
	local pid i
	# TERM first: the programs clean up (unmount, stop daemons) on it.
	for pid in "${children[@]}"; do
		kill -TERM "$pid" 2>/dev/null || continue
		for i in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
# Homes on disk go here, so a killed program leaves nothing behind.
export TMPDIR="$work"
# meson test sets it for every test; it would make malloc fill each block.
unset MALLOC_PERTURB_
rows="$work/rows.jsonl"
: >"$rows"
for s in "${skips[@]}"; do
	python3 -c 'import json, sys
prog, _, why = sys.argv[1].partition(": ")
print(json.dumps({"program": prog, "group": prog, "measure": prog + " (not built)",
                  "unit": "-", "regionfs": {"median": None}, "peer_name": None,
                  "peer": None, "ratio": None, "target": None, "met": None,
                  "status": "skipped: " + why}))' "$s" >>"$rows"
done
[ -n "$json" ] || json="$PWD/bench.json"

args=(--json "$rows")
[ "$quick" = 1 ] && args+=(--quick)
[ -n "$only" ] && args+=(--only "$only")
[ -n "$runs" ] && args+=(--runs "$runs")

start=$(date +%s)
status=0
statuses="$work/statuses"
: >"$statuses"
for p in "${progs[@]}"; do
	name=$(basename "$p")
	extra=()
	case "$name" in
	bench_leaks)
		[ -n "$regionctl" ] && [ -x "$regionctl" ] &&
			extra=(--regionctl "$regionctl") ;;
	bench_fuse*)
		[ -n "$regionfs" ] && extra+=(--regionfs "$regionfs")
		[ -n "$mkenv" ] && extra+=(--mkenv "$mkenv") ;;
	esac
	echo "== $name" >&2
	rc=0
	"$p" "${args[@]}" "${extra[@]}" >"$work/$name.out" &
	children+=($!)
	wait $! || rc=$?
	children=()
	cat "$work/$name.out" >&2
	echo "$name $rc" >>"$statuses"
	[ "$rc" = 0 ] || status=1
done
end=$(date +%s)

python3 - "$rows" "$statuses" "$json" "$quick" "$((end - start))" <<'PY'
import json, os, platform, re, subprocess, sys

rows_path, statuses_path, out_path, quick, secs = sys.argv[1:6]
rows = []
for line in open(rows_path):
    line = line.strip()
    if line:
        rows.append(json.loads(line))

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except Exception:
        return ""

lscpu = sh("lscpu")
model = re.search(r"Model name:\s*(.*)", lscpu)
boost = sh("sed -n 's/^#define BOOST_LIB_VERSION \"\\(.*\\)\"/\\1/p' "
           "/usr/include/boost/version.hpp")
machine = {
    "nproc": os.cpu_count(),
    "cpu": model.group(1) if model else platform.processor(),
    "lscpu_head": lscpu.splitlines()[:10],
    "kernel": platform.release(),
    "loadavg": open("/proc/loadavg").read().split()[:3],
    "mem_total_kib": int(re.search(r"MemTotal:\s*(\d+)",
                                   open("/proc/meminfo").read()).group(1)),
    "disk_homes_fs": sh("stat -f -c %T " + os.environ.get("TMPDIR", "/tmp")),
    "libdb": sh("dpkg-query -W -f='${Version}' libdb5.3-dev"),
    "boost": boost.replace("_", "."),
}
programs = []
for line in open(statuses_path):
    name, rc = line.split()
    programs.append({"name": name, "exit": int(rc)})

def fmt(v):
    if v is None:
        return "-"
    return f"{v:.4g}"

met = missed = errors = 0
print()
print(f"{'measure':58} {'fs':6} {'unit':8} {'regionfs':>10} {'peer':>10} "
      f"{'peer name':12} {'ratio':>7} {'target':>8}  met")
print("-" * 131)
for r in rows:
    if "growth" in r:
        continue
    st = r.get("status", "ok")
    peer = r.get("peer") or {}
    tgt = r.get("target")
    if tgt and tgt.get("on") == "value":
        t = f"{tgt['op']}{tgt['value']:g}{r['unit'].split('/')[0]}"
    elif tgt:
        t = f"{tgt['op']}{tgt['value']:.2f}"
    else:
        t = "-"
    if st.startswith("error"):
        m = "ERROR"
        errors += 1
    elif st.startswith("skipped"):
        m = "skipped"
    elif r.get("met") is None:
        m = "-" if st == "ok" else "no peer"
    elif r["met"]:
        m = "yes"
        met += 1
    else:
        m = "NO"
        missed += 1
    ratio = r.get("ratio")
    print(f"{r['measure'][:58]:58} {(r.get('fs') or '-')[:6]:6} {r['unit']:8} "
          f"{fmt(r['regionfs'].get('median')):>10} "
          f"{fmt(peer.get('median')):>10} "
          f"{(r.get('peer_name') or '-')[:12]:12} "
          f"{('-' if ratio is None else f'{ratio:.3f}'):>7} {t:>8}  {m}")
growth = [r for r in rows if "growth" in r]
if growth:
    print()
    print("How cost grows (medians):")
    for r in growth:
        g = r["growth"]
        pts = ", ".join(f"{int(s)}: {fmt(v)}"
                        for s, v in zip(g["sizes"], g["medians"]))
        k = g.get("exponent")
        if g["shape"] == "linear":
            how = (f"linear: {fmt(g.get('fixed'))} + {fmt(g.get('per_item'))}"
                   f" per {g['over'].rstrip('s')}")
        else:
            how = g["shape"] + (f" (n^{k:.2f})" if k is not None else "")
        print(f"  {r['measure']:44} [{r['unit']}, {r.get('fs') or '-'}] "
              f"{g['over']} {pts}"
              f"  -> {how}")
crashed = [p["name"] for p in programs if p["exit"] not in (0, 1)]
print()
print(f"targets: {met} met, {missed} missed, {errors} errors"
      + (f"; crashed: {', '.join(crashed)}" if crashed else "")
      + f"; {secs} s" + (" (quick: figures are not meaningful)"
                         if quick == "1" else ""))
print(f"machine: {machine['nproc']} CPUs, {machine['cpu']}, "
      f"kernel {machine['kernel']}, load {' '.join(machine['loadavg'])}")
doc = {"quick": quick == "1", "duration_s": int(secs), "machine": machine,
       "programs": programs,
       "summary": {"met": met, "missed": missed, "errors": errors},
       "rows": rows}
with open(out_path, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
print(f"json: {out_path}")
PY
exit $status
