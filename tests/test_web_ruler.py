"""web/ruler.py: round tick steps, exact labels, at most MAX_TICKS intervals."""

from __future__ import annotations

import re

import pytest

from web.ruler import MAX_TICKS, STEPS_MS, ruler_ticks, tick_label, tick_step_ms


def _seconds(label: str) -> float:
    """Read a ruler label back: [H:]M:SS[.fff] -> seconds."""
    total = 0.0
    for part in label.split(":"):
        total = total * 60 + float(part)
    return total


@pytest.mark.parametrize("duration, step_ms", [
    (0.9, 100), (4.5, 500), (6.0, 1000), (6.006, 1000), (19.9, 2000), (45.0, 5000), (100.0, 10000), (101.0, 15000),
    (299.0, 30000), (600.0, 60000), (3599.0, 600000), (7200.0, 900000), (36000.0, 3600000),
])
def test_step_is_the_smallest_round_step_with_at_most_ten_intervals(duration, step_ms):
    assert tick_step_ms(duration) == step_ms
    assert step_ms in STEPS_MS
    smaller = [s for s in STEPS_MS if s < step_ms]
    assert not smaller or duration * 1000 / smaller[-1] > MAX_TICKS


@pytest.mark.parametrize("duration", [0.04, 0.9, 4.504, 6.0, 6.006, 59.94, 61.0, 754.3, 3600.0, 5432.1])
def test_every_label_reads_back_as_its_exact_time(duration):
    ticks = ruler_ticks(duration)
    assert 2 <= len(ticks) <= MAX_TICKS + 1
    assert ticks[0].seconds == 0 and ticks[-1].seconds <= duration
    step = ticks[1].seconds - ticks[0].seconds
    for tick in ticks:
        assert _seconds(tick.label) == pytest.approx(tick.seconds, abs=1e-9)
        assert tick.percent == pytest.approx(100 * tick.seconds / duration, abs=1e-3)
        assert round(tick.seconds / step, 6).is_integer()
    assert len({t.label for t in ticks}) == len(ticks)


def test_the_old_truncated_label_is_gone():
    # a 6 s clip used to be marked at 6/8 = 0.75 s labelled "00:00.7"
    labels = [t.label for t in ruler_ticks(6.0)]
    assert labels == ["0:00", "0:01", "0:02", "0:03", "0:04", "0:05", "0:06"]
    assert [t.label for t in ruler_ticks(1.5)][:4] == ["0:00.0", "0:00.2", "0:00.4", "0:00.6"]


def test_label_formats():
    assert tick_label(750, 250, 3.0) == "0:00.75"
    assert tick_label(90_000, 30_000, 300.0) == "1:30"
    assert tick_label(3_600_000, 900_000, 7200.0) == "1:00:00"
    assert re.fullmatch(r"0:00\.005", tick_label(5, 5, 0.04))


def test_every_other_tick_is_minor_and_bad_durations():
    ticks = ruler_ticks(10.0)
    assert [t.minor for t in ticks[:4]] == [False, True, False, True]
    assert ruler_ticks(0.0) == []
    with pytest.raises(ValueError):
        tick_step_ms(-1.0)
