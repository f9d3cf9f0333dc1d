"""Tests for indexer.media.frames: exact PTS times, sampling, cuts, rotation and bad input."""

from __future__ import annotations

import os
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media import GeneratedVideo, Scene, make_video
from PIL import Image

from indexer.errors import MediaError
from indexer.models.colour import COLOURS
from indexer.media.frames import FrameScanner
from indexer.media.probe import probe
from indexer.types import SampledFrame, ShotCut

SCENES = [Scene("red", 40), Scene("blue", 25), Scene("green", 30)]
# Timestamp resolution as written: media.py writes whole 1/90000 s ticks (23.976 fps frame
# times are not whole ticks), Matroska stores 1 ms ticks.
TOLERANCE = {".mp4": 1 / 90000, ".ts": 1 / 90000, ".mkv": 0.0005 + 1 / 90000}


def scan(path: Path, **kwargs) -> tuple[FrameScanner, list[SampledFrame], list[ShotCut], list]:
    scanner = FrameScanner(path, **kwargs)
    items = list(scanner)
    frames = [i for i in items if isinstance(i, SampledFrame)]
    cuts = [i for i in items if isinstance(i, ShotCut)]
    return scanner, frames, cuts, items


def expected_samples(video: GeneratedVideo, every: float) -> set[float]:
    """Truth: the first frame at or after each multiple of ``every``, plus each cut frame."""
    times = video.frame_times
    grid = range(int(times[-1] / every) + 1)
    picked = {min(t for t in times if t >= k * every - 1e-9) for k in grid}
    return picked | set(video.cut_times)


def assert_same_times(found: list[float], truth, tolerance: float) -> None:
    truth = sorted(truth)
    assert len(found) == len(truth), (found, truth)
    assert np.allclose(found, truth, rtol=0, atol=tolerance), (found, truth)


@pytest.mark.parametrize("suffix", [".mp4", ".ts", ".mkv"])
@pytest.mark.parametrize("fps", [Fraction(30000, 1001), Fraction(25), Fraction(24000, 1001)])
def test_times_cuts_and_samples_are_exact(tmp_path: Path, fps: Fraction, suffix: str) -> None:
    video = make_video(tmp_path / f"v{suffix}", SCENES, fps=fps)
    scanner, frames, cuts, items = scan(video.path, every=0.5)
    tolerance = TOLERANCE[suffix]
    assert scanner.info.fps == fps
    assert (scanner.info.width, scanner.info.height, scanner.info.rotation) == (160, 120, 0)
    assert_same_times([c.time for c in cuts], video.cut_times, tolerance)
    assert_same_times([f.time for f in frames], expected_samples(video, 0.5), tolerance)
    starts = [f.time for f in frames if f.shot_start]
    assert_same_times(starts, video.cut_times, tolerance)
    for i, item in enumerate(items):  # each cut comes right before its shot's first frame
        if isinstance(item, ShotCut):
            assert isinstance(items[i + 1], SampledFrame) and items[i + 1].pts == item.pts
    report = scanner.report
    assert report.frames_decoded == len(video.frame_times)
    assert report.duration == pytest.approx(video.duration, abs=2 * tolerance)
    assert report.errors == () and report.lost_seconds == 0


