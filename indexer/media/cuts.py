"""Hard-cut detection from a cheap per-frame signature.

:class:`CutDetector` runs on every decoded frame, so its signature avoids swscale: for
planar YUV frames it reads the Y, U and V planes in place (numpy views over the frame
buffers, line padding respected), samples a fixed grid of points and averages them into a
small cell grid (``cells`` rows x columns per plane). Chroma counts as much as luma, so a
cut between two shots of equal brightness but different colour is caught. Other pixel
formats (RGB, NV12, hardware frames ...) are first reformatted to a tiny YUV image.

The score of a frame is the mean absolute difference (0..255 units) between its signature
and the previous frame's. A frame starts a new shot when its score reaches both an absolute
floor and ``ratio`` times the median score of the recent frames (so busy, shaky footage
needs a stronger jump), and the current shot has lasted at least ``min_shot`` seconds.
"""

from __future__ import annotations

import logging
import re
from collections import deque

import av
import numpy as np

from indexer.types import ShotCut

log = logging.getLogger(__name__)

#: Planar YUV formats read in place: 8-bit, or 9..16-bit little-endian ("yuv420p10le").
_PLANAR_YUV = re.compile(r"^yuvj?4[0-4][0-4]p(?:(\d+)le)?$")
_SAMPLES_PER_CELL = 4  # grid points averaged per cell along each axis (luma)
_CHROMA_SAMPLES_PER_CELL = 2  # chroma is smooth (and subsampled): fewer points give the same means


