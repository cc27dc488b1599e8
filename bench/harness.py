"""What the Python runners (bench/run.py, bench/scenarios.py, tools/differential.py) share:
starting and talking to bench/standin.py, and running a client measured (wall time, peak
RSS and CPU from wait4, output lines counted, a time limit)."""

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")


class StandinProcess:
    """bench/standin.py with `args`, started and ready (its port read); raises SystemExit
    naming `who` if it does not print its port within `start_timeout` seconds."""

    def __init__(self, args, who, start_timeout=600):
        cmd = [sys.executable, os.path.join(ROOT, "bench", "standin.py")] + list(args)
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)    # make asan's preload is for cwlogs, not for python
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
        line = b""
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            r, _, _ = select.select([self.proc.stdout], [], [], 1.0)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 256)
                if not chunk:
                    break
                line += chunk
        if not line.startswith(b"PORT "):
            self.stop()
            raise SystemExit("%s: the stand-in did not start (got %r)" % (who, line))
        self.port = int(line.split()[1])
        self.url = "http://127.0.0.1:%d" % self.port

    def get(self, path, timeout=60):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return json.loads(r.read())

    def config(self, cfg):
        """Sets service options (GET /config); returns them all."""
        return self.get("/config?" + "&".join("%s=%s" % kv for kv in cfg.items()))

    def cpu_seconds(self):
        try:
            with open("/proc/%d/stat" % self.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (OSError, IndexError, ValueError):
            return float("nan")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_measured(cmd, env, timeout, count_output=False):
    """Runs cmd; returns dict(wall, maxrss_kb, cpu, rc, timed_out, stdout_tail, stderr, lines)."""
    err = tempfile.TemporaryFile()
    stdout = subprocess.PIPE if count_output else subprocess.DEVNULL
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=err, env=env, cwd=ROOT)
    timed_out = []

    def on_timeout():
        timed_out.append(True)
        try:
            os.kill(p.pid, signal.SIGKILL)
        except OSError:
            pass
    timer = threading.Timer(timeout, on_timeout)
    timer.start()
    lines, tail, nbytes = 0, b"", 0
    if count_output:
        fd = p.stdout.fileno()
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            lines += chunk.count(b"\n")
            nbytes += len(chunk)
            tail = (tail + chunk)[-65536:]
        p.stdout.close()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    stderr = err.read().decode("utf-8", "replace")
    err.close()
    return {"wall": wall, "maxrss_kb": ru.ru_maxrss, "rss_mb": ru.ru_maxrss / 1024,
            "cpu": ru.ru_utime + ru.ru_stime,
            "rc": p.returncode, "timed_out": bool(timed_out), "stderr": stderr,
            "lines": lines, "bytes": nbytes, "tail": tail}
