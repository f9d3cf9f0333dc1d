"""``reelsearch serve`` and ``reelsearch user add``, and the ``reelsearch`` entry point listing every command."""

from __future__ import annotations

import gc
import json
import os
import re
import socket
import sys

import click
import pytest
from click.testing import CliRunner
from webfixtures import *  # noqa: F401,F403  (fixtures)

from search.server_texts import SERVER_FILE
from web.cli import serve, user


@pytest.fixture()
def group() -> click.Group:
    """A fresh group with the web commands (independent of the global ``cli``)."""
    return click.Group("reelsearch", commands=[serve, user])


def _check(data_dir, name, password) -> bool:
    from indexer.store import curation
    from indexer.store import Store

    with Store.open(data_dir, readonly=True) as store:
        return curation.check_password(store, name, password)


def test_user_add_with_password_on_stdin(group, writable_data):
    runner = CliRunner()
    result = runner.invoke(group, ["user", "add", "bob", "--password-stdin", "--data-dir",
                                   str(writable_data.data_dir)], input="s3cret-words\n")
    assert result.exit_code == 0, result.output
    assert "bob can now sign in" in result.output
    assert _check(writable_data.data_dir, "bob", "s3cret-words")
    assert not _check(writable_data.data_dir, "bob", "other")


def test_user_add_prompts_twice(group, writable_data):
    runner = CliRunner()
    args = ["user", "add", "carol", "--data-dir", str(writable_data.data_dir)]
    mismatch = runner.invoke(group, args, input="first-password\nsecond-password\nfirst-password\nfirst-password\n")
    assert mismatch.exit_code == 0, mismatch.output
    assert "do not match" in mismatch.output.lower()
    assert _check(writable_data.data_dir, "carol", "first-password")


