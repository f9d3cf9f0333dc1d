"""A synthetic archive for the scale benchmarks: frame vectors shaped like CLIP embeddings,
generated one video at a time (so a million frames never sit in memory at once), and the
text "encoder" that goes with them.

The model (the same as ``bench_search.py``'s): every frame shares a common "image" direction
(unrelated frames have cosine ~0.5); each video has one of :data:`TOPICS` topics and 2-6 shots,
each shot a centre (mean + topic + own direction) from which its frames drift by a small random
walk (neighbouring frames ~0.99). Text queries are a separate text direction plus a concept:
``"topic N"`` (~0.37 with frames of topic N, ~0.18 with others), ``"absent ..."`` (a concept no
video shows) or anything else (a generic caption, like the taxonomy's background prompts).

Every topic maps to a category of the default taxonomy; a video carries a segment of that
category and of its parent over the whole video, and one of another category over one shot,
so browse and category filters have realistic work to do.

:class:`SyntheticEncoder` is a complete :class:`~indexer.models.encoder.Encoder` plugin
(``--encoder benchmarks.synthetic_archive:SyntheticEncoder``): ``reelsearch serve`` loads it
from the store's recorded spec and embeds queries by formula, in microseconds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

DIM, TOPICS, EVERY, SEED = 512, 500, 0.5, 0
PTS_PER_SECOND = 90_000


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as float32."""
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class World:
    """The directions every vector is made of (fixed by the seed)."""

    image_mean: np.ndarray
    text_mean: np.ndarray
    topics: np.ndarray  # (TOPICS, DIM) unit

    @classmethod
    def make(cls, seed: int = SEED) -> World:
        rng = np.random.default_rng(seed)
        image_mean, text_mean = np.linalg.qr(rng.standard_normal((DIM, 2)))[0].T
        return cls(image_mean.astype(np.float32), text_mean.astype(np.float32),
                   unit(rng.standard_normal((TOPICS, DIM))))

    def text_vector(self, text: str) -> np.ndarray:
        """``"topic N"`` -> a query of topic N; ``"absent ..."`` -> a concept no video shows;
        anything else -> a generic caption (what background prompts look like)."""
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        noise, concept = unit(np.random.default_rng(seed).standard_normal((2, DIM)))
        base = 0.9 * self.text_mean + 0.3 * self.image_mean
        if text.startswith("topic "):
            return unit(base + 0.45 * self.topics[int(text.split()[1]) % TOPICS] + 0.3 * noise)
        if text.startswith("absent "):
            return unit(base + 0.45 * concept + 0.3 * noise)
        return unit(base + 0.35 * noise)


class SyntheticEncoder:
    """Text "embedding" by formula (no model): the Encoder plugin of synthetic stores."""

    name, dim, image_size = "bench:synthetic-archive", DIM, 224

    def __init__(self) -> None:
        self.world = World.make()

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.world.text_vector(t) for t in texts])

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError("the synthetic archive has no images")


@dataclass(frozen=True)
class SyntheticVideo:
    """One video as the indexer would hand it to the store."""

    number: int  # 0-based position in the archive
    path: Path
    topic: int
    times: np.ndarray  # (n,) seconds
    vectors: np.ndarray  # (n, DIM) unit float32
    cuts: tuple[float, ...]
    labels: tuple[tuple[str, float, float], ...]  # (label, start, end)

    @property
    def duration(self) -> float:
        return float(len(self.times) * EVERY)

    @property
    def pts(self) -> np.ndarray:
        return np.round(self.times * PTS_PER_SECOND).astype(np.int64)


class SyntheticArchive:
    """``videos`` videos of ``per_video`` frames; :meth:`video` builds video ``i`` on demand
    (deterministic: the same ``i`` always gives the same frames)."""

    def __init__(self, videos: int, per_video: int, categories: list[str], seed: int = SEED) -> None:
        if videos < 1 or per_video < 1:
            raise ValueError("need at least one video of at least one frame")
        self.videos, self.per_video, self.seed = videos, per_video, seed
        self.world = World.make(seed)
        self.topic_of = np.random.default_rng([seed, 1]).integers(0, TOPICS, videos)
        leaves = [c for c in categories if not any(o.startswith(c + "/") for o in categories)]
        self.category_of_topic = [leaves[t % len(leaves)] for t in range(TOPICS)]

    @property
    def frames(self) -> int:
        return self.videos * self.per_video

    def topic_videos(self, topic: int) -> np.ndarray:
        """0-based numbers of the videos of ``topic``."""
        return np.flatnonzero(self.topic_of == topic)

    def video(self, i: int) -> SyntheticVideo:
        rng = np.random.default_rng([self.seed, 2, i])
        per, topic = self.per_video, int(self.topic_of[i])
        shots = min(per, int(rng.integers(2, 7)))
        starts = np.sort(rng.choice(np.arange(1, per), shots - 1, replace=False)) if per > 1 else []
        bounds = np.concatenate([[0], starts, [per]]).astype(int)
        centres = (0.7 * self.world.image_mean + 0.5 * self.world.topics[topic]
                   + 0.5 * unit(rng.standard_normal((shots, DIM))))
        drift = np.cumsum(0.05 * unit(rng.standard_normal((per, DIM))), axis=0)
        drift -= np.repeat(drift[bounds[:-1]], np.diff(bounds), axis=0)  # restart at each cut
        vectors = unit(centres[np.repeat(np.arange(shots), np.diff(bounds))] + drift)
        times = np.arange(per) * EVERY
        duration = per * EVERY
        leaf = self.category_of_topic[topic]
        labels = [(leaf, 0.0, duration)]
        if "/" in leaf:
            labels.append((leaf.rsplit("/", 1)[0], 0.0, duration))
        other = self.category_of_topic[int(rng.integers(TOPICS))]
        shot = int(rng.integers(shots))
        if other != leaf:
            labels.append((other, float(bounds[shot] * EVERY), float(bounds[shot + 1] * EVERY)))
        return SyntheticVideo(i, Path(f"/archive/synthetic/{i:07d}.mp4"), topic, times, vectors,
                              tuple(float(b * EVERY) for b in bounds[1:-1]), tuple(labels))

    def new_video_args(self, video: SyntheticVideo):
        """(NewVideo, times, pts, vectors, cuts, segments): the arguments of Store.write_video."""
        from indexer.store.catalog import NewVideo
        from indexer.types import Segment, ShotCut, VideoInfo

        info = VideoInfo(video.path, video.duration, Fraction(25), 1280, 720, 0, 0.0, "h264")
        new = NewVideo(video.path, f"synthetic-{self.seed}-{video.number}", 1_000_000 + video.number,
                       0.0, info, EVERY)
        cuts = [ShotCut(t, int(round(t * PTS_PER_SECOND)), 1.0) for t in video.cuts]
        segments = [Segment(label, start, end, 0.9) for label, start, end in video.labels]
        return new, video.times, video.pts, video.vectors, cuts, segments
