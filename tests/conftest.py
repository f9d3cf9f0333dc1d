"""Shared pytest fixtures: tests/ on sys.path (for ``media``), the fake encoder, one torch thread."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> None:
    """Keep torch (if a test imports it) on one thread: CI has 2 cores and runs other work."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


@pytest.fixture()
def colour_encoder():
    """The deterministic fake encoder (mean colour -> vector)."""
    from indexer.models.colour import ColourEncoder

    return ColourEncoder()


@pytest.fixture(scope="session")
def ray_session():
    """One real local Ray cluster (2 CPUs, loopback, no dashboard) shared by the whole test session."""
    from indexer.pipeline.cluster import connect

    ray = connect("local", num_cpus=2)
    yield ray
    ray.shutdown()


# Indexing reads on-screen text and speech by default; the suite turns both off for the
# commands its tests run (subprocesses inherit this) and turns them on where it tests them
# (tests/test_onscreen.py, tests/test_speech.py, ...), so no test downloads an ASR model.
os.environ.setdefault("REELSEARCH_OCR", "0")
os.environ.setdefault("REELSEARCH_ASR_MODEL", "none")
# Derived models (the int8 text recogniser) are made once per test session in a folder of its
# own, never in the user's cache.
if not os.environ.get("REELSEARCH_CACHE"):
    import tempfile

    os.environ["REELSEARCH_CACHE"] = tempfile.mkdtemp(prefix="reelsearch-test-cache-")
