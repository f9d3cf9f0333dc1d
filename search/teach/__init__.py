"""Curators teach reelsearch: ground truth from their judgements, ``eval``, ``learn`` (with
rollback), the review queue and relevance feedback -- services shared by the CLI and the web."""
