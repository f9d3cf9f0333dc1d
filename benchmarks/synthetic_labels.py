"""A synthetic archive with known truth for the curator loop (``bench_learn.py`` and the tests).

Frames are embeddings drawn around class centres (``sea``, ``sand``, ``snow``, ``wine``, ``grape``,
``street``) with noise, so classes overlap; every video is a run of 2-second shots, one class each,
with the cuts stored. :class:`SyntheticEncoder` answers text prompts with vectors that make the
zero-shot rule deliberately wrong for some categories: its ``sand`` prompt points between sand and
snow (a look-alike), its ``wine`` prompt between wine and grape juice; ``sea`` is right.
``scale > 0`` adds a shared direction to every vector, so that cosines live in about 0.6-0.9
(an encoder on another scale than CLIP).

:func:`judge_video` plays a curator: rejects the automatic segments of a category that are not
exactly right, adds the true spans and marks the video reviewed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import zlib

import numpy as np

from indexer.labels.taxonomy import parse_taxonomy
from indexer.store import NewVideo, Store
from indexer.store import curation, reviews
from indexer.types import ShotCut, VideoInfo

DIM = 32
CLASSES = ("sea", "sand", "snow", "wine", "grape", "street")
SHOT = 2.0
EVERY = 0.5
FPS = Fraction(25)
NOISE = 1.0
TAXONOMY_TOML = """\
version = 1
threshold = 0.5
background = ["a photo", "a video frame"]

[[category]]
id = "sea"
prompts = ["the sea"]

[[category]]
id = "sand"
prompts = ["sand"]

[[category]]
id = "wine"
prompts = ["wine"]
restricted = true
"""


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


class SyntheticEncoder:
    """The text side of the synthetic world (see the module docstring); images are not encoded."""

    name = "synthetic-clusters"
    dim = DIM
    image_size = 8

    def __init__(self, scale: float = 0.0, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.centres = dict(zip(CLASSES, _unit(rng.standard_normal((len(CLASSES), DIM)))))
        self.common = _unit(rng.standard_normal(DIM))
        self.scale = scale
        c = self.centres
        self.texts = {"the sea": c["sea"], "sand": _unit(c["sand"] + c["snow"]),
                      "wine": _unit(c["wine"] + 1.2 * c["grape"]),
                      # background prompts resemble every frame a little, as CLIP's do
                      "a photo": _unit(sum(c.values())), "a video frame": _unit(sum(c.values()) + c["street"])}

    def lift(self, v: np.ndarray) -> np.ndarray:
        """Vectors as this encoder emits them: with the shared direction when ``scale`` > 0."""
        return _unit(v + self.scale * self.common).astype(np.float32)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self.lift(np.stack([self.texts.get(t, self._unknown(t)) for t in texts]))

    @staticmethod
    def _unknown(text: str) -> np.ndarray:
        return _unit(np.random.default_rng(zlib.crc32(text.encode())).standard_normal(DIM))

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError("the synthetic world has no pictures")

    def frames(self, classes: Sequence[str], rng: np.random.Generator, noise: float = NOISE) -> np.ndarray:
        """One embedding per class name: its centre plus Gaussian noise of norm about ``noise``."""
        base = np.stack([self.centres[c] for c in classes])
        return self.lift(_unit(base + noise / np.sqrt(DIM) * rng.standard_normal(base.shape)))


@dataclass(frozen=True)
class SyntheticVideo:
    """A stored synthetic video and its truth: the class of every shot."""

    id: int
    shots: tuple[str, ...]

    def spans(self, label: str) -> list[tuple[float, float]]:
        """True spans of ``label``, neighbouring shots joined."""
        out: list[tuple[float, float]] = []
        for i, cls in enumerate(self.shots):
            if cls == label:
                if out and abs(out[-1][1] - i * SHOT) < 1e-9:
                    out[-1] = (out[-1][0], (i + 1) * SHOT)
                else:
                    out.append((i * SHOT, (i + 1) * SHOT))
        return out

    def frame_truth(self, label: str) -> np.ndarray:
        per_shot = int(SHOT / EVERY)
        return np.repeat([c == label for c in self.shots], per_shot)


def taxonomy():
    """The synthetic world's taxonomy (sea, sand, restricted wine)."""
    return parse_taxonomy(TAXONOMY_TOML, Path("synthetic.toml"))


def add_videos(store: Store, encoder: SyntheticEncoder, labels, count: int, *, seed: int = 0,
               shots: int = 10, start: int = 0) -> list[SyntheticVideo]:
    """Store ``count`` synthetic videos labelled by ``labels`` (a LabelModel) as indexing would."""
    from indexer.labels.segments import label_segments

    rng = np.random.default_rng(seed)
    per_shot = int(SHOT / EVERY)
    out = []
    for n in range(start, start + count):
        classes = tuple(rng.choice(CLASSES, size=shots))
        frame_classes = [c for c in classes for _ in range(per_shot)]
        vectors = encoder.frames(frame_classes, rng)
        times = np.arange(len(frame_classes)) * EVERY
        duration = shots * SHOT
        cuts = [ShotCut(i * SHOT, int(i * SHOT * 25), 1.0) for i in range(1, shots)]
        path = Path(f"/synthetic/video{n:04d}.mp4")
        info = VideoInfo(path, duration, FPS, 64, 36, 0, 0.0, "h264")
        segments = label_segments(labels, times, vectors, [c.time for c in cuts], duration, EVERY)
        video_id = store.write_video(NewVideo(path, f"hash{n}", 1, 1.0, info, EVERY), times,
                                     (times * 25).astype(np.int64), vectors, cuts, segments)
        out.append(SyntheticVideo(video_id, classes))
    return out


def _as_typed(label: str, _in_use: Sequence[str]) -> str:
    """The label resolver of the simulated curator: it types category ids."""
    return label


def judge_video(store: Store, video: SyntheticVideo, label: str, user: str) -> int:
    """Play a curator on one video and category; return the number of judgements made."""
    actions = 0
    truth = video.spans(label)
    for seg in store.segments(video.id):
        if seg.label == label and seg.source == "auto":
            if (seg.start, seg.end) in truth:
                curation.accept(store, seg.id, user)
            else:
                curation.reject(store, seg.id, user)
            actions += 1
    kept = {(s.start, s.end) for s in store.segments(video.id) if s.label == label}
    for start, end in truth:
        if (start, end) not in kept:
            curation.add(store, video.id, user, label, start, end, resolve=_as_typed)
            actions += 1
    reviews.mark_reviewed(store, video.id, label, user)
    return actions + 1


class HighCosineEncoder(SyntheticEncoder):
    """The same world through an encoder whose cosines live in about 0.6-0.9."""

    name = "synthetic-clusters-high-cosine"

    def __init__(self) -> None:
        super().__init__(scale=1.7)
