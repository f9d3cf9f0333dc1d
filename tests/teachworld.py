"""A synthetic archive for the curator-loop tests (see benchmarks/synthetic_labels.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic_labels import (HighCosineEncoder, SyntheticEncoder, add_videos,  # noqa: E402
                                         judge_video, taxonomy)
from indexer.labels.classify import LabelModel  # noqa: E402
from indexer.models.loading import encoder_spec  # noqa: E402
from indexer.store import Store, curation  # noqa: E402

CURATOR = "cur"

__all__ = ["CURATOR", "HighCosineEncoder", "SyntheticEncoder", "build_world", "judge_video", "taxonomy"]


def build_world(data_dir: Path, encoder: SyntheticEncoder, videos: int = 24, seed: int = 0):
    """A store of synthetic videos labelled zero-shot; returns (store, taxonomy, videos)."""
    store = Store.open(data_dir)
    store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
    curation.add_user(store, CURATOR, "password123")
    tax = taxonomy()
    return store, tax, add_videos(store, encoder, LabelModel.build(tax, encoder), videos, seed=seed)
