#!/usr/bin/env python3
"""Local stand-in for the CloudWatch Logs read API, realistic where it matters for a reader
(python3 standard library only). Used by the benchmarks (bench/) and the scale specs (spec/).

Usage:
    python3 bench/standin.py [--group-spec SPEC]... [--events N --streams S --group NAME]
                             [--port P] [--idle-exit SECONDS] [--seed N] [service options]

It builds deterministic synthetic log groups in memory, binds 127.0.0.1 (port 0 unless
--port), prints "PORT <n>" as the first line on stdout and flushes.

Groups
  --group-spec 'name=/g0,events=100000,streams=200,span_ms=86400000,end_ago_ms=60000,...'
  (repeatable) keys, all optional but name:
      events      number of events (default 10000)
      streams     streams that have events (default 20); `empty_streams` more without any
      span_ms     the events' time extent; they end `end_ago_ms` (default 60000) before the
                  stand-in started, or at `end_ms` (epoch ms)
      layout      uniform | bursty (70 % of the events in three bursts of 1 % of the span)
      dup         chance that an event repeats the previous timestamp (default 0.02)
      big         chance of a 200 KB message (default 0)
      rare        chance that a message carries the word RAREWORD (default 0.001)
      names       lambda (2026/11/25/[$LATEST]<hex>) | families (web/, worker/, api/v1/...)
      seed        per-group seed (default: --seed and the group's position)
  Without --group-spec, --events/--streams/--group make the legacy benchmark group: about one
  event per ms (steps of 0, 1 or 2 ms), messages of 60-300 bytes, ending a minute ago.
  Messages are varied text: plain lines, JSON lines with escaped quotes, UTF-8, trailing
  "\\r\\n" or spaces, and about 1 in 200 spanning several lines. eventIds are unique
  56-digit strings. Each event's JSON is serialised once into one contiguous buffer per
  group, so an unfiltered page is a single slice of it, sent with sendmsg() without copying.

Protocol (HTTP/1.1, keep-alive, one thread per connection; signatures are not checked)
  POST / with X-Amz-Target: Logs_20140328.<Op>, JSON bodies, errors as AWS sends them
  (400 {"__type": ..., "message": ...}).
  FilterLogEvents: logGroupName or logGroupIdentifier (name or ARN); startTime <= timestamp
      <= endTime (both inclusive, as AWS documents); logStreamNames (1-100 names, more is
      InvalidParameterException, as AWS), logStreamNamePrefix (not together with names),
      filterPattern (terms, "quoted phrases", ?any-of terms, -excluded terms; case
      sensitive); limit 1-10000. Pages hold at most `page_events` (10,000) events and
      `page_bytes` (1 MB) of event JSON, in (timestamp, ingestion) order across streams;
      the last page has no nextToken. A nextToken is bound to its request: sent with other
      parameters it is refused (InvalidParameterException). With a filter pattern each
      request scans at most `scan_budget` events of the range and returns what matched,
      possibly nothing, with a nextToken (AWS does this on sparse filters).
  DescribeLogStreams: prefix, orderBy LogStreamName | LastEventTime (not with a prefix),
      descending, limit 1-50, paging; lastEventTimestamp lags by `hint_lag_ms`.
  DescribeLogGroups: prefix, limit 1-50, paging.
  Anything else: 400 InvalidParameterException (unsupported operation).

Service options (command line, and at run time with GET /config?key=value&...):
  latency_ms      fixed latency of every POST (default 0)
  scan_us         extra latency per event scanned by FilterLogEvents (default 0)
  rate            FilterLogEvents token bucket, requests/s (0 = unlimited, the default);
                  `burst` tokens (default: one second's worth); an empty bucket answers at
                  once 400 ThrottlingException "Rate exceeded"
  describe_rate   the same for DescribeLogStreams and DescribeLogGroups (default 0)
  scan_budget     events scanned per request with a filter pattern (default 0 = unlimited)
  page_events, page_bytes   page limits (10000, 1048576)
  fault_5xx       chance of 503 ServiceUnavailableException (per request)
  fault_reset     chance of a connection reset without an answer
  empty_page      chance that a page with a token comes back empty (same position, new token)
  repeat_token    chance that a request with a token gets an empty page and the same token
  throttle_every  every K-th POST answered 400 ThrottlingException (0 = off)
  hint_lag_ms     DescribeLogStreams' lastEventTimestamp lags this far behind
  deny_describe   1: DescribeLogStreams answers 400 AccessDeniedException
  Faults are decided by a hash of the request body and how often that body was seen, so a
  run with the same requests gets the same faults, and a retry is a new draw.

Helper endpoints (GET)
  /info                 {"groups": [{name, events, streams, first_ts, last_ts, bytes}], ...}
                        (the first group's fields also at the top level)
  /count?group=G&start=MS&end=MS   {"events": n, "text_lines": m} for startTime/endTime
  /stats[?reset=1]      requests, throttled, faults, pages, events, bytes, scanned per op,
                        and FilterLogEvents concurrency (max and time-weighted mean)
  /config[?k=v&...]     read or change the service options
  /throttle?every=K     same as /config?throttle_every=K

The process exits by itself after --idle-exit seconds (default 120) without a request or
connection, and at once on SIGTERM or SIGINT. Bounds: 64 concurrent connections, 64 KiB
of request head, 1 MiB of request body.
"""

