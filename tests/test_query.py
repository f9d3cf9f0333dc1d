"""Query syntax (search.query): terms, weights, negatives, errors, and the combined vector."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.errors import QueryError
from search.query import MAX_QUERY_CHARS, NEGATIVE_WEIGHT, ParsedQuery, embed_query, parse_query, with_negatives


@pytest.mark.parametrize("text, terms, negatives", [
    ("beach", [("beach", 1.0)], []),
    ('"beach" + 0.5 "sunset"', [("beach", 1.0), ("sunset", 0.5)], []),
    ("beach + 0.5 sunset", [("beach", 1.0), ("sunset", 0.5)], []),
    ("a man fishing from a boat", [("a man fishing from a boat", 1.0)], []),
    ("dog on a beach -night", [("dog on a beach", 1.0)], [("night", NEGATIVE_WEIGHT)]),
    ('"red car" - 0.2 "rain"', [("red car", 1.0)], [("rain", 0.2)]),
    ('-"night" + city', [("city", 1.0)], [("night", NEGATIVE_WEIGHT)]),
    ("man in a t-shirt", [("man in a t-shirt", 1.0)], []),
    ('"2 dogs" + 3', [("2 dogs", 1.0), ("3", 1.0)], []),
    ("2 .5", [(".5", 2.0)], []),
])
def test_parse_valid(text, terms, negatives):
    parsed = parse_query(text)
    assert parsed.terms == tuple(terms)
    assert parsed.negatives == tuple(negatives)


def test_cli_negatives_are_added_with_default_weight():
    parsed = parse_query("beach", negatives=["night", '"rain"'])
    assert parsed.negatives == (("night", NEGATIVE_WEIGHT), ("rain", NEGATIVE_WEIGHT))
    again = with_negatives(ParsedQuery((("beach", 1.0),)), ["fog"])
    assert again.negatives == (("fog", NEGATIVE_WEIGHT),)


def test_str_round_trips():
    parsed = parse_query('"beach" + 0.5 sunset - 0.2 "rain" -fog')
    assert parse_query(str(parsed)) == parsed


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"),
    ("   ", "empty"),
    ('"beach', "unbalanced quote"),
    ('beach + "sunset', "unbalanced quote"),
    ('beach + x "sunset"', "not a weight"),
    ('beach + 0.5.1 "sunset"', "not a weight"),
    ('speech:"free delivery"', r"unknown field 'speech:'.*said:"),
    ('beach + ocr:"SPF 30"', r"unknown field 'ocr:'.*text:"),
    ('beach + 0 "sunset"', "above 0"),
    ('beach + 11 sunset', "at most"),
    ("beach +", "ends with"),
    ("+ beach", "starts with"),
    ("beach + + sunset", "between two operators"),
    ('beach + ""', "empty quoted"),
    ('"beach" sunset', "join terms"),
    ("-night", "only negative"),
    ("-night - rain", "only negative"),
    ("x" * (MAX_QUERY_CHARS + 1), "characters"),
    (" ".join(["a"] * 80), "77"),
])
def test_parse_errors(text, fragment):
    with pytest.raises(QueryError, match=fragment) as info:
        parse_query(text)
    assert "\n" not in str(info.value)


def test_empty_cli_negative_is_an_error():
    with pytest.raises(QueryError, match="--not"):
        parse_query("beach", negatives=[" "])


def _fake_encode(table: dict[str, np.ndarray]):
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.stack([table[t] for t in texts])

    return encode, calls


def test_embed_query_combines_weights_and_negatives():
    e = np.eye(4, dtype=np.float32)
    encode, calls = _fake_encode({"a": e[0], "b": e[1], "c": e[2]})
    vectors = embed_query(parse_query("a + 0.5 b - c"), encode)
    expected = np.array([1.0, 0.5, -NEGATIVE_WEIGHT, 0.0])
    np.testing.assert_allclose(vectors.query, expected / np.linalg.norm(expected), atol=1e-6)
    np.testing.assert_allclose(vectors.positive, np.array([1, 0.5, 0, 0]) / np.linalg.norm([1, 0.5]),
                               atol=1e-6)
    np.testing.assert_allclose(vectors.negatives, e[2:3])
    assert calls == [["a", "b", "c"]]  # every distinct text embedded once, in one batch


def test_embed_query_that_cancels_out_is_an_error():
    e = np.eye(3, dtype=np.float32)
    encode, _ = _fake_encode({"a": e[0]})
    with pytest.raises(QueryError, match="cancel"):
        embed_query(ParsedQuery((("a", 0.5),), (("a", 0.5),)), encode)


def test_parsed_query_validates():
    with pytest.raises(ValueError):
        ParsedQuery(())
    with pytest.raises(ValueError):
        ParsedQuery((("a", -1.0),))
