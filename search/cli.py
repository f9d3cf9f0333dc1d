"""``reelsearch search``: find scenes by text, by an image file, or like a stored frame.

Listed in the ``reelsearch`` group's command table (:mod:`indexer.cli.main`). Library errors become
one-line ``click.ClickException`` messages here. Output: a table (one row per scene, the video
named on its first scene), or ``--json``: one JSON object per video (JSON lines). A search
without results prints why on stderr and exits 0.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import click

from indexer.cli.options import data_dir_option, encoder_options, taxonomy_option
from indexer.errors import NotFoundError, ReelsearchError
from indexer.types import format_timestamp, round_for_json

from .query import parse_like
from .teach.curator_cli import curator_option
from .results import DEFAULT_K, MAX_K, SearchResponse, deep_link
from .server_texts import prefer_server

log = logging.getLogger(__name__)

PATH_WIDTH = 44


def resolve_video_id(store: Any, video: str) -> int:
    """An indexed video's id from its id or its path; raises NotFoundError naming the data dir."""
    path = Path(video).expanduser()
    for candidate in (path.absolute(), path):
        record = store.video_by_path(candidate)
        if record is not None:
            return record.id
    if video.isdigit():
        try:
            return store.get_video(int(video)).id
        except NotFoundError:
            pass
    raise NotFoundError(f"{video}: no video in the index in {store.data_dir} has that path or id")


def _short(path: str, width: int = PATH_WIDTH) -> str:
    return path if len(path) <= width else "..." + path[-(width - 3):]


def render_table(response: SearchResponse, *, links: bool = False) -> str:
    """The readable table: rank, video, scene start-end, score, labels (and deep links)."""
    header = f"{'#':>3}  {'VIDEO':<{PATH_WIDTH}}  {'SCENE':<25}  {'SCORE':>6}  LABELS"
    lines = [header + ("  LINK" if links else "")]
    for rank, result in enumerate(response.results, 1):
        path = str(result.video.path)
        for i, scene in enumerate(result.scenes):
            first = i == 0
            video = f"{_short(path)}" if first else ""
            span = f"{format_timestamp(scene.start)}-{format_timestamp(scene.end)}"
            row = (f"{rank if first else '':>3}  {video:<{PATH_WIDTH}}  {span:<25}  {scene.score:6.3f}  "
                   f"{', '.join(scene.labels) or '-'}")
            lines.append(row + (f"  {deep_link(path, scene.start, scene.end)}" if links else ""))
            for hit in scene.words:  # why it matched: the line on screen or the words said
                lines.append(f"{'':>3}  {'':<{PATH_WIDTH}}  {hit.row.kind:>4} {format_timestamp(hit.start)}  "
                             f"{hit.marked()}")
    return "\n".join(lines)


def render_json_lines(response: SearchResponse) -> str:
    """One JSON object per video, best first."""
    return "\n".join(json.dumps(round_for_json(r.to_dict(rank))) for rank, r in enumerate(response.results, 1))


def _is_negative_term(word: str) -> bool:
    """``-night`` or ``-"night sky"``: a negative with text (``-0.2`` is a weight, not a term)."""
    return word.startswith("-") and any(ch.isalpha() for ch in word)


def query_text(words: tuple[str, ...]) -> str | None:
    """The query the shell words spell (None: no words). Quotes are optional, so words are joined
    with spaces; a word like ``-night`` excludes just that word, so a plain word after it starts a
    new positive term: ``-night beach`` reads ``-night + beach``."""
    if not words:
        return None
    parts: list[str] = []
    for word in words:
        if parts and _is_negative_term(parts[-1]) and not word.startswith(("+", "-")):
            parts.append("+")
        parts.append(word)
    return " ".join(parts)


