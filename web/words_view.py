"""The words of a video on its page and in the API: a lane of on-screen text and a lane of speech
on the timeline, and the transcript panel (each word a link that seeks; words.js
highlights the word being spoken as the player runs)."""

from __future__ import annotations

from typing import Any, Sequence

from indexer.types import format_timestamp

from indexer.store.coverage import covered_seconds

from .timeline import Lane, make_block

TEXT_COLOUR = "#2f6f9f"
SPEECH_COLOUR = "#8a5a9e"


def word_lanes(rows: Sequence[Any], duration: float) -> list[Lane]:
    """The "On-screen text" and "Speech" lanes (only those with rows): one block per line / stretch."""
    lanes = []
    for kind, key, name, colour in (("text", "__text__", "On-screen text", TEXT_COLOUR),
                                    ("said", "__said__", "Speech", SPEECH_COLOUR)):
        blocks = tuple(make_block(r.start, min(r.end, duration), duration,
                                  f"{format_timestamp(r.start)}–{format_timestamp(r.end)}: {r.text}")
                       for r in rows if r.kind == kind and r.start < duration)
        if blocks:
            lanes.append(Lane(key=key, name=name, colour=colour, blocks=blocks, total=covered_seconds(blocks),
                              is_category=False))
    return lanes


def transcript(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Speech segments with their words (start, end, text) for the transcript panel."""
    return [{"start": r.start, "end": r.end, "text": r.text,
             "words": [{"word": w.word, "start": w.start, "end": w.end} for w in r.words]
             or [{"word": r.text, "start": r.start, "end": r.end}]}
            for r in rows if r.kind == "said"]


def words_json(video_id: int, rows: Sequence[Any]) -> dict[str, Any]:
    """``GET /api/videos/<id>/words``: on-screen text lines and the transcript, in time order."""
    return {"video_id": video_id, "text": [r.to_dict() for r in rows if r.kind == "text"],
            "transcript": [r.to_dict() for r in rows if r.kind == "said"]}
