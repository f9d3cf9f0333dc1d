"""The ``reelsearch`` command group: the console entry point, light enough for every command.

Each command is named here once, with the module that defines it, and imported only when it
runs: ``reelsearch index`` loads the indexer and never Flask; ``serve`` loads the web app.
The commands live with their layer (``indexer.cli``, ``search``, ``web``); library errors become
one-line ``click.ClickException`` messages in those command modules and nowhere below.
"""

from __future__ import annotations

import importlib

import click

from indexer.cli.options import setup_logging

#: Every ``reelsearch`` command: name -> ``module:attribute`` of its click command.
COMMANDS = {
    "index": "indexer.cli.index:index",
    "search": "search.cli:search",
    "report": "search.report_cli:report",
    "labels": "search.report_cli:labels",
    "eval": "search.teach.cli:eval_command",
    "learn": "search.teach.cli:learn",
    "review": "search.teach.cli:review",
    "serve": "web.cli:serve",
    "user": "web.cli:user",
    "encoder": "web.encoder_cli:encoder",
}


class CommandTable(click.Group):
    """A click group whose commands are imported from :data:`COMMANDS` when first needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return super().get_command(ctx, name)
        module, _, attr = COMMANDS[name].partition(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=CommandTable, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.version_option(package_name="reelsearch")
def cli(verbose: int) -> None:
    """reelsearch: find scenes in a video archive by what they show."""
    setup_logging(verbose)


def main() -> None:
    """Console entry point of ``reelsearch``."""
    cli()