class QueryCommand(click.Command):
    """A command whose free-text words may start with ``-``: any argument that is not one of its
    options (``-night``, but not ``-k``, ``--json`` or an option's value) is query text, so
    ``reelsearch search -night beach`` needs no ``--``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._options_then_words(ctx, args))

    def _options_then_words(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value = {name: not (param.is_flag or param.count)
                       for param in self.get_params(ctx) if isinstance(param, click.Option)
                       for name in (*param.opts, *param.secondary_opts)}
        options: list[str] = []
        words: list[str] = []
        rest = iter(args)
        for arg in rest:
            name = arg.split("=", 1)[0]
            if arg == "--":
                words.extend(rest)
            elif name in takes_value:
                options.append(arg)
                value = next(rest, None) if takes_value[name] and "=" not in arg else None
                if value is not None:
                    options.append(value)  # the option's value, even if it starts with '-'
            elif arg.startswith("--") or (arg[:2] in takes_value and arg[2:].isdigit()):
                options.append(arg)  # an unknown --option (click names it) or -k5
            else:
                words.append(arg)
        return options + (["--", *words] if words else [])


@click.command("search", cls=QueryCommand)
@click.argument("words", nargs=-1, metavar="[QUERY]...")
@click.option("--image", type=click.Path(dir_okay=False, path_type=Path), help="Find scenes that look like this image.")
@click.option("--like", metavar="VIDEO@SECONDS", help="More like this frame (video id or path).")
@click.option("--not", "negatives", multiple=True, metavar="TEXT", help="Exclude what looks like TEXT (repeatable).")
@click.option("--category", help="Only videos with this category (or one of its children).")
@click.option("--restricted/--no-restricted", default=None,
              help="Only videos with / without restricted content (alcohol, tobacco, ...).")
@click.option("--min-duration", type=float, help="Only videos at least this long (seconds).")
@click.option("--max-duration", type=float, help="Only videos at most this long (seconds).")
@click.option("--video", help="Only this video (id or path).")
@click.option("-k", "--k", "k", type=click.IntRange(1, MAX_K), default=DEFAULT_K, show_default=True,
              help="How many videos to return.")
@click.option("--min-score", type=click.FloatRange(-1, 1),
              help="Absolute cosine a frame needs (replaces the relative cutoff).")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: one object per video.")
@click.option("--open", "links", is_flag=True, help="Print a deep link path#t=start,end per scene.")
@click.option("--up", multiple=True, metavar="VIDEO@SECONDS",
              help="Thumbs up on this scene (or VIDEO@START-END; repeatable): refine the query toward it.")
@click.option("--down", multiple=True, metavar="VIDEO@SECONDS", help="Thumbs down on this scene (repeatable).")
@click.option("--save-as-category", "save_as", metavar="NAME",
              help="Store the refined query as a new category NAME and label every video with it (needs --up, --as).")
@curator_option
@taxonomy_option
@data_dir_option
@encoder_options
def search(words: tuple[str, ...], image: Path | None, like: str | None, negatives: tuple[str, ...],
           as_json: bool, links: bool, up: tuple[str, ...], down: tuple[str, ...], save_as: str | None,
           user: str | None, taxonomy: Path | None, data_dir: Path, **options: Any) -> None:
    """Find scenes matching QUERY, an --image, or --like a stored frame.

    \b
    QUERY syntax: terms joined by '+', an optional weight before a term,
    negatives after '-' (weight 0.5 unless given), quotes optional:
      reelsearch search dog on a beach
      reelsearch search -night beach
      reelsearch search '"beach" + 0.5 "sunset" -night'
      reelsearch search "red car" --not rain --category vehicles
    Relevance feedback (Rocchio, as the web's thumbs): --up 3@12.5 --down 7@4
    refine a text or --like query; --save-as-category NAME --as CURATOR stores it.
    Words on screen or spoken: text:"SPF 30", said:"free delivery", words:"..."
    (either), alone or with a visual query: reelsearch search 'beach text:"SPF 30"'
    Only scenes that match better than generic captions are listed;
    --min-score X lists every frame with cosine >= X instead.
    """
    from indexer.cli.options import encoder_choice, open_store, warn_if_random_weights  # noqa: PLC0415

    query = query_text(words)
    choice = encoder_choice(options)
    given = [name for name, value in (("QUERY", query), ("--image", image), ("--like", like))
             if value is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of QUERY, --image FILE or --like VIDEO@SECONDS")
    if negatives and query is None:
        raise click.UsageError("--not applies to a text QUERY")
    feedback = (up, down, save_as, user) if up or down or save_as else None
    if feedback and (image is not None or negatives):
        raise click.UsageError("--up, --down and --save-as-category refine a text QUERY (no --not) or --like")
    saved = None
    with open_store(data_dir, readonly=not save_as, create=False) as store:
        warn_if_random_weights(store)
        try:
            if feedback:
                response, saved = _refined(store, query, like, taxonomy, choice, options, *feedback)
            else:
                response = _answer(store, query, image, like, negatives, taxonomy, choice, options)
        except ReelsearchError as exc:
            raise click.ClickException(str(exc)) from None
    if response.results:
        click.echo(render_json_lines(response) if as_json else render_table(response, links=links))
    if saved:
        click.echo(json.dumps({"saved_category": saved}) if as_json else
                   f"saved category {saved['name']} ({saved['id']}), version {saved['version']}; "
                   "every video is labelled with it")
    if response.message:
        hint = ""
        if response.best_score is not None:
            hint = f", or --min-score {max(-1.0, math.floor(response.best_score * 100) / 100):.2f} to list the closest frames anyway"
        click.echo(response.message + hint, err=True)


def _filters(store: Any, options: dict[str, Any]) -> dict[str, Any]:
    filters = {key: options[key] for key in ("category", "restricted", "min_duration", "max_duration")}
    if options["video"] is not None:
        filters["video_id"] = resolve_video_id(store, options["video"])
    return {"k": options["k"], "min_score": options["min_score"], **filters}


def _refined(store: Any, query: str | None, like: str | None, taxonomy_path: Path | None, choice: dict[str, Any],
             options: dict[str, Any], up: tuple[str, ...], down: tuple[str, ...], save_as: str | None,
             user: str | None) -> tuple[SearchResponse, dict[str, Any] | None]:
    """The query refined by --up/--down (and saved as a category with --save-as-category)."""
    from indexer.labels.taxonomy import load_taxonomy  # noqa: PLC0415
    from indexer.models.loading import store_encoder  # noqa: PLC0415 (torch is slow)
    from indexer.pipeline.labelling import with_user_categories  # noqa: PLC0415

    from .engine import SearchEngine  # noqa: PLC0415
    from .teach import curator_cli  # noqa: PLC0415

    if save_as:
        curator_cli.require_user(user, "--save-as-category")
    marks_up, marks_down = curator_cli.marks(lambda video: resolve_video_id(store, video), up, down)
    ref = None
    if like is not None:
        video, seconds = parse_like(like)
        ref = (resolve_video_id(store, video), seconds)
    encoder = None if like is not None and not save_as else store_encoder(store, choice, bind=False)
    taxonomy = with_user_categories(load_taxonomy(taxonomy_path), store)
    texts = None if encoder is None else store.cached_texts(prefer_server(store.data_dir, encoder))
    engine = SearchEngine(store, texts, taxonomy)
    vector = curator_cli.refined_vector(store, engine, query, ref, marks_up, marks_down)
    label = f"{query or like} (refined: {len(marks_up)} up, {len(marks_down)} down)"
    response = engine.search_vector(vector, label, **_filters(store, options))
    if not save_as:
        return response, None
    saved = curator_cli.save_as_category(store, taxonomy, store.cached_texts(encoder, "prompt"), name=save_as,
                                         text=query, vector=vector, up=marks_up, down=marks_down, user=user)
    return response, saved


def _answer(store: Any, query: str | None, image: Path | None, like: str | None, negatives: tuple[str, ...],
         taxonomy_path: Path | None, choice: dict[str, Any], options: dict[str, Any]) -> SearchResponse:
    from indexer.labels.taxonomy import load_taxonomy  # noqa: PLC0415
    from indexer.models.loading import store_encoder  # noqa: PLC0415 (torch is slow)
    from indexer.pipeline.labelling import with_user_categories  # noqa: PLC0415

    from .engine import SearchEngine  # noqa: PLC0415

    common = _filters(store, options)
    # texts: the store's cache, else a running server of this data dir, else the model here
    encoder = None if like is not None else store.cached_texts(
        prefer_server(store.data_dir, store_encoder(store, choice, bind=False)))
    engine = SearchEngine(store, encoder, with_user_categories(load_taxonomy(taxonomy_path), store))
    if like is not None:
        video, seconds = parse_like(like)
        return engine.search_like(resolve_video_id(store, video), seconds, **common)
    if image is not None:
        return engine.search_image(image, **common)
    return engine.search(query, negatives=negatives, **common)

