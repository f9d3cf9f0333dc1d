"""Benchmark anonymous image searches under load (prints figures; not a test).

Builds a small index (three generated clips, the offline colour encoder) with the real CLI, starts
the real server (``reelsearch serve``: waitress) on 127.0.0.1, then for ``--seconds`` seconds
eight clients upload an 8000x5000 PNG (about 120 KiB: flat colour, so it compresses well, but
40 Mpx once decoded) to ``POST /api/search`` as fast as the server answers (after a 503 a client
waits 0.25 s, not the Retry-After it was sent, as an impatient client would), while one client
runs text searches every 0.1 s. Printed: the server's RSS before, at its peak (``VmHWM``) and
after the uploads, the answers the uploads got, and text-search latency p50/p99 alone and under
load. Targets: peak RSS < 600 MiB, p99 under load < 500 ms.

    .venv/bin/python benchmarks/bench_upload.py                # 20 s of load
    .venv/bin/python benchmarks/bench_upload.py --seconds 5    # a quick look

``PYTHONPATH`` is passed on to the server and the indexer, so a checkout can be measured
against another one's code.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic_video import make_ad_clip  # noqa: E402

UPLOADERS = 8
SIZE = (8000, 5000)
COLOUR_ENCODER = "indexer.models.colour:ColourEncoder"


def reelsearch_command() -> list[str]:
    """The ``reelsearch`` console script of this Python (the venv's), else the one on PATH."""
    here = Path(sys.executable).with_name("reelsearch")
    found = str(here) if here.exists() else shutil.which("reelsearch")
    if not found:
        raise SystemExit("no `reelsearch` command found: install the project first")
    return [found]


def build_index(root: Path) -> Path:
    """Three short generated clips indexed with the colour encoder; returns the data dir."""
    media, data_dir = root / "media", root / "index"
    media.mkdir()
    for seed in range(3):
        make_ad_clip(media / f"clip{seed}.mp4", seconds=6.0, size=(640, 360), seed=seed)
    subprocess.run(reelsearch_command() + ["index", str(media), "--data-dir", str(data_dir),
                                           "--encoder", COLOUR_ENCODER],
                   check=True, stdout=subprocess.DEVNULL)
    return data_dir


def big_png() -> bytes:
    """An 8000x5000 RGB PNG that is small on the wire (mostly flat colour)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", SIZE, (200, 30, 30))
    draw = ImageDraw.Draw(image)
    for i in range(8):
        draw.rectangle((i * 900, i * 500, i * 900 + 600, i * 500 + 400), fill=(30, 30 + 25 * i, 200))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def memory_kib(pid: int, field: str) -> int:
    """``VmRSS`` / ``VmHWM`` of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def wait_until_up(base: str, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(base + "/api/session", timeout=2) as response:
                response.read()
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not answer within a minute")


def multipart(png: bytes) -> tuple[bytes, str]:
    boundary = "reelsearchbench7d41"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"big.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()
    return head + png + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload_once(base: str, body: bytes, content_type: str) -> tuple[int, float]:
    """POST one image search; (status, seconds)."""
    request = urllib.request.Request(base + "/api/search", data=body, method="POST",
                                     headers={"Content-Type": content_type})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    except OSError:
        status = 0  # connection refused / reset
    return status, time.perf_counter() - start


def uploader(base: str, png: bytes, stop: threading.Event, log: list[tuple[int, float]]) -> None:
    body, content_type = multipart(png)
    while not stop.is_set():
        status, seconds = upload_once(base, body, content_type)
        log.append((status, seconds))
        if status != 200:
            stop.wait(0.25)


def text_searcher(base: str, stop: threading.Event, latencies: list[float]) -> None:
    words = ["red", "blue", "green", "yellow", "a red scene", "blue sky"]
    i = 0
    while not stop.is_set():
        start = time.perf_counter()
        with urllib.request.urlopen(f"{base}/api/search?q={urllib.request.quote(words[i % len(words)])}",
                                    timeout=120) as response:
            json.loads(response.read())
        latencies.append(time.perf_counter() - start)
        i += 1
        stop.wait(0.1)


def sample_rss(pid: int, stop: threading.Event, samples: list[int]) -> None:
    while not stop.is_set():
        samples.append(memory_kib(pid, "VmRSS"))
        stop.wait(0.05)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure_text(base: str, seconds: float) -> list[float]:
    stop, latencies = threading.Event(), []
    thread = threading.Thread(target=text_searcher, args=(base, stop, latencies))
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join()
    return latencies


def run_load(base: str, pid: int, png: bytes, seconds: float) -> dict:
    """Eight uploaders + one text searcher for ``seconds``; what they saw."""
    stop, uploads, texts, rss = threading.Event(), [], [], []
    threads = [threading.Thread(target=uploader, args=(base, png, stop, uploads)) for _ in range(UPLOADERS)]
    threads.append(threading.Thread(target=text_searcher, args=(base, stop, texts)))
    sampler_stop = threading.Event()
    sampler = threading.Thread(target=sample_rss, args=(pid, sampler_stop, rss))
    sampler.start()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    sampler_stop.set()
    sampler.join()
    return {"uploads": uploads, "texts": texts, "rss": rss}


def report(idle: list[float], load: dict, before: int, peak: int, after: int, png: bytes, seconds: float) -> None:
    mib = lambda kib: kib / 1024  # noqa: E731
    statuses = Counter(status for status, _ in load["uploads"])
    ok_times = [s for status, s in load["uploads"] if status == 200]
    texts = load["texts"]
    print(f"upload: {SIZE[0]}x{SIZE[1]} PNG, {len(png) / 1024:.0f} KiB; {UPLOADERS} clients for {seconds:g} s")
    print(f"server RSS: before {mib(before):.0f} MiB, peak {mib(peak):.0f} MiB (target < 600), "
          f"after {mib(after):.0f} MiB")
    print("upload answers: " + ", ".join(f"{n} x {status}" for status, n in sorted(statuses.items())))
    if ok_times:
        print(f"image search time (200s): mean {statistics.mean(ok_times):.2f} s, max {max(ok_times):.2f} s")
    print(f"text search alone:      p50 {percentile(idle, 50) * 1000:.0f} ms, p99 {percentile(idle, 99) * 1000:.0f} ms "
          f"({len(idle)} queries)")
    print(f"text search under load: p50 {percentile(texts, 50) * 1000:.0f} ms, "
          f"p99 {percentile(texts, 99) * 1000:.0f} ms (target < 500), max {max(texts) * 1000:.0f} ms "
          f"({len(texts)} queries)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the uploads go on")
    args = parser.parse_args()
    png = big_png()
    with tempfile.TemporaryDirectory(prefix="reelsearch-bench-upload-") as tmp:
        data_dir = build_index(Path(tmp))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(reelsearch_command() + ["serve", "--data-dir", str(data_dir), "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
        try:
            wait_until_up(base, server)
            idle = measure_text(base, 3.0)  # also warms the engine and the text cache
            before = memory_kib(server.pid, "VmRSS")
            load = run_load(base, server.pid, png, args.seconds)
            time.sleep(2.0)
            peak, after = memory_kib(server.pid, "VmHWM"), memory_kib(server.pid, "VmRSS")
        finally:
            server.terminate()
            _, stderr = server.communicate(timeout=30)
        report(idle, load, before, peak, after, png, args.seconds)
        warnings = [line for line in stderr.splitlines() if line.strip()]
        print(f"server log: {len(warnings)} lines" + (f", e.g. {warnings[0]!r}" if warnings else ""))


if __name__ == "__main__":
    main()
