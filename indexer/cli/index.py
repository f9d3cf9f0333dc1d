"""``reelsearch index``: index video files and folders into the store, with a progress bar.

Imports only the indexer (never Flask); the pipeline, torch and open_clip load when it runs.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from indexer.cli.options import (data_dir_option, encoder_choice, encoder_for_new_store, encoder_options,
                                 open_store, taxonomy_option, warn_if_random_weights)
from indexer.cli.progress import IndexProgress, count, summary_line, worker_line
from indexer.cli.words import word_extractors, words_options
from indexer.errors import ReelsearchError
from indexer.models.loading import encoder_spec, store_encoder
from indexer.types import check_sample_every


def _every(every: float | None, rate: float | None) -> float:
    """Seconds between sampled frames from ``--every`` or ``--rate`` (checked by check_sample_every)."""
    if every is not None and rate is not None:
        raise click.UsageError("give either --every SECONDS or --rate PER_SECOND, not both")
    hint, value = ("--rate", rate) if rate is not None else ("--every", 0.5 if every is None else every)
    try:
        check_sample_every(value)
    except ValueError:
        raise click.BadParameter("must be > 0", param_hint=hint) from None
    return 1.0 / value if hint == "--rate" else float(value)


@click.command()
@click.argument("paths", nargs=-1, required=False, type=click.Path(path_type=Path))
@click.option("--every", type=float, default=None, help="Seconds between sampled frames [default: 0.5].")
@click.option("--rate", type=float, default=None, help="Sampled frames per second (instead of --every).")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Images per encoder batch.")
@click.option("--shot-aware/--no-shot-aware", default=True, show_default=True,
              help="Also sample the first frame of every shot.")
@click.option("--reencode-window", type=click.FloatRange(min=0), default=4.0, show_default=True,
              help="Within a shot, encode again on a content change or after this many seconds; "
                   "0 encodes every sampled frame.")
@click.option("--prune", is_flag=True, help="Forget indexed videos whose files are gone.")
@click.option("--optimize", is_flag=True,
              help="Build/rebuild the approximate (IVF-SQ8) vector index now; it is built automatically past 200k frames.")
@click.option("--overlap/--no-overlap", default=True, show_default=True, envvar="REELSEARCH_OVERLAP",
              show_envvar=True, help="Decode the next file while this one is encoded (two files in flight).")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Analyse on a Ray cluster, commit here: no ADDRESS starts a local cluster, 'auto' joins "
                   "the one `ray start` runs, else HOST:PORT. Files must be at the same path on every worker.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="With --ray: analysis actors [default: one per GPU, else one per CPU of the cluster].")
@words_options
@taxonomy_option
@data_dir_option
@encoder_options
def index(paths: tuple[Path, ...], every: float | None, rate: float | None, batch_size: int,
          shot_aware: bool, reencode_window: float, prune: bool, optimize: bool, overlap: bool,
          ray_address: str | None, workers: int | None, ocr: bool, asr_model: str, taxonomy: Path | None,
          data_dir: Path, **encoder_kw) -> None:
    """Index video files and folders (recursively) into the store."""
    from indexer.labels.taxonomy import load_taxonomy
    from indexer.pipeline.labelling import current_label_model, with_user_categories
    from indexer.pipeline.orchestrate import IndexOptions, prune_missing

    if ray_address not in (None, "local", "auto") and Path(ray_address).exists():
        paths, ray_address = (Path(ray_address), *paths), "local"  # `--ray PATH`: a path, not an address
    if not paths and not (prune or optimize):
        raise click.UsageError("give at least one file or folder to index (or --prune / --optimize)")
    options = IndexOptions(every=_every(every, rate), batch_size=batch_size, shot_aware=shot_aware,
                           reencode_window=reencode_window)
    if workers is not None and ray_address is None:
        raise click.UsageError("--workers applies to --ray")
    if ray_address is not None and paths:
        _connect(ray_address)
    failed = 0
    choice = encoder_choice(encoder_kw)
    if paths:
        choice = encoder_for_new_store(data_dir, choice)
    with open_store(data_dir, create=bool(paths)) as store:  # --prune / --optimize alone: an existing store
        try:
            if paths:
                encoder = store_encoder(store, choice)
                warn_if_random_weights(store)
                tax = with_user_categories(load_taxonomy(taxonomy), store)
                labels = current_label_model(store, tax, store.cached_texts(encoder, "prompt"))
                with word_extractors(ocr, asr_model):
                    failed = _index_paths(store, encoder, labels, options, paths, ray_address, workers, overlap)
                # a model loaded now records what a store of an older version lacks (its text tower)
                store.bind_encoder(encoder.name, encoder.dim, encoder_spec(encoder))
            if prune:
                removed = prune_missing(store)
                click.echo(f"pruned {len(removed)} video(s) whose files are gone")
            info = store.optimize(force=optimize)  # automatic past the size where exact gets slow
            if optimize or info.recall_at_10 is not None:
                click.echo(_index_line(info))
        except ReelsearchError as exc:
            raise click.ClickException(str(exc)) from None
    if failed:
        raise SystemExit(1)


def _index_line(info) -> str:
    if info.kind == "flat":
        return f"vector index: exact (flat), {count(info.vectors, 'vector')}"
    recall = f", recall@10 {info.recall_at_10:.3f} vs exact" if info.recall_at_10 is not None else ""
    return (f"vector index: approximate IVF-SQ8, {count(info.vectors, 'vector')}, nlist {info.nlist}, "
            f"nprobe {info.nprobe}{recall}")


def _connect(address: str) -> None:
    """Join or start the Ray cluster before the store is opened (a one-line error if impossible)."""
    from indexer.pipeline.cluster import connect

    try:
        connect(address)
    except ReelsearchError as exc:
        raise click.ClickException(str(exc)) from None


def _index_paths(store, encoder, labels, options, paths, ray_address=None, workers=None, overlap=True) -> int:
    from indexer.pipeline.orchestrate import FILES_IN_FLIGHT, Indexer

    started = time.perf_counter()
    results = []
    with IndexProgress() as progress:
        if ray_address is None:
            indexer = Indexer(store, encoder, labels, options, progress,
                              files_in_flight=FILES_IN_FLIGHT if overlap else 1)
        else:
            from indexer.pipeline.distributed import RayIndexer

            indexer = RayIndexer(store, encoder, labels, options, workers=workers, progress=progress)
        for result in indexer.index_paths(paths):
            results.append(result)
            progress.file_done(result)
            if len(results) % 20 == 0:
                store.flush()
    store.flush()
    click.echo(summary_line(results, time.perf_counter() - started))
    for stats in getattr(indexer, "stats", {}).values():
        click.echo(worker_line(stats))
    return sum(r.failed for r in results)
