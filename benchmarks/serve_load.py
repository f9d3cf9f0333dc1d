"""Measure ``reelsearch serve`` over a store, as users run it: a waitress subprocess on
127.0.0.1, queried over HTTP by bounded request loops (used by ``bench_scale.py``).

Figures: time until the server answers, the first search after start (cold), p50/p99 of text
searches (unrestricted, category-restricted, video-restricted) and "more like this" one at a time,
browse and listing pages under 8 concurrent clients, and the server's memory (VmRSS, split into
anonymous and file-backed pages, and its peak VmHWM) from /proc.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_memory(pid: int) -> dict[str, float]:
    """VmRSS, RssAnon, RssFile and VmHWM of a process, in MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def pct(samples: Sequence[float]) -> str:
    a = np.asarray(samples) * 1000
    return f"p50 {np.percentile(a, 50):7.1f} ms  p99 {np.percentile(a, 99):7.1f} ms  (n={len(a)})"


class Server:
    """``reelsearch serve --data-dir DIR`` in a subprocess (the same interpreter and code tree);
    ``threads``: its ``--threads`` (None: the default)."""

    def __init__(self, data_dir: Path, threads: int | None = None) -> None:
        self.port = free_port()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        script = Path(sys.executable).with_name("reelsearch")
        self.started = time.perf_counter()
        thread_args = ["--threads", str(threads)] if threads else []  # None: serve's default, as users run it
        self.proc = subprocess.Popen([str(script), "serve", "--data-dir", str(data_dir), "--port", str(self.port),
                                      *thread_args], env=env, cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.ready = self._wait()

    def _wait(self, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.proc.stderr.read()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return time.perf_counter() - self.started
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the server did not start listening within a minute")

    def get(self, path: str, conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes, float]:
        """(status, body, seconds) of one GET (a fresh connection unless one is given)."""
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        began = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        seconds = time.perf_counter() - began
        if own:
            conn.close()
        return response.status, body, seconds

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (user + system, all threads)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory(self) -> dict[str, float]:
        return proc_memory(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def search_path(**params: object) -> str:
    return "/api/search?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})


def timed_loop(server: Server, paths: Sequence[str]) -> tuple[list[float], list[dict]]:
    """GET each path in turn on one keep-alive connection: (seconds each, decoded JSON bodies)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    seconds, bodies = [], []
    for path in paths:
        status, body, took = server.get(path, conn)
        if status != 200:
            raise RuntimeError(f"GET {path} -> {status}: {body[:300]!r}")
        seconds.append(took)
        bodies.append(json.loads(body) if path.startswith("/api/") else {})
    conn.close()
    return seconds, bodies


def concurrent_load(server: Server, paths: Sequence[tuple[str, str]], clients: int = 8,
                    rounds: int = 3) -> dict[str, list[float]]:
    """``clients`` threads, each GETting every (name, path) ``rounds`` times in its own order
    on its own keep-alive connection: seconds per request, grouped by name."""
    results: dict[str, list[float]] = {}
    lock = threading.Lock()
    errors: list[str] = []

    def client(number: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        order = list(paths) * rounds
        order = [order[i] for i in np.random.default_rng(number).permutation(len(order))]
        for name, path in order:
            status, _body, took = server.get(path, conn)
            if status != 200:
                errors.append(f"GET {path} -> {status}")
            with lock:
                results.setdefault(name, []).append(took)
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. {errors[0]}")
    return results
