#!/usr/bin/env python3
"""bench_fuse.py - the FUSE-level measures: regionfs mounted for real.

  bench_fuse.py --regionfs PATH --mkenv PATH [--quick] [--runs N]
                [--json FILE] [--only TEXT] [--dir DIR]

Measures (regionfs against tmpfs holding the very same files, interleaved
A B A B after a warm-up, medians and the median of per-pair ratios):
  - sequential read of a 256 MiB region file, through the mount vs the
    region file itself in the (tmpfs) home; target ratio >= 0.5    [MiB/s]
  - `ls -l` of the mount root with 1000 regions vs `ls -l` of the home;
    target ratio <= 2.5                                               [ms]
  - the same with 128 KiB reads (as `dd bs=128K`); target >= 0.5  [MiB/s]
  - `cat stat` through the mount, 5 and 1000 regions; absolute target
    <= 20 ms (5), <= 10 ms (1000)                                     [ms]
  - `regionctl stat -e` of the 1000-region home, the whole process;
    absolute target <= 10 ms                                          [ms]
  - `find MNT` over 1000 regions and 4000 System V segments vs `find` of
    the same tree copied to tmpfs; target ratio <= 3                  [ms]
  - peak resident memory of the regionfs daemon (VmHWM) after the
    workload, with 1000 regions and 4000 System V segments in view;
    absolute target <= 32 MiB                                        [MiB]

It re-executes itself in private mount and IPC namespaces (unshare -m -i:
its segments die with it), where the
homes live on a private tmpfs and the mounts are made; each mount is undone
with fusermount3 -u (then umount -l) in a finally block, the daemons are
killed, and the namespace takes whatever is left with it.  Without root or
/dev/fuse every row is reported as skipped.  Rows are appended to --json in
the format of tests/bench/run.sh; each names the filesystem its homes are
on ("homes_fs").  regionctl is --regionctl, else the one built next to
regionfs (BUILD/tools/regionctl); without it its row says skipped.
"""
import argparse
import ctypes
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

PROG = "bench_fuse"
NS_FLAG = "RGN_BENCH_FUSE_NS"
failed = False


def log(msg):
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


class Ctx:
    def __init__(self, args):
        self.args = args
        self.runs = args.runs or (2 if args.quick else 9)
        self.warmup = 1
        self.header = False
        self.homes_fs = None     # set once the homes' tmpfs is mounted

    # ---- output ----------------------------------------------------------

    def emit(self, row):
        row.setdefault("program", PROG)
        row.setdefault("homes_fs", self.homes_fs)
        row.setdefault("group", "fuse")
        row.setdefault("quick", bool(self.args.quick))
        if not self.header:
            print(f"{'measure':58} {'unit':8} {'regionfs':>11} {'peer':>11} "
                  f"{'(peer)':10} {'ratio':>7} {'target':>8}  met")
            self.header = True
        peer = row.get("peer") or {}
        tgt = row.get("target")
        t = "-"
        if tgt and tgt.get("on") == "value":
            t = f"{tgt['op']}{tgt['value']:g}{row['unit'].split('/')[0]}"
        elif tgt:
            t = f"{tgt['op']}{tgt['value']:.2f}"
        met = row.get("met")
        st = row.get("status", "ok")
        word = ("ERROR" if st.startswith("error") else
                "skipped" if st.startswith("skipped") else
                "-" if met is None else "yes" if met else "NO")

        def f(v):
            return "-" if v is None else f"{v:.4g}"
        ratio = row.get("ratio")
        print(f"{row['measure'][:58]:58} {row['unit']:8} "
              f"{f(row['regionfs'].get('median')):>11} "
              f"{f(peer.get('median')):>11} "
              f"{(row.get('peer_name') or '-')[:10]:10} "
              f"{'-' if ratio is None else f'{ratio:.3f}':>7} {t:>8}  {word}",
              flush=True)
        if self.args.json:
            with open(self.args.json, "a") as fh:
                fh.write(json.dumps(row) + "\n")

    def wanted(self, name):
        return not self.args.only or self.args.only in name

    def skip(self, name, unit, why, peer=None):
        if self.wanted(name):
            self.emit({"measure": name, "unit": unit,
                       "regionfs": {"median": None, "runs": []},
                       "peer_name": peer, "peer": None, "ratio": None,
                       "pair_ratios": [], "target": None, "met": None,
                       "status": "skipped: " + why})

    def error(self, name, unit, why, peer=None):
        global failed
        failed = True
        log(f"{name}: {why}")
        if self.wanted(name):
            self.emit({"measure": name, "unit": unit,
                       "regionfs": {"median": None, "runs": []},
                       "peer_name": peer, "peer": None, "ratio": None,
                       "pair_ratios": [], "target": None, "met": None,
                       "status": "error: " + why})

    # ---- running ---------------------------------------------------------

    def run(self, name, unit, fa, fb=None, peer=None, higher=False,
            target=None, note=None, runs=None):
        """target: (op, value, on) with on "ratio" or "value"."""
        if not self.wanted(name):
            return None
        log(f"{name} ...")
        runs = runs or self.runs
        ra, rb = [], []
        try:
            for _ in range(self.warmup):
                fa()
                if fb:
                    fb()
            for _ in range(runs):
                ra.append(fa())
                if fb:
                    rb.append(fb())
        except Exception as e:  # a failed command is an error row
            self.error(name, unit, str(e), peer)
            return None
        pairs = [a / b for a, b in zip(ra, rb)] if fb else []
        med_a = statistics.median(ra)
        med_b = statistics.median(rb) if fb else None
        ratio = statistics.median(pairs) if fb else None
        met = None
        tgt = None
        if target:
            op, value, on = target
            tgt = {"op": op, "value": value, "on": on}
            x = ratio if on == "ratio" else med_a
            if x is not None:
                met = x <= value if op == "<=" else x >= value
        self.emit({"measure": name, "unit": unit, "higher_is_better": higher,
                   "runs": runs, "regionfs": {"median": med_a, "runs": ra},
                   "peer_name": peer if fb else None,
                   "peer": {"median": med_b, "runs": rb} if fb else None,
                   "ratio": ratio, "pair_ratios": pairs, "target": tgt,
                   "met": met, "status": "ok", "note": note})
        return med_a


