"""web/browsing.py: the browse tree hides empty categories, filters by name, nests children."""

from __future__ import annotations

from web.browsing import browse_tree

ROWS = [{"id": cid, "name": name, "parent": cid.rpartition("/")[0] or None, "videos": videos}
        for cid, name, videos in [("alcohol", "Alcohol", 2), ("alcohol/beer", "Beer", 2),
                                  ("alcohol/wine", "Wine", 0), ("sports", "Sports", 0),
                                  ("sports/football", "Football", 0), ("places", "Places", 1),
                                  ("places/port", "Port", 1)]]


def _ids(nodes):
    return [(n["id"], _ids(n["children"])) if n["children"] else n["id"] for n in nodes]


def test_empty_categories_are_hidden_unless_all_are_asked_for():
    assert _ids(browse_tree(ROWS)) == [("alcohol", ["alcohol/beer"]), ("places", ["places/port"])]
    everything = browse_tree(ROWS, show_all=True)
    assert _ids(everything)[1] == ("sports", ["sports/football"]) and len(everything) == 3
    assert not any(node["open"] for node in everything)  # collapsed


def test_filter_keeps_matches_and_their_parents_open():
    found = browse_tree(ROWS, text="BEER")
    assert _ids(found) == [("alcohol", ["alcohol/beer"])] and found[0]["open"]
    assert _ids(browse_tree(ROWS, text="wine")) == []  # empty: hidden by default
    assert _ids(browse_tree(ROWS, text="wine", show_all=True)) == [("alcohol", ["alcohol/wine"])]
    assert _ids(browse_tree(ROWS, text="places/")) == [("places", ["places/port"])]  # by id too
