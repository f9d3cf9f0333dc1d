"""Media routes: indexed video files (HTTP Range for seeking) and frame thumbnails.

Files are found only by video id in the index: no route takes a path, so nothing outside the
index can be served. A thumbnail is the nearest stored frame of the same shot (made while
indexing), else a frame on a 0.25 s grid (a bounded cache) made with PyAV on first request and
cached under ``<data_dir>/thumbs``.

A Range header that is not one well-formed byte range (``bytes=abc``, ``items=0-10``, several
ranges) is ignored, as RFC 9110 allows, so the answer is the whole file (200), not 416; a
well-formed range beyond the end is still 416. This holds for every file the app sends.
"""

from __future__ import annotations

import bisect
import logging
import math
import mimetypes

from flask import Blueprint, abort, current_app, request, send_file
from PIL import Image
from werkzeug.http import parse_range_header

from indexer.errors import MediaError
from indexer.media.thumbnails import frame_thumbnail
from search.scenes import shot_around

from .archive import archive, shown_path, store
from .posters import Look, choose_poster, look_of

log = logging.getLogger(__name__)

bp = Blueprint("media", __name__)

_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
          ".mkv": "video/x-matroska", ".ts": "video/mp2t", ".avi": "video/x-msvideo",
          ".mpg": "video/mpeg", ".mpeg": "video/mpeg", ".ogv": "video/ogg"}
THUMB_MAX_AGE = 7 * 24 * 3600


@bp.before_app_request
def ignore_malformed_range() -> None:
    """Drop a Range header that is not a single ``bytes`` range, before any view sees it."""
    header = request.environ.get("HTTP_RANGE")
    if header is None:
        return
    parsed = parse_range_header(header)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        log.debug("ignoring the Range header %r", header)
        del request.environ["HTTP_RANGE"]


@bp.get("/media/videos/<id:video_id>")
def video_file(video_id: int):
    """The video file, with Range support (206 Partial Content) so players can seek."""
    record = store().get_video(video_id)  # NotFoundError -> 404
    path = record.path
    if not path.is_file():
        abort(404, f"the file of video {video_id} is no longer at {shown_path(path)}")
    mimetype = _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] \
        or "application/octet-stream"
    response = send_file(path, mimetype=mimetype, conditional=True, etag=True, max_age=0)
    response.headers["Accept-Ranges"] = "bytes"
    return response


THUMB_GRID = 0.25  # seconds: other times are cut on this grid so the cache stays bounded


def _snap(frame_times: list[float], bounds: list[tuple[float, float]], seconds: float) -> float:
    """The stored frame nearest ``seconds`` within its shot (its thumbnail was made while
    indexing), never one inside a fade or dissolve; else ``seconds`` rounded down to the grid,
    never back across a cut or into a transition. ``bounds`` are (first, last) times of the cuts
    (first == last) and transitions, sorted."""
    i, shot_start, shot_end = shot_around(bounds, seconds)  # a shot starts where a transition has ended
    after_transition = bool(i) and bounds[i - 1][1] > bounds[i - 1][0]
    j = bisect.bisect_left(frame_times, seconds)
    near = [t for t in frame_times[max(0, j - 2):j + 2]
            if shot_start <= t < shot_end and not (after_transition and t == shot_start)]
    if near:
        return min(near, key=lambda t: abs(t - seconds))
    if after_transition:  # the transition's last frame is a blend too: the grid time after it
        shot_start = math.floor(shot_start / THUMB_GRID + 1) * THUMB_GRID
    snapped = max(shot_start, int(seconds / THUMB_GRID) * THUMB_GRID)
    return snapped if snapped < shot_end else max(0.0, shot_end - THUMB_GRID)


def _timing(video_id: int) -> tuple[list[float], list[tuple[float, float]]]:
    """Sorted stored frame times and shot boundaries of a video (cached until the store changes)."""
    def compute() -> tuple[list[float], list[tuple[float, float]]]:
        return store().frame_times(video_id), store().boundaries(video_id)  # both sorted by time

    return archive().cached(f"timing:{video_id}", compute)


def _send_thumbnail(record, seconds: float):
    """The ~320 px JPEG of ``record``'s frame at ``seconds`` (404 if it cannot be decoded)."""
    try:
        path = _thumbnail_file(record, seconds)
    except MediaError as exc:
        log.info("no thumbnail: %s", exc)
        abort(404, f"no thumbnail for video {record.id} at {seconds:.3f} s: {exc.reason}")
    response = send_file(path, mimetype="image/jpeg", conditional=True, max_age=THUMB_MAX_AGE)
    response.cache_control.public = True
    return response


def _thumbnail_file(record, seconds: float):
    """Path of the cached thumbnail (made first if needed). Raises MediaError."""
    width = int(current_app.config["THUMB_WIDTH"])
    return store().thumbnail(record, seconds, width, lambda: frame_thumbnail(record.path, seconds, width))


@bp.get("/media/thumbs/<id:video_id>/<int:ms>.jpg")
def thumbnail(video_id: int, ms: int):
    """A ~320 px JPEG of the stored frame nearest ``ms`` milliseconds within its shot."""
    record = store().get_video(video_id)
    return _send_thumbnail(record, _snap(*_timing(video_id), min(ms, int(record.duration * 1000)) / 1000))


def poster_time(record) -> float:
    """The video's poster frame time (see web/posters.py); 0 for a video without stored frames.

    The choice is kept beside the video version's thumbnails (``poster.txt``, milliseconds), so
    it is made once per indexed version and forgotten with its thumbnails.
    """

    def choose() -> float:
        _ids, times, vectors = store().frames(record.id)
        if not len(times):
            return 0.0

        def look(seconds: float) -> Look:
            try:
                with Image.open(_thumbnail_file(record, seconds)) as image:
                    return look_of(image)
            except (MediaError, OSError):
                return Look(spread=0.0, median=0.0)  # unreadable: never preferred

        return choose_poster(times.tolist(), vectors, look, avoid=store().boundaries(record.id))

    return store().poster_time(record, choose)


@bp.get("/media/posters/<id:video_id>.jpg")
def poster(video_id: int):
    """The video's poster: a representative frame, never a black or near-uniform one."""
    record = store().get_video(video_id)
    return _send_thumbnail(record, poster_time(record))
