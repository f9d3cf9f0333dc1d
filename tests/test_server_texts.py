"""Tests for search.server_texts: CLI commands find a running ``reelsearch serve`` of their data dir and
let its warm model embed new texts; without one (or with a stale file) they embed themselves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from fresh import REPO, run_fresh, tiny_weights
from indexer.cli.main import cli
from media import COLOUR_TAXONOMY, Scene, make_video
from search.server_texts import SERVER_FILE, ServerAddress, find_server, remove_server_file, write_server_file


def _dead_pid() -> int:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def test_missing_malformed_and_stale_files_are_ignored(tmp_path: Path) -> None:
    assert find_server(tmp_path) is None
    (tmp_path / SERVER_FILE).write_text("{not json")
    assert find_server(tmp_path) is None
    write_server_file(tmp_path, ServerAddress("127.0.0.1", 8123, _dead_pid()))
    assert find_server(tmp_path) is None
    live = ServerAddress("0.0.0.0", 8123, os.getpid())
    write_server_file(tmp_path, live)
    assert find_server(tmp_path) == live and live.url == "http://127.0.0.1:8123"


def test_only_its_own_server_removes_the_file(tmp_path: Path) -> None:
    write_server_file(tmp_path, ServerAddress("127.0.0.1", 8123, os.getpid()))
    remove_server_file(tmp_path, os.getpid() + 1)
    assert (tmp_path / SERVER_FILE).exists()
    remove_server_file(tmp_path, os.getpid())
    assert not (tmp_path / SERVER_FILE).exists()


@pytest.fixture()
def indexed(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A data dir indexed with the tiny open_clip model from a weights file, and the video."""
    taxonomy = tmp_path / "colours.toml"
    taxonomy.write_text(COLOUR_TAXONOMY)
    env = {"REELSEARCH_DATA_DIR": str(tmp_path / "index"), "REELSEARCH_TAXONOMY": str(taxonomy)}
    weights = tiny_weights(tmp_path / "tiny.safetensors")
    video = make_video(tmp_path / "ad.mp4", [Scene("red", 30), Scene("blue", 30)])
    done = CliRunner().invoke(cli, ["index", str(video.path), "--model", "reelsearch-tiny", "--weights",
                                    str(weights), "--precision", "fp32"], env=env)
    assert done.exit_code == 0, done.output
    return env, video.path


def _serve(env: dict[str, str]) -> subprocess.Popen:
    """``reelsearch serve --port 0`` in a subprocess, once it has announced itself."""
    script = "from indexer.cli.main import main; main()"
    proc = subprocess.Popen([sys.executable, "-c", script, "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, **env, "PYTHONPATH": str(REPO)})
    announced = Path(env["REELSEARCH_DATA_DIR"]) / SERVER_FILE
    deadline = time.monotonic() + 120
    while not announced.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.stdout else ""
        time.sleep(0.1)
    return proc


@pytest.mark.slow
def test_cli_asks_a_running_server_and_falls_back_without_it(indexed: tuple[dict[str, str], Path]) -> None:
    env, video = indexed
    data_dir = Path(env["REELSEARCH_DATA_DIR"])
    query = ["search", "a dog on a red beach", "--min-score", "-1", "--json"]
    server = _serve(env)
    try:
        assert json.loads((data_dir / SERVER_FILE).read_text())["pid"] == server.pid
        by_server, loaded = run_fresh(env, *query)
        assert loaded == []  # the server embedded the new query: no torch here
        report, loaded = run_fresh(env, "report", str(video), "--label", "a cat in the snow", "--json")
        assert loaded == [] and json.loads(report)["kind"] == "prompt"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        server.stdout.close()
    assert not (data_dir / SERVER_FILE).exists()  # removed on exit
    write_server_file(data_dir, ServerAddress("127.0.0.1", 9, _dead_pid()))  # a stale file
    here, loaded = run_fresh(env, *["search", "a cat on a red beach", "--min-score", "-1", "--json"])
    assert loaded == ["torch"]  # embedded in-process, silently
    assert [json.loads(line)["rank"] for line in here.splitlines()] == [1]
    assert [json.loads(line)["rank"] for line in by_server.splitlines()] == [1]