def test_ts_times_are_relative_to_a_non_zero_stream_start(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.ts", SCENES)
    info = probe(video.path)
    assert info.start_time > 0
    _, frames, _, _ = scan(video.path)
    assert frames[0].time == 0.0 and frames[0].pts > 0


def test_variable_frame_rate(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    choices = [Fraction(1, 60), Fraction(1, 30), Fraction(1, 12), Fraction(1001, 30000)]
    durations = [choices[i] for i in rng.integers(0, len(choices), sum(s.frames for s in SCENES))]
    video = make_video(tmp_path / "vfr.mp4", SCENES, frame_durations=durations)
    scanner, frames, cuts, _ = scan(video.path, every=0.25)
    assert_same_times([c.time for c in cuts], video.cut_times, 1e-6)
    assert_same_times([f.time for f in frames], expected_samples(video, 0.25), 1e-6)
    assert scanner.report.frames_decoded == len(video.frame_times)
    assert scanner.report.errors == ()


def test_sampling_never_repeats_a_frame_and_respects_shot_aware(tmp_path: Path) -> None:
    scenes = [Scene("red", 30), Scene("blue", 10), Scene("red", 20)]
    video = make_video(tmp_path / "v.mp4", scenes, fps=Fraction(10))
    _, frames, cuts, _ = scan(video.path, every=1.0)  # cut at 3.0 s is also a grid frame
    times = [f.time for f in frames]
    assert len(times) == len(set(times)) and times == sorted(times)
    assert_same_times(times, expected_samples(video, 1.0), 1e-6)
    _, plain, plain_cuts, _ = scan(video.path, every=1.0, shot_aware=False)
    assert [c.time for c in plain_cuts] == [c.time for c in cuts]  # cuts are still reported
    assert [f.time for f in plain] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert [f.time for f in plain if f.shot_start] == []


def test_rescanning_and_stopping_early(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.mp4", SCENES)
    scanner = FrameScanner(video.path, threads=1)
    first = [(type(i).__name__, i.time) for i in scanner]
    assert [(type(i).__name__, i.time) for i in scanner] == first
    items = iter(scanner)
    next(items)
    items.close()  # a consumer that stops early still gets a report of what was decoded
    assert scanner.report is not None and scanner.report.frames_decoded < len(video.frame_times)


def test_images_are_square_rgb_of_the_scene_colour(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.mp4", [Scene("red", 20), Scene("blue", 20)], size=(320, 180))
    _, frames, _, _ = scan(video.path, image_size=64)
    for frame in frames:
        assert frame.image.shape == (64, 64, 3) and frame.image.dtype == np.uint8
        colour = "red" if frame.time < video.cut_times[0] else "blue"
        median = np.median(frame.image.reshape(-1, 3), axis=0)
        assert np.abs(median - COLOURS[colour]).max() < 20, (frame.time, median)


def write_still_video(path: Path, image: np.ndarray, *, rotation_cw: int = 0) -> None:
    """A short H.264 video of one picture; ``rotation_cw`` is stored as a display matrix."""
    height, width, _ = image.shape
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if rotation_cw:
            stream.set_display_rotation(-rotation_cw)  # PyAV takes counter-clockwise degrees
        for i in range(8):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def test_centre_crop_of_a_wide_frame(tmp_path: Path) -> None:
    image = np.zeros((120, 360, 3), dtype=np.uint8)  # 3:1, so the square crop is the middle third
    for third, colour in enumerate(["red", "green", "blue"]):
        image[:, 120 * third : 120 * (third + 1)] = COLOURS[colour]
    write_still_video(tmp_path / "wide.mp4", image)
    _, frames, _, _ = scan(tmp_path / "wide.mp4", image_size=32)
    crop = frames[0].image.astype(int)
    assert np.abs(crop[:, 2:-2] - COLOURS["green"]).max() < 40  # only the middle third is kept


@pytest.mark.parametrize(
    ("rotation", "quadrant"),
    [(0, (0, 0)), (90, (0, 1)), (180, (1, 1)), (270, (1, 0))],  # where the top-left marker ends up
)
@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_display_rotation_is_applied(
    tmp_path: Path, rotation: int, quadrant: tuple[int, int], suffix: str
) -> None:
    image = np.zeros((120, 160, 3), dtype=np.uint8)
    image[:60, :80] = 255  # marker: the top-left quadrant of the stored picture
    path = tmp_path / f"phone{suffix}"
    write_still_video(path, image, rotation_cw=rotation)
    info = probe(path)
    assert info.rotation == rotation
    assert (info.width, info.height) == ((120, 160) if rotation in (90, 270) else (160, 120))
    _, frames, _, _ = scan(path, image_size=32)
    quadrants = frames[0].image.mean(axis=2).reshape(2, 16, 2, 16).mean(axis=(1, 3))
    assert quadrants[quadrant] > 200
    assert sorted(quadrants.ravel())[-2] < 60  # the marker is in that quadrant only


def test_frames_without_timestamps_get_increasing_times(tmp_path: Path) -> None:
    video = make_video(tmp_path / "raw.h264", [Scene("red", 15), Scene("blue", 15)])
    scanner, frames, cuts, _ = scan(video.path, every=0.2)
    times = [f.time for f in frames]
    assert times == sorted(set(times)) and len(times) >= 5
    assert scanner.report.frames_decoded == 30 and len(cuts) == 1


# ---------------------------------------------------------------- bad input


def make_bad(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.mp4"
    if kind == "zero-byte":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    elif kind == "text":
        path.write_text("Grüße — this is not a video\n" * 50, encoding="utf-8")
    elif kind == "truncated":
        video = make_video(tmp_path / "whole.mp4", SCENES)
        path.write_bytes(video.path.read_bytes()[: video.path.stat().st_size // 2])
    elif kind == "audio-only":
        path = tmp_path / "audio.m4a"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("aac", rate=44100)
            silence = np.zeros((1, 1024), np.float32)
            for i in range(20):
                frame = av.AudioFrame.from_ndarray(silence, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 44100, i * 1024
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    elif kind in ("png", "jpg"):
        path = tmp_path / f"still.{kind}"
        Image.fromarray(np.full((60, 80, 3), 99, np.uint8)).save(path)
    elif kind == "missing":
        path = tmp_path / "nowhere.mp4"
    elif kind == "directory":
        path = tmp_path / "folder.mp4"
        path.mkdir()
    elif kind == "symlink loop":
        os.symlink(tmp_path / "b.mp4", path)
        os.symlink(path, tmp_path / "b.mp4")
    elif kind == "broken symlink":
        os.symlink(tmp_path / "gone.mp4", path)
    return path


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("zero-byte", "empty file"),
        ("random", "not a media file"),
        ("text", "not a media file (it contains text)"),
        ("truncated", "truncated"),
        ("audio-only", "no video stream (audio-only"),
        ("png", "still image"),
        ("jpg", "still image"),
        ("missing", "does not exist"),
        ("directory", "directory"),
        ("symlink loop", "symlink loop"),
        ("broken symlink", "broken symlink"),
    ],
)
def test_bad_input_raises_media_error(tmp_path: Path, kind: str, reason: str) -> None:
    path = make_bad(tmp_path, kind)
    with pytest.raises(MediaError) as caught:
        FrameScanner(path)
    assert caught.value.path == path and str(path) in str(caught.value)
    assert reason in caught.value.reason
    assert "\n" not in str(caught.value)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_video(tmp_path / "v.mp4", SCENES[:1]).path
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: simulate the refusal instead
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr("indexer.media.probe.open", refuse, raising=False)
    with pytest.raises(MediaError, match="permission denied"):
        probe(path)


def test_truncated_stream_indexes_what_decodes(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.ts", SCENES)
    cut = tmp_path / "cut.ts"
    cut.write_bytes(video.path.read_bytes()[: video.path.stat().st_size // 2])
    scanner, frames, cuts, _ = scan(cut)
    assert 10 < scanner.report.frames_decoded < len(video.frame_times)
    assert frames and cuts and cuts[0].time == pytest.approx(video.cut_times[0], abs=1e-6)
    cut.write_bytes(video.path.read_bytes()[:1000])  # too little to decode anything
    with pytest.raises(MediaError, match="no frame could be decoded"):
        FrameScanner(cut)


def test_truncated_mp4_with_index_first_reports_the_missing_end(tmp_path: Path) -> None:
    path = tmp_path / "faststart.mp4"
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:  # moov first
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(150):
            image = np.full((120, 160, 3), (i * 5) % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    scanner, frames, _, _ = scan(path)
    report = scanner.report
    assert 10 < report.frames_decoded < 150 and frames
    assert any("truncated" in line for line in report.errors)
    assert report.lost_seconds == pytest.approx(6.0 - report.duration, abs=0.1)


@pytest.mark.parametrize("suffix", [".mp4", ".ts", ".mkv"])
def test_corrupt_middle_is_skipped_and_reported(tmp_path: Path, suffix: str) -> None:
    scenes = [Scene("red", 60), Scene("blue", 60), Scene("green", 60)]
    video = make_video(tmp_path / f"v{suffix}", scenes)
    data = bytearray(video.path.read_bytes())
    middle = len(data) // 2
    garbage = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    data[middle - 2000 : middle + 2000] = garbage
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(bytes(data))
    scanner, frames, _, _ = scan(bad)
    report = scanner.report
    assert report.errors and report.lost_seconds > 0
    assert frames[0].time < 1.0 and frames[-1].time > video.duration - 1.0  # both sides
    times = [f.time for f in frames]
    assert times == sorted(set(times))
    missing = (len(video.frame_times) - report.frames_decoded) * 1001 / 30000
    assert report.lost_seconds == pytest.approx(missing, abs=0.15)


def _mp4_box_path(data: bytes, kinds: list[bytes]) -> list[int]:
    """Offsets of the nested MP4 boxes ``kinds`` (moov, trak, ...), walking the box tree."""
    offsets, start, end = [], 0, len(data)
    for kind in kinds:
        pos = start
        while struct.unpack(">4s", data[pos + 4:pos + 8])[0] != kind:
            pos += struct.unpack(">I", data[pos:pos + 4])[0]
            assert pos < end, kind
        offsets.append(pos)
        start, end = pos + 8, pos + struct.unpack(">I", data[pos:pos + 4])[0]
    return offsets


def _jump_stts(data: bytes, frame: int, ticks: int) -> bytes:
    """The MP4 ``data`` (moov after mdat, one track, one stts entry) with the timestamp table
    damaged: from ``frame`` on, every frame is stamped ``ticks`` later; the declared duration
    stays."""
    boxes = _mp4_box_path(data, [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stts"])
    stts = boxes[-1]
    size, _, _, entries, count, delta = struct.unpack(">I4sIIII", data[stts:stts + 24])
    assert entries == 1 and data.find(b"moov") > data.find(b"mdat")
    table = [(frame - 1, delta), (1, delta + ticks), (count - frame, delta)]
    body = struct.pack(">II", 0, len(table)) + b"".join(struct.pack(">II", *row) for row in table)
    box = struct.pack(">I4s", 8 + len(body), b"stts") + body
    out = bytearray(data[:stts] + box + data[stts + size:])
    for parent in boxes[:-1]:  # the boxes around it grow by as much
        struct.pack_into(">I", out, parent, struct.unpack(">I", out[parent:parent + 4])[0] + len(box) - size)
    return bytes(out)


def test_frames_with_damaged_timestamps_past_the_container_end_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    # 90 frames at 25 fps, no B-frames: 3.6 s; no edit list (with one, the demuxer would drop
    # what lies past the declared end itself)
    with av.open(str(path), "w", options={"use_editlist": "0"}) as container:
        stream = container.add_stream("libx264", rate=25, options={"bframes": "0"})
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(90):
            image = np.full((120, 160, 3), (i * 3) % 256, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
        ticks_per_second = stream.time_base.denominator // stream.time_base.numerator
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(_jump_stts(path.read_bytes(), 60, 3000 * ticks_per_second))  # frames 60+ at 50 min
    with av.open(str(damaged)) as container:  # the damage as the demuxer reads it
        stamps = [float(p.pts * p.time_base) for p in container.demux(video=0) if p.pts is not None]
    assert max(stamps) > 3000
    scanner, frames, _, _ = scan(damaged)
    report, declared = scanner.report, scanner.info.duration
    assert declared == pytest.approx(3.6, abs=0.05)
    # the 60 frames before the jump are indexed (the last one at 2.48 s: the composition offset)
    assert frames and 2.0 <= max(f.time for f in frames) <= 2.5
    assert report.frames_decoded == 90 and report.duration < 2.6  # not 3003 s
    assert any("damaged timestamps" in line and "00:50:0" in line for line in report.errors), report.errors
    assert "30 frames with damaged timestamps skipped" in report.errors
    assert report.lost_seconds == pytest.approx(declared - 60 / 25, abs=0.15)
    clean, clean_frames, _, _ = scan(path)  # the same clip undamaged: nothing skipped
    assert not clean.report.errors and clean_frames[-1].time > 3.0


def test_a_failed_packet_is_placed_by_its_own_time_only_when_that_is_plausible() -> None:
    from indexer.media.frames import _near

    assert _near(4.64, 4.52, limit=19.0) == 4.64  # its own time, next to the last frame
    assert _near(57088.3, 4.52, limit=19.0) == 4.52  # a damaged stamp (15:51:28): the last frame's
    assert _near(12.0, 4.52, limit=19.0) == 4.52  # plausible, but far from where decoding is
    assert _near(None, 4.52, limit=19.0) == 4.52 and _near(None, None, limit=19.0) == 0.0
    assert _near(0.2, None, limit=19.0) == 0.2 and _near(30.0, None, limit=19.0) == 0.0


def test_scanner_rejects_bad_settings(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", SCENES[:1]).path
    with pytest.raises(ValueError):
        FrameScanner(path, every=0)
    with pytest.raises(ValueError):
        FrameScanner(path, image_size=0)


def _write_with_codec(path: Path, codec: str, pix_fmt: str, options: dict | None = None) -> None:
    """Three 30-frame solid scenes at 25 fps with encoders that need time_base = 1/fps."""
    from indexer.models.colour import COLOURS

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=25, options=options or {})
        stream.width, stream.height, stream.pix_fmt = 176, 144, pix_fmt
        i = 0
        for colour in ("red", "blue", "green"):
            for _ in range(30):
                image = np.empty((144, 176, 3), np.uint8)
                image[:] = COLOURS[colour]
                frame = av.VideoFrame.from_ndarray(image, "rgb24")
                frame.pts = i
                i += 1
                out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


@pytest.mark.parametrize("name,codec,pix_fmt,options", [
    ("broadcast.mpg", "mpeg2video", "yuv420p", None),
    ("interlaced.ts", "mpeg2video", "yuv420p", {"flags": "+ildct+ilme"}),
    ("old.avi", "mpeg4", "yuv420p", None),
    ("camera.avi", "mjpeg", "yuvj420p", None),
    ("tenbit.mkv", "libx264", "yuv420p10le", None),
    ("master.mov", "prores_ks", "yuv422p10le", None),
    ("web.webm", "libvpx-vp9", "yuv420p", None),
    ("hevc.mkv", "libx265", "yuv420p", {"x265-params": "log-level=error"}),
])
def test_cuts_are_exact_across_archive_codecs(tmp_path: Path, name: str, codec: str, pix_fmt: str,
                                              options: dict | None) -> None:
    path = tmp_path / name
    _write_with_codec(path, codec, pix_fmt, options)
    scanner = FrameScanner(path)
    items = list(scanner)
    cuts = [item.time for item in items if isinstance(item, ShotCut)]
    assert cuts == pytest.approx([1.2, 2.4], abs=1e-6)
    assert scanner.report.frames_decoded == 90 and not scanner.report.errors
    assert all(item.image.shape == (224, 224, 3) for item in items if not isinstance(item, ShotCut))


def test_analysis_decoding_keeps_every_cut_and_sample(tmp_path: Path) -> None:
    """Skipping H.264's deblocking filter changes no cut and no sample time, and barely the pixels."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not installed
    from benchmarks.synthetic_video import make_ad_clip  # textured shots with continuous pans

    clip = tmp_path / "pans.mp4"
    truth = make_ad_clip(clip, seconds=12, size=(640, 360))
    _, fast, fast_cuts, _ = scan(clip, analysis=True)
    _, exact, exact_cuts, _ = scan(clip, analysis=False)
    assert [c.pts for c in fast_cuts] == [c.pts for c in exact_cuts]
    assert [c.time for c in fast_cuts] == pytest.approx(truth, abs=1e-6)
    assert [f.pts for f in fast] == [f.pts for f in exact]
    difference = [np.abs(a.image.astype(np.int16) - b.image).mean() for a, b in zip(fast, exact)]
    assert max(difference) < 4.0  # of 255: a little blocking, nothing the encoder would call new


def test_rgb_scaled_in_two_steps_looks_like_one_scaled_conversion() -> None:
    """A 4:2:0 frame is scaled in YUV, then converted: the same picture as swscale's one-step
    conversion up to chroma at colour edges; other formats take the one step."""
    from av.video.reformatter import VideoReformatter

    from indexer.media.thumbnails import Scaler

    yy, xx = np.mgrid[0:288, 0:512]
    rgb = np.stack([xx * 255 // 511, yy * 255 // 287, ((xx // 64 + yy // 48) % 2) * 255], axis=-1).astype(np.uint8)
    source = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    for fmt, tolerance in (("yuv420p", 3.0), ("yuv444p", 0.0)):
        frame = source.reformat(format=fmt)
        one_step = VideoReformatter().reformat(frame, width=398, height=224, format="rgb24",
                                               interpolation="BICUBIC").to_ndarray()
        mine = Scaler()(frame, 398, 224, "rgb24", "BICUBIC")
        assert mine.shape == one_step.shape == (224, 398, 3)
        assert np.abs(mine.astype(int) - one_step).mean() <= tolerance
        assert mine.std() > 40  # a picture, not a blank
