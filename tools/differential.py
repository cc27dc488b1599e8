#!/usr/bin/env python3
"""Randomized differential test: `cwlogs get --format jsonl` against an independent reader.

    python3 tools/differential.py [--cases N] [--seed S] [--only K[,K...]] [--case-timeout SEC]
                                  [--keep-going] [--verbose] [--json FILE]

Starts bench/standin.py with three groups built from --seed (hundreds of streams, equal
timestamps, 200 KB messages, bursts), then runs N cases. Each case draws, from (seed, case
number) alone, so any case can be re-run on its own with --seed S --only K:

  - the service's behaviour: page size (10,000 events / 1 MB, or small pages), a scan budget
    for filter patterns (empty and partial pages with a nextToken), extra empty pages,
    repeated tokens, 5xx answers and connection resets, a lagging newest-event time, and
    for cwlogs' run only a latency and a rate limit (throttling);
  - a selection: 1-3 groups; no stream filter, a prefix, or 1-300 names (some missing);
    a range that is whole, open at one end, random, on event timestamps, one millisecond
    wide, or empty; with or without a filter pattern; sometimes --limit.

It runs `lua5.4 bin/cwlogs get ... --format jsonl` (time limit per case: a hang fails) and
reads the same selection with boto3, paging FilterLogEvents by hand until there is no
nextToken (one call per group and batch of <= 100 names, as the API allows). A case passes
when cwlogs exits 0, its output is the same multiset of (group, stream, eventId) with
byte-equal messages, timestamps and ingestion times, and its timestamps never decrease.
With --limit N: the first N events in time order (ties at the last timestamp may be any).

The last line is "N passed, M failed". Exit status 0 when every case passed.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LUA = os.environ.get("LUA", "lua5.4")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from harness import StandinProcess  # noqa: E402

GROUPS = [
    # name, events, streams (with events), empty streams, span, layout, dup, big, rare, names
    ("/diff/app", 30000, 300, 6, 6 * 3600 * 1000, "uniform", 0.05, 0.0004, 0.01, "families"),
    ("/diff/batch", 8000, 40, 3, 2 * 86400 * 1000, "bursty", 0.02, 0.0, 0.005, "families"),
    ("/diff/tiny", 2000, 5, 1, 10 * 60 * 1000, "uniform", 0.3, 0.002, 0.02, "lambda"),
]
PATTERNS = ["ERROR", "RAREWORD", "timeout failed", '"status=503"', "?ERROR ?WARN", "-INFO",
            "Grüße", "worker-3"]


def log(msg):
    sys.stderr.write("differential: %s\n" % msg)
    sys.stderr.flush()


class Standin(StandinProcess):
    def __init__(self, seed):
        args = ["--seed", str(seed), "--idle-exit", "300"]
        for (name, n, streams, empty, span, layout, dup, big, rare, names) in GROUPS:
            args += ["--group-spec", "name=%s,events=%d,streams=%d,empty_streams=%d,span_ms=%d,"
                     "layout=%s,dup=%s,big=%s,rare=%s,names=%s,end_ago_ms=120000"
                     % (name, n, streams, empty, span, layout, dup, big, rare, names)]
        super().__init__(args, "differential", start_timeout=120)
        self.info = self.get("/info?names=1")

    def configure(self, cfg):
        return self.config(cfg)


# -- the reference reader (tools/refread.py) -----------------------------------------------

import refread  # noqa: E402


def boto_client(url):
    return refread.boto_client(url)


def reference_read(client, case):
    return refread.read(client, case["groups"], case.get("start"), case.get("end"),
                        case.get("names"), case.get("prefix"), case.get("pattern"))


# -- cases ---------------------------------------------------------------------------------

def draw_case(seed, k, info):
    rng = random.Random("%d/%d" % (seed, k))
    groups_info = {g["name"]: g for g in info["groups"]}
    names_all = [g[0] for g in GROUPS]
    ngroups = rng.choice((1, 1, 1, 2, 2, 3))
    groups = rng.sample(names_all, ngroups)
    case = {"k": k, "groups": groups}
    # the service
    small = rng.random() < 0.3
    cfg = {"page_events": rng.choice((37, 100, 250, 1000)) if small else 10000,
           "page_bytes": rng.choice((65536, 1048576)) if small else 1048576,
           "scan_budget": 0, "empty_page": 0, "repeat_token": 0, "fault_5xx": 0,
           "fault_reset": 0, "hint_lag_ms": 0, "latency_ms": 0, "rate": 0}
    if rng.random() < 0.25:
        cfg["empty_page"] = rng.choice((0.05, 0.2))
    if rng.random() < 0.2:
        cfg["repeat_token"] = 0.1
    if rng.random() < 0.15:
        cfg["fault_5xx"] = 0.05
    if rng.random() < 0.1:
        cfg["fault_reset"] = 0.03
    if rng.random() < 0.3:
        cfg["hint_lag_ms"] = rng.choice((60000, 3600000, 86400000))
    # streams
    r = rng.random()
    pool = []
    for g in groups:
        pool += groups_info[g]["stream_names"]
    if r < 0.4:
        pass
    elif r < 0.6:
        case["prefix"] = rng.choice(("web", "web-", "worker/", "api/v", "api/v2/", "cron/00",
                                     "2026/11/25/[$LATEST]a", "nomatch/"))
    else:
        n = rng.choice((1, 2, 5, 50, 99, 100, 101, 150, 250, 300))
        names = rng.sample(pool, min(n, len(pool)))
        missing = rng.randint(0, max(1, n // 10))
        names += ["missing/%06d" % rng.randrange(10 ** 6) for _ in range(missing)]
        rng.shuffle(names)
        case["names"] = names[:300]
        if rng.random() < 0.1:
            case["prefix"] = rng.choice(("web", "worker/", "api/"))
    # range
    first = min(groups_info[g]["first_ts"] for g in groups)
    last = max(groups_info[g]["last_ts"] for g in groups)
    kind = rng.choice(("all", "start", "end", "random", "random", "on_events", "one_ms", "empty",
                       "before"))
    case["range"] = kind
    ts_of = lambda: rng.randint(first, last)
    if kind == "start":
        case["start"] = ts_of()
    elif kind == "end":
        case["end"] = ts_of()
    elif kind == "random":
        a, b = sorted((ts_of(), ts_of()))
        case["start"], case["end"] = a, b
    elif kind in ("on_events", "one_ms"):
        case["event_bounds"] = True
    elif kind == "empty":
        a = ts_of()
        case["start"], case["end"] = a, a   # often nothing there; one_ms covers the rest
    elif kind == "before":
        case["start"], case["end"] = first - 86400000, first - 1
    if rng.random() < 0.35:
        case["pattern"] = rng.choice(PATTERNS)
        if rng.random() < 0.6:
            cfg["scan_budget"] = rng.choice((200, 1000, 5000))
    if rng.random() < 0.15:
        case["limit"] = rng.choice((1, 7, 100, 2500, 20000))
    case["cfg"] = cfg
    # load on cwlogs' run only (the reference reads without it): latency and a rate limit
    case["load"] = {"latency_ms": rng.choice((0, 0, 0, 5, 20)), "rate": rng.choice((0, 0, 0, 40))}
    return case


def resolve_event_bounds(case, client, rng):
    """Start/end exactly on timestamps of events of the selection (drawn from a full read)."""
    probe = dict(case)
    probe.pop("start", None)
    probe.pop("end", None)
    evs = reference_read(client, probe)
    if not evs:
        case["start"] = case["end"] = 1000000000000   # 2001: before every event
        return
    a = rng.choice(evs)["timestamp"]
    if case["range"] == "one_ms":
        case["start"] = case["end"] = a
    else:
        b = rng.choice(evs)["timestamp"]
        case["start"], case["end"] = min(a, b), max(a, b)


def cwlogs_command(case):
    cmd = [LUA, os.path.join(ROOT, "bin", "cwlogs"), "get"] + case["groups"] + ["--format", "jsonl",
                                                                              "--no-progress"]
    if case.get("start") is not None:
        cmd += ["--start", str(case["start"])]
    if case.get("end") is not None:
        cmd += ["--end", str(case["end"])]
    for n in case.get("names") or []:
        cmd += ["--stream", n]
    if case.get("prefix") is not None:
        cmd += ["--stream-prefix", case["prefix"]]
    if case.get("pattern") is not None:
        cmd += ["--filter=" + case["pattern"]]   # "=": a pattern may start with "-"
    if case.get("limit") is not None:
        cmd += ["--limit", str(case["limit"])]
    return cmd


def run_cwlogs(case, url, timeout):
    env = dict(os.environ)
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
              "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"):
        env.pop(k, None)
    env.update({"AWS_ACCESS_KEY_ID": "diff", "AWS_SECRET_ACCESS_KEY": "diff",
                "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": url, "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_MAX_ATTEMPTS": "20"})
    env.setdefault("CWLOGS_CPATH", os.path.join(ROOT, "build", "?.so"))
    if env.get("CWLOGS_PRELOAD"):
        # make asan: the sanitizer runtime for cwlogs only (not for python or boto3)
        env["LD_PRELOAD"] = env["CWLOGS_PRELOAD"]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cwlogs_command(case), env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out after %.0f s (a hang)" % timeout, time.monotonic() - t0
    if p.returncode != 0:
        return None, "exit %d: %s" % (p.returncode, p.stderr.decode("utf-8", "replace").strip()[-400:]), \
            time.monotonic() - t0
    return p.stdout, None, time.monotonic() - t0


def compare(case, out, ref):
    got = []
    for i, line in enumerate(out.split(b"\n")):
        if not line:
            continue
        try:
            got.append(json.loads(line))
        except ValueError:
            return "output line %d is not JSON: %r" % (i + 1, line[:120])
    for i in range(1, len(got)):
        if got[i]["timestamp"] < got[i - 1]["timestamp"]:
            return "timestamps decrease at output line %d (%d after %d)" % (
                i + 1, got[i]["timestamp"], got[i - 1]["timestamp"])

    def key(e):
        return (e["logGroupName"], e["logStreamName"], e["eventId"])
    refmap = {}
    for e in ref:
        refmap[key(e)] = e
    if len(refmap) != len(ref):
        return "the reference read has duplicate events (stand-in bug)"
    seen = set()
    for e in got:
        k = key(e)
        if k in seen:
            return "event %r written twice" % (k,)
        seen.add(k)
        r = refmap.get(k)
        if r is None:
            return "event %r is not in the reference read" % (k,)
        for f in ("message", "timestamp", "ingestionTime"):
            if e.get(f) != r.get(f):
                return "event %r differs in %s" % (k, f)
    limit = case.get("limit")
    if limit is None:
        if len(got) != len(ref):
            missing = [k for k in refmap if k not in seen]
            return "%d events written, the reference has %d (first missing: %r)" % (
                len(got), len(ref), missing[:1])
        return None
    want = min(limit, len(ref))
    if len(got) != want:
        return "--limit %d: %d events written, expected %d" % (limit, len(got), want)
    if got:
        top = got[-1]["timestamp"]
        below = [k for k, e in refmap.items() if e["timestamp"] < top and k not in seen]
        if below:
            return "--limit %d: skipped %r, older than the last event written" % (limit, below[0])
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=40)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("CWLOGS_DIFF_SEED", "20261201")))
    ap.add_argument("--only", default="", help="comma-separated case numbers")
    ap.add_argument("--case-timeout", type=float, default=60.0)
    ap.add_argument("--keep-going", action="store_true", help="(default) run every case")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--json", default="", help="write one JSON result per case to FILE")
    args = ap.parse_args()
    only = [int(x) for x in args.only.split(",") if x.strip()]
    ks = only or list(range(1, args.cases + 1))

    log("starting the stand-in (seed %d)" % args.seed)
    si = Standin(args.seed)
    client = boto_client(si.url)
    passed = failed = 0
    results = []
    try:
        for k in ks:
            case = draw_case(args.seed, k, si.info)
            rng = random.Random("%d/%d/bounds" % (args.seed, k))
            si.configure({"page_events": 10000, "page_bytes": 1048576, "scan_budget": 0,
                          "empty_page": 0, "repeat_token": 0, "fault_5xx": 0, "fault_reset": 0})
            if case.get("event_bounds"):
                resolve_event_bounds(case, client, rng)
            si.configure(case["cfg"])
            t0 = time.monotonic()
            ref = reference_read(client, case)
            t_ref = time.monotonic() - t0
            si.configure(case["load"])
            out, err, t_cw = run_cwlogs(case, si.url, args.case_timeout)
            si.configure({"latency_ms": 0, "rate": 0})
            why = err or compare(case, out, ref)
            desc = "groups=%d %s%s range=%s%s%s cfg=%s" % (
                len(case["groups"]),
                ("names=%d" % len(case["names"])) if case.get("names") is not None else "",
                (" prefix=%r" % case["prefix"]) if case.get("prefix") is not None else "",
                case["range"], (" pattern=%r" % case["pattern"]) if case.get("pattern") else "",
                (" limit=%d" % case["limit"]) if case.get("limit") else "",
                ",".join("%s=%s" % (a, b) for a, b in list(case["cfg"].items()) + list(case["load"].items())
                         if b not in (0, 10000, 1048576)))
            if why:
                failed += 1
                print("case %d: FAIL %s | %s | reproduce: python3 tools/differential.py --seed %d --only %d"
                      % (k, why, desc, args.seed, k), flush=True)
            else:
                passed += 1
                print("case %d: ok (%d events, cwlogs %.2f s, reference %.2f s) | %s"
                      % (k, len(ref) if case.get("limit") is None else min(len(ref), case["limit"]),
                         t_cw, t_ref, desc), flush=True)
            results.append({"case": k, "ok": not why, "why": why, "desc": desc})
    finally:
        si.stop()
    if args.json:
        with open(args.json, "w") as f:
            for r in results:
                f.write(json.dumps(r) + "\n")
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
