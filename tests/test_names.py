"""Tests of indexer.labels.names: what a curator typed -> the label stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.errors import CloseLabelError, QueryError
from indexer.labels.names import clean_label, close_labels, resolve_label, visible_text
from indexer.labels.taxonomy import parse_taxonomy

TAXONOMY = parse_taxonomy("""\
background = ["a photo"]
[[category]]
id = "sports"
prompts = ["sport"]
[[category]]
id = "sports/ball"
name = "Ball game"
prompts = ["a ball game"]
[[category]]
id = "toys"
prompts = ["toys"]
[[category]]
id = "toys/ball"
name = "Toy ball"
prompts = ["a toy ball"]
""", Path("t.toml"))


@pytest.mark.parametrize("text, shown", [
    ("  a\u00a0\u2003b \n", "a b"),  # any whitespace -> one space
    ("w\u200bi\u200en\u202ee\ufeff", "wine"),  # zero-width, bidi marks/overrides, BOM
    ("caf\u0065\u0301", "caf\u00e9"),  # NFC
    ("\u0001tab\u0007", "tab"),  # controls
    ("\u200dx\u200d", "x"),  # a joiner at an edge shows nothing
    ("\U0001f468\u200d\U0001f469", "\U0001f468\u200d\U0001f469"),  # an emoji sequence keeps its joiner
])
def test_visible_text(text: str, shown: str) -> None:
    assert visible_text(text) == shown


def test_clean_label_refuses_nothing_visible_and_too_long() -> None:
    for text in ("", "   ", "\u200b\u200c", "\u0301"):
        with pytest.raises(QueryError, match="no visible character"):
            clean_label(text)
    with pytest.raises(QueryError, match="too long"):
        clean_label("x" * 201)
    with pytest.raises(QueryError, match="text"):
        clean_label(7)


def test_an_ambiguous_name_lists_the_categories() -> None:
    with pytest.raises(QueryError, match="sports/ball, toys/ball"):
        resolve_label("Ball", TAXONOMY, [])
    assert resolve_label("toy ball", TAXONOMY, []) == "toys/ball"  # the display name is unique
    assert TAXONOMY.find("ball") is None and TAXONOMY.find("TOY\u200b BALL").id == "toys/ball"


def test_close_labels_and_confirmation() -> None:
    assert close_labels("sprots", TAXONOMY, []) == ("sports",)
    assert close_labels("toys/ballon", TAXONOMY, [])[0] == "toys"
    assert close_labels("giraffe", TAXONOMY, ["elephant"]) == ()
    with pytest.raises(CloseLabelError) as refused:
        resolve_label("Toys ball", TAXONOMY, ["toys balls"], new_tag=False)
    assert "toys/ball" in refused.value.suggestions or "toys balls" in refused.value.suggestions
    assert resolve_label("giraffe", TAXONOMY, []) == "giraffe"
    assert resolve_label("sprots", TAXONOMY, [], new_tag=True) == "sprots"
