"""Curator sign-in, CSRF, and segment changes through pages and the JSON API.

Every write needs a signed-in curator (401 / redirect otherwise) and the session's CSRF token
(403 otherwise); changes show at once in browse, search filters, reports and the audit log.
"""

from __future__ import annotations

import re

import pytest
from webfixtures import *  # noqa: F401,F403  (fixtures)
from webfixtures import CURATOR, PASSWORD, csrf_of, make_app, sign_in


def _form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _segments(client, video_id: int, rejected: bool = False) -> list[dict]:
    url = f"/api/videos/{video_id}" + ("?include_rejected=1" if rejected else "")
    return client.get(url).get_json()["segments"]


# --- signing in ---------------------------------------------------------------------------

def test_login_page_flow_sets_a_hardened_session_cookie(rw_client):
    page = rw_client.get("/login?next=/browse")
    token = _form_token(page.get_data(as_text=True))
    response = rw_client.post("/login", data={"name": CURATOR, "password": PASSWORD,
                                              "csrf_token": token, "next": "/browse"})
    assert response.status_code == 302 and response.headers["Location"] == "/browse"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert rw_client.get("/api/session").get_json()["user"] == CURATOR
    assert "✎ alice" in rw_client.get("/browse").get_data(as_text=True)


def test_login_rejects_wrong_password(rw_client):
    token = _form_token(rw_client.get("/login").get_data(as_text=True))
    response = rw_client.post("/login", data={"name": CURATOR, "password": "wrong password",
                                              "csrf_token": token})
    assert response.status_code == 401
    assert "Wrong name or password" in response.get_data(as_text=True)
    assert rw_client.get("/api/session").get_json()["user"] is None


