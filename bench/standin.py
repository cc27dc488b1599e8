#!/usr/bin/env python3
"""Fast local stand-in for CloudWatch Logs FilterLogEvents (python3 standard library only).

Usage:
    python3 bench/standin.py [--events N] [--streams S] [--group NAME] [--port P]
                             [--idle-exit SECONDS] [--throttle-every K] [--seed N]

At start it builds a deterministic synthetic log group in memory, then binds 127.0.0.1
(port 0 unless --port), prints "PORT <n>" as the first line on stdout and flushes.

The group: N events (default 2,000,000) over S streams (default 50), timestamps
non-decreasing in steps of 0, 1 or 2 ms (about one event per ms, some identical), ending a
minute before the stand-in started. Messages are 60-300 bytes of varied text: plain log
lines, JSON lines with escaped quotes, some UTF-8, some with trailing "\\r\\n" or spaces,
about 1 in 200 spanning several lines. eventIds are unique 56-digit strings. Every event's
JSON is serialised once into one contiguous buffer, so a page is a single slice of it and
is sent with sendmsg() without copying.

Protocol (HTTP/1.1, keep-alive, one thread per connection; signatures are not checked):

  POST / with X-Amz-Target: Logs_20140328.FilterLogEvents and a JSON body:
      startTime <= timestamp <= endTime (both inclusive, as AWS documents), found by
      bisection; pages of at most `limit` (default and cap 10,000) events and at most
      1 MB of event JSON; nextToken "o:<index>:<end>" (opaque to clients); the last page
      has no nextToken. logStreamNames, logStreamNamePrefix and filterPattern are ignored.
      A logGroupName other than the group's gives 400 ResourceNotFoundException.
  POST / with X-Amz-Target: Logs_20140328.DescribeLogGroups: the one group.
  Any other target: 400 {"__type":"InvalidParameterException", ...}.
  --throttle-every K: every K-th POST gets 400 {"__type":"ThrottlingException", ...}.

  Helper endpoints for the benchmark runner (GET):
      /info                      {"group", "events", "streams", "first_ts", "last_ts", "bytes"}
      /count?start=MS&end=MS     {"events": n, "text_lines": m} for startTime=MS, endTime=MS
                                 (text_lines counts the lines of multi-line messages)
      /stats[?reset=1]           requests, pages, events and bytes served, throttled, errors
      /throttle?every=K          change the throttling period at run time (0 = off)

The process exits by itself after --idle-exit seconds (default 120) without a request or
connection, and at once on SIGTERM or SIGINT. Bounds: 64 concurrent connections, 64 KiB
of request head, 1 MiB of request body.
"""

import argparse
import array
import bisect
import json
import os
import random
import signal
import socket
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

PAGE_MAX_EVENTS = 10000
PAGE_MAX_BYTES = 1048576
MAX_CONNECTIONS = 64
MAX_HEAD = 65536
MAX_BODY = 1048576

WORDS = ("request", "handler", "cache", "miss", "hit", "user", "session", "timeout", "retry",
         "upstream", "latency", "bytes", "queue", "worker", "shard", "commit", "flush", "index",
         "token", "refresh", "db", "query", "rows", "ok", "failed", "slow", "GET", "POST",
         "/api/v1/items", "/health", "status=200", "status=503", "region=eu-west-1")
UTF8_BITS = ("café", "naïve", "Grüße", "日本語のログ", "Ошибка", "emoji 🚀", "ε=0.01", "→")
LEVELS = ("INFO", "DEBUG", "WARN", "ERROR", "INFO", "INFO")


def make_pool(rng, size):
    """A pool of message bodies: (json-escaped body without quotes, extra text lines)."""
    pool = []
    for k in range(size):
        target = rng.randint(60, 300)
        kind = rng.random()
        if kind < 0.25:
            # JSON log line: lots of escaped quotes for the decoder
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
        tail = rng.random()
        if tail < 0.10:
            msg += "\r\n"
        elif tail < 0.15:
            msg += "\n"
        elif tail < 0.18:
            msg += "  \t "
        extra = msg.rstrip(" \t\r\n").count("\n")
        pool.append((json.dumps(msg, ensure_ascii=False)[1:-1], extra))
    return pool


