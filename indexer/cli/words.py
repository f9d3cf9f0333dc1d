"""``reelsearch index --ocr/--no-ocr --asr-model NAME|PATH``: which word extractors run.

On-screen text (RapidOCR) and speech (faster-whisper) are registered with the analysis step
(:mod:`indexer.pipeline.extractors`) for the duration of one ``index`` command. One that cannot
run here (package not installed, ASR model not on this machine) is announced in one line and left
out: indexing goes on without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import click

from indexer.errors import ModelUnavailableError
from indexer.models.speech import DEFAULT_ASR_MODEL

#: ``--asr-model`` value that turns speech recognition off.
NO_ASR = "none"


def words_options(func: Callable) -> Callable:
    """The ``--ocr/--no-ocr`` and ``--asr-model`` options of ``reelsearch index``."""
    func = click.option("--asr-model", default=DEFAULT_ASR_MODEL, show_default=True, metavar="NAME|PATH",
                        envvar="REELSEARCH_ASR_MODEL", show_envvar=True,
                        help="Speech recognition model: a faster-whisper size (downloaded once, or joined "
                             "from the whisper-base extra's packages) or a model folder; "
                             f"'{NO_ASR}' indexes no speech.")(func)
    return click.option("--ocr/--no-ocr", default=True, show_default=True, envvar="REELSEARCH_OCR",
                        show_envvar=True, help="Read on-screen text (RapidOCR).")(func)


@contextlib.contextmanager
def word_extractors(ocr: bool, asr_model: str) -> Iterator[None]:
    """Register the word extractors that can run here while the block runs; echo one line for
    each one that cannot."""
    from indexer.pipeline import extractors

    names = []
    try:
        if ocr:
            with _unavailable("on-screen text"):
                from indexer.models import ocr_int8
                from indexer.models.ocr import model_files
                from indexer.pipeline.background import in_background
                from indexer.words.onscreen import OnScreenText, shared_reader

                if ocr_int8.pending(model_files()[1]):
                    click.echo("on-screen text: making the int8 text recogniser, once (5-10 s)", err=True)
                shared_reader()
                extractors.register("text", in_background(OnScreenText))  # OCR on a core of its own
                names.append("text")
        if asr_model.strip().lower() != NO_ASR:
            with _unavailable("speech"):
                import functools

                from indexer.models.speech import resolve_model
                from indexer.words.speech import SpokenWords

                model = resolve_model(asr_model, announce=lambda line: click.echo(line, err=True))
                extractors.register("speech", functools.partial(SpokenWords, model))
                names.append("speech")
        yield
    finally:
        for name in names:
            extractors.unregister(name)


@contextlib.contextmanager
def _unavailable(what: str) -> Iterator[None]:
    try:
        yield
    except ModelUnavailableError as exc:
        click.echo(f"{what} not indexed: {exc}", err=True)