def test_repeated_failed_sign_ins_lock_the_address_out(writable_data, monkeypatch):
    import web.auth

    monkeypatch.setattr(web.auth, "FAILED_LOGIN_DELAY", 0.0)
    app = make_app(writable_data, LOGIN_FAILURES=3, LOGIN_WINDOW=600)
    try:
        client = app.test_client()
        token = csrf_of(client)
        attempt = {"name": CURATOR, "password": "guess"}
        statuses = [client.post("/api/login", json=attempt, headers={"X-CSRF-Token": token}).status_code
                    for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        locked = client.post("/api/login", json={"name": CURATOR, "password": PASSWORD},
                             headers={"X-CSRF-Token": token})
        assert locked.status_code == 429 and "too many failed sign-ins" in locked.get_json()["error"]
    finally:
        app.extensions["reelsearch"].close()


def test_login_without_csrf_token_is_403(rw_client):
    response = rw_client.post("/login", data={"name": CURATOR, "password": PASSWORD})
    assert response.status_code == 403


def test_login_never_redirects_off_site(rw_client):
    token = _form_token(rw_client.get("/login").get_data(as_text=True))
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = rw_client.post("/login", data={"name": CURATOR, "password": PASSWORD,
                                                  "csrf_token": token, "next": target})
        assert response.headers["Location"] == "/search"
        token = csrf_of(rw_client)


def test_api_login_and_logout(rw_client):
    token = csrf_of(rw_client)
    bad = rw_client.post("/api/login", json={"name": CURATOR, "password": "nope nope"},
                         headers={"X-CSRF-Token": token})
    assert bad.status_code == 401 and bad.get_json()["error"] == "wrong name or password"
    assert rw_client.post("/api/login", data="x", headers={"X-CSRF-Token": token}).status_code == 400
    new_token = sign_in(rw_client)
    assert new_token != token  # a fresh session on sign-in
    assert rw_client.post("/api/logout", headers={"X-CSRF-Token": new_token}).status_code == 200
    assert rw_client.get("/api/session").get_json()["user"] is None


def test_page_logout_needs_post_with_token(rw_client):
    sign_in(rw_client)
    token = _form_token(rw_client.get("/browse").get_data(as_text=True))
    assert rw_client.post("/logout").status_code == 403
    assert rw_client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert rw_client.get("/api/session").get_json()["user"] is None


# --- authorisation and CSRF on writes -----------------------------------------------------

def test_writes_need_a_signed_in_curator(rw_client, writable_data):
    vid = writable_data.ids["harbour"]
    seg = _segments(rw_client, vid)[0]
    token = csrf_of(rw_client)
    headers = {"X-CSRF-Token": token}
    assert rw_client.post(f"/api/segments/{seg['id']}/reject", headers=headers).status_code == 401
    assert rw_client.patch(f"/api/segments/{seg['id']}", json={"end": 1}, headers=headers).status_code == 401
    assert rw_client.delete(f"/api/segments/{seg['id']}", headers=headers).status_code == 401
    response = rw_client.post(f"/api/videos/{vid}/segments", json={"label": "x", "start": 0, "end": 1},
                              headers=headers)
    assert response.status_code == 401 and "sign in" in response.get_json()["error"]
    page = rw_client.post(f"/videos/{vid}/segments/{seg['id']}/reject", data={"csrf_token": token})
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")
    assert _segments(rw_client, vid) == _segments(rw_client, vid, rejected=True)  # nothing changed


def test_writes_need_the_csrf_token(rw_client, writable_data):
    vid = writable_data.ids["harbour"]
    seg = _segments(rw_client, vid)[0]
    sign_in(rw_client)
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        response = rw_client.post(f"/api/segments/{seg['id']}/reject", headers=headers)
        assert response.status_code == 403 and "CSRF" in response.get_json()["error"]
    page = rw_client.post(f"/videos/{vid}/segments/{seg['id']}/reject", data={})
    assert page.status_code == 403
    assert all(s["status"] == "active" for s in _segments(rw_client, vid, rejected=True))


# --- changes ------------------------------------------------------------------------------

def test_reject_and_add_show_in_browse_search_filter_and_report(rw_client, writable_data):
    vid = writable_data.ids["harbour"]
    token = sign_in(rw_client)
    headers = {"X-CSRF-Token": token}
    red = next(s for s in _segments(rw_client, vid) if s["label"] == "warm/red")
    before = {r["id"]: r for r in rw_client.get("/api/categories").get_json()["categories"]}

    rejected = rw_client.post(f"/api/segments/{red['id']}/reject", headers=headers).get_json()["segment"]
    assert rejected["status"] == "rejected" and rejected["source"] == "curator"
    after = {r["id"]: r for r in rw_client.get("/api/categories").get_json()["categories"]}
    assert after["warm/red"]["videos"] == before["warm/red"]["videos"] - 1
    report = rw_client.get(f"/api/videos/{vid}/report?label=warm/red").get_json()
    assert report["contains"] is False

    added = rw_client.post(f"/api/videos/{vid}/segments", headers=headers,
                           json={"label": "alcohol", "start": 0.5, "end": 1.25})
    assert added.status_code == 201
    seg = added.get_json()["segment"]
    assert (seg["label"], seg["start"], seg["end"], seg["source"]) == ("alcohol", 0.5, 1.25, "curator")
    rows = {r["id"]: r for r in rw_client.get("/api/categories").get_json()["categories"]}
    assert rows["alcohol"]["videos"] == before["alcohol"]["videos"] + 1
    filtered = rw_client.get("/api/search?q=blue&category=alcohol").get_json()["results"]
    assert [r["video_id"] for r in filtered] == [vid]
    report = rw_client.get(f"/api/videos/{vid}/report?label=alcohol").get_json()
    assert report["contains"] and report["first_appearance"] == 0.5
    assert report["total_duration"] == pytest.approx(0.75)

    audit = rw_client.get(f"/api/videos/{vid}/audit").get_json()["audit"]
    assert [a["action"] for a in audit] == ["add", "reject"]  # newest first
    assert audit[1]["user"] == CURATOR and audit[1]["before"]["status"] == "active"
    assert audit[1]["after"]["status"] == "rejected"


def test_free_text_tag_edit_accept_delete(rw_client, writable_data):
    vid = writable_data.ids["meadow"]
    headers = {"X-CSRF-Token": sign_in(rw_client)}
    tag = "<script>alert('tag')</script> cows"
    seg = rw_client.post(f"/api/videos/{vid}/segments", headers=headers,
                         json={"label": tag, "start": 1, "end": 2}).get_json()["segment"]
    html = rw_client.get("/browse").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert(" in html
    video_html = rw_client.get(f"/videos/{vid}").get_data(as_text=True)
    assert "<script>alert" not in video_html
    listing = rw_client.get(f"/api/categories/{tag}/videos").get_json()
    assert listing["kind"] == "tag" and [v["video_id"] for v in listing["videos"]] == [vid]
    tag_page = rw_client.get("/browse/tag/" + tag)
    assert tag_page.status_code == 200 and "<script>alert" not in tag_page.get_data(as_text=True)

    edited = rw_client.patch(f"/api/segments/{seg['id']}", headers=headers,
                             json={"start": 1.5, "label": "cows"}).get_json()["segment"]
    assert (edited["label"], edited["start"], edited["end"]) == ("cows", 1.5, 2)
    auto = next(s for s in _segments(rw_client, vid) if s["source"] == "auto")
    accepted = rw_client.post(f"/api/segments/{auto['id']}/accept", headers=headers).get_json()["segment"]
    assert accepted["source"] == "curator" and accepted["status"] == "active"
    gone = rw_client.delete(f"/api/segments/{seg['id']}", headers=headers)
    assert gone.status_code == 200 and gone.get_json()["deleted"]["id"] == seg["id"]
    assert seg["id"] not in {s["id"] for s in _segments(rw_client, vid, rejected=True)}
    actions = [a["action"] for a in rw_client.get(f"/api/videos/{vid}/audit").get_json()["audit"]]
    assert actions == ["delete", "accept", "edit", "add"]


@pytest.mark.parametrize("body,needle", [
    ({"label": "x", "start": 2, "end": 1}, "after its start"),
    ({"label": "x", "start": 0, "end": 999}, "outside the video"),
    ({"label": "", "start": 0, "end": 1}, "label is required"),
    ({"label": "x", "start": "soon", "end": 1}, "number of seconds"),
    ({"label": "x", "end": 1}, "start is required"),
    ({"label": "x" * 300, "start": 0, "end": 1}, "label"),
])
def test_bad_segment_input_is_400(rw_client, writable_data, body, needle):
    vid = writable_data.ids["meadow"]
    headers = {"X-CSRF-Token": sign_in(rw_client)}
    response = rw_client.post(f"/api/videos/{vid}/segments", headers=headers, json=body)
    assert response.status_code == 400 and needle in response.get_json()["error"]


def test_write_errors_unknown_things_and_auto_delete(rw_client, writable_data):
    vid = writable_data.ids["meadow"]
    headers = {"X-CSRF-Token": sign_in(rw_client)}
    auto = _segments(rw_client, vid)[0]
    assert rw_client.post("/api/segments/99999/reject", headers=headers).status_code == 404
    assert rw_client.post("/api/videos/999/segments", headers=headers,
                          json={"label": "x", "start": 0, "end": 1}).status_code == 404
    assert rw_client.patch(f"/api/segments/{auto['id']}", headers=headers, data="{").status_code == 400
    assert rw_client.patch(f"/api/segments/{auto['id']}", headers=headers, json={}).status_code == 400
    delete = rw_client.delete(f"/api/segments/{auto['id']}", headers=headers)
    assert delete.status_code == 400 and "reject" in delete.get_json()["error"]


def test_curator_forms_on_the_video_page(rw_client, writable_data):
    vid = writable_data.ids["harbour"]
    sign_in(rw_client)
    html = rw_client.get(f"/videos/{vid}").get_data(as_text=True)
    assert "Curate labels" in html and "Add a segment" in html
    token = _form_token(html)
    blue = next(s for s in _segments(rw_client, vid) if s["label"] == "cool/blue")
    response = rw_client.post(f"/videos/{vid}/segments/{blue['id']}/edit",
                              data={"csrf_token": token, "label": "cool/blue", "start": "0.250", "end": "1.900"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/videos/{vid}#segment-{blue['id']}")
    page = rw_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved segment" in page and "edit" in page  # flash + audit row
    changed = next(s for s in _segments(rw_client, vid) if s["id"] == blue["id"])
    assert (changed["start"], changed["end"], changed["source"]) == (0.25, 1.9, "curator")
    bad = rw_client.post(f"/videos/{vid}/segments", data={"csrf_token": token, "label": "x",
                                                         "start": "3", "end": "1"})
    assert bad.status_code == 303
    assert "Not changed" in rw_client.get(bad.headers["Location"]).get_data(as_text=True)
    added = rw_client.post(f"/videos/{vid}/segments", data={"csrf_token": token, "label": "boats",
                                                           "start": "1", "end": "2"})
    new_id = int(added.headers["Location"].rsplit("segment-", 1)[1])
    for action in ("reject", "accept", "delete"):
        assert rw_client.post(f"/videos/{vid}/segments/{new_id}/{action}",
                              data={"csrf_token": token}).status_code == 303
    other = writable_data.ids["meadow"]
    wrong_video = rw_client.post(f"/videos/{other}/segments/{blue['id']}/reject", data={"csrf_token": token})
    assert wrong_video.status_code == 404


def test_rejected_segments_are_shown_to_curators_only(rw_client, writable_data):
    vid = writable_data.ids["harbour"]
    headers = {"X-CSRF-Token": sign_in(rw_client)}
    seg = _segments(rw_client, vid)[0]
    rw_client.post(f"/api/segments/{seg['id']}/reject", headers=headers)
    assert "seg-rejected" in rw_client.get(f"/videos/{vid}").get_data(as_text=True)
    rw_client.post("/api/logout", headers=headers)
    assert "seg-rejected" not in rw_client.get(f"/videos/{vid}").get_data(as_text=True)


# --- a parent follows its children (indexer.store.coverage) ----------------------------------------

def _in_this_video(client, vid: int) -> str:
    html = client.get(f"/videos/{vid}").get_data(as_text=True)
    return html.split("<h3>In this video</h3>", 1)[1].split("</table>", 1)[0]


def test_rejecting_the_only_child_takes_the_parent_off_every_page(rw_client, writable_data):
    vid = writable_data.ids["harbour"]  # red, i.e. "warm/red"; "warm" itself (white) never shows
    headers = {"X-CSRF-Token": sign_in(rw_client)}

    def warm_here() -> tuple:
        get = lambda url: rw_client.get(url).get_json()  # noqa: E731
        listing = [v["video_id"] for v in get("/api/categories/warm/videos")["videos"]]
        filtered = [r["video_id"] for r in get("/api/search?q=blue&category=warm")["results"]]
        scenes = [s for r in get("/api/search?q=red")["results"] if r["video_id"] == vid for s in r["scenes"]]
        return (vid in listing, get(f"/api/videos/{vid}/report?label=Warm colours")["contains"],
                vid in filtered, any("warm" in s["labels"] for s in scenes),
                "Warm colours" in _in_this_video(rw_client, vid),
                "warm" in {lab["label"] for lab in get(f"/api/videos/{vid}")["labels"]})

    before = {r["id"]: r["videos"] for r in rw_client.get("/api/categories").get_json()["categories"]}
    assert warm_here() == (True,) * 6
    red = next(s for s in _segments(rw_client, vid) if s["label"] == "warm/red")
    assert rw_client.post(f"/api/segments/{red['id']}/reject", headers=headers).status_code == 200
    assert warm_here() == (False,) * 6
    after = {r["id"]: r["videos"] for r in rw_client.get("/api/categories").get_json()["categories"]}
    assert after["warm"] == before["warm"] - 1


def test_rejecting_the_restricted_category_clears_restricted(rw_client, writable_data):
    vid = writable_data.ids["market"]  # magenta: "alcohol", restricted
    headers = {"X-CSRF-Token": sign_in(rw_client)}
    restricted = lambda: rw_client.get("/api/categories").get_json()["restricted"]["videos"]  # noqa: E731
    assert restricted() == 1
    alcohol = next(s for s in _segments(rw_client, vid) if s["label"] == "alcohol")
    rw_client.post(f"/api/segments/{alcohol['id']}/reject", headers=headers)
    assert restricted() == 0
    assert "Alcohol" not in _in_this_video(rw_client, vid)


# --- labels as curators type them (indexer.labels.names) -------------------------------------

@pytest.mark.parametrize("typed, stored", [("RED", "warm/red"), ("Warm colours", "warm"),
                                           ("alcohol", "alcohol"), ("blue\u200b", "cool/blue")])
def test_api_resolves_display_names_and_case_to_categories(rw_client, writable_data, typed, stored):
    vid = writable_data.ids["meadow"]
    headers = {"X-CSRF-Token": sign_in(rw_client)}
    added = rw_client.post(f"/api/videos/{vid}/segments", headers=headers,
                           json={"label": typed, "start": 0.5, "end": 1.0})
    assert added.status_code == 201 and added.get_json()["segment"]["label"] == stored
    tags = {t["id"] for t in rw_client.get("/api/categories").get_json()["tags"]}
    assert typed not in tags and stored not in tags
    edited = rw_client.patch(f"/api/segments/{added.get_json()['segment']['id']}", headers=headers,
                             json={"label": typed.lower()}).get_json()["segment"]
    assert edited["label"] == stored


def test_api_restricted_follows_a_category_typed_by_name(rw_client, writable_data):
    vid = writable_data.ids["meadow"]
    headers = {"X-CSRF-Token": sign_in(rw_client)}
    before = rw_client.get("/api/categories").get_json()["restricted"]["videos"]
    rw_client.post(f"/api/videos/{vid}/segments", headers=headers, json={"label": "ALCOHOL", "start": 0, "end": 1})
    assert rw_client.get("/api/categories").get_json()["restricted"]["videos"] == before + 1


@pytest.mark.parametrize("typed", ["\u200b", "\u202e\u200f", "\u00a0"])
def test_api_refuses_invisible_labels(rw_client, writable_data, typed):
    vid = writable_data.ids["meadow"]
    headers = {"X-CSRF-Token": sign_in(rw_client)}
    response = rw_client.post(f"/api/videos/{vid}/segments", headers=headers,
                              json={"label": typed, "start": 0, "end": 1})
    assert response.status_code == 400
    assert "visible" in response.get_json()["error"] or "label is required" in response.get_json()["error"]
    assert rw_client.get(f"/api/videos/{vid}/audit").get_json()["audit"] == []


def test_api_asks_before_creating_a_tag_close_to_a_category(rw_client, writable_data):
    vid = writable_data.ids["meadow"]
    headers = {"X-CSRF-Token": sign_in(rw_client)}
    body = {"label": "Yelow", "start": 0.5, "end": 1.0}
    asked = rw_client.post(f"/api/videos/{vid}/segments", headers=headers, json=body)
    assert asked.status_code == 409
    answer = asked.get_json()
    assert answer["label"] == "Yelow" and answer["suggestions"][0]["id"] == "warm/yellow"
    assert answer["suggestions"][0]["name"] == "Yellow" and '"new_tag": true' in answer["confirm"]
    assert rw_client.get(f"/api/videos/{vid}/audit").get_json()["audit"] == []
    created = rw_client.post(f"/api/videos/{vid}/segments", headers=headers, json={**body, "new_tag": True})
    assert created.status_code == 201 and created.get_json()["segment"]["label"] == "Yelow"


def test_page_form_asks_before_creating_a_close_tag(rw_client, writable_data):
    vid = writable_data.ids["meadow"]
    sign_in(rw_client)
    token = _form_token(rw_client.get(f"/videos/{vid}").get_data(as_text=True))
    form = {"csrf_token": token, "label": "Yelow", "start": "0.5", "end": "1.0"}
    asked = rw_client.post(f"/videos/{vid}/segments", data=form)
    html = asked.get_data(as_text=True)
    assert asked.status_code == 409 and "New tag “Yelow”?" in html
    assert 'name="label" value="warm/yellow"' in html and 'name="new_tag" value="1"' in html
    assert rw_client.get(f"/api/videos/{vid}/audit").get_json()["audit"] == []
    done = rw_client.post(f"/videos/{vid}/segments", data={**form, "label": "warm/yellow"})
    assert done.status_code == 303
    created = rw_client.post(f"/videos/{vid}/segments", data={**form, "new_tag": "1"})
    assert created.status_code == 303
    labels = [a["after"]["label"] for a in rw_client.get(f"/api/videos/{vid}/audit").get_json()["audit"]]
    assert labels == ["Yelow", "warm/yellow"]


def test_report_accepts_invisible_characters_and_tag_case(rw_client, writable_data):
    vid = writable_data.ids["harbour"]
    report = rw_client.get(f"/api/videos/{vid}/report?label=RED\u200b").get_json()
    assert (report["kind"], report["label"], report["contains"]) == ("category", "warm/red", True)
    headers = {"X-CSRF-Token": sign_in(rw_client)}
    rw_client.post(f"/api/videos/{vid}/segments", headers=headers, json={"label": "Tug Boat", "start": 0, "end": 1})
    tag = rw_client.get(f"/api/videos/{vid}/report?label=tug boat").get_json()
    assert (tag["kind"], tag["label"], tag["contains"]) == ("tag", "Tug Boat", True)
    empty = rw_client.get(f"/api/videos/{vid}/report?label=\u200b")
    assert empty.status_code == 400