class Group:
    def __init__(self, name, n, nstreams, seed, end_ms):
        rng = random.Random(seed)
        self.name = name
        self.n = n
        self.nstreams = nstreams
        streams = ["2026/11/25/[$LATEST]%032x" % rng.getrandbits(128) for _ in range(nstreams)]
        self.stream_names = streams
        pool = make_pool(rng, 4096)
        steps = [rng.choice((0, 1, 1, 1, 2)) for _ in range(n)]
        span = sum(steps)
        ts = end_ms - span
        self.ts = array.array("q")
        self.off = array.array("q")     # byte offset where event k's JSON starts
        self.ml_idx = []                # indices of multi-line events (sorted)
        self.ml_cum = [0]               # prefix sums of their extra lines
        blob = bytearray()
        ts_append, off_append = self.ts.append, self.off.append
        rand = rng.random
        npool = len(pool)
        for i in range(n):
            ts += steps[i]
            body, extra = pool[int(rand() * npool)]
            stream = streams[int(rand() * nstreams)]
            ingest = ts + 50 + (i % 900)
            frag = ('{"logStreamName":"%s","timestamp":%d,"message":"[%d] %s",'
                    '"ingestionTime":%d,"eventId":"%020d%036d"}' % (stream, ts, i, body, ingest, ts, i))
            ts_append(ts)
            off_append(len(blob))
            blob += frag.encode("utf-8")
            blob += b","
            if extra:
                self.ml_idx.append(i)
                self.ml_cum.append(self.ml_cum[-1] + extra)
        off_append(len(blob))  # event k spans blob[off[k] : off[k+1] - 1]
        self.blob = blob
        self.view = memoryview(blob)
        self.creation_time = (self.ts[0] if n else end_ms) - 3600000

    def range_of(self, start, end):
        lo = 0 if start is None else bisect.bisect_left(self.ts, start)
        hi = self.n if end is None else bisect.bisect_right(self.ts, end)
        return lo, max(lo, hi)

    def count(self, start, end):
        lo, hi = self.range_of(start, end)
        extra = self.ml_cum[bisect.bisect_left(self.ml_idx, hi)] - self.ml_cum[bisect.bisect_left(self.ml_idx, lo)]
        return hi - lo, hi - lo + extra

    def page(self, lo, hi, limit):
        """(first, past) indices of the page starting at lo, within [lo, hi)."""
        j = min(hi, lo + limit)
        if j > lo:
            # largest j with off[j] - 1 - off[lo] <= PAGE_MAX_BYTES
            jb = bisect.bisect_right(self.off, self.off[lo] + PAGE_MAX_BYTES + 1, lo, j + 1) - 1
            j = max(lo + 1, min(j, jb))
        return lo, j


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.requests = self.pages = self.events = self.bytes = self.throttled = self.errors = 0

    def snapshot(self, reset=False):
        with self.lock:
            d = {"requests": self.requests, "pages": self.pages, "events": self.events,
                 "bytes": self.bytes, "throttled": self.throttled, "errors": self.errors}
            if reset:
                self.reset()
            return d


