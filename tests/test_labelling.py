"""Tests of indexer.pipeline.labelling: ``reelsearch index`` labels new files with the current
learned heads and the store's user categories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner
from media import Scene, make_video
from webfixtures import *  # noqa: F401,F403  (fixtures)

from indexer.cli.main import cli
from indexer.labels.heads import LearnedHead
from indexer.labels.taxonomy import load_taxonomy
from indexer.pipeline.labelling import current_label_model, with_user_categories
from indexer.store import Store


def _index(data, path: Path) -> list[str]:
    result = CliRunner().invoke(cli, ["index", str(path), "--data-dir", str(data.data_dir),
                                      "--taxonomy", str(data.taxonomy)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with Store.open(data.data_dir, readonly=True) as store:
        video = store.video_by_path(path.absolute())
        return sorted({s.label for s in store.segments(video.id)})


def test_index_uses_the_current_heads_and_user_categories(writable_data, tmp_path: Path) -> None:
    red = make_video(tmp_path / "red.mp4", [Scene("red", 45)]).path
    assert "warm/red" in _index(writable_data, red)
    with Store.open(writable_data.data_dir) as store:
        dim = store.dim
        never = LearnedHead(np.zeros(dim), -50.0, (1.0, 0.0), 0.5)  # a head that sees red nowhere
        store.teaching.add_run("learn", None, {}, {"warm/red": (never.weights, never.params(), {})}, {})
        store.teaching.add_user_category("crimson", "Crimson", ["red"], None)
        taxonomy = with_user_categories(load_taxonomy(writable_data.taxonomy), store)
        assert taxonomy.ids[-1] == "crimson"
        from indexer.models.colour import ColourEncoder

        model = current_label_model(store, taxonomy, ColourEncoder())
        assert model.heads[model.labels.index("warm/red")] is not None
    again = make_video(tmp_path / "red2.mp4", [Scene("red", 46)]).path
    labels = _index(writable_data, again)
    assert "warm/red" not in labels and "crimson" in labels
