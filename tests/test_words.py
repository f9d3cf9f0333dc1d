"""Word clauses of a query (search/words.py): parsing, and spoken hits narrowed to their words."""

from __future__ import annotations

import pytest

from indexer.errors import QueryError
from indexer.store.words import WordRow
from indexer.types import SpokenWord
from search.words import WordClause, parse_clause, split_query, spoken_span


def test_clauses_come_out_and_the_visual_part_stays():
    visual, clauses = split_query('beach text:"SPF 30" said:"free delivery" + 0.5 sunset')
    assert visual == "beach + 0.5 sunset"
    assert clauses == (WordClause("text", "SPF 30"), WordClause("said", "free delivery"))
    assert split_query("words:sale") == ("", (WordClause("words", "sale"),))
    assert split_query("Text:\"A  b\"")[1] == (WordClause("text", "A b"),)
    assert split_query("subtext:foo") == ("subtext:foo", ())  # only a whole field name is a clause
    assert split_query('beach + text:"x"')[0] == "beach"


@pytest.mark.parametrize("bad", ['text:"SPF 30', 'said:""', 'words:"!!"'])
def test_malformed_clauses_get_one_line_errors(bad):
    with pytest.raises(QueryError):
        split_query(bad)


@pytest.mark.parametrize("bad, field", [('speech:"free delivery"', "speech:"), ('beach + ocr:"SPF 30"', "ocr:"),
                                        ('a car spoken:"sale"', "spoken:")])
def test_a_field_that_is_not_one_is_named(bad, field):
    with pytest.raises(QueryError, match=f"unknown field '{field}'.*said:") as err:
        split_query(bad)
    assert "\n" not in str(err.value)
    assert split_query("time: 5 pm") == ("time: 5 pm", ())  # a colon in free text is no field


def test_a_label_is_a_clause_only_when_it_is_nothing_else():
    assert parse_clause('text:"SPF 30"') == WordClause("text", "SPF 30")
    assert parse_clause('beach text:"SPF 30"') is None and parse_clause("alcohol") is None


def test_spoken_span_is_the_matched_words():
    words = (SpokenWord("Free", 1.0, 1.3, 0.9), SpokenWord("delivery,", 1.3, 1.8, 0.9),
             SpokenWord("today.", 1.8, 2.4, 0.9))
    row = WordRow(1, 1, "said", 1.0, 2.4, "Free delivery, today.", 0.9, None, words)
    assert spoken_span("delivery today", row) == (1.3, 2.4)
    assert spoken_span("FREE delivery", row) == (1.0, 1.8)
    assert spoken_span("today free", row) is None
