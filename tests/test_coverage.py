"""Tests of indexer.store.coverage: a parent follows its children and its own evidence as curators
left them, in both directions, and a child never exceeds its parent."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from indexer.store.catalog import SegmentRecord
from indexer.store.coverage import LabelTree, coverage, covered_seconds, video_coverage
from indexer.labels.taxonomy import parse_taxonomy

TREE = LabelTree(["alcohol", "alcohol/wine", "alcohol/beer", "places", "places/nature"])


def row(label: str, start: float, end: float, source: str = "auto", status: str = "active",
        id: int = 1) -> SegmentRecord:
    return SegmentRecord(id=id, video_id=1, label=label, start=start, end=end, score=0.9,
                         start_uncertainty=0.25, end_uncertainty=0.25, source=source,
                         status=status, created_by=None if source == "auto" else "ann",
                         updated_at=0.0)


def spans(pieces) -> list[tuple[float, float]]:
    return [(p.start, p.end) for p in pieces]


def test_tree_family_and_lineage() -> None:
    assert TREE.family("alcohol") == {"alcohol", "alcohol/wine", "alcohol/beer"}
    assert TREE.lineage("alcohol/wine") == {"alcohol", "alcohol/wine"}
    assert TREE.family("logo") == TREE.lineage("logo") == {"logo"}  # a tag stands alone
    assert TREE.family("alcohol/wine") == {"alcohol/wine"}


def test_parent_is_present_where_a_child_is() -> None:
    rows = [row("alcohol/wine", 0.0, 3.0)]
    assert spans(coverage(rows, "alcohol", TREE)) == [(0.0, 3.0)]
    assert set(video_coverage(rows, TREE)) == {"alcohol", "alcohol/wine"}


def test_rejecting_the_only_child_removes_the_parent() -> None:
    rows = [row("alcohol/wine", 0.0, 3.0, "curator", "rejected")]
    assert coverage(rows, "alcohol", TREE) == ()
    assert video_coverage(rows, TREE) == {}


def test_rejecting_a_child_keeps_the_parents_own_evidence() -> None:
    rows = [row("alcohol/wine", 0.0, 3.0, "curator", "rejected"), row("alcohol", 2.0, 5.0)]
    assert spans(coverage(rows, "alcohol", TREE)) == [(2.0, 5.0)]
    assert coverage(rows, "alcohol/wine", TREE) == ()


def test_rejecting_a_parent_removes_automatic_children_over_its_span() -> None:
    rows = [row("places", 0.0, 5.0, "curator", "rejected"), row("places/nature", 0.0, 11.0)]
    nature = coverage(rows, "places/nature", TREE)
    assert spans(nature) == [(5.0, 11.0)]
    assert spans(coverage(rows, "places", TREE)) == [(5.0, 11.0)]
    assert nature[0].start_uncertainty == 0.25  # the rejection's edge


def test_a_rejection_in_the_middle_splits_a_segment() -> None:
    rows = [row("places/nature", 0.0, 10.0), row("places", 4.0, 6.0, "curator", "rejected")]
    assert spans(coverage(rows, "places", TREE)) == [(0.0, 4.0), (6.0, 10.0)]


def test_a_curator_segment_is_never_overruled() -> None:
    rows = [row("places", 0.0, 5.0, "curator", "rejected"),
            row("places/nature", 1.0, 2.0, "curator", "active")]
    assert spans(coverage(rows, "places/nature", TREE)) == [(1.0, 2.0)]
    assert spans(coverage(rows, "places", TREE)) == [(1.0, 2.0)]


def test_a_child_rejection_does_not_touch_a_sibling_or_a_tag() -> None:
    rows = [row("alcohol/wine", 0.0, 3.0, "curator", "rejected"), row("alcohol/beer", 1.0, 2.0),
            row("logo", 0.0, 3.0, "curator")]
    assert spans(coverage(rows, "alcohol", TREE)) == [(1.0, 2.0)]
    assert spans(coverage(rows, "logo", TREE)) == [(0.0, 3.0)]


@pytest.mark.parametrize("seed", range(20))
def test_a_child_never_exceeds_its_parent(seed: int) -> None:
    rng = random.Random(seed)
    labels = ["places", "places/nature", "alcohol", "alcohol/wine"]
    rows = []
    for i in range(12):
        start = rng.uniform(0, 20)
        rows.append(row(rng.choice(labels), start, start + rng.uniform(0.5, 6),
                        rng.choice(["auto", "curator"]), rng.choice(["active", "active", "rejected"]),
                        id=i))
    rows = [r if r.source == "curator" or r.status == "active" else
            dataclasses.replace(r, source="curator") for r in rows]
    present = video_coverage(rows, TREE)
    for child, parent in (("places/nature", "places"), ("alcohol/wine", "alcohol")):
        kid, par = present.get(child, ()), present.get(parent, ())
        both = covered_seconds(list(kid) + list(par))
        assert both == pytest.approx(covered_seconds(par)), f"{child} outside {parent}"


# --- through the store: indexing, curating, then every reader ---------------------------------

ADS_TAXONOMY = """\
version = 1
threshold = 0.8
background = ["a photo", "a video frame", "a person"]

