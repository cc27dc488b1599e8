#!/usr/bin/env python3
"""Fault-injecting HTTP/1.1 stub for the specs (python3 standard library only).

Usage:
    python3 spec/support/stub_server.py --script FILE [--log FILE] [--idle-exit SECONDS]

Binds 127.0.0.1 on a free port and prints "PORT <n>" as its first line on stdout (flushed);
nothing else is printed there. Connections are kept alive (HTTP/1.1) until the client
closes them, an action says "close", or they sit idle for --idle-exit seconds. The server
exits by itself after --idle-exit seconds (default 60) without a new request or
connection, and at once on SIGTERM or SIGINT.

The script (JSON) is a list of actions, or a single action object. Requests consume
actions in the order they arrive, one each; once the list is used up, the last action
repeats. Every field of an action is optional:

    status     HTTP status (default 200)
    headers    {"Name": "value", ...} added to the response; Content-Length is computed
               unless given here
    body       response body: a string (sent as UTF-8) or any other JSON value (sent
               JSON-encoded, with Content-Type application/json unless one is given)
    body_b64   response body as base64 (arbitrary bytes); wins over body
    body_hex   response body as hex; wins over body
    delay_ms   wait this long before answering; with fault "stall", the wait happens
               between the headers and the body instead
    fault      null, or one of
                 "reset"           close the connection with a TCP RST, without answering
                 "reset_mid_body"  send the headers and half the body, then RST
                 "truncate"        announce a Content-Length larger than the body, send the
                                   body, then close normally (FIN)
                 "stall"           send the headers, stay silent for delay_ms, then send
                                   the body
    close      true: answer with "Connection: close" and close afterwards
    echo       true: the body is the request as JSON:
               {method, path, headers, body, body_b64, conn, seq}

Example, a throttled call that succeeds when retried:

    [{"status": 400, "body": {"__type": "ThrottlingException", "message": "Rate exceeded"}},
     {"status": 200, "body": {"events": []}}]

Every request is appended to the --log file, before it is answered, as one JSON line:

    {"method": "POST", "path": "/x?a=1", "headers": {"lower-case-name": "value", ...},
     "body": "<text, or null when the body is not UTF-8>", "body_b64": "...",
     "conn": <connection serial, from 1>, "seq": <request serial, from 1>}

Repeated request headers are joined with ", ". Resource bounds: 128 concurrent
connections, 64 KiB of request head, 64 MiB of request body.
"""

import argparse
import base64
import binascii
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from http import HTTPStatus

MAX_CONNECTIONS = 128
MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024


class BadRequest(Exception):
    pass


class State:
    def __init__(self, actions, log_path, idle_exit):
        self.actions = actions
        self.idle_exit = idle_exit
        self.lock = threading.Lock()
        self.next_action = 0
        self.conns = 0
        self.seq = 0
        self.open_conns = 0
        self.last_activity = time.monotonic()
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None

    def touch(self):
        with self.lock:
            self.last_activity = time.monotonic()

    def take_action(self):
        with self.lock:
            i = min(self.next_action, len(self.actions) - 1)
            self.next_action += 1
            self.seq += 1
            self.last_activity = time.monotonic()
            return self.actions[i], self.seq

    def record(self, entry):
        if self.log is None:
            return
        line = json.dumps(entry, sort_keys=True)
        with self.lock:
            self.log.write(line + "\n")
            self.log.flush()


