"""The cheap per-frame signature every shot-boundary decision is made from, and the picture area.

:class:`SignatureGrid` runs on every decoded frame, so it avoids swscale: for planar YUV frames
it reads the Y, U and V planes in place (numpy views over the frame buffers, line padding
respected), samples a fixed grid of points and averages them into a small cell grid (``cells``
rows x columns per plane). Chroma counts as much as luma, so a change between two shots of equal
brightness but different colour is seen. Other pixel formats (RGB, NV12, hardware frames ...)
are first reformatted to a tiny YUV image.

:class:`ActiveArea` finds the active picture of a video: letterbox bars (top and bottom) and
pillarbox bars (left and right) are cell rows / columns at the frame's edges that have stayed
black in every frame so far. Differences are then averaged over the active cells only, so black
bars (a quarter of a 2.39:1 film in a 16:9 frame) do not dilute a cut's score.

:class:`FrameRing` keeps the last few hundred signatures, for decisions that look back
(flashes, gradual transitions).
"""

from __future__ import annotations

import re

import av
from av.video.reformatter import VideoReformatter
import numpy as np

from indexer.media.thumbnails import ONE_THREAD

#: Planar YUV formats read in place: 8-bit, or 9..16-bit little-endian ("yuv420p10le").
_PLANAR_YUV = re.compile(r"^yuvj?4[0-4][0-4]p(?:(\d+)le)?$")
_SAMPLES_PER_CELL = 4  # grid points averaged per cell along each axis (luma)
_CHROMA_SAMPLES_PER_CELL = 2  # chroma is smooth (and subsampled): fewer points give the same means
#: A cell whose luma mean never exceeded this (0..255) is black: video black is 16 (limited
#: range) or 0 (full range), compression noise and a soft bar edge add a few levels.
BAR_LUMA = 28.0


class SignatureGrid:
    """Compute (3, rows, cols) float32 Y/U/V cell means (0..255) of decoded frames."""

    def __init__(self, cells: tuple[int, int] = (18, 32)) -> None:
        if len(cells) != 2 or min(cells) < 1:
            raise ValueError(f"cells must be two positive numbers, got {cells!r}")
        self.cells = (int(cells[0]), int(cells[1]))
        # per (pixel format, width, height): how to read each plane (None: reformat first)
        self._plans: dict[tuple[str, int, int], tuple[_PlanePlan, ...] | None] = {}
        self._scaler = VideoReformatter()  # for frames that are not planar YUV (kept between frames)

    def __call__(self, frame: av.VideoFrame, out: np.ndarray | None = None) -> np.ndarray:
        """Return the (3, rows, cols) float32 Y/U/V cell means of ``frame`` (0..255), written
        into ``out`` when given (e.g. a slot of a :class:`FrameRing`)."""
        key = (frame.format.name, frame.width, frame.height)
        plans = self._plans.get(key, False)
        if plans is False:
            plans = self._plans[key] = self._plan(frame)
        if plans is None:  # not planar YUV: a tiny yuv444p copy first
            rows, cols = self.cells
            size = _SAMPLES_PER_CELL
            frame = self._scaler.reformat(
                frame, width=cols * size, height=rows * size, format="yuv444p",
                interpolation="FAST_BILINEAR", **ONE_THREAD,
            )
            return self(frame, out)
        if out is None:
            out = np.empty((3, *self.cells), dtype=np.float32)
        for plane, plan, cells in zip(frame.planes, plans, out):
            plan.cells(plane, cells)
        return out

    def _plan(self, frame: av.VideoFrame) -> tuple[_PlanePlan, ...] | None:
        """How to read the three planes of frames like ``frame``; None when they are not
        planar YUV."""
        match = _PLANAR_YUV.match(frame.format.name)
        if match is None or len(frame.planes) < 3:
            return None
        bits = int(match.group(1) or 8)
        dtype = np.dtype(np.uint8) if bits == 8 else np.dtype("<u2")
        scale = 2.0 ** (8 - bits)  # 10-bit and deeper to the 0..255 scale
        return tuple(_PlanePlan(plane.height, plane.width, self.cells, per_cell, dtype, scale)
                     for plane, per_cell in zip(frame.planes[:3], (_SAMPLES_PER_CELL,
                                                                  _CHROMA_SAMPLES_PER_CELL,
                                                                  _CHROMA_SAMPLES_PER_CELL)))


class _PlanePlan:
    """Averages a regular grid of sample points of one plane into (rows, cols) cells.

    The grid spans the whole plane (point i of n at (i + 0.5) / n of it); only its rows are
    copied before the columns are picked (about 2.5x faster than one 2-D gather), and the cell
    means are two small matrix products, ``left @ samples @ right``.
    """

    def __init__(self, height: int, width: int, cells: tuple[int, int], per_cell: int,
                 dtype: np.dtype, scale: float) -> None:
        rows, cols = cells
        self.height, self.dtype = height, dtype
        self.ys, self.xs = _positions(height, rows * per_cell), _positions(width, cols * per_cell)
        w = np.float32(scale / per_cell)  # the bit-depth scale folded into the averaging
        self.left = np.kron(np.eye(rows, dtype=np.float32), np.full((1, per_cell), w, np.float32))
        self.right = np.kron(np.eye(cols, dtype=np.float32), np.full((per_cell, 1), 1.0 / per_cell, np.float32))
        self._half = np.empty((rows, cols * per_cell), dtype=np.float32)

    def cells(self, plane: av.video.plane.VideoPlane, out: np.ndarray) -> None:
        """Write the (rows, cols) cell means of ``plane`` into ``out``."""
        stride = plane.line_size // self.dtype.itemsize
        pixels = np.frombuffer(plane, dtype=self.dtype, count=stride * self.height).reshape(self.height, stride)
        samples = np.ascontiguousarray(pixels[self.ys])[:, self.xs].astype(np.float32)
        np.matmul(self.left, samples, out=self._half)
        np.matmul(self._half, self.right, out=out)


