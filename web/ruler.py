"""The time ruler above the video page's timeline: round tick steps with exact labels.

Ticks fall on round times (0.1, 0.2, 0.5 s ... 1, 2, 5, 10, 15, 30 s, 1, 2, 5 ... min, 1 h ...),
the smallest step that keeps at most ``max_ticks`` intervals, so a 6 s clip is marked every
second and a 0.9 s clip every 0.1 s. Labels are computed from whole milliseconds, never by
cutting a string, and carry exactly the decimals the step needs (``0:00.25``, ``0:05``, ``1:30``,
``1:00:00``). Every other tick is ``minor``: narrow screens hide minor labels so none overlap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Allowed tick steps in milliseconds, ascending.
STEPS_MS: tuple[int, ...] = (
    1, 2, 5, 10, 20, 50, 100, 200, 250, 500,
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000,
    60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
    3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
)
MAX_TICKS = 10


@dataclass(frozen=True)
class Tick:
    """One mark of the ruler."""

    seconds: float
    percent: float  # position, percent of the duration
    label: str
    minor: bool  # label hidden on narrow screens

    def __post_init__(self) -> None:
        if self.seconds < 0 or not 0.0 <= self.percent <= 100.0:
            raise ValueError(f"a tick needs seconds >= 0 and 0 <= percent <= 100, got "
                             f"{self.seconds!r}, {self.percent!r}")


def tick_step_ms(duration: float, max_ticks: int = MAX_TICKS) -> int:
    """The smallest round step (ms) that marks ``duration`` seconds with at most ``max_ticks``
    intervals. Raises ValueError for a duration <= 0 or max_ticks < 1."""
    if not duration > 0 or max_ticks < 1:
        raise ValueError(f"need a duration > 0 and max_ticks >= 1, got {duration!r}, {max_ticks!r}")
    total_ms = duration * 1000
    for step in STEPS_MS:
        if total_ms / step <= max_ticks:
            return step
    return STEPS_MS[-1] * (int(total_ms // (STEPS_MS[-1] * max_ticks)) + 1)


def _decimals(step_ms: int) -> int:
    """Digits after the seconds' point that a step needs (500 -> 1, 250 -> 2, 5 -> 3)."""
    for digits, unit in ((0, 1000), (1, 100), (2, 10)):
        if step_ms % unit == 0:
            return digits
    return 3


def tick_label(ms: int, step_ms: int, duration: float) -> str:
    """``M:SS`` (``H:MM:SS`` from an hour on), with the fraction of a second the step needs."""
    hours, rem = divmod(ms, 3_600_000)
    minutes, rem = divmod(rem, 60_000)
    seconds, millis = divmod(rem, 1000)
    head = f"{hours}:{minutes:02d}:{seconds:02d}" if duration >= 3600 else f"{minutes}:{seconds:02d}"
    digits = _decimals(step_ms)
    return head + (f".{millis:03d}"[:digits + 1] if digits else "")


def ruler_ticks(duration: float, max_ticks: int = MAX_TICKS) -> list[Tick]:
    """Ticks at every multiple of the round step from 0 to ``duration`` ([] for duration <= 0)."""
    if not duration > 0:
        return []
    step = tick_step_ms(duration, max_ticks)
    total_ms = math.floor(duration * 1000 + 1e-6)
    return [Tick(seconds=ms / 1000, percent=min(100.0, round(100.0 * ms / 1000 / duration, 4)),
                 label=tick_label(ms, step, duration), minor=i % 2 == 1)
            for i, ms in enumerate(range(0, total_ms + 1, step))]
