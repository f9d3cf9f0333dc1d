"""Every route of web/openapi.yaml (and every page route) fed with bad input: no answer is a 5xx.

Deterministic and bounded: for each documented path and method, and for every other method,
path parameters are replaced by wrong types, zero, negative and huge ids (2**63 and beyond) and
NaN; documented query parameters get NaN, infinities, huge numbers, control characters and
overlong text; request bodies are JSON nested 2000 deep, NaN and 400-digit numbers, wrong
types, not JSON at all, or a broken image; GETs carry malformed and unsatisfiable Range headers.
Requests go anonymously and as a signed-in curator with the CSRF token, so writes get past the
checks into the code behind them.
"""

from __future__ import annotations

import io
import itertools
import re
from importlib import resources

import pytest
import yaml
from webfixtures import *  # noqa: F401,F403  (fixtures)
from webfixtures import sign_in

BAD_IDS = ["0", "-1", "abc", "1.5", "NaN", "1e999", str(2 ** 63), str(2 ** 64 + 1), "9" * 40, "%00", "..%2F.."]
BAD_VALUES = ["", "NaN", "inf", "-inf", "-1", "0", "1e999", "9" * 400, "x" * 2000, "a\r\nb", "%", "\x00",
              "1@NaN", "1@-1", f"{2 ** 64}@1", "1@1e999", "true", "[]", '"', "<script>"]
DEEP = "[" * 2000 + "]" * 2000
BODIES = [
    ("application/json", DEEP),
    ("application/json", '{"a": ' * 2000 + "1" + "}" * 2000),
    ("application/json", '{"label": "warm/red", "start": NaN, "end": Infinity}'),
    ("application/json", '{"label": "warm/red", "start": 1, "end": ' + "9" * 400 + "}"),
    ("application/json", '{"label": 5, "start": "x", "end": [], "name": {}, "password": []}'),
    ("application/json", '{"label": "' + "x" * 5000 + '", "start": -1, "end": 1e400}'),
    ("application/json", '{"name": "a\\r\\nb", "password": "' + "p" * 10000 + '"}'),
    ("application/json", "null"),
    ("application/json", "[1, 2]"),
    ("application/json", "not json"),
    ("text/plain", "start=1&end=2"),
]
RANGES = ["bytes=abc", "items=0-10", "bytes=0-1,5-6", "bytes=5-1", "bytes=-0", "bytes=99999999999999999999999-",
          "bytes=0-99999999999999999999999999"]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


def _spec() -> dict:
    return yaml.safe_load(resources.files("web").joinpath("openapi.yaml").read_text(encoding="utf-8"))


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def _query_names(operation: dict) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if isinstance(p, dict) and p.get("in") == "query"]


def _requests(valid_video: int, valid_segment: int) -> list[tuple[str, str, dict]]:
    """(method, url, options for the test client) for every probe, in a fixed order."""
    probes: list[tuple[str, str, dict]] = []
    for path, item in _spec()["paths"].items():
        valid = _fill(path, str(valid_segment if "segment_id" in path else valid_video))
        for value in BAD_IDS if "{" in path else []:
            for method in METHODS:
                probes.append((method, _fill(path, value), {}))
        for method in METHODS:  # wrong methods on a real path
            probes.append((method, valid, {}))
        for method, operation in item.items():
            method = method.upper()
            for name, value in itertools.product(_query_names(operation), BAD_VALUES):
                probes.append((method, valid, {"query_string": {name: value}}))
            if method in ("POST", "PATCH", "PUT", "DELETE"):
                for content_type, body in BODIES:
                    probes.append((method, valid, {"data": body, "content_type": content_type}))
            if method == "GET":
                for header in RANGES:
                    probes.append((method, valid, {"headers": {"Range": header}}))
    probes += [("POST", "/api/search", {"upload": (data, k)})
               for data, k in [(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "1"), (b"GIF89a" + b"\xff" * 30, "NaN"),
                               (b"", "5"), (b"BM" + b"\x7f" * 60, "1e999")]]
    return probes


def _page_requests(app, valid_video: int) -> list[tuple[str, str, dict]]:
    """Every non-API page route with bad ids and bad query values."""
    probes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/static")):
            continue
        for value in BAD_IDS[:8] + [str(valid_video)]:
            url = re.sub(r"<[^>]+>", value, rule.rule)
            probes += [(method, url, {}) for method in ("GET", "POST")]
        url = re.sub(r"<[^>]+>", str(valid_video), rule.rule)
        for name, value in itertools.product(["q", "t", "like", "k", "category", "label", "next"], BAD_VALUES[:6]):
            probes.append(("GET", url, {"query_string": {name: value}}))
    return probes


@pytest.fixture()
def quick_failures(monkeypatch):
    import web.auth

    monkeypatch.setattr(web.auth, "FAILED_LOGIN_DELAY", 0.0)


