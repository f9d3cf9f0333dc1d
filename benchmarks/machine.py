"""One line naming the machine a benchmark ran on: CPU model, cores, native bfloat16, load.

Every published figure names the CPU it came from (some have native bf16, some do not) and
how busy the machine was while measuring. :func:`rotated` orders the configurations of each
round of an interleaved benchmark.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else the platform's processor)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def native_bf16() -> bool:
    """Whether the CPU advertises AVX512-BF16 or AMX (Linux flags; False elsewhere)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def describe() -> str:
    """``CPU: AMD EPYC ..., 2 cores, native bf16: yes, load average 0.42 (1 min)``."""
    return (f"CPU: {cpu_model()}, {os.cpu_count()} cores, native bf16: {'yes' if native_bf16() else 'no'}, "
            f"load average {os.getloadavg()[0]:.2f} (1 min)")


def rotated(items: list[T], round_no: int) -> list[T]:
    """``items`` in the order of round ``round_no`` of an interleaved benchmark: rotated by one
    place each round (a b c, b c a, c a b, ...), so no configuration always runs in the same
    place, e.g. right after the heaviest one (that moved results by 10-20 % on this machine)."""
    shift = round_no % len(items) if items else 0
    return items[shift:] + items[:shift]


if __name__ == "__main__":
    print(describe())
