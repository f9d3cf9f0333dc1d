"""Typed errors raised by the indexer library.

The library raises these; only the CLI and the web views turn them into messages.
Every message is one sentence that says what is wrong and, where possible, how to fix it.
"""

from __future__ import annotations

from pathlib import Path


class ReelsearchError(Exception):
    """Base class of every error reelsearch raises on purpose."""


class MediaError(ReelsearchError):
    """A file cannot be indexed (unreadable, not a video, corrupt, ...).

    ``str(err)`` is one line naming the file and the reason.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class EncoderError(ReelsearchError):
    """The image/text encoder cannot be loaded or used (e.g. weights missing offline)."""


class ModelUnavailableError(EncoderError):
    """An optional model (OCR, speech recognition) is not installed or not on this machine;
    the message says how to get it. Indexing goes on without that signal."""


class TaxonomyError(ReelsearchError):
    """A taxonomy file is malformed; the message names the file, the line and the problem."""


class StoreError(ReelsearchError):
    """The index store cannot be opened or written (wrong encoder, bad schema, ...)."""


class EncoderMismatchError(StoreError):
    """The store was built with another encoder; vectors of two encoders never mix."""


class QueryError(ReelsearchError):
    """A search query or report request is malformed (empty, unknown category, ...)."""


class CloseLabelError(QueryError):
    """A new free-text tag looks like an existing category or tag; the curator must confirm
    the new tag or use one of ``suggestions`` (labels, closest first)."""

    def __init__(self, label: str, suggestions: tuple[str, ...]) -> None:
        self.label = label
        self.suggestions = suggestions
        super().__init__(f"{label!r} is not a category or tag yet and looks like "
                         f"{' or '.join(suggestions)}; use one of those or confirm the new tag")


class NotFoundError(ReelsearchError):
    """A video, frame, segment or category that was asked for does not exist."""


class ClusterError(ReelsearchError):
    """Distributed work cannot run: Ray missing or unreachable, or workers cannot see the files."""