def test_user_add_refuses_short_password_and_bad_name(group, writable_data):
    runner = CliRunner()
    short = runner.invoke(group, ["user", "add", "dave", "--password-stdin", "--data-dir",
                                  str(writable_data.data_dir)], input="short\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.output
    bad = runner.invoke(group, ["user", "add", "no spaces!", "--password-stdin", "--data-dir",
                                str(writable_data.data_dir)], input="long enough pw\n")
    assert bad.exit_code == 1 and "user name" in bad.output


def _waitress(monkeypatch, calls: dict, on_run=None) -> None:
    """Replace waitress's server by one that records how it was made and returns from run();
    the encoder is not loaded ahead of requests (``Archive.warm`` records that it was asked)."""
    import waitress

    from web.archive import Archive

    monkeypatch.setattr(Archive, "warm", lambda archive: calls.update(warmed=archive.data_dir))

    class Server:
        def __init__(self, app, **kw) -> None:
            calls.update(app=app, **kw)
            self.effective_port = kw["port"] or 54321

        def run(self) -> None:
            calls["announced"] = json.loads((calls["app"].config["DATA_DIR"] / SERVER_FILE).read_text())
            if on_run:
                on_run(calls["app"])

        def close(self) -> None:
            calls["closed"] = True

    monkeypatch.setattr(waitress, "create_server", Server)


def test_serve_runs_waitress_and_prints_the_url(group, web_data, monkeypatch):
    calls = {}
    _waitress(monkeypatch, calls)
    result = CliRunner().invoke(group, ["serve", "--port", "8123", "--threads", "2", "--data-dir",
                                        str(web_data.data_dir)])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8123/" in result.output
    assert calls["host"] == "127.0.0.1" and calls["port"] == 8123 and calls["threads"] == 2
    assert calls["app"].config["DATA_DIR"] == web_data.data_dir
    assert calls["announced"] == {"host": "127.0.0.1", "port": 8123, "pid": os.getpid()}
    assert calls["closed"] and not (web_data.data_dir / SERVER_FILE).exists()  # gone when it stops
    assert calls["warmed"] == web_data.data_dir
    calls["app"].extensions["reelsearch"].close()


def test_serve_on_all_interfaces_prints_a_usable_url(group, web_data, monkeypatch):
    _waitress(monkeypatch, {}, on_run=lambda app: app.extensions["reelsearch"].close())
    result = CliRunner().invoke(group, ["serve", "--host", "0.0.0.0", "--data-dir", str(web_data.data_dir)])
    assert result.exit_code == 0 and "http://127.0.0.1:8000/" in result.output


# waitress leaves the socket it could not bind (and its wake-up pipe) for the garbage collector;
# the command's process ends right after, so the test collects them here, warnings off.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_serve_on_a_port_in_use_says_so_in_one_line(group, web_data):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(group, ["serve", "--port", str(port), "--data-dir", str(web_data.data_dir)])
    assert result.exit_code == 1, result.output
    (line,) = result.output.splitlines()
    assert line.startswith(f"Error: cannot listen on 127.0.0.1:{port}: address already in use;")
    assert "--port" in line and not (web_data.data_dir / SERVER_FILE).exists()
    del result  # its exception's traceback holds waitress's server
    gc.collect()


def test_serve_without_an_index_creates_nothing_and_names_the_data_dir(group, tmp_path, monkeypatch):
    import waitress

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REELSEARCH_DATA_DIR", raising=False)
    monkeypatch.setattr(waitress, "create_server", lambda app, **kw: pytest.fail("served without an index"))
    result = CliRunner().invoke(group, ["serve"])
    assert result.exit_code == 1 and f"no index in {tmp_path / 'data' / 'index'}" in result.output
    assert not (tmp_path / "data").exists()


def test_main_has_every_command(monkeypatch, capsys):
    from indexer.cli.main import main

    monkeypatch.setattr(sys, "argv", ["reelsearch", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("index", "report", "labels", "search", "serve", "user"):
        assert command in out


def test_user_passwd_sets_a_new_password_and_ends_sessions(group, writable_data):
    from indexer.store import Store, access

    data_dir = str(writable_data.data_dir)
    with Store.open(writable_data.data_dir, readonly=True) as store:
        before = access.session_generation(store, "alice")
    result = CliRunner().invoke(group, ["user", "passwd", "alice", "--password-stdin", "--data-dir", data_dir],
                                input="a brand new secret\n")
    assert result.exit_code == 0, result.output
    assert "sessions have ended" in result.output
    assert _check(writable_data.data_dir, "alice", "a brand new secret")
    with Store.open(writable_data.data_dir, readonly=True) as store:
        assert access.session_generation(store, "alice") == before + 1
    missing = CliRunner().invoke(group, ["user", "passwd", "zed", "--password-stdin", "--data-dir", data_dir],
                                 input="long enough pw\n")
    assert missing.exit_code == 1 and "user add zed" in missing.output


def test_user_list_and_remove(group, writable_data, tmp_path):
    runner, data_dir = CliRunner(), str(writable_data.data_dir)
    assert runner.invoke(group, ["user", "add", "bob", "--password-stdin", "--data-dir", data_dir],
                         input="s3cret-words\n").exit_code == 0
    listed = runner.invoke(group, ["user", "list", "--data-dir", data_dir])
    assert listed.exit_code == 0 and listed.output.splitlines() == ["alice", "bob"]
    removed = runner.invoke(group, ["user", "remove", "alice", "--data-dir", data_dir])
    assert removed.exit_code == 0 and "alice removed" in removed.output
    assert not _check(writable_data.data_dir, "alice", "correct horse battery")
    assert runner.invoke(group, ["user", "list", "--data-dir", data_dir]).output.splitlines() == ["bob"]
    again = runner.invoke(group, ["user", "remove", "alice", "--data-dir", data_dir])
    assert again.exit_code == 1 and again.output == "Error: no curator account 'alice'\n"
    nowhere = tmp_path / "nowhere"
    for args in (["list"], ["remove", "bob"]):
        result = runner.invoke(group, ["user", *args, "--data-dir", str(nowhere)])
        assert result.exit_code == 1 and f"no index in {nowhere}" in result.output, result.output
    assert not nowhere.exists()  # neither creates a store


def test_serve_defaults_and_quiet_queue_warnings(group, web_data, monkeypatch):
    import logging

    import waitress

    from web.cli import QueueDepthWarnings

    calls = {}
    _waitress(monkeypatch, calls)
    for _ in range(2):
        assert CliRunner().invoke(group, ["serve", "--data-dir", str(web_data.data_dir)]).exit_code == 0
        calls["app"].extensions["reelsearch"].close()
    assert calls["threads"] == 16 and calls["connection_limit"] >= calls["threads"]
    queue_filters = [f for f in logging.getLogger("waitress.queue").filters if isinstance(f, QueueDepthWarnings)]
    assert len(queue_filters) == 1  # installed once, however often serve runs in a process


def test_queue_depth_warnings_are_one_line_a_minute(caplog, monkeypatch):
    import logging

    from web import cli

    clock = iter([0.0, 1.0, 2.0, 30.0, 61.0])
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(clock))
    logger = logging.getLogger("reelsearch.test.queue")
    logger.addFilter(cli.QueueDepthWarnings(interval=60))
    with caplog.at_level(logging.WARNING, logger="reelsearch.test.queue"):
        for depth in range(1, 6):
            logger.warning("Task queue depth is %d", depth)
        logger.warning("something else")
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("Task queue depth is 1; all --threads are busy")
    assert lines[1].startswith("Task queue depth is 5 (3 more such warnings in the last 60 s)")
    assert lines[2:] == ["something else"]


def test_serve_migrates_an_old_index(group, writable_data, monkeypatch):
    import sqlite3

    import waitress

    from indexer.store import Store, migrations

    catalog = writable_data.data_dir / Store.CATALOG
    conn = sqlite3.connect(catalog)  # back to schema version 3, as an older reelsearch left it
    with conn:
        conn.execute("DROP TABLE word_fts")  # what migration 7 (words) adds (its triggers go with word_rows)
        conn.execute("DROP TABLE word_rows")
        conn.execute("DROP TABLE transitions")  # what migration 6 (transitions) adds
        conn.execute("ALTER TABLE cuts DROP COLUMN margin")
        for table in ("user_categories", "label_models", "learn_runs", "reviews", "sign_in_failures"):
            conn.execute(f"DROP TABLE {table}")  # what migrations 4 (sign-in) and 5 (curator learning) add
        conn.execute("ALTER TABLE users DROP COLUMN session_generation")
        for trigger in ("videos_counted", "videos_uncounted", "videos_recounted", "segments_added",
                        "segments_removed", "segments_changed"):  # and what migration 8 (summaries) adds
            conn.execute(f"DROP TRIGGER {trigger}")
        for index in ("videos_name", "videos_duration", "videos_indexed_at", "frames_sample"):
            conn.execute(f"DROP INDEX {index}")
        for table in ("counters", "label_coverage", "label_totals", "coverage_dirty"):
            conn.execute(f"DROP TABLE {table}")
        for table, column in (("videos", "name"), ("videos", "first_frame"), ("videos", "frame_count"),
                              ("frames", "sample_key")):
            conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        conn.execute("PRAGMA user_version = 3")
    conn.close()
    calls = {}
    _waitress(monkeypatch, calls)
    assert CliRunner().invoke(group, ["serve", "--data-dir", str(writable_data.data_dir)]).exit_code == 0
    client = calls["app"].test_client()
    assert client.get("/api/videos").status_code == 200
    calls["app"].extensions["reelsearch"].close()
    conn = sqlite3.connect(catalog)
    assert migrations.schema_version(conn) == migrations.SCHEMA_VERSION
    conn.close()


def _first_thumbnail(page: bytes) -> str:
    match = re.search(rb'src="(/media/(?:thumbs/\d+/\d+|posters/\d+)\.jpg)"', page)
    assert match, page[:2000]
    return match.group(1).decode()


def test_serve_with_the_default_relative_data_dir_serves_thumbnails(group, web_data, tmp_path, monkeypatch):
    """The default data dir is relative (data/index): thumbnails must come from the current folder."""
    web_data.copy_to(tmp_path / "data" / "index")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REELSEARCH_DATA_DIR", raising=False)
    monkeypatch.delenv("REELSEARCH_WEB_CONFIG", raising=False)
    calls = {}
    _waitress(monkeypatch, calls)
    result = CliRunner().invoke(group, ["serve"])
    assert result.exit_code == 0, result.output
    app = calls["app"]
    try:
        client = app.test_client()
        page = client.get("/videos")
        assert page.status_code == 200
        with client.get(_first_thumbnail(page.data)) as thumb:
            assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
            assert thumb.data[:2] == b"\xff\xd8"
        assert app.config["DATA_DIR"] == tmp_path / "data" / "index"
    finally:
        app.extensions["reelsearch"].close()


def test_serve_warns_once_about_an_index_with_random_weights(group, tmp_path, monkeypatch):
    from indexer.store import Store

    spec = {"kind": "open_clip", "name": "open_clip:ViT-B-32:0123", "dim": 512, "model": "ViT-B-32",
            "pretrained": "", "weights": None, "precision": "auto", "batch_size": 32, "seed": 0}
    with Store.open(tmp_path) as store:
        store.bind_encoder(spec["name"], spec["dim"], spec)
    _waitress(monkeypatch, {}, on_run=lambda app: app.extensions["reelsearch"].close())
    result = CliRunner().invoke(group, ["serve", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("open_clip ViT-B-32 with random weights") == 1


def test_every_serve_and_user_option_has_help(group):
    from web.cli import serve, user_add

    for command in (serve, user_add):
        for param in command.params:
            assert not isinstance(param, click.Option) or param.help, (command.name, param.name)
    assert "TCP port to listen on" in CliRunner().invoke(group, ["serve", "--help"]).output