# ---- helpers ---------------------------------------------------------------

def timed_cmd(argv):
    """Run ARGV with stdout to /dev/null; milliseconds."""
    t0 = time.perf_counter_ns()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    ms = (time.perf_counter_ns() - t0) / 1e6
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: "
                           f"{r.stderr.decode(errors='replace').strip()}")
    return ms


def read_mibs(path, size, chunk=1 << 20):
    """Read PATH sequentially in CHUNK-byte requests; MiB/s."""
    buf = bytearray(chunk)
    view = memoryview(buf)
    total = 0
    t0 = time.perf_counter_ns()
    fd = os.open(path, os.O_RDONLY)
    try:
        while True:
            n = os.readv(fd, [view])
            if n <= 0:
                break
            total += n
    finally:
        os.close(fd)
    secs = (time.perf_counter_ns() - t0) / 1e9
    if total != size:
        raise RuntimeError(f"read {total} of {size} bytes from {path}")
    return total / (1 << 20) / secs


def fs_type(path):
    """The filesystem PATH is on, as stat -f names it."""
    r = subprocess.run(["stat", "-f", "-c", "%T", path],
                       capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def copy_tree(src, dst):
    """Make DST the same tree of names as SRC (directories, empty files,
    symlinks with the same targets): what `find` walks, on tmpfs."""
    for root, dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        out = os.path.join(dst, rel) if rel != "." else dst
        os.makedirs(out, exist_ok=True)
        for n in files + [d for d in dirs
                          if os.path.islink(os.path.join(root, d))]:
            p = os.path.join(root, n)
            if os.path.islink(p):
                os.symlink(os.readlink(p), os.path.join(out, n))
            else:
                open(os.path.join(out, n), "w").close()


def make_segments(n):
    """N idle 4 KiB segments in our (private) IPC namespace; they go
    with the namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    for _ in range(n):
        if libc.shmget(0, 4096, 0o1000 | 0o600) < 0:  # IPC_PRIVATE, CREAT
            raise RuntimeError("shmget: " +
                               os.strerror(ctypes.get_errno()))


def die_with_parent():
    """In a child before exec: SIGTERM when we die, however we die."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PDEATHSIG


class Mount:
    """regionfs HOME MNT -f, in the background, undone on exit."""

    def __init__(self, regionfs, home, mnt):
        self.mnt = mnt
        self.proc = subprocess.Popen([regionfs, home, mnt, "-f"],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE,
                                     preexec_fn=die_with_parent)
        deadline = time.monotonic() + 10
        while not os.path.ismount(mnt):
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace")
                raise RuntimeError(f"regionfs exited {self.proc.returncode}:"
                                   f" {err.strip()}")
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError("regionfs did not mount within 10 s")
            time.sleep(0.02)

    def peak_rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM for the regionfs daemon")

    def close(self):
        if os.path.ismount(self.mnt):
            if subprocess.run(["fusermount3", "-u", self.mnt],
                              stderr=subprocess.DEVNULL).returncode != 0:
                subprocess.run(["umount", "-l", self.mnt],
                               stderr=subprocess.DEVNULL)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- the measures ------------------------------------------------------------

def measures(ctx, base):
    a = ctx.args
    quick = a.quick
    size = (32 if quick else 256) << 20
    big = 100 if quick else 1000
    seq = f"sequential read of a {size >> 20} MiB region (1 MiB reads)"
    seq128 = f"sequential read of a {size >> 20} MiB region (128 KiB reads)"
    ctl = f"regionctl stat -e, {big} regions (whole process)"
    nsegs = 100 if quick else 4000
    find = f"find MNT, {big} regions and {nsegs} segments"
    ls = f"ls -l of {big} regions"
    cat5 = "cat stat, 5 regions"
    catn = f"cat stat, {big} regions"
    rss = "regionfs peak RSS (VmHWM) after the workload"

    homes = {"seq": os.path.join(base, "home-seq"),
             "many": os.path.join(base, "home-many")}
    mnts = {k: os.path.join(base, "mnt-" + k) for k in homes}
    for d in list(homes.values()) + list(mnts.values()):
        os.mkdir(d)
    subprocess.run([a.mkenv, homes["seq"], "1", str(size)], check=True)
    subprocess.run([a.mkenv, homes["many"], str(big), str(64 << 10)],
                   check=True)
    ctx.homes_fs = fs_type(base)
    mounts = []
    try:
        ms = Mount(a.regionfs, homes["seq"], mnts["seq"])
        mounts.append(ms)
        mm = Mount(a.regionfs, homes["many"], mnts["many"])
        mounts.append(mm)
        region = "__db.002"
        ctx.run(seq, "MiB/s",
                lambda: read_mibs(os.path.join(mnts["seq"], region), size),
                lambda: read_mibs(os.path.join(homes["seq"], region), size),
                peer="tmpfs", higher=True, target=(">=", 0.5, "ratio"),
                note="the region file read through the mount vs the same "
                     "file in the home (a private tmpfs)")
        ctx.run(seq128, "MiB/s",
                lambda: read_mibs(os.path.join(mnts["seq"], region), size,
                                  128 << 10),
                lambda: read_mibs(os.path.join(homes["seq"], region), size,
                                  128 << 10),
                peer="tmpfs", higher=True, target=(">=", 0.5, "ratio"),
                note="as dd bs=128K: the region file read through the "
                     "mount vs the same file in the home (a private tmpfs)")
        ctx.run(ls, "ms",
                lambda: timed_cmd(["ls", "-l", mnts["many"]]),
                lambda: timed_cmd(["ls", "-l", homes["many"]]),
                peer="tmpfs", target=("<=", 2.5, "ratio"),
                note="exec'd, stdout to /dev/null; the mount root vs the "
                     "home (tmpfs) with the same __db files")
        ctx.run(cat5, "ms",
                lambda: timed_cmd(["cat", os.path.join(mnts["seq"], "stat")]),
                target=("<=", 20, "value"),
                note="exec'd cat of the environment's stat pseudo-file")
        ctx.run(catn, "ms",
                lambda: timed_cmd(["cat", os.path.join(mnts["many"],
                                                       "stat")]),
                target=("<=", 10, "value"),
                note="exec'd cat of the environment's stat pseudo-file")
        if not ctx.wanted(ctl):
            pass
        elif a.regionctl and os.access(a.regionctl, os.X_OK):
            ctx.run(ctl, "ms",
                    lambda: timed_cmd([a.regionctl, "stat", "-e", "-h",
                                       homes["many"]]),
                    target=("<=", 10, "value"),
                    note="exec'd, stdout to /dev/null")
        else:
            ctx.skip(ctl, "ms", "regionctl not built")
        # The daemon indexes the namespace's segments for sysv/: give it
        # 4000 (100 with --quick) idle ones, which it lists and judges.
        if ctx.wanted(find) or ctx.wanted(rss):
            make_segments(nsegs)
        if ctx.wanted(find):
            copy = os.path.join(base, "copy-many")
            copy_tree(mnts["many"], copy)
            ctx.run(find, "ms",
                    lambda: timed_cmd(["find", mnts["many"]]),
                    lambda: timed_cmd(["find", copy]),
                    peer="tmpfs", target=("<=", 3, "ratio"),
                    note="exec'd, stdout to /dev/null; the mount vs the "
                         "same names copied to tmpfs")
        if ctx.wanted(rss):
            for argv in (["ls", "-l", os.path.join(mnts["many"], "sysv")],
                         ["cat", os.path.join(mnts["many"], "sysv", "stat")],
                         ["ls", os.path.join(mnts["many"], "sysv",
                                             "leaked")],
                         ["cat", os.path.join(mnts["many"], "metrics")]):
                timed_cmd(argv)
            peak = max(m.peak_rss_mib() for m in mounts)
            ctx.emit({"measure": rss, "unit": "MiB",
                      "regionfs": {"median": peak, "runs": [peak]},
                      "peer_name": None, "peer": None, "ratio": None,
                      "pair_ratios": [], "runs": 1,
                      "target": {"op": "<=", "value": 32, "on": "value"},
                      "met": peak <= 32, "status": "ok",
                      "note": f"largest VmHWM of the two daemons, after "
                              f"all the measures above and a listing of "
                              f"{big} regions and {nsegs} segments"})
    except Exception as e:
        ctx.error("regionfs mount", "-", str(e))
    finally:
        for m in mounts:
            m.close()


def on_signal(sig, frame):
    raise SystemExit(128 + sig)   # so that every finally block runs


def main():
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    p = argparse.ArgumentParser(prog=PROG)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--runs", type=int, default=0)
    p.add_argument("--json")
    p.add_argument("--only")
    p.add_argument("--dir")
    p.add_argument("--regionctl")
    p.add_argument("--regionfs")
    p.add_argument("--mkenv")
    a = p.parse_args()
    if os.environ.get("RGN_BENCH_QUICK", "0") not in ("", "0"):
        a.quick = True
    if a.json:
        a.json = os.path.abspath(a.json)
    if not a.regionctl and a.regionfs:
        # run.sh hands us only regionfs: its build tree holds regionctl.
        guess = os.path.join(os.path.dirname(os.path.abspath(a.regionfs)),
                             os.pardir, "tools", "regionctl")
        if os.access(guess, os.X_OK):
            a.regionctl = os.path.realpath(guess)
    ctx = Ctx(a)
    names = [("sequential read", "MiB/s"), ("ls -l", "ms"),
             ("cat stat", "ms"), ("regionctl stat -e", "ms"),
             ("find MNT", "ms"), ("regionfs peak RSS", "MiB")]

    why = None
    if not a.regionfs or not os.access(a.regionfs, os.X_OK):
        why = "regionfs not built"
    elif not a.mkenv or not os.access(a.mkenv, os.X_OK):
        why = "bench_mkenv not built"
    elif not os.path.exists("/dev/fuse"):
        why = "no /dev/fuse"
    elif os.geteuid() != 0:
        why = "needs root (private mount namespace)"
    elif not shutil.which("fusermount3"):
        why = "fusermount3 not found (fuse3)"
    if why:
        for n, u in names:
            ctx.skip(n, u, why)
        return 0

    if os.environ.get(NS_FLAG) != "1":
        # unshare execs us again in place: same pid, so whoever started us
        # (run.sh) signals the process that owns the mounts.
        env = dict(os.environ, **{NS_FLAG: "1"})
        argv = ["unshare", "--mount", "--ipc", "--propagation", "private",
                sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
        sys.stdout.flush()
        os.execvpe("unshare", argv, env)

    base = tempfile.mkdtemp(prefix="rgn-bench-fuse.", dir=a.dir)
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs",
                        base], check=True)
        measures(ctx, base)
    finally:
        subprocess.run(["umount", "-l", base], stderr=subprocess.DEVNULL)
        shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