import argparse
import array
import bisect
import hashlib
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

MAX_CONNECTIONS = 64
MAX_HEAD = 65536
MAX_BODY = 1048576
BIG_MESSAGE = 200 * 1024

WORDS = ("request", "handler", "cache", "miss", "hit", "user", "session", "timeout", "retry",
         "upstream", "latency", "bytes", "queue", "worker", "shard", "commit", "flush", "index",
         "token", "refresh", "db", "query", "rows", "ok", "failed", "slow", "GET", "POST",
         "/api/v1/items", "/health", "status=200", "status=503", "region=eu-west-1")
UTF8_BITS = ("café", "naïve", "Grüße", "日本語のログ", "Ошибка", "emoji 🚀", "ε=0.01", "→")
LEVELS = ("INFO", "DEBUG", "WARN", "ERROR", "INFO", "INFO")
FAMILIES = ("web", "web-canary", "worker", "api/v1", "api/v2", "cron")

DEFAULTS = {
    "latency_ms": 0.0, "scan_us": 0.0, "rate": 0.0, "burst": 0.0, "describe_rate": 0.0,
    "scan_budget": 0, "page_events": 10000, "page_bytes": 1048576, "fault_5xx": 0.0,
    "fault_reset": 0.0, "empty_page": 0.0, "repeat_token": 0.0, "throttle_every": 0,
    "hint_lag_ms": 0, "deny_describe": 0,
}


def make_pool(rng, size, rare):
    """Message bodies: (decoded text, json-escaped text without quotes, extra text lines)."""
    pool = []
    for k in range(size):
        target = rng.randint(60, 300)
        kind = rng.random()
        if kind < 0.25:
            fields = ['"level":"%s"' % rng.choice(LEVELS).lower(), '"msg":"%s"' % rng.choice(WORDS)]
            while len(", ".join(fields)) < target - 10:
                fields.append('"%s":"%s"' % (rng.choice(WORDS), rng.choice(WORDS)))
            msg = "{" + ",".join(fields) + "}"
        else:
            parts = [rng.choice(LEVELS), "[worker-%d]" % rng.randrange(16)]
            while len(" ".join(parts)) < target:
                r = rng.random()
                if r < 0.08:
                    parts.append(rng.choice(UTF8_BITS))
                elif r < 0.12:
                    parts.append('path="C:\\\\tmp\\\\x"\ttab')
                else:
                    parts.append(rng.choice(WORDS))
            msg = " ".join(parts)
        if k % 200 == 7:
            msg += "\nTraceback (most recent call last):\n  File \"app.py\", line %d\nValueError: bad" % k
        if rare and k < max(1, int(size * rare)):
            msg += " RAREWORD"
        tail = rng.random()
        if tail < 0.10:
            msg += "\r\n"
        elif tail < 0.15:
            msg += "\n"
        elif tail < 0.18:
            msg += "  \t "
        pool.append((msg, json.dumps(msg, ensure_ascii=False)[1:-1], msg.rstrip(" \t\r\n").count("\n")))
    return pool


