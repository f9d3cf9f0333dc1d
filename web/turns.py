"""Requests that compute take turns: at most ``COMPUTING`` of them run at once (config).

CPython runs one thread's Python at a time. With waitress's 16 threads and 8 clients asking for
pages at once, every request gets a few milliseconds in turn and all of them finish late
(processor sharing): on the 1M-frame benchmark archive the pages' p99 under 8 clients was
192–233 ms with 8 or 16 server threads and 126–141 ms with 4. Letting only a few requests
compute at a time makes them run nearly first come, first served, while the other threads stay
free for what waits on I/O: media (video files streamed to players, thumbnails, posters) and
static files never wait for a turn.
"""

from __future__ import annotations

import threading

from flask import Flask, g, request

#: Endpoints that only move bytes: never gated.
UNGATED_PREFIXES = ("media.", "static")


def init_turns(app: Flask) -> None:
    """Gate ``app``'s computing requests with ``app.config['COMPUTING']`` turns (0: no gate)."""
    slots = int(app.config["COMPUTING"])
    if slots <= 0:
        return
    turns = threading.BoundedSemaphore(slots)

    @app.before_request
    def take_turn() -> None:
        if (request.endpoint or "").startswith(UNGATED_PREFIXES):
            return
        turns.acquire()
        g.reelsearch_turn = True

    @app.teardown_request
    def end_turn(_exc: BaseException | None) -> None:
        if g.pop("reelsearch_turn", False):
            turns.release()
