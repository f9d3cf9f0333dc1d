"""web/video_list.py and the /videos page: name filter, sort, pages, resolution and file size."""

from __future__ import annotations

import re
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

import pytest
from webfixtures import *  # noqa: F401,F403  (fixtures)
from webfixtures import make_app

from indexer.errors import QueryError
from indexer.store import NewVideo, Store
from indexer.types import VideoInfo
from web.video_list import VideoQuery, file_size, list_videos


VIDEOS = [("Harbour", 30.0), ("market", 5.0), ("meadow", 12.0), ("harbour-night", 8.0), ("zoo", 60.0)]


@pytest.fixture()
def videos(tmp_path: Path):
    """A real store holding VIDEOS, indexed in that order (zoo last, so newest)."""
    with Store.open(tmp_path / "data") as store:
        store.bind_encoder("test", 4, {"kind": "test"})
        for name, duration in VIDEOS:
            info = VideoInfo(Path(f"/a/{name}.mp4"), duration, Fraction(25), 64, 48, 0, 0.0, "h264")
            store.write_video(NewVideo(info.path, name, 1, 0.0, info, 0.5), np.zeros(0), np.zeros(0),
                              np.zeros((0, 4), np.float32), [], [])
            time.sleep(0.002)  # distinct indexing times
        yield store


def _names(page):
    return [v.path.stem for v in page.videos]


def test_sort_orders_and_their_defaults(videos):
    assert _names(list_videos(videos, VideoQuery())) == ["harbour-night", "Harbour", "market", "meadow", "zoo"]
    assert _names(list_videos(videos, VideoQuery.from_args({"sort": "duration"}))) == \
        ["zoo", "Harbour", "meadow", "harbour-night", "market"]  # longest first by default
    assert _names(list_videos(videos, VideoQuery.from_args({"sort": "duration", "order": "asc"})))[0] == "market"
    assert _names(list_videos(videos, VideoQuery.from_args({"sort": "date"})))[0] == "zoo"  # newest first


def test_name_filter_is_case_insensitive_and_pages_split_the_rest(videos):
    query = VideoQuery.from_args({"q": "HARBOUR"})
    assert _names(list_videos(videos, query)) == ["harbour-night", "Harbour"]
    pages = [list_videos(videos, VideoQuery.from_args({"page": str(p)}, per_page=2)) for p in (1, 2, 3, 9)]
    assert [_names(p) for p in pages[:3]] == [["harbour-night", "Harbour"], ["market", "meadow"], ["zoo"]]
    assert [(p.page, p.pages, p.first, p.matching) for p in pages] == \
        [(1, 3, 1, 5), (2, 3, 3, 5), (3, 3, 5, 5), (3, 3, 5, 5)]  # past the end: the last page


def test_links_keep_the_query_and_leave_defaults_out():
    query = VideoQuery.from_args({"q": "sea", "sort": "duration", "page": "2"})
    assert query.link(page=3) == {"q": "sea", "sort": "duration", "page": 3}
    assert VideoQuery().link(page=1) == {}


@pytest.mark.parametrize("args", [{"sort": "size"}, {"order": "up"}, {"page": "0"}, {"page": "x"},
                                  {"q": "x" * 500}])
def test_bad_arguments_are_query_errors(args):
    with pytest.raises(QueryError):
        VideoQuery.from_args(args)


def test_file_size_for_people():
    assert [file_size(n) for n in (812, 4_200_000, 12_345_678, 1_300_000_000)] == \
        ["812 B", "4.20 MB", "12.3 MB", "1.30 GB"]


def test_videos_page_filters_sorts_pages_and_labels_columns(web_data):
    app = make_app(web_data, VIDEOS_PER_PAGE=2)
    try:
        client = app.test_client()
        html = client.get("/videos").get_data(as_text=True)
        names = re.findall(r'href="/videos/\d+">(\w+)\.mp4</a>', html)
        assert names == ["harbour", "market"] and "Page 1 of 2" in html
        assert "/videos?page=2" in html and ">Resolution<" in html and ">File size<" in html
        assert re.search(r"\d+(\.\d+)? KB<", html)  # file size, not the resolution, under "File size"
        assert re.findall(r'href="/videos/\d+">(\w+)\.mp4</a>', client.get("/videos?page=2").get_data(as_text=True)) == ["meadow"]
        assert re.findall(r'href="/videos/\d+">(\w+)\.mp4</a>', client.get("/videos?q=MEA").get_data(as_text=True)) == ["meadow"]
        longest = client.get("/videos?sort=duration").get_data(as_text=True)
        assert re.findall(r'href="/videos/\d+">(\w+)\.mp4</a>', longest)[0] == "harbour"
        assert 'src="/media/posters/' in html
        assert 'class="chip' in html and 'href="/browse/category/' in html  # label chips link
        assert client.get("/videos?sort=bogus").status_code == 400
    finally:
        app.extensions["reelsearch"].close()
