"""Tests for indexer.media.scan_state: exact frame clocks."""

from __future__ import annotations

import random
from fractions import Fraction
from types import SimpleNamespace

import pytest

from indexer.media.scan_state import Clock


def stream(time_base: Fraction, start: int | None, rate: Fraction = Fraction(25)) -> SimpleNamespace:
    """The attributes of a PyAV video stream a Clock reads."""
    return SimpleNamespace(time_base=time_base, start_time=start, average_rate=rate, base_rate=rate,
                           guessed_rate=rate)


@pytest.mark.parametrize("time_base, start", [(Fraction(1, 12800), 0), (Fraction(1001, 30000), 7),
                                              (Fraction(1, 90000), 126000), (Fraction(3, 7), None)])
def test_seconds_are_the_exact_fraction_rounded_once(time_base: Fraction, start: int | None) -> None:
    clock = Clock(stream(time_base, start))
    base = start or 0
    pick = random.Random(13)
    for pts in [base, base + 1, base + 3003, base - 2] + [base + pick.randrange(1 << 40) for _ in range(2000)]:
        assert clock.seconds(pts) == float((pts - base) * time_base)  # bit for bit


def test_a_stream_without_start_time_starts_at_its_first_frame() -> None:
    clock = Clock(stream(Fraction(1, 1000), None))
    assert clock.stamp(SimpleNamespace(pts=40, dts=None, duration=40)) == 40
    assert clock.seconds(40) == 0.0 and clock.seconds(80) == 0.04
