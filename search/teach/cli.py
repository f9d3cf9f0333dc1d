"""``reelsearch eval``, ``reelsearch learn`` and ``reelsearch review``: the curator loop from the shell.

The figures come from :mod:`search.teach` services, the same the web pages use. Library errors
become one-line messages here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from indexer.models.loading import store_encoder
from indexer.cli.options import (data_dir_option, encoder_choice, encoder_options, open_store,
                                 taxonomy_option)
from indexer.errors import QueryError, ReelsearchError
from indexer.labels.taxonomy import Taxonomy, load_taxonomy
from indexer.pipeline.labelling import with_user_categories
from indexer.store import Store
from indexer.types import format_timestamp, round_for_json

from .curator_cli import curator_option, judge, require_user, set_reviewed
from .evaluate import EvalReport, Figures, eval_report
from .learn import TARGET_PRECISION, TARGET_RECALL, learn as learn_models, models, rollback
from .review import DEFAULT_LIMIT, review_queue


def _setup(store: Store, taxonomy: Path | None, encoder_kw: dict[str, Any]) -> tuple[Taxonomy, Any]:
    """The taxonomy and its prompt vectors, with the encoder indexing recorded (raises
    StoreError when nothing is indexed yet: no model is loaded, none is recorded)."""
    store.recorded_encoder()
    tax = with_user_categories(load_taxonomy(taxonomy), store)
    return tax, store.cached_texts(store_encoder(store, encoder_choice(encoder_kw)), "prompt")


def _category(tax: Taxonomy, category: str | None) -> str | None:
    if category is None:
        return None
    found = tax.find(category)
    return found.id if found else tax.get(category).id  # NotFoundError names the taxonomy


@click.command(name="eval")
@click.option("--category", "-c", default=None, help="Only this category (id or name).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@taxonomy_option
@data_dir_option
@encoder_options
def eval_command(category: str | None, as_json: bool, taxonomy: Path | None, data_dir: Path, **encoder_kw: Any) -> None:
    """Label quality against curator judgements: P/R/F1, boundary error, calibration."""
    with open_store(data_dir, create=False) as store:
        try:
            tax, texts = _setup(store, taxonomy, encoder_kw)
            report = eval_report(store, tax, texts, _category(tax, category))
        except ReelsearchError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(round_for_json(report.to_dict()), indent=2) if as_json else render_eval(report))


def _row(name: str, model: str, judgements: Any, f: Figures) -> str:
    c = f.counts
    bound = "–" if f.boundary_median is None else f"{f.boundary_median:.1f} / {f.boundary_p90:.1f}"
    ece = "–" if f.ece is None else f"{f.ece:.3f}"
    return (f"{name:<24} {model:<9} {judgements!s:>5} {c.precision:6.3f} {c.recall:6.3f} {c.f1:6.3f}"
            f" {bound:>13} {ece:>6}")


def render_eval(report: EvalReport) -> str:
    """The eval table: one or two rows (zero-shot, learned) per category, then overall."""
    if not report.categories:
        return "no judgements yet: accept, reject or add segments, or mark videos reviewed, then run eval again"
    lines = [f"{'CATEGORY':<24} {'MODEL':<9} {'JUDG.':>5} {'PREC':>6} {'REC':>6} {'F1':>6} {'BOUND med/p90':>13} {'ECE':>6}"]
    for c in report.categories:
        lines.append(_row(c.label, "zero-shot", c.judgements, c.zero_shot))
        if c.learned is not None:
            lines.append(_row("", "learned", "", c.learned))
        if c.held_out is not None:
            h = c.held_out["learned"]
            lines.append(f"{'':<24} {'held-out':<9} {'':>5} {h['precision']:6.3f} {h['recall']:6.3f} {h['f1']:6.3f}"
                         f" {'(cross-validated when learned)':>20}")
    total = sum(c.judgements for c in report.categories)
    lines.append(_row("overall", "zero-shot", total, report.overall_zero_shot))
    lines.append(_row("", "current", "", report.overall_current))
    lines.append("frame-level figures over judged frames (a learned model trained on them: see its held-out row); "
                 "boundary error in video frames")
    return "\n".join(lines)


@click.command()
@click.option("--category", "-c", default=None, help="Only this category (id or name).")
@click.option("--rollback", "undo", is_flag=True, help="Return to the previous model version instead.")
@click.option("--target-precision", type=click.FloatRange(0.01, 0.99), default=TARGET_PRECISION, show_default=True,
              help="Operating point of ordinary categories.")
@click.option("--target-recall", type=click.FloatRange(0.01, 0.99), default=TARGET_RECALL, show_default=True,
              help="Operating point of restricted categories.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@taxonomy_option
@data_dir_option
@encoder_options
def learn(category: str | None, undo: bool, target_precision: float, target_recall: float, as_json: bool,
          taxonomy: Path | None, data_dir: Path, **encoder_kw: Any) -> None:
    """Fit category models to curator judgements; adopt those better than zero-shot; relabel."""
    with open_store(data_dir, create=False) as store:
        try:
            tax, texts = _setup(store, taxonomy, encoder_kw)
            if undo:
                result = rollback(store, tax, texts)
            else:
                result = learn_models(store, tax, texts, category=_category(tax, category),
                                      target_precision=target_precision, target_recall=target_recall).to_dict()
        except ReelsearchError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(round_for_json(result), indent=2) if as_json else render_learn(result))


def render_learn(result: dict[str, Any]) -> str:
    """One line per category (or the rollback)."""
    if "rolled_back" in result:
        return (f"rolled back version {result['rolled_back']} ({', '.join(result['categories'])}); "
                "the previous labels are restored")
    lines = []
    for c in result["categories"]:
        line = f"{c['category']}: {c['status']} ({c['positive_frames']} positive, {c['negative_frames']} negative frames)"
        if "held_out" in c:
            h = c["held_out"]
            line += (f"; held-out F1 {h['zero_shot']['f1']:.3f} zero-shot -> {h['learned']['f1']:.3f} learned"
                     f", threshold {c['threshold']:.3f}")
        lines.append(line)
    if not lines:
        lines.append("no category has judged frames yet")
    lines.append(f"version {result['version']} stored; every video relabelled (`reelsearch learn --rollback` undoes it)"
                 if result["version"] else "nothing adopted; labels unchanged")
    return "\n".join(lines)


@click.command()
@click.option("--category", "-c", default=None, help="Only this category (id or name).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=DEFAULT_LIMIT, show_default=True)
@click.option("--accept", multiple=True, type=int, metavar="SEG_ID", help="Accept this segment (repeatable).")
@click.option("--reject", multiple=True, type=int, metavar="SEG_ID", help="Reject this segment (repeatable).")
@click.option("--undo", multiple=True, type=int, metavar="SEG_ID",
              help="Undo the segment's last accept or reject (repeatable; after --accept/--reject).")
@click.option("--mark-reviewed", "mark", metavar="VIDEO", default=None,
              help="Mark the video (id or path) reviewed for --category.")
@click.option("--unmark-reviewed", "unmark", metavar="VIDEO", default=None,
              help="Take the video's reviewed mark for --category off.")
@curator_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@taxonomy_option
@data_dir_option
@encoder_options
def review(category: str | None, limit: int, accept: tuple[int, ...], reject: tuple[int, ...], undo: tuple[int, ...],
           mark: str | None, unmark: str | None, user: str | None, as_json: bool, taxonomy: Path | None,
           data_dir: Path, **encoder_kw: Any) -> None:
    """The segments where a judgement teaches most; with --accept/--reject/--undo or
    --mark-reviewed/--unmark-reviewed, record those judgements instead (--as NAME)."""
    writes = bool(accept or reject or undo or mark or unmark)
    with open_store(data_dir, create=False) as store:
        try:
            tax, texts = _setup(store, taxonomy, encoder_kw)
            cat = _category(tax, category)
            if writes:
                _write(store, cat, accept, reject, undo, mark, unmark, user, as_json)
                return
            zero_shot, current = models(store, tax, texts)
            queue = review_queue(store, tax, zero_shot, current, category=cat, limit=limit)
        except ReelsearchError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(round_for_json({"queue": [c.to_dict() for c in queue]}), indent=2))
        return
    if not queue:
        click.echo("nothing to review")
    for c in queue:
        s = c.segment
        click.echo(f"{s.id:>6}  {s.label:<20} {c.video_name:<28} {format_timestamp(s.start)}-{format_timestamp(s.end)}"
                   f"  score {s.score:.2f}  priority {c.priority:.2f}")


def _write(store: Store, category: str | None, accept: tuple[int, ...], reject: tuple[int, ...],
           undo: tuple[int, ...], mark: str | None, unmark: str | None, user: str | None, as_json: bool) -> None:
    """Record judgements and reviewed marks under ``user``; print what changed."""
    from search.cli import resolve_video_id

    user = require_user(user, "recording a judgement or a reviewed mark")
    if (mark or unmark) and category is None:
        raise QueryError("--mark-reviewed and --unmark-reviewed need --category C")
    done = judge(store, user, accept, reject, undo)
    marks = [set_reviewed(store, resolve_video_id(store, video), category, user, flag)
             for video, flag in ((mark, True), (unmark, False)) if video]
    if as_json:
        click.echo(json.dumps(round_for_json({"segments": [{"action": a, **s.to_dict()} for a, s in done],
                                              "reviewed": marks}), indent=2))
        return
    for action, s in done:
        click.echo(f"{action:>6} {s.id:>6}  {s.label:<20} video {s.video_id}  "
                   f"{format_timestamp(s.start)}-{format_timestamp(s.end)}  now {s.status} ({s.source})")
    for m in marks:
        click.echo(f"video {m['video_id']} " + (f"marked reviewed for {m['category']}; "
                                                f"{len(m['accepted'])} automatic segment(s) accepted"
                                                if m["reviewed"] else f"no longer marked reviewed for {m['category']}"))
