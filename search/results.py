"""What a search returns: videos with their matching scenes, the cutoff used, and a message."""

from __future__ import annotations

import math
from dataclasses import dataclass

from indexer.store.catalog import VideoRecord
from indexer.types import format_timestamp

from .cutoff import Cutoff
from .scenes import Scene

DEFAULT_K = 20  # videos a search returns unless asked otherwise (CLI -k, web SEARCH_LIMIT)
MAX_K = 1000  # the most videos one search returns


def deep_link(path: str, start: float, end: float) -> str:
    """A media-fragment link that opens ``path`` at the scene: ``path#t=start,end``."""
    return f"{path}#t={_seconds(start)},{_seconds(end)}"


def _seconds(value: float) -> str:
    """Seconds with millisecond precision, rounded as format_timestamp rounds them."""
    ms = round(value * 1000)
    return f"{ms // 1000}.{ms % 1000:03d}"


def scene_dict(scene: Scene, path: str) -> dict:
    """JSON-able form of a scene (seconds plus HH:MM:SS.mmm, and its deep link); ``words`` lists
    what a word clause matched there (the line or the spoken words, the match marked)."""
    words = {"words": [w.to_dict() for w in scene.words]} if scene.words else {}
    return {**words, "start": round(scene.start, 6), "end": round(scene.end, 6),
            "start_hms": format_timestamp(scene.start), "end_hms": format_timestamp(scene.end),
            "best_time": round(scene.best_time, 6), "score": round(scene.score, 6),
            "hits": scene.hits, "labels": list(scene.labels),
            "link": deep_link(path, scene.start, scene.end)}


@dataclass(frozen=True)
class VideoResult:
    """One matching video: its catalog record, score (its best scene's) and scenes in time order."""

    video: VideoRecord
    score: float
    scenes: tuple[Scene, ...]

    def __post_init__(self) -> None:
        if not self.scenes:
            raise ValueError("a video result needs at least one scene")
        if not math.isfinite(self.score):
            raise ValueError(f"score must be finite, got {self.score!r}")

    def to_dict(self, rank: int, shown_path: str | None = None) -> dict:
        """The one JSON shape of a search result (CLI ``search --json`` lines and ``/api/search``);
        ``shown_path`` replaces the video's path in it (the web app hides absolute paths)."""
        path = str(self.video.path) if shown_path is None else shown_path
        return {"rank": rank, "video_id": self.video.id, "path": path, "duration": self.video.duration,
                "score": round(self.score, 6), "scenes": [scene_dict(s, path) for s in self.scenes]}


@dataclass(frozen=True)
class SearchResponse:
    """Results best first; ``message`` says why there are none (None when there are results)."""

    results: tuple[VideoResult, ...]
    cutoff: Cutoff | None
    message: str | None = None
    query: str = ""
    best_score: float | None = None  # best frame cosine seen when nothing matched (None if none)
    #: scores are fused ranks on 0..1 (a query with word clauses: search.fusion), not cosines
    fused: bool = False

    def __post_init__(self) -> None:
        if not self.results and not self.message:
            raise ValueError("an empty response must say why (message)")

    def __len__(self) -> int:
        return len(self.results)