[[category]]
id = "alcohol"
prompts = ["white"]
restricted = true

[[category]]
id = "alcohol/wine"
name = "Wine"
prompts = ["magenta"]

[[category]]
id = "places"
prompts = ["gray"]

[[category]]
id = "places/nature"
name = "Nature"
prompts = ["green"]
"""


@pytest.fixture()
def ads(tmp_path: Path):
    """A store with one indexed ad: wine 2 s, a grey street 1.5 s, a meadow 3 s."""
    from indexer.store import curation
    from indexer.labels.classify import LabelModel
    from indexer.models.loading import encoder_spec
    from indexer.models.colour import ColourEncoder
    from indexer.pipeline.orchestrate import Indexer, IndexOptions
    from indexer.store import Store
    from media import Scene, make_video

    make_video(tmp_path / "ad.mp4", [Scene("magenta", 60), Scene("gray", 45), Scene("green", 90)])
    taxonomy = parse_taxonomy(ADS_TAXONOMY, tmp_path / "ads.toml")
    encoder = ColourEncoder()
    with Store.open(tmp_path / "index") as store:
        store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
        result = Indexer(store, encoder, LabelModel.build(taxonomy, encoder),
                         IndexOptions(every=0.25)).index_file(tmp_path / "ad.mp4")
        curation.add_user(store, "ann", "correct horse")
        yield store, taxonomy, store.get_video(result.video_id)


def durations(store, video, taxonomy) -> dict[str, float]:
    from search.report import video_labels

    return {r.label: round(r.total_duration, 3) for r in video_labels(store, video, taxonomy)}


def only(store, video, label: str):
    return next(s for s in store.segments(video.id) if s.label == label)


def test_indexing_stores_own_evidence_and_reads_parents_from_children(ads) -> None:
    store, taxonomy, video = ads
    assert {s.label for s in store.segments(video.id)} == {"alcohol/wine", "places", "places/nature"}
    assert durations(store, video, taxonomy) == {"alcohol": 2.002, "alcohol/wine": 2.002,
                                                 "places": 4.505, "places/nature": 3.003}


def test_rejecting_the_wine_takes_alcohol_and_restricted_away_everywhere(ads) -> None:
    from indexer.store import curation
    from search.report import label_report
    from search.filters import Filters, candidate_videos

    store, taxonomy, video = ads
    allowed = lambda **kw: candidate_videos(store, taxonomy, Filters(**kw)).allows(video.id)  # noqa: E731
    assert allowed(restricted=True) and allowed(category="alcohol")
    curation.reject(store, only(store, video, "alcohol/wine").id, "ann")
    assert "alcohol" not in durations(store, video, taxonomy)
    report = label_report(store, video, "alcohol", taxonomy, encoder=lambda: None)
    assert not report.report.contains and report.report.total_duration == 0
    assert not allowed(restricted=True) and not allowed(category="alcohol")
    assert allowed(restricted=False)


def test_rejecting_a_parent_takes_its_automatic_children_with_it(tmp_path: Path) -> None:
    from fractions import Fraction

    import numpy as np

    from indexer.store import curation
    from search.report import label_report
    from indexer.store import NewVideo, Store
    from indexer.types import Segment, VideoInfo

    taxonomy = parse_taxonomy(ADS_TAXONOMY, tmp_path / "ads.toml")
    info = VideoInfo(Path("/v/ad.mp4"), 12.0, Fraction(25), 64, 48, 0, 0.0, "h264")
    with Store.open(tmp_path / "index") as store:
        store.bind_encoder("fake", 4, {})
        curation.add_user(store, "ann", "correct horse")
        vid = store.write_video(NewVideo(Path("/v/ad.mp4"), "h", 1, 0.0, info, 0.5), np.arange(4.0),
                                np.arange(4), np.eye(4, dtype=np.float32), [],
                                [Segment("places", 0.0, 5.0, 0.9), Segment("places/nature", 0.0, 11.0, 0.9)])
        video = store.get_video(vid)
        assert durations(store, video, taxonomy) == {"places": 11.0, "places/nature": 11.0}
        curation.reject(store, only(store, video, "places").id, "ann")
        assert durations(store, video, taxonomy) == {"places": 6.0, "places/nature": 6.0}
        nature = label_report(store, video, "Nature", taxonomy, encoder=lambda: None).report
        assert (nature.first_appearance, nature.total_duration) == (5.0, 6.0)