def _run(client, probes, token: str | None) -> list[str]:
    failures = []
    for method, url, options in probes:
        options = dict(options)
        if "upload" in options:
            data, k = options.pop("upload")
            options.update(data={"image": (io.BytesIO(data), "x.png"), "k": k}, content_type="multipart/form-data")
        if token:
            options["headers"] = {**options.get("headers", {}), "X-CSRF-Token": token}
        response = client.open(url, method=method, **options)
        if response.status_code >= 500:
            failures.append(f"{method} {url} {options.get('query_string') or ''} -> {response.status_code}")
        response.close()
    return failures


def test_no_route_answers_5xx_to_bad_input(rw_app, writable_data, quick_failures):
    client = rw_app.test_client()
    video = writable_data.ids["harbour"]
    segment = client.get(f"/api/videos/{video}").get_json()["segments"][0]["id"]
    probes = _requests(video, segment)
    pages = _page_requests(rw_app, video)
    assert 600 < len(probes) + len(pages) < 4000  # bounded, and not trivially small
    failures = _run(client, probes + pages, None)
    curator = rw_app.test_client()  # stays signed in: no sign-in or sign-out probes
    failures += _run(curator, [p for p in probes if not p[1].startswith(("/api/login", "/api/logout"))],
                     sign_in(curator))
    assert curator.get("/api/session").get_json()["user"] == "alice"
    assert failures == []


@pytest.mark.parametrize("url", ["/api/videos/{}", "/api/videos/{}/report?label=red", "/api/videos/{}/audit",
                                 "/videos/{}", "/media/videos/{}", "/media/thumbs/{}/0.jpg",
                                 "/api/search?like={}@1"])
def test_ids_beyond_64_bits_are_404(client, url):
    for value in (2 ** 63, 2 ** 64, 10 ** 30):
        assert client.get(url.format(value)).status_code == 404


def test_huge_thumbnail_time_is_clamped(client, web_data):
    response = client.get(f"/media/thumbs/{web_data.ids['harbour']}/{'9' * 400}.jpg")
    assert response.status_code == 200
    response.close()


def test_deeply_nested_json_is_400(rw_client):
    token = rw_client.get("/api/session").get_json()["csrf_token"]
    response = rw_client.post("/api/login", data=DEEP, content_type="application/json",
                              headers={"X-CSRF-Token": token})
    assert response.status_code == 400 and "JSON object" in response.get_json()["error"]


def test_segment_time_too_large_for_a_float_is_400(rw_client, writable_data):
    token = sign_in(rw_client)
    response = rw_client.post(f"/api/videos/{writable_data.ids['harbour']}/segments",
                              data='{"label": "x", "start": 1, "end": ' + "9" * 400 + "}",
                              content_type="application/json", headers={"X-CSRF-Token": token})
    assert response.status_code == 400 and "end must be" in response.get_json()["error"]


@pytest.mark.parametrize("target", ["/browse\r\nSet-Cookie: x=1", "/browse\nx", "/browse\x00", "/\x7f"])
def test_control_characters_in_next_are_dropped(rw_client, target):
    token = rw_client.get("/api/session").get_json()["csrf_token"]
    response = rw_client.post("/login", data={"name": "alice", "password": "correct horse battery",
                                              "csrf_token": token, "next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/search"
    assert rw_client.get(f"/login?next={target}").status_code == 200


@pytest.mark.parametrize("method,url", [("DELETE", "/api/videos/1"), ("GET", "/api/login"),
                                        ("POST", "/api/videos"), ("PUT", "/api/segments/1"),
                                        ("GET", "/api/segments/1/reject")])
def test_wrong_method_on_an_api_endpoint_is_405_with_allow(client, method, url):
    response = client.open(url, method=method)
    assert response.status_code == 405
    assert response.headers["Allow"]
    assert method not in response.headers["Allow"]
    assert response.is_json and "error" in response.get_json()


def test_unknown_api_path_is_still_a_json_404(client):
    for method in ("GET", "POST", "DELETE"):
        response = client.open("/api/no/such/thing", method=method)
        assert response.status_code == 404 and "openapi.yaml" in response.get_json()["error"]


@pytest.mark.parametrize("header", ["bytes=abc", "items=0-10", "bytes=0-1,5-6", "bytes=5-1", "bytes 0-10"])
def test_malformed_range_is_ignored(client, web_data, header):
    blob = web_data.videos["market"].path.read_bytes()
    response = client.get(f"/media/videos/{web_data.ids['market']}", headers={"Range": header})
    assert response.status_code == 200 and response.data == blob
    response.close()
    css = client.get("/static/style.css", headers={"Range": header})
    assert css.status_code == 200
    css.close()
