"""The side-effect half of indexing: the single writer stores an :class:`Analysis`.

Frames, vectors, cuts, transitions, automatic segments and thumbnails go to the store in one call
(:meth:`Store.write_video`); curator segments of a re-indexed file are kept by the store. The
word extractors' results (``extracted["text"]``, ``extracted["speech"]``, see :mod:`indexer.words`)
are stored with them.
"""

from __future__ import annotations

from indexer.pipeline.analysis import Analysis
from indexer.store import Store


def commit(store: Store, analysis: Analysis) -> int:
    """Store ``analysis`` and return the video's id (the same id when the path was indexed before).

    Raises:
        StoreError: read-only store, no encoder bound, or another process is writing.
        ValueError: vectors of another dimension than the store's encoder.
    """
    text, speech = analysis.extracted.get("text"), analysis.extracted.get("speech")
    return store.write_video(analysis.video, analysis.times, analysis.pts, analysis.vectors,
                             analysis.cuts, analysis.segments, transitions=analysis.transitions,
                             thumbnails=analysis.thumbnails, thumb_width=analysis.thumb_width,
                             text=text.spans if text is not None else (),
                             speech=speech.segments if speech is not None else ())
