"""``reelsearch report`` and ``reelsearch labels``: the label report of one video, as text or JSON.

A video is named by path or id; a file not yet indexed (or changed since) is indexed first.
The report itself comes from :mod:`search.report`, the same service the web pages use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from indexer.models.encoder import Encoder
from indexer.models.loading import store_encoder
from indexer.cli.options import (data_dir_option, encoder_choice, encoder_for_new_store, encoder_options,
                                 open_store, taxonomy_option, warn_if_random_weights)
from indexer.errors import MediaError, NotFoundError, ReelsearchError
from indexer.labels.segments import LabelReport
from indexer.labels.taxonomy import Taxonomy, load_taxonomy
from indexer.store import Store, VideoRecord
from indexer.types import format_timestamp, round_for_json

from .server_texts import prefer_server
from .report import ReportView, label_report, labels_json, video_labels


@click.command()
@click.argument("video")
@click.option("--label", "-l", required=True, help="A taxonomy category or any free-text prompt.")
@click.option("--against", multiple=True,
              help="Competing prompt(s) for a free-text label [default: the taxonomy background].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@taxonomy_option
@data_dir_option
@encoder_options
def report(video: str, label: str, against: tuple[str, ...], as_json: bool, taxonomy: Path | None,
           data_dir: Path, **encoder_kw: Any) -> None:
    """Does VIDEO contain LABEL, when does it first appear, how long is it on screen?"""
    store, choice = _store_for(video, data_dir, encoder_choice(encoder_kw))
    with store:
        try:
            tax = load_taxonomy(taxonomy)
            record = resolve_video(store, video, tax, choice)
            result = label_report(store, record, label, tax,
                                  lambda: prefer_server(store.data_dir, store_encoder(store, choice)), against)
        except ReelsearchError as exc:
            raise click.ClickException(str(exc)) from None
        warn_if_random_weights(store)
    click.echo(json.dumps(round_for_json(result.to_json()), indent=2) if as_json else render_report(result))


@click.command()
@click.argument("video")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@taxonomy_option
@data_dir_option
@encoder_options
def labels(video: str, as_json: bool, taxonomy: Path | None, data_dir: Path, **encoder_kw: Any) -> None:
    """Which categories best describe VIDEO: every label present, longest first."""
    store, choice = _store_for(video, data_dir, encoder_choice(encoder_kw))
    with store:
        try:
            tax = load_taxonomy(taxonomy)
            record = resolve_video(store, video, tax, choice)
            rows = video_labels(store, record, tax)
        except ReelsearchError as exc:
            raise click.ClickException(str(exc)) from None
        warn_if_random_weights(store)
    if as_json:
        click.echo(json.dumps(round_for_json(labels_json(record, rows, tax)), indent=2))
    else:
        click.echo(render_labels(record, rows, tax))


def _store_for(video: str, data_dir: Path, choice: dict[str, Any]) -> tuple[Store, dict[str, Any] | Encoder]:
    """The store for ``report``/``labels`` VIDEO, and the encoder ``choice`` to index with.

    The store is created only when VIDEO is a file to index first, and only once the file is
    known to be a video and the encoder loads (a first run that fails leaves no empty store).
    """
    if indexes_first(video):
        if not Store.exists(data_dir):
            from indexer.media.probe import probe  # noqa: PLC0415 (PyAV only for a file to index)

            try:
                probe(Path(video).expanduser())
            except MediaError as exc:
                raise click.ClickException(str(exc)) from None
            choice = encoder_for_new_store(data_dir, choice)
        return open_store(data_dir), choice
    try:
        return Store.open(data_dir, create=False), choice
    except ReelsearchError as exc:
        prefix = "" if video.isdigit() else f"{video}: no such file, and "
        raise click.ClickException(prefix + str(exc)) from None


def indexes_first(arg: str) -> bool:
    """Whether ``report``/``labels`` VIDEO names a file (which may need indexing first),
    rather than an id: only then may the command create a store."""
    return Path(arg).expanduser().exists()


def resolve_video(store: Store, arg: str, taxonomy: Taxonomy, choice: dict[str, Any] | Encoder) -> VideoRecord:
    """An indexed video by path or id; a file not yet indexed (or changed) is indexed first.

    Raises:
        NotFoundError: neither a readable file nor the id of an indexed video (the message
            names the store's data dir).
        MediaError: the file cannot be indexed.
    """
    path = Path(arg).expanduser()
    if indexes_first(arg):
        path = path.absolute()
        record = store.video_by_path(path)
        st = path.stat()
        if record is not None and record.size == st.st_size and record.mtime == st.st_mtime:
            return record
        return _index_now(store, path, taxonomy, choice)
    if arg.isdigit():
        try:
            return store.get_video(int(arg))
        except NotFoundError:
            raise NotFoundError(f"no video with id {arg} in the index in {store.data_dir}") from None
    raise NotFoundError(f"{arg}: no such file, and no video in the index in {store.data_dir} has that id")


def _index_now(store: Store, path: Path, taxonomy: Taxonomy, choice: dict[str, Any] | Encoder) -> VideoRecord:
    from indexer.pipeline.labelling import current_label_model, with_user_categories  # noqa: PLC0415
    from indexer.pipeline.orchestrate import Indexer  # noqa: PLC0415 (only a new file needs the pipeline)

    encoder = store_encoder(store, choice)
    labels = current_label_model(store, with_user_categories(taxonomy, store), store.cached_texts(encoder, "prompt"))
    result = Indexer(store, encoder, labels).index_file(path)
    store.flush()
    if result.failed or result.video_id is None:
        raise MediaError(path, result.reason or "could not be indexed")
    return store.get_video(result.video_id)


def _bound(t: float, uncertainty: float) -> str:
    return format_timestamp(t) + (f" ±{uncertainty:.2f}s" if uncertainty > 0 else "")


def render_report(view: ReportView) -> str:
    """Human-readable report: contains / first appearance / total duration / segments."""
    r = view.report
    lines = [f"video:            {view.video.path} ({format_timestamp(view.video.duration)})",
             f"label:            {view.label} ({view.kind})",
             f"contains:         {'yes' if r.contains else 'no'}"]
    if r.contains and r.first_appearance is not None:
        lines += [f"first appearance: {r.first_appearance:.3f} s ({format_timestamp(r.first_appearance)})",
                  f"total duration:   {r.total_duration:.3f} s ({r.share:.1%} of the video)",
                  f"segments ({len(r.segments)}):"]
        for s in r.segments:
            who = "" if s.source == "auto" else f"  [{s.source}]"
            lines.append(f"  {_bound(s.start, s.start_uncertainty)} – {_bound(s.end, s.end_uncertainty)}"
                         f"  {s.duration:7.3f} s  score {s.score:.2f}{who}")
    d = view.disclaimer
    if d is not None and r.contains:
        lines.append(f"disclaimer:       \"{d.text}\" {'present' if d.present else 'MISSING'}: "
                     f"{d.covered:.3f} s of the {d.required:.3f} s the category is on screen "
                     f"({d.covered / d.required if d.required else 0:.1%}; shown {d.on_screen:.3f} s, "
                     f"said {d.spoken:.3f} s)")
    return "\n".join(lines)


def render_labels(video: VideoRecord, reports: list[LabelReport], taxonomy: Taxonomy) -> str:
    """A table of labels present in the video, longest on screen first."""
    lines = [f"{video.path} ({format_timestamp(video.duration)})"]
    if not reports:
        lines.append("  no label is present")
    width = max((len(r.label) for r in reports), default=0)
    for r in reports:
        cat = taxonomy.find(r.label)
        flag = "  [restricted]" if cat is not None and cat.restricted else ""
        lines.append(f"  {r.label:<{width}}  {format_timestamp(r.total_duration)}  {r.share:6.1%}"
                     f"  from {format_timestamp(r.first_appearance or 0.0)}{flag}")
    return "\n".join(lines)
