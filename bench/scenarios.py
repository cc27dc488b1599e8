#!/usr/bin/env python3
"""Benchmark at the rate limit: `cwlogs get` on a slow, rate-limited stand-in, against the
sequential reader and the quota ideal, in realistic scenarios (see bench/README.md).

    python3 bench/scenarios.py [--only NAME,...] [--reps R] [--out FILE] [--cwlogs PATH]
                               [--modes known,discovered] [--no-build]

For every scenario the stand-in (bench/standin.py) is set to a latency and a FilterLogEvents
token bucket (burst: one second's worth); then, in the same run:
  1. the sequential reader (bench/fetch_only.lua: one request at a time, no parallelism,
     no signing, no rendering) pages the selection and counts its pages and events: the
     popular tools' strategy, and the page count the ideal is computed from;
  2. `cwlogs get ... --format jsonl` runs, its output lines counted (a check of completeness)
     and its peak RSS taken from wait4(). Mode "known": the quota is known to the client
     (--max-rps, as the region's quota is on AWS endpoints); mode "discovered": nothing is
     said, the client finds the rate from throttles.
Figures: ideal = sequential pages / TPS; wall / ideal; requests / sequential pages;
throttled share of cwlogs' requests; mean and max requests in flight at the stand-in.
For the merge and names scenarios the sources are also read one after the other with
cwlogs, the bound the merged read must beat.
Writes a Markdown report to bench/scenarios.md (and stdout); exit 1 if any check fails.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

from harness import StandinProcess, run_measured

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LUA = os.environ.get("LUA", "lua5.4")
DAY = 86400000
YEAR = 365 * DAY

# name -> group spec (see standin.py); events chosen so a sequential reader needs ~15 pages
GROUPS = {
    "/s/old": "events=36000,streams=50,span_ms=%d,end_ago_ms=%d" % (22 * 3600000, 3 * YEAR),
    "/s/recent": "events=36000,streams=50,span_ms=%d,end_ago_ms=60000" % (22 * 3600000),
    "/s/skewed": "events=36000,streams=50,span_ms=3600000,end_ago_ms=60000",
    "/s/sparse": "events=300000,streams=50,span_ms=%d,end_ago_ms=60000,rare=0.001" % DAY,
    "/s/m0": "events=100000,streams=20,span_ms=%d,end_ago_ms=60000" % DAY,
    "/s/m1": "events=100000,streams=500,span_ms=%d,end_ago_ms=60000" % DAY,
    "/s/n500": "events=150000,streams=500,span_ms=%d,end_ago_ms=60000" % DAY,
}

# Each scenario: groups, selection, service settings. "range": closed (first..last event),
# start (--start only: end = now), none (no --start), week (the week before the last event).
SCENARIOS = [
    {"name": "uniform-600ms-5tps", "groups": ["/s/old"], "range": "closed",
     "svc": {"latency_ms": 600, "rate": 5}, "target": 1.2},
    {"name": "start-only-600ms-5tps", "groups": ["/s/old"], "range": "start",
     "svc": {"latency_ms": 600, "rate": 5}, "target": 1.2},
    {"name": "no-start-600ms-5tps", "groups": ["/s/old"], "range": "none",
     "svc": {"latency_ms": 600, "rate": 5}, "target": 1.2},
    {"name": "uniform-150ms-5tps", "groups": ["/s/recent"], "range": "closed",
     "svc": {"latency_ms": 150, "rate": 5}},
    {"name": "skewed-week-600ms-5tps", "groups": ["/s/skewed"], "range": "week",
     "svc": {"latency_ms": 600, "rate": 5}},
    {"name": "sparse-pattern-600ms-5tps", "groups": ["/s/sparse"], "range": "closed",
     "pattern": "RAREWORD", "svc": {"latency_ms": 600, "rate": 5, "scan_budget": 20000, "scan_us": 10}},
    {"name": "needle-pattern-600ms-5tps", "groups": ["/s/sparse"], "range": "closed",
     "pattern": "?[1000] ?[60000] ?[120000] ?[180000] ?[240000] ?[299000]",
     "svc": {"latency_ms": 600, "rate": 5, "scan_budget": 20000, "scan_us": 10}},
    {"name": "merge-2x100k-150ms-10tps", "groups": ["/s/m0", "/s/m1"], "range": "closed",
     "svc": {"latency_ms": 150, "rate": 10}, "one_by_one": True},
    {"name": "names-150-150ms-10tps", "groups": ["/s/n500"], "range": "closed", "names": 150,
     "svc": {"latency_ms": 150, "rate": 10}, "one_by_one": True},
]


def log(msg):
    sys.stderr.write("scenarios: %s\n" % msg)
    sys.stderr.flush()


class Standin(StandinProcess):
    def __init__(self):
        args = ["--idle-exit", "600"]
        for name, spec in GROUPS.items():
            args += ["--group-spec", "name=%s,%s" % (name, spec)]
        super().__init__(args, "scenarios", start_timeout=300)
        self.info = {g["name"]: g for g in self.get("/info?names=1")["groups"]}

    def configure(self, **cfg):
        base = {"latency_ms": 0, "rate": 0, "burst": 0, "scan_budget": 0, "scan_us": 0,
                "throttle_every": 0}
        base.update(cfg)
        return self.config(base)


def selection(sc, si):
    groups = sc["groups"]
    first = min(si.info[g]["first_ts"] for g in groups)
    last = max(si.info[g]["last_ts"] for g in groups)
    r = sc["range"]
    if r == "closed":
        start, end = first, last
    elif r == "start":
        start, end = first, None
    elif r == "none":
        start, end = None, None
    elif r == "week":
        start, end = last - 7 * DAY, last
    names = None
    if sc.get("names"):
        names = si.info[groups[0]]["stream_names"][:sc["names"]]
    return start, end, names


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--modes", default="known,discovered")
    ap.add_argument("--before", default="", help="a built checkout of an earlier cwlogs: adds a "
                    "'before' row per scenario (its CLI, rate discovered: it has no --max-rps)")
    ap.add_argument("--build-dir", default="build-bench")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "scenarios.md"))
    args = ap.parse_args()
    only = [x for x in args.only.split(",") if x]
    modes = [m for m in args.modes.split(",") if m]
    if args.before:
        modes.append("before")
    if not args.no_build:
        r = subprocess.run(["make", "build", "BUILD_DIR=" + args.build_dir], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            sys.stderr.write(r.stdout.decode("utf-8", "replace")[-3000:])
            raise SystemExit("scenarios: build failed")
    log("starting the stand-in")
    t_start = time.monotonic()
    si = Standin()
    try:
        rows = bench(args, si, only, modes)
    finally:
        si.stop()
    report = render(args, rows, time.monotonic() - t_start)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(report)
    sys.stdout.write(report)
    # an earlier checkout given with --before may fail (that is what it is there to show)
    bad = [r for r in rows if r["check"] != "ok" and r["mode"] != "before"]
    return 1 if bad else 0


def bench(args, si, only, modes):
    env = dict(os.environ)
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
              "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "LD_PRELOAD"):
        env.pop(k, None)
    env.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": si.url,
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "CWLOGS_CPATH": os.path.join(ROOT, args.build_dir, "?.so")})
    benv = dict(env)
    if args.before:
        benv["CWLOGS_CPATH"] = os.path.join(os.path.abspath(args.before), "build", "?.so")
    cwlogs_bin = os.path.join(ROOT, "bin", "cwlogs")
    rows = []
    for sc in SCENARIOS:
        if only and sc["name"] not in only:
            continue
        svc = sc["svc"]
        tps = svc["rate"]
        start, end, names = selection(sc, si)
        # 1. the sequential reader, per group (and per batch of names), one after the other
        si.configure(**svc)
        si.get("/stats?reset=1")
        seq_pages = seq_events = 0
        seq_wall = 0.0
        seq_ok = True
        for g in sc["groups"]:
            s = start if start is not None else 0
            e = end if end is not None else int(time.time() * 1000)
            cmd = [LUA, "bench/fetch_only.lua", "--endpoint", si.url, "--group", g,
                   "--start", str(s), "--end", str(e), "--decode"]
            if sc.get("pattern"):
                cmd += ["--pattern", sc["pattern"]]
            for n in names or []:
                cmd += ["--stream", n]
            res = run_measured(cmd, env, args.timeout * 4, count_output=True)
            out = res["tail"].decode().split()
            kv = dict(x.split("=", 1) for x in out if "=" in x)
            if res["rc"] != 0 or "pages" not in kv:
                seq_ok = False
                log("%s: sequential reader failed: %s" % (sc["name"], res["stderr"][-300:]))
                continue
            seq_pages += int(kv["pages"])
            seq_events += int(kv["events"])
            seq_wall += res["wall"]
        seq_stats = si.get("/stats?reset=1")
        ideal = seq_pages / float(tps)
        log("%s: sequential %d pages, %d events, %.2f s (ideal %.2f s, %d throttled)"
            % (sc["name"], seq_pages, seq_events, seq_wall, ideal, seq_stats["throttled"]))
        # 2. cwlogs, each mode
        base = ["get"] + sc["groups"] + ["--format", "jsonl"]
        if start is not None:
            base += ["--start", str(start)]
        if end is not None:
            base += ["--end", str(end)]
        if sc.get("pattern"):
            base += ["--filter=" + sc["pattern"]]
        for n in names or []:
            base += ["--stream", n]
        for mode in modes:
            launcher = cwlogs_bin
            if mode == "before":
                launcher = os.path.join(os.path.abspath(args.before), "bin", "cwlogs")
            cmd = [LUA, launcher] + base
            if mode == "known":
                cmd += ["--max-rps", str(tps)]
            walls, rss, cpu, reqs, thr, mean_in, max_in, checks = [], [], [], [], [], [], [], []
            for _ in range(args.reps):
                si.configure(**svc)
                time.sleep(1.2)          # let the stand-in's bucket fill up again
                si.get("/stats?reset=1")
                res = run_measured(cmd, benv if mode == "before" else env, args.timeout,
                                   count_output=True)
                st = si.get("/stats?reset=1")
                f = st["by_op"]["FilterLogEvents"]
                walls.append(res["wall"])
                rss.append(res["rss_mb"])
                cpu.append(res["cpu"])
                reqs.append(f["requests"])
                thr.append(f["throttled"])
                mean_in.append(st["mean_inflight"])
                max_in.append(st["max_inflight"])
                if res["timed_out"]:
                    checks.append("timed out")
                elif res["rc"] != 0:
                    checks.append("exit %d: %s" % (res["rc"], res["stderr"].strip()[-200:]))
                elif not seq_ok:
                    checks.append("sequential reader failed")
                elif res["lines"] != seq_events:
                    checks.append("%d events, expected %d" % (res["lines"], seq_events))
                else:
                    checks.append("ok")
            wall = statistics.median(walls)
            row = {"scenario": sc["name"], "mode": mode, "tps": tps, "latency": svc["latency_ms"],
                   "seq_pages": seq_pages, "seq_events": seq_events, "seq_wall": seq_wall,
                   "ideal": ideal, "wall": wall, "ratio": wall / ideal if ideal else float("nan"),
                   "requests": statistics.median(reqs), "throttled": statistics.median(thr),
                   "mean_inflight": statistics.median(mean_in), "max_inflight": max(max_in),
                   "rss": max(rss), "cpu": statistics.median(cpu), "target": sc.get("target"),
                   "check": next((c for c in checks if c != "ok"), "ok")}
            # the sources one after the other, with cwlogs itself
            if sc.get("one_by_one") and mode == "known":
                total = 0.0
                sources = [[g] for g in sc["groups"]]
                if names:
                    sources = [["--stream=" + n for n in names[i:i + 100]]
                               for i in range(0, len(names), 100)]
                si.configure(**svc)
                time.sleep(1.2)
                for src in sources:
                    # back to back, as `cwlogs get A; cwlogs get B` would run
                    one = [LUA, cwlogs_bin, "get"]
                    if names:
                        one += sc["groups"] + src
                    else:
                        one += src
                    one += ["--format", "jsonl", "--max-rps", str(tps)]
                    if start is not None:
                        one += ["--start", str(start)]
                    if end is not None:
                        one += ["--end", str(end)]
                    r1 = run_measured(one, env, args.timeout, count_output=True)
                    total += r1["wall"]
                row["one_by_one"] = total
            log("%s [%s]: %.2f s = %.2fx ideal, %d requests (%.2fx pages), %d throttled, "
                "in flight %.1f (max %d), RSS %.1f MB, %s"
                % (sc["name"], mode, wall, row["ratio"], row["requests"],
                   row["requests"] / max(1, seq_pages), row["throttled"], row["mean_inflight"],
                   row["max_inflight"], row["rss"], row["check"]))
            rows.append(row)
    return rows


def render(args, rows, elapsed):
    out = []
    w = out.append
    w("# cwlogs get at the rate limit: scenario benchmark\n")
    w("Generated by `python3 bench/scenarios.py` on %s UTC (%d rep%s per row, median; %.0f s in all)."
      % (time.strftime("%Y-%m-%d %H:%M", time.gmtime()), args.reps, "" if args.reps == 1 else "s",
         elapsed))
    w("Machine: %d CPUs, %s. The stand-in answers every FilterLogEvents after the latency shown, "
      "holds a token bucket of TPS requests/s with a burst of one second's worth, and answers "
      "throttled requests at once.\n" % (os.cpu_count(), platform.platform(terse=True)))
    w("| scenario | mode | sequential pages | sequential s | ideal s (pages/TPS) | cwlogs s | "
      "x ideal | requests (x pages) | throttled | in flight mean/max | peak RSS MB | check |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        tgt = ""
        if r.get("target") and r["mode"] == "known":
            tgt = " (target %.1f: %s)" % (r["target"], "met" if r["ratio"] <= r["target"] else "NOT met")
        w("| %s | %s | %d | %.2f | %.2f | %.2f | **%.2f**%s | %d (%.2f) | %d (%.1f%%) | %.1f / %d | %.1f | %s |"
          % (r["scenario"], r["mode"], r["seq_pages"], r["seq_wall"], r["ideal"], r["wall"],
             r["ratio"], tgt, r["requests"], r["requests"] / max(1, r["seq_pages"]), r["throttled"],
             100.0 * r["throttled"] / max(1, r["requests"]), r["mean_inflight"], r["max_inflight"],
             r["rss"], r["check"]))
    w("")
    for r in rows:
        if "one_by_one" in r:
            w("- %s: merged %.2f s vs the sources one after the other %.2f s (%s)."
              % (r["scenario"], r["wall"], r["one_by_one"],
                 "no slower" if r["wall"] <= r["one_by_one"] * 1.05 else "SLOWER"))
    w("\nModes: known = `--max-rps TPS` (the client knows the quota, as it does on AWS endpoints "
      "from the region); discovered = no hint (custom endpoint: the rate is found from throttles); "
      "before = the checkout given with --before, same run, rate discovered (it has no --max-rps).")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
