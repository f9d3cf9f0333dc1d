"""Run ``reelsearch`` commands as a user does: in a fresh Python process, noting what it imported."""

from __future__ import annotations

import os
import subprocess
import sys
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