class CutDetector:
    """Detect hard cuts; feed it every decoded frame in presentation order.

    ``threshold`` is the absolute floor of the score (0..255 scale), ``ratio`` the multiple
    of the median recent score a cut must also reach, ``window`` how many recent scores
    that median covers, ``min_shot`` the shortest shot in seconds (closer cuts are ignored),
    ``cells`` the (rows, columns) of the signature grid.
    """

    def __init__(
        self,
        *,
        threshold: float = 12.0,
        ratio: float = 3.0,
        window: int = 24,
        min_shot: float = 0.2,
        cells: tuple[int, int] = (18, 32),
    ) -> None:
        if threshold <= 0 or ratio < 1 or window < 1 or min_shot < 0:
            raise ValueError("need threshold > 0, ratio >= 1, window >= 1 and min_shot >= 0")
        if min(cells) < 1:
            raise ValueError(f"cells must be positive, got {cells!r}")
        self.threshold = float(threshold)
        self.ratio = float(ratio)
        self.min_shot = float(min_shot)
        self.cells = cells
        self._recent: deque[float] = deque(maxlen=window)
        self._grids: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._pools: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame and score history (e.g. before a new video)."""
        self._previous: np.ndarray | None = None
        self._shot_start: float | None = None
        self._recent.clear()

    def feed(self, frame: av.VideoFrame, time: float, pts: int) -> ShotCut | None:
        """Score ``frame`` against the previous one; return a ShotCut if it starts a shot.

        ``time`` (seconds from stream start) and ``pts`` are the frame's own; the returned
        cut carries them, i.e. the exact time of the first frame of the new shot.
        """
        signature = self.signature(frame)
        previous, self._previous = self._previous, signature
        if previous is None or previous.shape != signature.shape:
            self._shot_start = time if self._shot_start is None else self._shot_start
            return None
        score = float(np.abs(signature - previous).mean())
        # below the absolute floor no median is needed (most frames): skip computing it
        limit = self.limit() if score >= self.threshold else self.threshold
        self._recent.append(score)
        if score < limit:
            return None
        if self._shot_start is not None and time - self._shot_start < self.min_shot:
            log.debug("cut candidate at %.3fs (score %.1f) inside min shot length", time, score)
            return None
        self._shot_start = time
        log.debug("cut at %.6fs pts %d score %.1f (limit %.1f)", time, pts, score, limit)
        return ShotCut(time=time, pts=pts, score=score)

    def limit(self) -> float:
        """The score the next frame must reach to count as a cut."""
        if not self._recent:
            return self.threshold
        return max(self.threshold, self.ratio * float(np.median(self._recent)))

    @property
    def last_signature(self) -> np.ndarray | None:
        """The signature of the frame fed last (None before the first)."""
        return self._previous

    def signature(self, frame: av.VideoFrame) -> np.ndarray:
        """Return the (3, rows, cols) float32 Y/U/V cell means of ``frame`` (0..255)."""
        match = _PLANAR_YUV.match(frame.format.name)
        if match is None or len(frame.planes) < 3:
            rows, cols = self.cells
            size = _SAMPLES_PER_CELL
            frame = frame.reformat(
                width=cols * size, height=rows * size, format="yuv444p",
                interpolation="FAST_BILINEAR",
            )
            match = _PLANAR_YUV.match("yuv444p")
        bits = int(match.group(1) or 8)
        dtype = np.uint8 if bits == 8 else np.dtype("<u2")
        planes = frame.planes
        signature = np.stack([self._plane_cells(planes[0], dtype, _SAMPLES_PER_CELL),
                              self._plane_cells(planes[1], dtype, _CHROMA_SAMPLES_PER_CELL),
                              self._plane_cells(planes[2], dtype, _CHROMA_SAMPLES_PER_CELL)])
        if bits != 8:
            signature *= 2.0 ** (8 - bits)
        return signature

    def _plane_cells(self, plane: av.video.plane.VideoPlane, dtype: np.dtype, per_cell: int) -> np.ndarray:
        """Average a regular grid of sample points of one plane into (rows, cols) cells.

        The grid is every ``step``-th pixel; only its rows are copied before the columns are picked.
        """
        itemsize = np.dtype(dtype).itemsize
        stride = plane.line_size // itemsize
        pixels = np.frombuffer(plane, dtype=dtype, count=stride * plane.height)
        pixels = pixels.reshape(plane.height, stride)
        rows, cols = self.cells
        ny, nx = rows * per_cell, cols * per_cell
        if plane.height < ny or plane.width < nx:  # tiny frames: fall back to index arrays
            ys, xs = self._grid(plane.height, plane.width, per_cell)
            samples = pixels[ys, xs]
        else:
            sy, sx = plane.height // ny, plane.width // nx
            y0, x0 = sy // 2, sx // 2
            # rows first into a small contiguous block, then columns: ~2.5x faster than one 2-D gather
            samples = np.ascontiguousarray(pixels[y0:y0 + ny * sy:sy])[:, x0:x0 + nx * sx:sx]
        left, right = self._pooling(per_cell)
        return left @ samples.astype(np.float32) @ right  # cell means, as two small matmuls

    def _pooling(self, per_cell: int) -> tuple[np.ndarray, np.ndarray]:
        """Averaging matrices (rows, ny) and (nx, cols): ``L @ samples @ R`` = per-cell means."""
        if per_cell not in self._pools:
            rows, cols = self.cells
            w = np.float32(1.0 / per_cell)
            left = np.kron(np.eye(rows, dtype=np.float32), np.full((1, per_cell), w, np.float32))
            right = np.kron(np.eye(cols, dtype=np.float32), np.full((per_cell, 1), w, np.float32))
            self._pools[per_cell] = (left, right)
        return self._pools[per_cell]

    def _grid(self, height: int, width: int, per_cell: int) -> tuple[np.ndarray, np.ndarray]:
        """Row/column index arrays (broadcastable) of the sample points of a plane."""
        key = (height, width, per_cell)
        if key not in self._grids:
            rows, cols = self.cells
            ny, nx = rows * per_cell, cols * per_cell
            ys = ((np.arange(ny) + 0.5) * height / ny).astype(np.intp)
            xs = ((np.arange(nx) + 0.5) * width / nx).astype(np.intp)
            self._grids[key] = (ys[:, None], xs[None, :])
        return self._grids[key]