class Server:
    def __init__(self, group, idle_exit, throttle_every):
        self.g = group
        self.idle_exit = idle_exit
        self.throttle_every = throttle_every
        self.stats = Stats()
        self.post_count = 0
        self.last_activity = time.monotonic()
        self.conns = threading.BoundedSemaphore(MAX_CONNECTIONS)

    # -- responses -------------------------------------------------------------------
    @staticmethod
    def send(conn, status, parts, reason=None, ctype=b"application/x-amz-json-1.1"):
        total = sum(len(p) for p in parts)
        head = (b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                b"x-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\n\r\n"
                % (status, reason or (b"OK" if status == 200 else b"Bad Request"), ctype, total))
        bufs = [memoryview(head)] + [memoryview(p) for p in parts]
        while bufs:
            sent = conn.sendmsg(bufs)
            while bufs and sent >= len(bufs[0]):
                sent -= len(bufs[0])
                bufs.pop(0)
            if bufs and sent:
                bufs[0] = bufs[0][sent:]

    def error(self, conn, code, message, status=400):
        with self.stats.lock:
            self.stats.errors += 1
        body = json.dumps({"__type": code, "message": message}).encode()
        self.send(conn, status, [body])

    # -- operations ------------------------------------------------------------------
    def filter_log_events(self, conn, req):
        g = self.g
        name = req.get("logGroupName", req.get("logGroupIdentifier", g.name))
        if name != g.name:
            return self.error(conn, "ResourceNotFoundException", "The specified log group does not exist.")
        limit = req.get("limit") or PAGE_MAX_EVENTS
        if not isinstance(limit, int) or not 1 <= limit <= PAGE_MAX_EVENTS:
            return self.error(conn, "InvalidParameterException", "limit must be within 1..10000")
        start, end = req.get("startTime"), req.get("endTime")
        if (start is not None and not isinstance(start, int)) or (end is not None and not isinstance(end, int)):
            return self.error(conn, "InvalidParameterException", "startTime/endTime must be integers")
        token = req.get("nextToken")
        if token:
            try:
                tag, a, b = token.split(":")
                lo, hi = int(a), int(b)
                if tag != "o" or not 0 <= lo <= hi <= g.n:
                    raise ValueError(token)
            except (ValueError, AttributeError):
                return self.error(conn, "InvalidParameterException", "The specified nextToken is invalid.")
        else:
            lo, hi = g.range_of(start, end)
        a, b = g.page(lo, hi, limit)
        parts = [b'{"events":[']
        if b > a:
            parts.append(g.view[g.off[a]:g.off[b] - 1])
        if b < hi:
            parts.append(b'],"searchedLogStreams":[],"nextToken":"o:%d:%d"}' % (b, hi))
        else:
            parts.append(b'],"searchedLogStreams":[]}')
        nbytes = sum(len(p) for p in parts)
        with self.stats.lock:
            self.stats.pages += 1
            self.stats.events += b - a
            self.stats.bytes += nbytes
        self.send(conn, 200, parts)

    def describe_log_groups(self, conn, req):
        g = self.g
        prefix = req.get("logGroupNamePrefix") or ""
        groups = []
        if g.name.startswith(prefix):
            arn = "arn:aws:logs:us-east-1:123456789012:log-group:%s" % g.name
            groups.append({"logGroupName": g.name, "creationTime": g.creation_time,
                           "metricFilterCount": 0, "arn": arn + ":*", "logGroupArn": arn,
                           "storedBytes": len(g.blob), "logGroupClass": "STANDARD"})
        self.send(conn, 200, [json.dumps({"logGroups": groups}).encode()])

    def handle_post(self, conn, headers, body):
        with self.stats.lock:
            self.stats.requests += 1
            self.post_count += 1
            n = self.post_count
        if self.throttle_every and n % self.throttle_every == 0:
            with self.stats.lock:
                self.stats.throttled += 1
            body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
            return self.send(conn, 400, [body])
        target = headers.get(b"x-amz-target", b"").decode("latin-1")
        try:
            req = json.loads(body or b"{}")
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError as e:
            return self.error(conn, "SerializationException", "invalid JSON body: %s" % e)
        if target == "Logs_20140328.FilterLogEvents":
            return self.filter_log_events(conn, req)
        if target == "Logs_20140328.DescribeLogGroups":
            return self.describe_log_groups(conn, req)
        return self.error(conn, "InvalidParameterException", "unsupported operation '%s'" % target)

    def handle_get(self, conn, path):
        u = urlsplit(path.decode("latin-1"))
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        g = self.g
        try:
            if u.path == "/info":
                doc = {"group": g.name, "events": g.n, "streams": g.nstreams, "bytes": len(g.blob),
                       "first_ts": g.ts[0] if g.n else None, "last_ts": g.ts[-1] if g.n else None}
            elif u.path == "/count":
                s = int(q["start"]) if "start" in q else None
                e = int(q["end"]) if "end" in q else None
                n, lines = g.count(s, e)
                doc = {"events": n, "text_lines": lines}
            elif u.path == "/stats":
                doc = self.stats.snapshot(reset=q.get("reset") == "1")
            elif u.path == "/throttle":
                self.throttle_every = max(0, int(q.get("every", "0")))
                self.post_count = 0
                doc = {"throttle_every": self.throttle_every}
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
                    self.handle_post(conn, headers, body)
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=2000000)
    ap.add_argument("--streams", type=int, default=50)
    ap.add_argument("--group", default="/bench/group")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--idle-exit", type=float, default=120.0)
    ap.add_argument("--throttle-every", type=int, default=0)
    ap.add_argument("--seed", type=int, default=20261125)
    args = ap.parse_args()
    if args.events < 0 or args.streams < 1:
        ap.error("--events must be >= 0 and --streams >= 1")

    def stop(_signum, _frame):
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    t0 = time.monotonic()
    end_ms = (int(time.time()) - 60) * 1000
    group = Group(args.group, args.events, args.streams, args.seed, end_ms)
    sys.stderr.write("standin: %d events, %d streams, %.1f MB of event JSON, built in %.1f s\n"
                     % (group.n, group.nstreams, len(group.blob) / 1e6, time.monotonic() - t0))
    sys.stderr.flush()
    Server(group, args.idle_exit, args.throttle_every).run(args.port)


if __name__ == "__main__":
    main()