def big_message(rng, i):
    unit = "big message %d: Grüße 日本 🚀 \"quoted\" \\ back\tslash\n" % i
    text = (unit * (BIG_MESSAGE // len(unit.encode()) + 1))
    b = text.encode()[:BIG_MESSAGE]
    return b.decode("utf-8", "ignore")


class Group:
    def __init__(self, gi, name, n, nstreams, seed, end_ms, span_ms=None, layout="uniform",
                 dup=0.02, big=0.0, rare=0.001, names="lambda", empty_streams=0):
        rng = random.Random(seed)
        self.name = name
        self.arn = "arn:aws:logs:us-east-1:123456789012:log-group:%s" % name
        self.n = n
        if names == "families":
            streams = ["%s/%04d-%08x" % (FAMILIES[k % len(FAMILIES)], k, rng.getrandbits(32))
                       for k in range(nstreams + empty_streams)]
        else:
            streams = ["2026/11/25/[$LATEST]%032x" % rng.getrandbits(128)
                       for _ in range(nstreams + empty_streams)]
        self.stream_names = streams
        self.nstreams = len(streams)
        self.stream_index = {s: k for k, s in enumerate(streams)}
        pool = make_pool(rng, 4096, rare)
        self.pool = pool
        npool = len(pool)
        # timestamps, non-decreasing
        if span_ms is None:
            steps = [rng.choice((0, 1, 1, 1, 2)) for _ in range(n)]
            ts_list = []
            t = end_ms - sum(steps)
            for s in steps:
                t += s
                ts_list.append(t)
        else:
            lo = end_ms - span_ms
            if layout == "bursty":
                centers = [rng.random() for _ in range(3)]
                us = []
                for _ in range(n):
                    if rng.random() < 0.7:
                        c = rng.choice(centers)
                        us.append(min(1.0, max(0.0, c + (rng.random() - 0.5) * 0.01)))
                    else:
                        us.append(rng.random())
            else:
                us = [rng.random() for _ in range(n)]
            us.sort()
            ts_list = []
            prev = None
            for u in us:
                t = lo + int(u * span_ms)
                if prev is not None and rng.random() < dup:
                    t = prev
                if prev is not None and t < prev:
                    t = prev
                ts_list.append(t)
                prev = t
        self.ts = array.array("q", ts_list)
        self.off = array.array("q")
        self.stream_of = array.array("I")
        self.msg_of = array.array("I")     # pool index, or npool + k for big message k
        self.big = []
        self.ml_idx = []
        self.ml_cum = [0]
        first = [None] * self.nstreams
        last = [None] * self.nstreams
        blob = bytearray()
        off_append, so_append, mo_append = self.off.append, self.stream_of.append, self.msg_of.append
        rand = rng.random
        for i in range(n):
            ts = ts_list[i]
            if big and rand() < big:
                text = "[%d] %s" % (i, big_message(rng, i))
                body = json.dumps(text, ensure_ascii=False)[1:-1]
                extra = text.rstrip(" \t\r\n").count("\n")
                mo_append(npool + len(self.big))
                self.big.append(text)
                msg_json = body
            else:
                p = int(rand() * npool)
                _, body, extra = pool[p]
                mo_append(p)
                msg_json = "[%d] %s" % (i, body)
            k = int(rand() * nstreams) if nstreams else 0
            so_append(k)
            if first[k] is None:
                first[k] = ts
            last[k] = ts
            ingest = ts + 50 + (i % 900)
            frag = ('{"logStreamName":"%s","timestamp":%d,"message":"%s",'
                    '"ingestionTime":%d,"eventId":"%020d%02d%034d"}'
                    % (streams[k], ts, msg_json, ingest, ts, gi % 100, i))
            off_append(len(blob))
            blob += frag.encode("utf-8")
            blob += b","
            if extra:
                self.ml_idx.append(i)
                self.ml_cum.append(self.ml_cum[-1] + extra)
        self.off.append(len(blob))  # event k spans blob[off[k] : off[k+1] - 1]
        self.blob = blob
        self.view = memoryview(blob)
        self.first_ts_of = first
        self.last_ts_of = last
        self.creation_time = (self.ts[0] if n else end_ms) - 3600000

    def message(self, i):
        m = self.msg_of[i]
        if m >= len(self.pool):
            return self.big[m - len(self.pool)]
        return "[%d] %s" % (i, self.pool[m][0])

    def range_of(self, start, end):
        lo = 0 if start is None else bisect.bisect_left(self.ts, start)
        hi = self.n if end is None else bisect.bisect_right(self.ts, end)
        return lo, max(lo, hi)

    def count(self, start, end):
        lo, hi = self.range_of(start, end)
        extra = self.ml_cum[bisect.bisect_left(self.ml_idx, hi)] - self.ml_cum[bisect.bisect_left(self.ml_idx, lo)]
        return hi - lo, hi - lo + extra

    def frag(self, k):
        return self.view[self.off[k]:self.off[k + 1] - 1]

    def contiguous_page(self, lo, hi, max_events, max_bytes):
        """(first, past) of the unfiltered page starting at lo, within [lo, hi)."""
        j = min(hi, lo + max_events)
        if j > lo:
            jb = bisect.bisect_right(self.off, self.off[lo] + max_bytes + 1, lo, j + 1) - 1
            j = max(lo + 1, min(j, jb))
        return lo, j


def parse_pattern(text):
    """Filter pattern -> (all_terms, any_terms, none_terms), or raises ValueError."""
    if text is None or text.strip() == "":
        return None
    if len(text) > 1024:
        raise ValueError("filterPattern is longer than 1024 characters")
    s = text.strip()
    if s.startswith("{") or s.startswith("["):
        raise ValueError("JSON and space-delimited filter patterns are not supported here")
    all_t, any_t, none_t = [], [], []
    i = 0
    while i < len(s):
        if s[i].isspace():
            i += 1
            continue
        kind = None
        if s[i] in "?-" and i + 1 < len(s) and not s[i + 1].isspace():
            kind = s[i]
            i += 1
        if s[i] == '"':
            j = s.find('"', i + 1)
            if j < 0:
                raise ValueError("unterminated quoted phrase in filterPattern")
            term, i = s[i + 1:j], j + 1
        else:
            j = i
            while j < len(s) and not s[j].isspace():
                j += 1
            term, i = s[i:j], j
        if term == "":
            continue
        (any_t if kind == "?" else none_t if kind == "-" else all_t).append(term)
    return all_t, any_t, none_t


def pattern_matches(pat, msg):
    all_t, any_t, none_t = pat
    for t in all_t:
        if t not in msg:
            return False
    if any_t and not any(t in msg for t in any_t):
        return False
    for t in none_t:
        if t in msg:
            return False
    return True


class ApiError(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class Bucket:
    def __init__(self):
        self.tokens = None
        self.t = time.monotonic()

    def take(self, rate, burst):
        """True if a request may pass now."""
        if rate <= 0:
            return True
        cap = burst if burst > 0 else max(1.0, rate)
        now = time.monotonic()
        if self.tokens is None:
            self.tokens = cap
        self.tokens = min(cap, self.tokens + (now - self.t) * rate)
        self.t = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Stats:
    OPS = ("FilterLogEvents", "DescribeLogStreams", "DescribeLogGroups", "other")

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.requests = 0
        self.pages = self.events = self.bytes = self.throttled = self.errors = 0
        self.faults = self.scanned = 0
        self.by_op = {op: {"requests": 0, "throttled": 0, "faults": 0} for op in self.OPS}
        self.inflight = 0
        self.max_inflight = 0
        self.area = 0.0          # integral of FilterLogEvents in flight over time
        self.t0 = time.monotonic()
        self.t_last = self.t0
        self.first_req = None
        self.last_done = None

    def _advance(self, now):
        self.area += self.inflight * (now - self.t_last)
        self.t_last = now

    def begin_filter(self):
        with self.lock:
            now = time.monotonic()
            self._advance(now)
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
            if self.first_req is None:
                self.first_req = now

    def end_filter(self):
        with self.lock:
            now = time.monotonic()
            self._advance(now)
            self.inflight -= 1
            self.last_done = now

    def snapshot(self, reset=False):
        with self.lock:
            now = time.monotonic()
            self._advance(now)
            busy = (self.last_done - self.first_req) if self.first_req and self.last_done else 0.0
            d = {"requests": self.requests, "pages": self.pages, "events": self.events,
                 "bytes": self.bytes, "throttled": self.throttled, "errors": self.errors,
                 "faults": self.faults, "scanned": self.scanned, "by_op": self.by_op,
                 "max_inflight": self.max_inflight,
                 "mean_inflight": (self.area / busy) if busy > 0 else 0.0}
            if reset:
                self.reset()
            return d


class Server:
    def __init__(self, groups, idle_exit, config):
        self.groups = groups
        self.by_name = {}
        for g in groups:
            self.by_name[g.name] = g
            self.by_name[g.arn] = g
            self.by_name[g.arn + ":*"] = g
        self.idle_exit = idle_exit
        self.cfg = dict(DEFAULTS)
        self.cfg.update(config)
        self.cfg_lock = threading.Lock()
        self.stats = Stats()
        self.post_count = 0
        self.seen_bodies = {}
        self.buckets = {op: Bucket() for op in Stats.OPS}
        self.last_activity = time.monotonic()
        self.conns = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def conf(self, key):
        return self.cfg[key]

    # -- responses -------------------------------------------------------------------
    @staticmethod
    def send(conn, status, parts, reason=None, ctype=b"application/x-amz-json-1.1"):
        total = sum(len(p) for p in parts)
        head = (b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                b"x-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\n\r\n"
                % (status, reason or (b"OK" if status == 200 else b"Bad Request"), ctype, total))
        bufs = [memoryview(head)] + [memoryview(p) for p in parts]
        while bufs:
            sent = conn.sendmsg(bufs[:512])
            while bufs and sent >= len(bufs[0]):
                sent -= len(bufs[0])
                bufs.pop(0)
            if bufs and sent:
                bufs[0] = bufs[0][sent:]

    def send_json(self, conn, doc, status=200):
        self.send(conn, status, [json.dumps(doc).encode()])

    def error(self, conn, code, message, status=400):
        with self.stats.lock:
            self.stats.errors += 1
        self.send_json(conn, {"__type": code, "message": message}, status)

    # -- faults ----------------------------------------------------------------------
    def seen(self, body):
        """How many times this request body came before (so a retry is a new draw)."""
        with self.stats.lock:
            n = self.seen_bodies.get(body, 0)
            self.seen_bodies[body] = n + 1
            return n

    @staticmethod
    def draw(body, n, salt):
        """A deterministic number in [0, 1) for this body, the n-th time it is seen."""
        h = hashlib.blake2b(b"%s|%d|" % (salt.encode(), n) + body, digest_size=8).digest()
        return struct.unpack("<Q", h)[0] / 2.0 ** 64

    # -- operations ------------------------------------------------------------------
    def group_for(self, req):
        name = req.get("logGroupName")
        ident = req.get("logGroupIdentifier")
        if name is not None and ident is not None:
            raise ApiError("InvalidParameterException",
                           "logGroupName and logGroupIdentifier cannot both be given")
        key = name if name is not None else ident
        if not isinstance(key, str) or key == "":
            raise ApiError("InvalidParameterException", "logGroupName or logGroupIdentifier is required")
        g = self.by_name.get(key)
        if g is None:
            raise ApiError("ResourceNotFoundException", "The specified log group does not exist.")
        return g

    @staticmethod
    def query_hash(req):
        keys = ("logGroupName", "logGroupIdentifier", "startTime", "endTime", "logStreamNames",
                "logStreamNamePrefix", "filterPattern")
        doc = json.dumps([req.get(k) for k in keys], sort_keys=True).encode()
        return hashlib.blake2b(doc, digest_size=6).hexdigest()

    def filter_log_events(self, conn, req, body, nseen):
        t0 = time.monotonic()
        g = self.group_for(req)
        limit = req.get("limit")
        if limit is None:
            limit = 10000
        if not isinstance(limit, int) or not 1 <= limit <= 10000:
            raise ApiError("InvalidParameterException", "limit must be within 1..10000")
        start, end = req.get("startTime"), req.get("endTime")
        for v in (start, end):
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise ApiError("InvalidParameterException", "startTime/endTime must be non-negative integers")
        names = req.get("logStreamNames")
        prefix = req.get("logStreamNamePrefix")
        if names is not None:
            if not isinstance(names, list) or not 1 <= len(names) <= 100 or \
                    not all(isinstance(s, str) and s for s in names):
                raise ApiError("InvalidParameterException",
                               "1 validation error detected: Value at 'logStreamNames' failed to "
                               "satisfy constraint: Member must have length less than or equal to 100")
            if prefix is not None:
                raise ApiError("InvalidParameterException",
                               "Cannot specify both logStreamNames and logStreamNamePrefix")
        if prefix is not None and (not isinstance(prefix, str) or prefix == ""):
            raise ApiError("InvalidParameterException", "logStreamNamePrefix must be a non-empty string")
        try:
            pat = parse_pattern(req.get("filterPattern"))
        except ValueError as e:
            raise ApiError("InvalidParameterException", str(e))
        qh = self.query_hash(req)
        lo, hi = g.range_of(start, end)
        token = req.get("nextToken")
        if token is not None:
            try:
                tag, th, a, b = token.split(":")
                pos, thi = int(a), int(b)
                if tag != "v2" or th != qh or not lo <= pos <= thi or thi != hi:
                    raise ValueError(token)
            except (ValueError, AttributeError):
                raise ApiError("InvalidParameterException", "The specified nextToken is invalid.")
        else:
            pos = lo
        cfg = self.cfg
        max_events = min(limit, int(cfg["page_events"]))
        max_bytes = int(cfg["page_bytes"])

        quirk = None
        if token is not None and cfg["repeat_token"] > 0 and self.draw(body, nseen, "repeat") < cfg["repeat_token"]:
            quirk = "repeat"
        elif pos < hi and cfg["empty_page"] > 0 and self.draw(body, nseen, "empty") < cfg["empty_page"]:
            quirk = "empty"

        parts = [b'{"events":[']
        scanned = 0
        if quirk is not None:
            nxt, npage = pos, 0
            next_token = token if quirk == "repeat" else "v2:%s:%d:%d" % (qh, pos, hi)
            if quirk == "empty":
                next_token = next_token if pos < hi else None
        elif names is None and prefix is None and pat is None:
            a, b = g.contiguous_page(pos, hi, max_events, max_bytes)
            if b > a:
                parts.append(g.view[g.off[a]:g.off[b] - 1])
            nxt, npage, scanned = b, b - a, b - a
            next_token = "v2:%s:%d:%d" % (qh, nxt, hi) if nxt < hi else None
        else:
            allowed = None
            if names is not None:
                allowed = bytearray(g.nstreams)
                for s in names:
                    k = g.stream_index.get(s)
                    if k is not None:
                        allowed[k] = 1
            elif prefix is not None:
                allowed = bytearray(1 if s.startswith(prefix) else 0 for s in g.stream_names)
            budget = int(cfg["scan_budget"]) if pat is not None else 0
            stop = hi if budget <= 0 else min(hi, pos + budget)
            frags, nbytes = [], 0
            k = pos
            stream_of, off = g.stream_of, g.off
            while k < stop:
                if (allowed is None or allowed[stream_of[k]]) and \
                        (pat is None or pattern_matches(pat, g.message(k))):
                    size = off[k + 1] - 1 - off[k]
                    if frags and (len(frags) >= max_events or nbytes + size + 1 > max_bytes):
                        break
                    frags.append(g.frag(k))
                    nbytes += size + 1
                k += 1
            scanned = k - pos
            nxt, npage = k, len(frags)
            if frags:
                parts.append(b",".join(frags))
            next_token = "v2:%s:%d:%d" % (qh, nxt, hi) if nxt < hi else None
        if next_token is not None:
            parts.append(b'],"searchedLogStreams":[],"nextToken":"%s"}' % next_token.encode())
        else:
            parts.append(b'],"searchedLogStreams":[]}')
        nbytes = sum(len(p) for p in parts)
        with self.stats.lock:
            self.stats.pages += 1
            self.stats.events += npage
            self.stats.bytes += nbytes
            self.stats.scanned += scanned
        self.sleep_until(t0 + cfg["latency_ms"] / 1000.0 + scanned * cfg["scan_us"] / 1e6)
        self.send(conn, 200, parts)

    @staticmethod
    def sleep_until(t):
        d = t - time.monotonic()
        if d > 0:
            time.sleep(d)

    def describe_log_streams(self, conn, req):
        t0 = time.monotonic()
        if self.cfg["deny_describe"]:
            raise ApiError("AccessDeniedException", "User is not authorized to perform: "
                           "logs:DescribeLogStreams")
        g = self.group_for(req)
        prefix = req.get("logStreamNamePrefix")
        order = req.get("orderBy") or "LogStreamName"
        desc = bool(req.get("descending"))
        limit = req.get("limit") or 50
        if order not in ("LogStreamName", "LastEventTime"):
            raise ApiError("InvalidParameterException", "orderBy must be LogStreamName or LastEventTime")
        if order == "LastEventTime" and prefix:
            raise ApiError("InvalidParameterException",
                           "Cannot order by LastEventTime with a logStreamNamePrefix.")
        if not isinstance(limit, int) or not 1 <= limit <= 50:
            raise ApiError("InvalidParameterException", "limit must be within 1..50")
        lag = int(self.cfg["hint_lag_ms"])
        rows = []
        for k, s in enumerate(g.stream_names):
            if prefix and not s.startswith(prefix):
                continue
            row = {"logStreamName": s, "creationTime": g.creation_time, "storedBytes": 0,
                   "arn": "%s:log-stream:%s" % (g.arn, s)}
            if g.first_ts_of[k] is not None:
                last = g.last_ts_of[k]
                if lag > 0:
                    # the newest event at least `lag` ms older than the true last one
                    ts = g.ts
                    j = bisect.bisect_right(ts, last - lag) - 1
                    while j >= 0 and g.stream_of[j] != k:
                        j -= 1
                    last = ts[j] if j >= 0 else g.first_ts_of[k]
                row["firstEventTimestamp"] = g.first_ts_of[k]
                row["lastEventTimestamp"] = last
                row["lastIngestionTime"] = last + 50
            rows.append(row)
        if order == "LastEventTime":
            rows.sort(key=lambda r: (r.get("lastEventTimestamp", -1), r["logStreamName"]))
        else:
            rows.sort(key=lambda r: r["logStreamName"])
        if desc:
            rows.reverse()
        start = 0
        token = req.get("nextToken")
        if token is not None:
            try:
                start = int(token.split(":")[1])
            except (ValueError, IndexError, AttributeError):
                raise ApiError("InvalidParameterException", "The specified nextToken is invalid.")
        page = rows[start:start + limit]
        doc = {"logStreams": page}
        if start + limit < len(rows):
            doc["nextToken"] = "s:%d" % (start + limit)
        self.sleep_until(t0 + self.cfg["latency_ms"] / 1000.0)
        self.send_json(conn, doc)

    def describe_log_groups(self, conn, req):
        t0 = time.monotonic()
        prefix = req.get("logGroupNamePrefix") or ""
        limit = req.get("limit") or 50
        groups = []
        for g in sorted(self.groups, key=lambda x: x.name):
            if g.name.startswith(prefix):
                groups.append({"logGroupName": g.name, "creationTime": g.creation_time,
                               "metricFilterCount": 0, "arn": g.arn + ":*", "logGroupArn": g.arn,
                               "storedBytes": len(g.blob), "logGroupClass": "STANDARD"})
        start = 0
        token = req.get("nextToken")
        if token:
            try:
                start = int(token.split(":")[1])
            except (ValueError, IndexError, AttributeError):
                raise ApiError("InvalidParameterException", "The specified nextToken is invalid.")
        doc = {"logGroups": groups[start:start + limit]}
        if start + limit < len(groups):
            doc["nextToken"] = "g:%d" % (start + limit)
        self.sleep_until(t0 + self.cfg["latency_ms"] / 1000.0)
        self.send_json(conn, doc)

    def handle_post(self, conn, headers, body):
        target = headers.get(b"x-amz-target", b"").decode("latin-1")
        op = target.split(".", 1)[-1]
        opkey = op if op in Stats.OPS else "other"
        with self.stats.lock:
            self.stats.requests += 1
            self.stats.by_op[opkey]["requests"] += 1
            self.post_count += 1
            n = self.post_count
        cfg = self.cfg
        rate = cfg["rate"] if opkey == "FilterLogEvents" else cfg["describe_rate"]
        throttled = (cfg["throttle_every"] and n % int(cfg["throttle_every"]) == 0)
        if not throttled:
            with self.cfg_lock:
                throttled = not self.buckets[opkey].take(rate, cfg["burst"] if opkey == "FilterLogEvents" else 0)
        if throttled:
            with self.stats.lock:
                self.stats.throttled += 1
                self.stats.by_op[opkey]["throttled"] += 1
            return self.send(conn, 400, [b'{"__type":"ThrottlingException","message":"Rate exceeded"}'])
        nseen = self.seen(body) if any(cfg[k] > 0 for k in ("fault_5xx", "fault_reset", "empty_page",
                                                               "repeat_token")) else 0
        if cfg["fault_5xx"] > 0 or cfg["fault_reset"] > 0:
            d = self.draw(body, nseen, "fault")
            if d < cfg["fault_reset"]:
                with self.stats.lock:
                    self.stats.faults += 1
                    self.stats.by_op[opkey]["faults"] += 1
                raise ConnectionResetError("injected reset")
            if d < cfg["fault_reset"] + cfg["fault_5xx"]:
                with self.stats.lock:
                    self.stats.faults += 1
                    self.stats.by_op[opkey]["faults"] += 1
                return self.error(conn, "ServiceUnavailableException", "injected fault", status=503)
        try:
            req = json.loads(body or b"{}")
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError as e:
            return self.error(conn, "SerializationException", "invalid JSON body: %s" % e)
        try:
            if op == "FilterLogEvents":
                self.stats.begin_filter()
                try:
                    return self.filter_log_events(conn, req, body, nseen)
                finally:
                    self.stats.end_filter()
            if op == "DescribeLogStreams":
                return self.describe_log_streams(conn, req)
            if op == "DescribeLogGroups":
                return self.describe_log_groups(conn, req)
            raise ApiError("InvalidParameterException", "unsupported operation '%s'" % target)
        except ApiError as e:
            return self.error(conn, e.code, e.message, e.status)

    def handle_get(self, conn, path):
        u = urlsplit(path.decode("latin-1"))
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        try:
            if u.path == "/info":
                rows = [{"group": g.name, "name": g.name, "events": g.n, "streams": g.nstreams,
                         "stream_names": g.stream_names if q.get("names") == "1" else None,
                         "bytes": len(g.blob), "first_ts": g.ts[0] if g.n else None,
                         "last_ts": g.ts[-1] if g.n else None} for g in self.groups]
                doc = dict(rows[0]) if rows else {}
                doc["groups"] = rows
            elif u.path == "/count":
                g = self.by_name[q["group"]] if "group" in q else self.groups[0]
                s = int(q["start"]) if "start" in q else None
                e = int(q["end"]) if "end" in q else None
                n, lines = g.count(s, e)
                doc = {"events": n, "text_lines": lines}
            elif u.path == "/stats":
                doc = self.stats.snapshot(reset=q.get("reset") == "1")
            elif u.path in ("/config", "/throttle"):
                if u.path == "/throttle":
                    q = {"throttle_every": q.get("every", "0")}
                with self.cfg_lock:
                    for k, v in q.items():
                        if k not in DEFAULTS:
                            raise KeyError(k)
                        self.cfg[k] = type(DEFAULTS[k])(float(v)) if isinstance(DEFAULTS[k], int) else float(v)
                        if k in ("rate", "burst", "describe_rate"):
                            self.buckets = {op: Bucket() for op in Stats.OPS}
                    self.post_count = 0
                    doc = dict(self.cfg)
            else:
                return self.error(conn, "NotFound", "no such path", status=404)
        except (KeyError, ValueError) as e:
            return self.error(conn, "InvalidParameterException", "bad query: %s" % e)
        self.send(conn, 200, [json.dumps(doc).encode()], ctype=b"application/json")

    # -- connections -----------------------------------------------------------------
    def serve_conn(self, conn):
        try:
            conn.settimeout(self.idle_exit)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = b""
            while True:
                while True:
                    end = buf.find(b"\r\n\r\n")
                    if end >= 0:
                        break
                    if len(buf) > MAX_HEAD:
                        return
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf[:end], buf[end + 4:]
                lines = head.split(b"\r\n")
                try:
                    method, path, _version = lines[0].split(b" ", 2)
                except ValueError:
                    return
                headers = {}
                for line in lines[1:]:
                    k, _, v = line.partition(b":")
                    headers[k.strip().lower()] = v.strip()
                try:
                    clen = int(headers.get(b"content-length", b"0"))
                except ValueError:
                    return
                if clen < 0 or clen > MAX_BODY:
                    return
                if headers.get(b"expect", b"").lower() == b"100-continue":
                    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                while len(buf) < clen:
                    data = conn.recv(max(65536, clen - len(buf)))
                    if not data:
                        return
                    buf += data
                body, buf = buf[:clen], buf[clen:]
                self.last_activity = time.monotonic()
                if method == b"POST":
                    try:
                        self.handle_post(conn, headers, body)
                    except ConnectionResetError:
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        return
                elif method == b"GET":
                    self.handle_get(conn, path)
                else:
                    self.error(conn, "InvalidParameterException", "method not allowed", status=405)
                self.last_activity = time.monotonic()
                if headers.get(b"connection", b"").lower() == b"close":
                    return
        except OSError:
            pass
        finally:
            conn.close()
            self.conns.release()

    def watchdog(self):
        while True:
            time.sleep(1.0)
            if time.monotonic() - self.last_activity > self.idle_exit:
                os._exit(0)

    def run(self, port):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", port))
        ls.listen(128)
        ls.settimeout(1.0)
        sys.stdout.write("PORT %d\n" % ls.getsockname()[1])
        sys.stdout.flush()
        self.last_activity = time.monotonic()
        threading.Thread(target=self.watchdog, daemon=True).start()
        while True:
            try:
                conn, _ = ls.accept()
            except socket.timeout:
                continue
            self.last_activity = time.monotonic()
            if not self.conns.acquire(blocking=False):
                conn.close()
                continue
            threading.Thread(target=self.serve_conn, args=(conn,), daemon=True).start()


def parse_group_spec(text):
    out = {}
    for item in text.split(","):
        if not item.strip():
            continue
        k, sep, v = item.partition("=")
        if not sep:
            raise ValueError("group spec item %r is not key=value" % item)
        out[k.strip()] = v.strip()
    if "name" not in out:
        raise ValueError("group spec needs name=")
    return out


def build_groups(args, now_ms):
    groups = []
    if not args.group_spec:
        end_ms = now_ms - 60000
        groups.append(Group(0, args.group, args.events, args.streams, args.seed, end_ms))
        return groups
    for gi, text in enumerate(args.group_spec):
        s = parse_group_spec(text)
        n = int(s.get("events", 10000))
        end_ms = int(s["end_ms"]) if "end_ms" in s else now_ms - int(s.get("end_ago_ms", 60000))
        span = int(s["span_ms"]) if "span_ms" in s else None
        groups.append(Group(gi, s["name"], n, int(s.get("streams", 20)),
                            int(s.get("seed", args.seed * 1000 + gi)), end_ms, span_ms=span,
                            layout=s.get("layout", "uniform"), dup=float(s.get("dup", 0.02)),
                            big=float(s.get("big", 0)), rare=float(s.get("rare", 0.001)),
                            names=s.get("names", "lambda"),
                            empty_streams=int(s.get("empty_streams", 0))))
    return groups


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=2000000)
    ap.add_argument("--streams", type=int, default=50)
    ap.add_argument("--group", default="/bench/group")
    ap.add_argument("--group-spec", action="append", default=[])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--idle-exit", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=20261125)
    for k, v in DEFAULTS.items():
        ap.add_argument("--" + k.replace("_", "-"), type=type(v), default=v)
    args = ap.parse_args()
    if args.events < 0 or args.streams < 1:
        ap.error("--events must be >= 0 and --streams >= 1")

    def stop(_signum, _frame):
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    t0 = time.monotonic()
    now_ms = int(time.time()) * 1000
    try:
        groups = build_groups(args, now_ms)
    except ValueError as e:
        ap.error(str(e))
    config = {k: getattr(args, k) for k in DEFAULTS}
    sys.stderr.write("standin: %d groups, %d events, %.1f MB of event JSON, built in %.1f s\n"
                     % (len(groups), sum(g.n for g in groups), sum(len(g.blob) for g in groups) / 1e6,
                        time.monotonic() - t0))
    sys.stderr.flush()
    Server(groups, args.idle_exit, config).run(args.port)


if __name__ == "__main__":
    main()