class Reader:
    """Buffered reads from a socket, bounded by the limits above."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def until(self, marker, limit):
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out, self.buf = self.buf[:i], self.buf[i + len(marker):]
                return out
            if len(self.buf) > limit:
                raise BadRequest("request head too large")
            self._fill()

    def exactly(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def read_request(reader):
    """Returns (method, path, version, headers dict, body bytes); EOFError at a clean end."""
    head = reader.until(b"\r\n\r\n", MAX_HEAD)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise BadRequest("bad request line")
    method, path, version = parts
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest("bad header line")
        name, value = name.strip().lower(), value.strip()
        headers[name] = headers[name] + ", " + value if name in headers else value
    body = b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        total = 0
        while True:
            size = int(reader.until(b"\r\n", 1024).split(b";")[0], 16)
            if size == 0:
                while reader.until(b"\r\n", MAX_HEAD):
                    pass   # trailer fields, up to the empty line
                break
            total += size
            if total > MAX_BODY:
                raise BadRequest("request body too large")
            chunks.append(reader.exactly(size))
            reader.exactly(2)
        body = b"".join(chunks)
    elif "content-length" in headers:
        n = int(headers["content-length"])
        if n < 0 or n > MAX_BODY:
            raise BadRequest("bad content-length")
        body = reader.exactly(n)
    return method, path, version, headers, body


def request_entry(method, path, headers, body, conn, seq):
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {"method": method, "path": path, "headers": headers, "body": text,
            "body_b64": base64.b64encode(body).decode("ascii"), "conn": conn, "seq": seq}


def response_body(action, entry):
    headers = {k: str(v) for k, v in (action.get("headers") or {}).items()}
    lower = {k.lower() for k in headers}
    if action.get("echo"):
        body, is_json = json.dumps(entry).encode("utf-8"), True
    elif action.get("body_b64") is not None:
        body, is_json = base64.b64decode(action["body_b64"]), False
    elif action.get("body_hex") is not None:
        body, is_json = binascii.unhexlify(action["body_hex"]), False
    elif isinstance(action.get("body"), str):
        body, is_json = action["body"].encode("utf-8"), False
    elif action.get("body") is not None:
        body, is_json = json.dumps(action["body"]).encode("utf-8"), True
    else:
        body, is_json = b"", False
    if is_json and "content-type" not in lower:
        headers["Content-Type"] = "application/json"
    return headers, lower, body


def abort(sock):
    """Close with RST instead of FIN, the way a crashed peer or a middlebox does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()


def answer(sock, action, method, version, req_headers, entry):
    """Sends the response; returns False when the connection must end."""
    fault = action.get("fault")
    delay = (action.get("delay_ms") or 0) / 1000.0
    if delay and fault != "stall":
        time.sleep(delay)
    if fault == "reset":
        abort(sock)
        return False

    status = int(action.get("status", 200))
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    headers, lower, body = response_body(action, entry)
    client_close = req_headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
    close = bool(action.get("close")) or client_close or fault == "truncate"
    if "content-length" not in lower:
        length = len(body) + (max(len(body), 16) if fault == "truncate" else 0)
        headers["Content-Length"] = str(length)
    if close:
        headers["Connection"] = "close"
    head = "HTTP/1.1 %d %s\r\n" % (status, reason)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in headers.items()) + "\r\n"
    head = head.encode("latin-1")
    if method == "HEAD":
        body = b""

    if fault == "reset_mid_body":
        sock.sendall(head + body[: len(body) // 2])
        time.sleep(0.05)   # let the partial body leave before the RST overtakes it
        abort(sock)
        return False
    if fault == "stall":
        sock.sendall(head)
        time.sleep(delay)
        sock.sendall(body)
    else:
        sock.sendall(head + body)
    if close:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        return False
    return True


def serve_connection(state, sock, conn):
    sock.settimeout(state.idle_exit)
    reader = Reader(sock)
    try:
        while True:
            try:
                method, path, version, headers, body = read_request(reader)
            except (EOFError, BadRequest, ValueError, OSError):
                return
            action, seq = state.take_action()
            entry = request_entry(method, path, headers, body, conn, seq)
            state.record(entry)
            if not answer(sock, action, method, version, headers, entry):
                return
    except OSError:
        pass   # the client went away first; nothing to report
    finally:
        try:
            sock.close()
        except OSError:
            pass
        with state.lock:
            state.open_conns -= 1


def load_script(path):
    with open(path, encoding="utf-8") as f:
        script = json.load(f)
    if isinstance(script, dict):
        script = [script]
    if not isinstance(script, list) or not script or not all(isinstance(a, dict) for a in script):
        raise SystemExit("stub_server: the script must be a non-empty list of action objects")
    return script


def main():
    parser = argparse.ArgumentParser(description="fault-injecting HTTP/1.1 stub (loopback only)")
    parser.add_argument("--script", required=True, help="JSON list of actions")
    parser.add_argument("--log", help="append one JSON line per request here")
    parser.add_argument("--idle-exit", type=float, default=60.0,
                        help="exit after this many seconds without activity (default 60)")
    args = parser.parse_args()

    state = State(load_script(args.script), args.log, args.idle_exit)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.settimeout(0.2)
    sys.stdout.write("PORT %d\n" % listener.getsockname()[1])
    sys.stdout.flush()

    while True:
        try:
            sock, _ = listener.accept()
        except socket.timeout:
            with state.lock:
                idle = time.monotonic() - state.last_activity
            if idle > args.idle_exit:
                os._exit(0)
            continue
        state.touch()
        with state.lock:
            if state.open_conns >= MAX_CONNECTIONS:
                sock.close()
                continue
            state.open_conns += 1
            state.conns += 1
            conn = state.conns
        threading.Thread(target=serve_connection, args=(state, sock, conn), daemon=True).start()


if __name__ == "__main__":
    main()
