"""The curator's writes from the shell: judgements and "reviewed" marks (``reelsearch review``),
relevance feedback and "save as category" (``reelsearch search --up/--down/--save-as-category``).

Thin wrappers over the services the web and API use (:mod:`indexer.store.curation`,
:mod:`indexer.store.reviews`, :mod:`search.teach.feedback`): every change is recorded under a
curator account in the audit log, as a web edit is. These functions raise library errors;
the commands turn them into one-line messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import click

from indexer.errors import QueryError
from indexer.store import Store, curation, reviews

from .feedback import Mark, parse_marks, query_vector, refine, save_category

log = logging.getLogger(__name__)


def curator_option(func: Any) -> Any:
    """``--as NAME``: the curator account a change is recorded under."""
    return click.option("--as", "user", metavar="NAME", default=None,
                        help="Curator account the change is recorded under (`reelsearch user add`).")(func)


def require_user(user: str | None, what: str) -> str:
    """The curator name, or QueryError naming what needs one."""
    if not user:
        raise QueryError(f"{what} needs --as NAME (a curator account, see `reelsearch user add`)")
    return user


def judge(store: Store, user: str, accept: Sequence[int], reject: Sequence[int],
          undo: Sequence[int]) -> list[tuple[str, Any]]:
    """Accept, reject, then undo the given segments (in that order); returns (action, SegmentRecord)
    pairs. Raises NotFoundError, QueryError (unknown curator, nothing to undo), StoreError."""
    done = [("accept", curation.accept(store, seg, user)) for seg in accept]
    done += [("reject", curation.reject(store, seg, user)) for seg in reject]
    done += [("undo", reviews.undo(store, seg, user)) for seg in undo]
    for action, seg in done:
        log.info("curator %s: %s segment %s of video %s", user, action, seg.id, seg.video_id)
    return done


def set_reviewed(store: Store, video_id: int, category: str, user: str, reviewed: bool) -> dict[str, Any]:
    """Mark (or unmark) a video reviewed for a category, as the web's button does."""
    if reviewed:
        accepted = reviews.mark_reviewed(store, video_id, category, user)
        return {"video_id": video_id, "category": category, "reviewed": True, "accepted": [s.id for s in accepted]}
    reviews.unmark_reviewed(store, video_id, category, user)
    return {"video_id": video_id, "category": category, "reviewed": False, "accepted": []}


def parse_mark(resolve_video_id: Callable[[str], int], value: str) -> Mark:
    """A marked scene from ``VIDEO@SECONDS`` or ``VIDEO@START-END`` (video id or path, made an id
    by ``resolve_video_id``). Raises QueryError (malformed), NotFoundError (unknown video).
    """
    video, sep, span = value.strip().rpartition("@")
    if not sep or not video:
        raise QueryError(f"a marked scene is VIDEO@SECONDS or VIDEO@START-END (video id or path), got {value!r}")
    start, dash, end = span.partition("-")
    (mark,) = parse_marks([f"{resolve_video_id(video)}@{start}-{end if dash else start}"])
    return mark


def marks(resolve_video_id: Callable[[str], int], up: Sequence[str],
          down: Sequence[str]) -> tuple[tuple[Mark, ...], tuple[Mark, ...]]:
    """(up, down) marks from the command line values (see :func:`parse_mark`)."""
    return (tuple(parse_mark(resolve_video_id, v) for v in up),
            tuple(parse_mark(resolve_video_id, v) for v in down))


def refined_vector(store: Store, engine: Any, text: str | None, like: tuple[int, float] | None,
                   up: Sequence[Mark], down: Sequence[Mark]) -> Any:
    """The query refined by the marked scenes (Rocchio, the web's service)."""
    return refine(store, query_vector(store, engine, text=text, like=like), up, down)


def save_as_category(store: Store, taxonomy: Any, texts: Any, *, name: str, text: str | None, vector: Any,
                     up: Sequence[Mark], down: Sequence[Mark], user: str) -> dict[str, Any]:
    """Store a refined query as a new category and label every video with it (as the web does)."""
    category, run_id = save_category(store, taxonomy, texts, name=name, prompt=text or name, vector=vector,
                                     up=up, down=down, user=user)
    log.info("curator %s: saved category %s (version %d)", user, category.id, run_id)
    return {"id": category.id, "name": category.name, "prompts": list(category.prompts), "version": run_id}
