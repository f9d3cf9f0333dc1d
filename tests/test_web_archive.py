"""The archive as the web app shows it: video paths relative to the folder that holds every
indexed video (absolute only when SHOW_FULL_PATHS is set), so anonymous users never see the
server's layout."""

from __future__ import annotations

from pathlib import Path

from webfixtures import *  # noqa: F401,F403  (fixtures)
from webfixtures import make_app

PAGES = ["/api/videos", "/api/videos/{harbour}", "/api/search?q=red", "/api/categories/warm/red/videos",
         "/api/videos/{harbour}/report?label=red", "/api/videos/{harbour}/report?label=a red scene",
         "/videos", "/search?q=red", "/browse/category/warm", "/videos/{harbour}?label=red"]


def _bodies(client, data) -> dict[str, str]:
    bodies = {}
    for page in PAGES:
        response = client.get(page.format(**data.ids))
        assert response.status_code == 200, page
        bodies[page] = response.get_data(as_text=True)
    return bodies


def test_anonymous_users_never_see_absolute_paths(client, web_data):
    media = str(web_data.videos["harbour"].path.parent)
    bodies = _bodies(client, web_data)
    assert [page for page, body in bodies.items() if media in body] == []
    api = client.get("/api/videos").get_json()["videos"]
    assert sorted(v["path"] for v in api) == ["harbour.mp4", "market.mp4", "meadow.mp4"]
    result = client.get("/api/search?q=red").get_json()["results"][0]
    assert result["path"] in {"harbour.mp4", "market.mp4"}
    assert result["scenes"][0]["link"].startswith(result["path"] + "#t=")


def test_full_paths_when_configured(web_data):
    app = make_app(web_data, SHOW_FULL_PATHS=True)
    try:
        api = app.test_client().get("/api/videos").get_json()["videos"]
    finally:
        app.extensions["reelsearch"].close()
    assert {v["path"] for v in api} == {str(v.path) for v in web_data.videos.values()}


def test_common_folder():
    from web.archive import common_folder

    assert common_folder([Path("/a/ads/x.mp4"), Path("/a/promo/y/z.mp4")]) == Path("/a")
    assert common_folder([Path("/a/ads/x.mp4")]) == Path("/a/ads")
    assert common_folder([]) is None