def _positions(size: int, count: int) -> slice | np.ndarray:
    """``count`` evenly spread positions over ``size`` pixels, point i at (i + 0.5) / count."""
    if size % count == 0:
        step = size // count
        return slice(step // 2, size, step)
    return ((np.arange(count) + 0.5) * size / count).astype(np.intp)


class ActiveArea:
    """The picture area of one video inside letterbox / pillarbox bars, from its signatures.

    Feed every signature to :meth:`update` (it looks at every 4th once it has seen a picture);
    :attr:`window` is then the (row slice, column slice)
    of the cells that are picture: everything between the first and last cell row (column) that
    was ever brighter than :data:`BAR_LUMA`. Until some cell is that bright (a video that starts
    in black), the whole frame.
    """

    def __init__(self, cells: tuple[int, int]) -> None:
        self.cells = cells
        self.reset()

    def reset(self) -> None:
        """Forget the bars (before a new video)."""
        self._peak = np.zeros(self.cells, dtype=np.float32)
        self.window: tuple[slice, slice] = (slice(None), slice(None))
        #: the window less the cells at a bar's edge (part bar, part picture)
        self.inner: tuple[slice, slice] = self.window
        self._seen_picture = False
        self._frames = 0

    def update(self, signature: np.ndarray) -> bool:
        """Account for one frame's signature; True when the window changed."""
        self._frames += 1
        if self._seen_picture and self._frames % 4:
            return False  # once the picture is seen, every 4th frame is enough to widen it
        luma = signature[0]
        np.maximum(self._peak, luma, out=self._peak)
        bright = self._peak > BAR_LUMA
        if not bright.any():
            return False
        self._seen_picture = True
        rows = np.flatnonzero(bright.any(axis=1))
        cols = np.flatnonzero(bright.any(axis=0))
        window = (_span(rows, self.cells[0]), _span(cols, self.cells[1]))
        changed = window != self.window
        self.window = window
        if changed:
            self.inner = tuple(_inside_edges(span, cells) for span, cells in zip(window, self.cells))
        return changed

    @property
    def bars(self) -> tuple[int, int, int, int]:
        """Bar thickness in cells: (top, bottom, left, right)."""
        rows, cols = self.window
        height, width = self.cells
        return (rows.start or 0, height - (rows.stop or height), cols.start or 0, width - (cols.stop or width))


def _span(bright: np.ndarray, cells: int) -> slice:
    """The slice from the first to the last bright cell; ``slice(None)`` for all of them."""
    first, last = int(bright[0]), int(bright[-1]) + 1
    return slice(None) if (first, last) == (0, cells) else slice(first, last)


def _inside_edges(span: slice, cells: int) -> slice:
    """``span`` less one cell at each end that borders a bar (when something is left)."""
    start = span.start + 1 if span.start else 0
    stop = span.stop - 1 if span.stop is not None and span.stop < cells else cells
    inner = slice(start, stop) if stop > start else span
    return slice(None) if (inner.start or 0, inner.stop) == (0, cells) else inner


class FrameRing:
    """The last ``capacity`` frames' signatures, times and PTS, addressed by frame number."""

    def __init__(self, capacity: int, cells: tuple[int, int]) -> None:
        self.capacity = capacity
        self.signatures = np.zeros((capacity, 3, *cells), dtype=np.float32)
        self.times = np.zeros(capacity, dtype=np.float64)
        self.pts = np.zeros(capacity, dtype=np.int64)
        self.count = 0

    def next_slot(self) -> np.ndarray:
        """Where the next frame's signature goes: write it there, then :meth:`push` the frame."""
        return self.signatures[self.count % self.capacity]

    def push(self, time: float, pts: int) -> int:
        """Store the next frame, its signature already written into :meth:`next_slot`; return
        its frame number."""
        slot = self.count % self.capacity
        self.times[slot], self.pts[slot] = time, pts
        self.count += 1
        return self.count - 1

    @property
    def oldest(self) -> int:
        """Number of the oldest frame still held."""
        return max(0, self.count - self.capacity)

    def __getitem__(self, index: int | np.ndarray) -> np.ndarray:
        if isinstance(index, int):
            return self.signatures[index % self.capacity]
        return self.signatures[np.asarray(index) % self.capacity]

    def flat(self, indices: np.ndarray) -> np.ndarray:
        """Signatures of the given frames as rows, shape (n, 3 * rows * cols)."""
        return self.signatures.reshape(self.capacity, -1)[indices % self.capacity]

    def span(self, first: int, last: int) -> np.ndarray:
        """Signatures of frames first..last (inclusive), shape (n, 3, rows, cols)."""
        return self[np.arange(first, last + 1)]

    def stamp(self, index: int) -> tuple[float, int]:
        """(time, pts) of a held frame."""
        slot = index % self.capacity
        return float(self.times[slot]), int(self.pts[slot])
