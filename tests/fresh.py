"""Run ``reelsearch`` commands as a user does: in a fresh Python process, noting what it imported."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "open_clip", "torchvision")


def run_fresh(env: dict[str, str], *args: str) -> tuple[str, list[str]]:
    """Run ``reelsearch ARGS`` in a new process; its stdout and which of :data:`HEAVY` it imported.

    Fails (AssertionError with its stderr) when the command fails.
    """
    script = (
        "import sys\n"
        "from indexer.cli.main import main\n"
        f"sys.argv = ['reelsearch', *{list(args)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        f"print('MODULES', *sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    environ = {**os.environ, **env, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environ, timeout=300)
    assert done.returncode == 0, done.stderr
    output, _, modules = done.stdout.rpartition("MODULES")
    return output, modules.split()


def tiny_weights(path: Path) -> Path:
    """The tiny random open_clip model's weights saved as a .safetensors file at ``path``."""
    from safetensors.torch import save_file

    from indexer.models.clip_encoder import OpenClipEncoder

    save_file({k: v.contiguous() for k, v in OpenClipEncoder.tiny()._model.state_dict().items()}, str(path))
    return path


#: ``python SCRIPT ARGS`` runs ``reelsearch index ARGS`` with the colour encoder: an indexer
#: process a test can kill.
COLOUR_INDEX_SCRIPT = """
import sys
from indexer.cli.main import cli
sys.exit(cli(["index", *sys.argv[1:], "--encoder", "indexer.models.colour:ColourEncoder"]))
"""


def colour_clips(folder: Path, count: int) -> Path:
    """A new ``folder`` of ``count`` clips, each two 150-frame shots of the colour encoder's
    colours (320x240): enough work for an indexer to be killed in the middle of it."""
    from media import Scene, make_video

    folder.mkdir()
    colours = ["red", "blue", "green", "yellow"]
    for i in range(count):
        make_video(folder / f"v{i:02d}.mp4", [Scene(colours[i % 4], 150), Scene(colours[(i + 1) % 4], 150)],
                   size=(320, 240))
    return folder


def videos_committed(data_dir: Path) -> int:
    """Videos in the catalog now (0 before it exists), read without the store's writer lock."""
    if not (data_dir / "catalog.sqlite3").exists():
        return 0
    # closed at once (``with`` on a connection only ends a transaction): a connection left open
    # keeps the WAL index of a killed writer alive, so the next opener would not recover the
    # WAL and would miss the writer's last commit
    with contextlib.closing(sqlite3.connect(f"file:{data_dir / 'catalog.sqlite3'}?mode=ro", uri=True)) as db:
        try:
            return db.execute("SELECT count(*) FROM videos").fetchone()[0]
        except sqlite3.OperationalError:  # schema not created yet
            return 0


def wait_for_videos(data_dir: Path, count: int, proc: subprocess.Popen) -> None:
    """Wait until ``count`` videos are committed, while the indexer ``proc`` still runs."""
    deadline = time.monotonic() + 120
    while videos_committed(data_dir) < count:
        assert proc.poll() is None and time.monotonic() < deadline, "the indexer ended before the kill"
        time.sleep(0.01)
