"""Tests for indexer.cli.main: the ``reelsearch`` group, its command table, and what ``index`` imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click

from indexer.cli.main import COMMANDS, cli
from indexer.store import Store
from media import COLOUR_TAXONOMY, Scene, make_video

REPO = Path(__file__).resolve().parents[1]

# Runs the console entry point as `reelsearch index ...` would, and reports at exit which web
# modules the process had imported (atexit runs after click's sys.exit).
INDEX_SCRIPT = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(m for m in ("flask", "werkzeug", "jinja2") if m in sys.modules))))
from indexer.cli.main import main
sys.argv = ["reelsearch", "index", *sys.argv[1:], "--encoder", "indexer.models.colour:ColourEncoder"]
main()
"""


def test_index_never_imports_the_web_stack(tmp_path: Path) -> None:
    video = make_video(tmp_path / "red.mp4", [Scene("red", 30), Scene("blue", 30)])
    taxonomy = tmp_path / "colours.toml"
    taxonomy.write_text(COLOUR_TAXONOMY)
    env = {**os.environ, "REELSEARCH_DATA_DIR": str(tmp_path / "index"), "REELSEARCH_TAXONOMY": str(taxonomy)}
    out = subprocess.run([sys.executable, "-c", INDEX_SCRIPT, str(video.path)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    with Store.open(tmp_path / "index", readonly=True) as store:  # the run really indexed the file
        assert store.video_by_path(video.path.absolute()) is not None


def test_every_listed_command_loads_under_its_name() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name
    assert cli.get_command(ctx, "nope") is None

