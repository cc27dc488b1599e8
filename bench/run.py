#!/usr/bin/env python3
"""Benchmark runner: cwlogs get throughput and peak RSS versus the transport lower bound.

    python3 bench/run.py [--events N] [--reps R] [--quick] [--no-build] [--out FILE] ...
    (sh bench/run.sh passes its arguments here)

Builds the core (make build BUILD_DIR=build-bench), starts bench/standin.py with a synthetic
group, then runs every mode --reps times (interleaved), each once more untimed with its
output counted to check correctness, and writes a Markdown table to bench/results.md.
Python 3 standard library only. See bench/README.md.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from harness import StandinProcess, run_measured

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LUA = os.environ.get("LUA", "lua5.4")


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def Standin(events, streams, idle_exit):
    return StandinProcess(["--events", str(events), "--streams", str(streams),
                           "--idle-exit", str(idle_exit)], "bench")


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description="cwlogs get throughput / RSS benchmark")
    ap.add_argument("--events", type=int, default=2000000)
    ap.add_argument("--streams", type=int, default=50)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="--events 200000 --reps 1")
    ap.add_argument("--modes", default="fetch_only,fetch_only_x4,fetch_decode,cwlogs_text,cwlogs_jsonl,api_events,api_batches")
    ap.add_argument("--build-dir", default="build-bench")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--timeout", type=float, default=0, help="seconds per run (default scales with --events)")
    ap.add_argument("--throttle-every", type=int, default=10, help="0 skips the throttling run")
    ap.add_argument("--throttle-events", type=int, default=300000)
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--before", default="", help="a built checkout of an earlier cwlogs: adds "
                    "before_text / before_jsonl / before_api_events rows run from it")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results.md"))
    args = ap.parse_args()
    if args.quick:
        args.events, args.reps = 200000, 1
    timeout = args.timeout or max(60.0, args.events / 20000.0)
    modes = [m for m in args.modes.split(",") if m]
    if args.before:
        modes += ["before_text", "before_jsonl", "before_api_events"]

    t_start = time.monotonic()
    if not args.no_build:
        log("building the core in %s" % args.build_dir)
        r = subprocess.run(["make", "build", "BUILD_DIR=" + args.build_dir], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            sys.stderr.write(r.stdout.decode("utf-8", "replace")[-4000:])
            raise SystemExit("bench: build failed (make build BUILD_DIR=%s)" % args.build_dir)

    log("starting the stand-in with %d events" % args.events)
    si = Standin(args.events, args.streams, idle_exit=120)
    try:
        return bench(args, si, modes, timeout, t_start)
    finally:
        si.stop()


def bench(args, si, modes, timeout, t_start):
    info = si.get("/info")
    ts0, ts1 = info["first_ts"], info["last_ts"]
    expect = si.get("/count?start=%d&end=%d" % (ts0, ts1))
    log("group %s: %d events, %.1f MB of event JSON, range %d..%d"
        % (info["group"], info["events"], info["bytes"] / 1e6, ts0, ts1))

    env = dict(os.environ)
    env.update({
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": si.url, "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "CWLOGS_CPATH": os.path.join(ROOT, args.build_dir, "?.so"),
    })
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"):
        env.pop(k, None)

    rng = ["--start", str(ts0), "--end", str(ts1)]
    group = info["group"]
    commands = {
        "fetch_only": [LUA, "bench/fetch_only.lua", "--endpoint", si.url, "--group", group] + rng,
        "fetch_only_x4": [LUA, "bench/fetch_only.lua", "--endpoint", si.url, "--group", group,
                          "--parallel", "4"] + rng,
        "fetch_decode": [LUA, "bench/fetch_only.lua", "--endpoint", si.url, "--group", group,
                         "--decode"] + rng,
        "cwlogs_text": [LUA, "bin/cwlogs", "get", group] + rng,
        "cwlogs_jsonl": [LUA, "bin/cwlogs", "get", group, "--format", "jsonl"] + rng,
        "api_events": [LUA, "bench/api_loop.lua", "--group", group] + rng,
        "api_batches": [LUA, "bench/api_loop.lua", "--group", group, "--batches"] + rng,
    }
    if args.before:
        b = os.path.abspath(args.before)
        commands["before_text"] = [LUA, os.path.join(b, "bin", "cwlogs"), "get", group] + rng
        commands["before_jsonl"] = [LUA, os.path.join(b, "bin", "cwlogs"), "get", group,
                                    "--format", "jsonl"] + rng
        commands["before_api_events"] = [LUA, os.path.join(b, "bench", "api_loop.lua"),
                                         "--group", group] + rng
    env_for = {m: env for m in commands}
    if args.before:
        benv = dict(env)
        benv["CWLOGS_CPATH"] = os.path.join(os.path.abspath(args.before), "build", "?.so")
        for m in ("before_text", "before_jsonl", "before_api_events"):
            env_for[m] = benv
    unknown = [m for m in modes if m not in commands]
    if unknown:
        raise SystemExit("bench: unknown modes %s (known: %s)" % (unknown, ", ".join(commands)))

    def summary_mode(mode):
        return mode.startswith("fetch_") or mode.startswith("api_") or mode == "before_api_events"

    def kind(mode):
        return mode[len("before_"):] if mode.startswith("before_") else mode

    def check(mode, res, served):
        """'ok' or the reason the run is wrong."""
        if res["timed_out"]:
            return "timed out after %.0f s" % timeout
        if res["rc"] != 0:
            return "exit %d: %s" % (res["rc"], " ".join(res["stderr"].strip().splitlines()[-1:]))
        if summary_mode(mode):
            out = res["tail"].decode("utf-8", "replace").strip()
            if mode.startswith("fetch_") and served["events"] != expect["events"]:
                return "fetched %d events, expected %d" % (served["events"], expect["events"])
            if (kind(mode).startswith("api_") or mode == "fetch_decode") and \
                    ("events=%d" % expect["events"]) not in out.split():
                return "printed %r, expected events=%d" % (out[-100:], expect["events"])
            return "ok"
        if res["lines"] is None:
            return "ok"
        want = expect["text_lines"] if kind(mode) in ("cwlogs_text", "text") else expect["events"]
        if res["lines"] != want:
            return "%d lines, expected %d" % (res["lines"], want)
        if kind(mode) in ("cwlogs_jsonl", "jsonl"):
            last = res["tail"].rstrip(b"\n").rsplit(b"\n", 1)[-1]
            try:
                ev = json.loads(last)
                if ev.get("timestamp") != ts1 or ev.get("logGroupName") != group:
                    return "last line is not the last event: %r" % last[:200]
            except ValueError:
                return "last line is not JSON: %r" % last[:200]
        return "ok"

    results = {m: [] for m in modes}
    verdict = {}
    # Untimed verification pass: the output of the cwlogs modes is counted through a pipe.
    if not args.no_verify:
        for m in modes:
            si.get("/stats?reset=1")
            res = run_measured(commands[m], env_for[m], timeout, count_output=True)
            served = si.get("/stats?reset=1")
            verdict[m] = check(m, res, served)
            log("verify %-14s %s (%.2f s)" % (m, verdict[m], res["wall"]))
    # Timed runs: cwlogs output to /dev/null; the one-line summaries of the others are read.
    for rep in range(args.reps):
        for m in modes:
            if "timed out" in verdict.get(m, ""):
                continue  # a hanging mode would only burn the time budget again
            si.get("/stats?reset=1")
            cpu0 = si.cpu_seconds()
            res = run_measured(commands[m], env_for[m], timeout, count_output=summary_mode(m))
            res["server_cpu"] = si.cpu_seconds() - cpu0
            served = si.get("/stats?reset=1")
            res["served"] = served
            if not summary_mode(m):
                res["lines"] = None
            res["check"] = check(m, res, served)
            results[m].append(res)
            log("rep %d %-14s %6.2f s  %6.1f MB  rc=%d  %s"
                % (rep + 1, m, res["wall"], res["maxrss_kb"] / 1024, res["rc"], res["check"]))

    throttle = None
    if args.throttle_every > 0 and "cwlogs_text" in modes:
        n = min(args.throttle_events, info["events"])
        t_end = ts0 if n == 0 else json_ts(si, ts0, ts1, n)
        want = si.get("/count?start=%d&end=%d" % (ts0, t_end))
        si.get("/throttle?every=%d" % args.throttle_every)
        si.get("/stats?reset=1")
        cmd = [LUA, "bin/cwlogs", "get", group, "--start", str(ts0), "--end", str(t_end)]
        res = run_measured(cmd, env, timeout, count_output=True)
        served = si.get("/stats?reset=1")
        si.get("/throttle?every=0")
        ok = (not res["timed_out"] and res["rc"] == 0 and res["lines"] == want["text_lines"])
        throttle = {"every": args.throttle_every, "events": want["events"], "res": res,
                    "served": served, "ok": ok,
                    "why": "ok" if ok else ("timed out" if res["timed_out"] else
                                            "rc=%d lines=%d expected %d %s" % (
                                                res["rc"], res["lines"], want["text_lines"],
                                                res["stderr"].strip()[-300:]))}
        log("throttled run: %.2f s, %d throttles, %s" % (res["wall"], served["throttled"], throttle["why"]))

    report = render(args, info, expect, modes, results, verdict, throttle, time.monotonic() - t_start)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(report)
    sys.stdout.write(report)
    bad = [m for m in modes if verdict.get(m, "ok") != "ok" or any(r["check"] != "ok" for r in results[m])]
    if throttle and not throttle["ok"]:
        bad.append("throttled")
    if bad:
        log("FAILED: %s" % ", ".join(bad))
        return 1
    return 0


def json_ts(si, ts0, ts1, n):
    """The smallest end time whose range [ts0, end] holds at least n events (bisection)."""
    lo, hi = ts0, ts1
    while lo < hi:
        mid = (lo + hi) // 2
        if si.get("/count?start=%d&end=%d" % (ts0, mid))["events"] >= n:
            hi = mid
        else:
            lo = mid + 1
    return lo


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def render(args, info, expect, modes, results, verdict, throttle, elapsed):
    out = []
    w = out.append
    w("# cwlogs get benchmark\n")
    w("Generated by `sh bench/run.sh%s` on %s UTC.\n" % (
        " --events %d" % args.events if args.events != 2000000 else "",
        time.strftime("%Y-%m-%d %H:%M", time.gmtime())))
    w("- Machine: %d CPUs (%s), %s; Lua: %s; Python %s. **The stand-in shares these CPUs with "
      "the client.**" % (os.cpu_count(), cpu_model(), platform.platform(terse=True),
                         subprocess.run([LUA, "-v"], stdout=subprocess.PIPE, text=True).stdout.strip(),
                         platform.python_version()))
    w("- Group: %d events over %d streams, %.1f MB of event JSON (%.0f bytes per event), "
      "%d text lines (multi-line messages). Full time range in one `get`."
      % (info["events"], info["streams"], info["bytes"] / 1e6, info["bytes"] / max(1, info["events"]),
         expect["text_lines"]))
    w("- %d timed runs per mode (median shown), interleaved; plus one untimed run per mode whose "
      "output was counted. Output of timed runs goes to /dev/null. Total bench time %.0f s.\n"
      % (args.reps, elapsed))
    w("| mode | wall s (median) | events/s | MB/s | peak RSS MB (median / max) | client CPU s "
      "| stand-in CPU s | requests | x fetch_only | check |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    base = results.get("fetch_only") and median([r["wall"] for r in results["fetch_only"]])
    for m in modes:
        rs = results[m]
        v = verdict.get(m, "not verified")
        checks = [r["check"] for r in rs if r["check"] != "ok"]
        check = v if v != "ok" else (checks[0] if checks else "ok")
        if not rs:
            w("| %s | - | - | - | - | - | - | - | - | %s |" % (m, check))
            continue
        wall = median([r["wall"] for r in rs])
        rss = [r["maxrss_kb"] / 1024 for r in rs]
        ratio = "%.2f" % (wall / base) if base else "-"
        w("| %s | %.2f | %s | %.0f | %.1f / %.1f | %.2f | %.2f | %d | %s | %s |" % (
            m, wall, "{:,}".format(int(expect["events"] / wall)),
            info["bytes"] / 1e6 / wall, median(rss), max(rss), median([r["cpu"] for r in rs]),
            median([r["server_cpu"] for r in rs]), rs[-1]["served"]["requests"], ratio, check))
    w("")
    if base and "cwlogs_text" in results and results["cwlogs_text"]:
        t = median([r["wall"] for r in results["cwlogs_text"]])
        rss = max(r["maxrss_kb"] for r in results["cwlogs_text"]) / 1024
        w("Targets (text output): within 1.5x of fetch_only: **%s** (%.2fx); peak RSS under 40 MB: "
          "**%s** (%.1f MB)%s.\n" % ("met" if t / base <= 1.5 else "not met", t / base,
                                     "met" if rss < 40 else "not met", rss,
                                     "" if info["events"] >= 2000000 else
                                     " (RSS target is for 2 M events; this run had fewer)"))
    med = {m: median([r["wall"] for r in results[m]]) for m in modes if results.get(m)}
    # `cwlogs get` (one group, no --grep/--limit) renders pages in C (core.renderer) and never
    # builds event tables; the API rows still go through decode_events and the pager.
    if all(m in med for m in ("fetch_only", "cwlogs_text")):
        total = med["cwlogs_text"]
        d = total - med["fetch_only"]
        w("Where the text run's time goes (differences of medians; noisy at the 0.1 s level): "
          "transport (fetch_only) %.2f s (%.0f%%); C rendering of pages into output lines, pager "
          "and writes %.2f s (%.0f%%).\n" % (med["fetch_only"], 100 * med["fetch_only"] / total,
                                            d, 100 * d / total))
    steps = [("transport (fetch_only)", None, "fetch_only"),
             ("C decode into Lua tables", "fetch_only", "fetch_decode"),
             ("pager (slices, admit, coroutine)", "fetch_decode", "api_batches"),
             ("per-event iterator", "api_batches", "api_events")]
    if all(m in med for m in ("fetch_only", "fetch_decode", "api_batches", "api_events")):
        total = med["api_events"]
        parts = []
        for label, a, b in steps:
            d = med[b] - (med[a] if a else 0.0)
            parts.append("%s %.2f s (%.0f%%)" % (label, d, 100 * d / total))
        w("Where the Lua API's time goes (api_events): " + "; ".join(parts) + ".\n")
    if throttle:
        r = throttle["res"]
        w("Throttled run: every %d-th request answered 400 ThrottlingException; `cwlogs get` text "
          "over the first %d events: %.2f s, %d requests, %d throttled, exit %d, %s.\n"
          % (throttle["every"], throttle["events"], r["wall"], throttle["served"]["requests"],
             throttle["served"]["throttled"], r["rc"], throttle["why"]))
    w("Modes: fetch_only = sequential page loop on the C engine, no decoding (the lower bound); "
      "fetch_only_x4 = the same with 4 time slices in flight; fetch_decode = fetch_only plus "
      "core.decode_events on each page (not a bound: shows the C decoder's share); cwlogs_text / cwlogs_jsonl = "
      "`bin/cwlogs get` to /dev/null; api_events = `for ev in client:events{}`; api_batches = "
      "`client:event_batches{}`. MB/s counts the event JSON served.")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
