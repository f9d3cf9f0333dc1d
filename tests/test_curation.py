"""Tests of indexer.store.curation: users, every curator operation, audit rows, re-index semantics."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from indexer.store import curation
from indexer.errors import NotFoundError, QueryError, StoreError
from indexer.store import NewVideo, Store
from indexer.labels.names import label_resolver
from indexer.labels.taxonomy import parse_taxonomy
from indexer.types import Segment, VideoInfo

DIM = 8
TAXONOMY = parse_taxonomy("""\
background = ["a photo"]
[[category]]
id = "sports"
prompts = ["sport"]
[[category]]
id = "sports/football"
prompts = ["football"]
[[category]]
id = "sports/rugby"
prompts = ["rugby"]
[[category]]
id = "seaside"
prompts = ["sea"]
[[category]]
id = "alcohol"
prompts = ["drinks"]
restricted = true
[[category]]
id = "alcohol/wine"
name = "Wine"
prompts = ["wine"]
""", Path("test.toml"))
RESOLVE = label_resolver(TAXONOMY)
AUTO = [Segment("sports/football", 2.0, 6.0, 0.8, 0.25, 0.25), Segment("seaside", 10.0, 14.0, 0.6)]


def index_video(store: Store, segments=AUTO, path: str = "/videos/ad.mp4") -> int:
    info = VideoInfo(Path(path), 20.0, Fraction(25), 64, 48, 0, 0.0, "h264")
    times = np.arange(8) * 2.5
    vectors = np.eye(DIM, dtype=np.float32)
    return store.write_video(NewVideo(Path(path), "h", 1, 0.0, info, 2.5), times, np.arange(8),
                             vectors, [], list(segments))


@pytest.fixture()
def store(tmp_path: Path):
    with Store.open(tmp_path / "data") as s:
        s.bind_encoder("fake", DIM, {})
        curation.add_user(s, "ann", "correct horse")
        yield s


@pytest.fixture()
def video(store: Store) -> int:
    return index_video(store)


def segment(store: Store, video_id: int, label: str):
    return next(s for s in store.segments(video_id, include_rejected=True) if s.label == label)


def test_users_and_passwords(store: Store) -> None:
    assert curation.check_password(store, "ann", "correct horse")
    assert not curation.check_password(store, "ann", "wrong horse")
    assert not curation.check_password(store, "bob", "correct horse")
    assert curation.add_user(store, "bob", "battery staple") is True
    assert curation.add_user(store, "bob", "new password!") is False  # password reset
    assert curation.check_password(store, "bob", "new password!")
    assert not curation.check_password(store, "bob", "battery staple")
    assert curation.list_users(store) == ["ann", "bob"]
    stored = store.catalog.conn.execute("SELECT password_hash FROM users WHERE name = 'ann'").fetchone()[0]
    assert stored.startswith("scrypt$") and "horse" not in stored
    for name, password in (("", "long enough"), ("a b", "long enough"), ("<script>", "long enough"),
                           ("carl", "short")):
        with pytest.raises(QueryError):
            curation.add_user(store, name, password)


def test_accept_and_reject_make_curator_rows_with_audit(store: Store, video: int) -> None:
    football, seaside = segment(store, video, "sports/football"), segment(store, video, "seaside")
    accepted = curation.accept(store, football.id, "ann")
    assert (accepted.source, accepted.status, accepted.created_by) == ("curator", "active", "ann")
    rejected = curation.reject(store, seaside.id, "ann")
    assert (rejected.source, rejected.status) == ("curator", "rejected")
    assert [s.label for s in store.segments(video)] == ["sports/football"]
    entries = curation.audit(store, video)
    assert [(e.action, e.user, e.segment_id) for e in entries] == [
        ("reject", "ann", seaside.id), ("accept", "ann", football.id)]
    assert entries[0].before["status"] == "active" and entries[0].after["status"] == "rejected"
    assert entries[1].before["source"] == "auto" and entries[1].after["source"] == "curator"


def test_edit_times_and_relabel_leave_suppression_row(store: Store, video: int) -> None:
    football = segment(store, video, "sports/football")
    edited = curation.edit(store, football.id, "ann", resolve=RESOLVE, start=1.0, label="sports/rugby")
    assert (edited.label, edited.start, edited.end) == ("sports/rugby", 1.0, 6.0)
    assert (edited.start_uncertainty, edited.end_uncertainty) == (0.0, 0.25)
    old = segment(store, video, "sports/football")
    assert (old.source, old.status, old.start, old.end) == ("curator", "rejected", 2.0, 6.0)
    actions = [(e.action, e.segment_id) for e in curation.audit(store, video)]
    assert actions == [("reject", old.id), ("edit", football.id)]
    # re-indexing with the same automatic segments brings neither the old label nor duplicates back
    index_video(store)
    labels = sorted((s.label, s.source) for s in store.segments(video))
    assert labels == [("seaside", "auto"), ("sports/rugby", "curator")]


def test_add_and_delete_curator_segments(store: Store, video: int) -> None:
    added = curation.add(store, video, "ann", "  brand: acme  ", 3.0, 4.5, resolve=RESOLVE)
    assert (added.label, added.source, added.score) == ("brand: acme", "curator", 1.0)
    assert store.videos_with_labels(["brand: acme"]) == {video: [added]}
    assert store.label_stats()["brand: acme"].duration == 1.5
    deleted = curation.delete(store, added.id, "ann")
    assert deleted == added and "brand: acme" not in store.label_stats()
    entries = curation.audit(store, video)
    assert [(e.action, e.before is None, e.after is None) for e in entries] == [
        ("delete", False, True), ("add", True, False)]
    with pytest.raises(QueryError, match="reject"):
        curation.delete(store, segment(store, video, "seaside").id, "ann")


def test_curator_changes_survive_reindexing(store: Store, video: int) -> None:
    added = curation.add(store, video, "ann", "logo", 0.0, 1.0, resolve=RESOLVE)
    curation.reject(store, segment(store, video, "seaside").id, "ann")
    index_video(store, segments=[Segment("seaside", 11.0, 12.0, 0.9), Segment("logo", 0.5, 2.0, 0.9),
                                 Segment("night", 15.0, 18.0, 0.5)])
    rows = {(s.label, s.source, s.status) for s in store.segments(video, include_rejected=True)}
    assert rows == {("logo", "curator", "active"), ("seaside", "curator", "rejected"),
                    ("night", "auto", "active")}
    assert segment(store, video, "logo").id == added.id


@pytest.mark.parametrize("kwargs, message", [
    ({"start": 5.0, "end": 5.0}, "after its start"),
    ({"start": 7.0}, "after its start"),
    ({"end": 25.0}, "outside the video"),
    ({"start": -1.0}, "outside the video"),
    ({"label": "   "}, "label"),
    ({}, "nothing to change"),
])
def test_bad_edits_are_refused_and_change_nothing(store: Store, video: int, kwargs, message) -> None:
    football = segment(store, video, "sports/football")
    with pytest.raises(QueryError, match=message):
        curation.edit(store, football.id, "ann", resolve=RESOLVE, **kwargs)
    assert segment(store, video, "sports/football") == football
    assert curation.audit(store, video) == []


def test_wrong_user_unknown_ids_and_readonly(store: Store, video: int) -> None:
    football = segment(store, video, "sports/football")
    with pytest.raises(QueryError, match="unknown curator"):
        curation.accept(store, football.id, "mallory")
    with pytest.raises(QueryError, match="unknown curator"):
        curation.add(store, video, "mallory", "x", 0, 1, resolve=RESOLVE)
    with pytest.raises(NotFoundError):
        curation.reject(store, 9999, "ann")
    with pytest.raises(NotFoundError):
        curation.add(store, 9999, "ann", "x", 0, 1, resolve=RESOLVE)
    with pytest.raises(QueryError):
        curation.add(store, video, "ann", "x", 0, float("nan"), resolve=RESOLVE)
    with Store.open(store.data_dir, readonly=True) as reader:
        with pytest.raises(StoreError, match="read-only"):
            curation.accept(reader, football.id, "ann")
        assert curation.check_password(reader, "ann", "correct horse")  # signing in only reads
    assert segment(store, video, "sports/football") == football
    assert curation.audit(store, video) == []


# --- labels as curators type them (indexer.labels.names) -------------------------------------

@pytest.mark.parametrize("typed, stored", [
    ("Wine", "alcohol/wine"), ("ALCOHOL", "alcohol"), ("alcohol/WINE", "alcohol/wine"),
    (" wine\u200b", "alcohol/wine"), ("\u202eWine\u202c", "alcohol/wine"), ("rugby", "sports/rugby"),
])
def test_category_names_and_case_resolve_to_the_category(store: Store, video: int, typed, stored) -> None:
    added = curation.add(store, video, "ann", typed, 1.0, 2.0, resolve=RESOLVE)
    assert added.label == stored
    football = segment(store, video, "sports/football")
    assert curation.edit(store, football.id, "ann", resolve=RESOLVE, label=typed).label == stored


def test_a_display_name_counts_towards_the_category_and_restricted(store: Store, video: int) -> None:
    from search.filters import Filters, candidate_videos

    curation.add(store, video, "ann", "Wine", 1.0, 2.0, resolve=RESOLVE)
    assert candidate_videos(store, TAXONOMY, Filters(restricted=True)).allows(video)
    assert candidate_videos(store, TAXONOMY, Filters(category="alcohol")).allows(video)


@pytest.mark.parametrize("typed", ["\u200b", "\u200e\u200f", "\u00a0\u2003", "\u202e\u202c", "\ufeff", "\ufe0f"])
def test_invisible_labels_are_refused(store: Store, video: int, typed: str) -> None:
    with pytest.raises(QueryError, match="no visible character"):
        curation.add(store, video, "ann", typed, 1.0, 2.0, resolve=RESOLVE)
    assert curation.audit(store, video) == []


def test_invisible_characters_are_removed_from_tags(store: Store, video: int) -> None:
    added = curation.add(store, video, "ann", "lo\u202ego \u200b on\tscreen", 1.0, 2.0, resolve=RESOLVE)
    assert added.label == "logo on screen"


def test_a_tag_spelled_differently_is_the_existing_tag(store: Store, video: int) -> None:
    curation.add(store, video, "ann", "Night Shoot", 1.0, 2.0, resolve=RESOLVE)
    again = curation.add(store, video, "ann", "night  shoot", 3.0, 4.0, resolve=RESOLVE)
    assert again.label == "Night Shoot"


@pytest.mark.parametrize("typed, suggestions", [
    ("Wyne", ("alcohol/wine",)), ("seasides", ("seaside",)), ("alcohol/whisky", ("alcohol",)),
    ("Night Shots", ("Night Shoot",)),
])
def test_a_new_tag_close_to_a_label_needs_confirming(store: Store, video: int, typed, suggestions) -> None:
    from indexer.errors import CloseLabelError

    curation.add(store, video, "ann", "Night Shoot", 1.0, 2.0, resolve=RESOLVE)
    with pytest.raises(CloseLabelError) as refused:
        curation.add(store, video, "ann", typed, 3.0, 4.0, resolve=RESOLVE)
    assert refused.value.suggestions[:len(suggestions)] == suggestions
    assert [e.action for e in curation.audit(store, video)] == ["add"]  # nothing stored
    added = curation.add(store, video, "ann", typed, 3.0, 4.0, resolve=label_resolver(TAXONOMY, new_tag=True))
    assert added.label == typed
