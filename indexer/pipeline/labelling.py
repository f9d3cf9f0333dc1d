"""The label model indexing uses: the taxonomy (plus curators' own categories) with the current
learned heads, so a frame indexed after ``reelsearch learn`` is labelled by the learned models.
"""

from __future__ import annotations

import dataclasses
import logging

from indexer.labels.classify import LabelModel
from indexer.labels.heads import LearnedHead
from indexer.labels.taxonomy import Category, Taxonomy
from indexer.models.encoder import Encoder
from indexer.store import Store

log = logging.getLogger(__name__)


def with_user_categories(taxonomy: Taxonomy, store: Store) -> Taxonomy:
    """``taxonomy`` plus the categories curators created in ``store`` (ids the taxonomy already
    has are skipped with a log line)."""
    extra = []
    for cat in store.teaching.user_categories():
        if cat.id in taxonomy.ids:
            log.warning("user category %r is shadowed by the taxonomy's own", cat.id)
            continue
        extra.append(Category(id=cat.id, name=cat.name, parent=None, prompts=cat.prompts, negatives=(),
                              threshold=None, restricted=False, description="Created by a curator."))
    return dataclasses.replace(taxonomy, categories=taxonomy.categories + tuple(extra)) if extra else taxonomy


def current_heads(store: Store, dim: int | None = None) -> dict[str, LearnedHead]:
    """label -> the current learned head (of dimension ``dim`` when given)."""
    heads = {label: LearnedHead.from_params(h.weights, h.params) for label, h in store.teaching.current_heads().items()}
    return {label: h for label, h in heads.items() if dim is None or h.dim == dim}


def current_label_model(store: Store, taxonomy: Taxonomy, texts: Encoder) -> LabelModel:
    """The zero-shot model of ``taxonomy`` with the store's current learned heads.

    ``texts`` embeds the prompts (best the store's cached text encoder). Raises what
    :meth:`LabelModel.build` raises.
    """
    base = LabelModel.build(taxonomy, texts)
    return base.with_heads(current_heads(store, base.dim))
