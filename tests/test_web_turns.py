"""web.turns: requests that compute take turns (COMPUTING at a time); media never waits."""

from __future__ import annotations

import threading
import time

from webfixtures import *  # noqa: F401,F403  (fixtures)
from webfixtures import make_app


def test_computing_requests_take_turns_and_media_never_waits(web_data):
    app = make_app(web_data, COMPUTING=2)
    running, most, lock, release = [0], [0], threading.Lock(), threading.Event()

    def slow() -> str:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(5)
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return "done"

    app.add_url_rule("/slow", "slow", slow)
    try:
        threads = [threading.Thread(target=lambda: app.test_client().get("/slow")) for _ in range(6)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        assert running[0] == 2  # two computing, four waiting for a turn
        began = time.perf_counter()
        harbour = web_data.ids["harbour"]
        poster = app.test_client().get(f"/media/posters/{harbour}.jpg")
        poster.close()
        assert poster.status_code == 200  # media is not gated
        assert time.perf_counter() - began < 2
        release.set()
        for t in threads:
            t.join(10)
        assert most[0] == 2 and running[0] == 0
        assert app.test_client().get("/slow").status_code == 200  # every turn was given back
    finally:
        release.set()
        app.extensions["reelsearch"].close()


def test_a_failing_request_gives_its_turn_back(web_data):
    app = make_app(web_data, COMPUTING=1)

    def boom() -> str:
        raise RuntimeError("boom")

    app.add_url_rule("/boom", "boom", boom)
    try:
        client = app.test_client()
        assert client.get("/boom").status_code == 500
        assert client.get("/api/videos").status_code == 200  # would block forever without the turn back
    finally:
        app.extensions["reelsearch"].close()
