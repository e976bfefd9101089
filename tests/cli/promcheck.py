#!/usr/bin/env python3
"""promcheck.py - does a Prometheus server take regionctl's metrics as they
are?  Used by metrics.sh; prints TAP-like lines, exits 1 on any failure.

Usage: promcheck.py KIND FILE
  KIND  env   (regionctl stat -e --prometheus): every family is per
              environment, carries home=HOME, and no regionfs_shm_* appears
        scan  (regionctl leaks --prometheus): only the host-wide
              regionfs_shm_* families
        json  (regionctl stat -e --json): strict UTF-8 JSON whose "home"
              unescapes to HOME and whose "references" is 1
  HOME  the home path, given through the environment variable PROMCHECK_HOME
        as raw bytes (it may hold a newline and bytes that are not UTF-8).

Checks, with python3-prometheus-client's own parsers:
  1. the text format parser (prometheus_client.parser) reads the file;
  2. counters end in _total and gauges never do, each family once;
  3. the families, exposed as the client does in OpenMetrics
     (prometheus_client.openmetrics.exposition), pass the strict OpenMetrics
     parser and give back the same samples.  The file itself is the 0.0.4
     text format, whose counter TYPE lines name the family with _total;
     OpenMetrics names it without and wants "# EOF", so one text cannot be
     both: the conversion is how a client serves both from one source.
"""
import json
import os
import sys

from prometheus_client.openmetrics import exposition as om_expo
from prometheus_client.openmetrics import parser as om_parser
from prometheus_client import parser as text_parser
from prometheus_client.registry import CollectorRegistry

failed = 0
count = 0


def result(ok, what, detail=""):
    global failed, count
    count += 1
    if not ok:
        failed += 1
    print(("ok" if ok else "not ok") + " %d - %s" % (count, what))
    if not ok and detail:
        for line in str(detail).splitlines():
            print("#   " + line)


def unescape(s):
    """Undo regionfs's escaping (\\\\ and \\xNN) into the exact bytes."""
    out = bytearray()
    i = 0
    b = s.encode("utf-8")
    while i < len(b):
        if b[i:i + 2] == b"\\\\":
            out += b"\\"
            i += 2
        elif b[i:i + 2] == b"\\x" and i + 4 <= len(b):
            out.append(int(b[i + 2:i + 4], 16))
            i += 4
        else:
            out.append(b[i])
            i += 1
    return bytes(out)


def samples_of(families):
    return sorted((s.name, tuple(sorted(s.labels.items())), float(s.value))
                  for f in families for s in f.samples)


def check_json(raw, home):
    try:
        d = json.loads(raw.decode("utf-8", "strict"))
    except (UnicodeDecodeError, ValueError) as e:
        result(False, "json: strict UTF-8 JSON", e)
        return
    result(True, "json: strict UTF-8 JSON")
    got = unescape(d.get("home", ""))
    result(got == home, "json: home unescapes to the home's bytes",
           "%r != %r" % (got, home))
    result(d.get("references") == 1, "json: references is 1",
           d.get("references"))


def main():
    kind, path = sys.argv[1], sys.argv[2]
    home = os.environb.get(b"PROMCHECK_HOME")
    raw = open(path, "rb").read()
    if kind == "json":
        check_json(raw, home)
        return
    try:
        text = raw.decode("utf-8", "strict")
        result(True, "%s: valid UTF-8" % kind)
    except UnicodeDecodeError as e:
        result(False, "%s: valid UTF-8" % kind, e)
        return
    try:
        fams = list(text_parser.text_string_to_metric_families(text))
        result(len(fams) > 0, "%s: text format parses (%d families)"
               % (kind, len(fams)))
    except Exception as e:  # the parser raises ValueError and others
        result(False, "%s: text format parses" % kind, e)
        return

    names = [f.name for f in fams]
    result(len(names) == len(set(names)), "%s: each family once" % kind, names)
    bad = []
    for f in fams:
        if f.type not in ("counter", "gauge"):
            bad.append("%s is %s" % (f.name, f.type))
        for s in f.samples:
            if f.type == "counter" and not s.name.endswith("_total"):
                bad.append("counter sample %s" % s.name)
            if f.type == "gauge" and s.name.endswith("_total"):
                bad.append("gauge sample %s" % s.name)
    # The parser renames a counter's samples to end in _total, so the
    # names as written are checked on the TYPE lines themselves.
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            if (typ == "counter") != name.endswith("_total"):
                bad.append(line)
    result(not bad, "%s: counters end in _total, gauges never" % kind,
           "\n".join(bad))
    series = [(s.name, tuple(sorted(s.labels.items())))
              for f in fams for s in f.samples]
    result(len(series) == len(set(series)), "%s: no duplicate series" % kind)

    shm = [n for n in names if n.startswith("regionfs_shm_")]
    if kind == "env":
        result(not shm, "env: no host-wide regionfs_shm_* family", shm)
        nohome = [s.name for f in fams for s in f.samples
                  if "home" not in s.labels]
        result(not nohome, "env: every series carries home", nohome)
        if home is not None:
            homes = {s.labels.get("home") for f in fams for s in f.samples}
            got = [unescape(h) for h in homes]
            result(len(homes) == 1 and got == [home],
                   "env: the home label unescapes to the home's bytes",
                   "%r != %r" % (got, home))
        want = {"regionfs_env_info", "regionfs_env_generation",
                "regionfs_env_live_processes", "regionfs_region_size_bytes"}
        result(want <= set(names), "env: the main families are there",
               sorted(want - set(names)))
    else:
        result(len(shm) == len(names) and "regionfs_shm_segments" in names,
               "scan: only regionfs_shm_* families", names)

    # OpenMetrics: serve the same families as the client library does,
    # then parse them with the strict parser.
    class Replay:
        def collect(self):
            return fams

    reg = CollectorRegistry(auto_describe=False)
    reg.register(Replay())
    om = om_expo.generate_latest(reg).decode("utf-8")
    try:
        back = list(om_parser.text_string_to_metric_families(om))
        result(True, "%s: OpenMetrics parser accepts the families" % kind)
    except Exception as e:
        result(False, "%s: OpenMetrics parser accepts the families" % kind,
               "%s\n%s" % (e, om[:2000]))
        return
    result(samples_of(back) == samples_of(fams),
           "%s: OpenMetrics gives back the same samples" % kind)
    result([(f.name, f.type) for f in back] == [(f.name, f.type) for f in fams],
           "%s: OpenMetrics keeps names and types" % kind)


main()
sys.exit(1 if failed else 0)
