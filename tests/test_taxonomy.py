"""Tests for indexer.labels.taxonomy: the bundled taxonomy and errors that name file:line for bad files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import indexer.labels.taxonomy as taxonomy_module
from indexer.errors import NotFoundError, TaxonomyError
from indexer.labels.taxonomy import Category, Taxonomy, load_taxonomy

GOOD = """\
threshold = 0.5
background = ["a photo", "a person"]

[[category]]
id = "sports"
prompts = ["a photo of sports"]

[[category]]
id = "sports/football"
name = "Football"
prompts = ["a football match", "a soccer ball"]
negatives = ["american football"]
threshold = 0.6
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "taxonomy.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(path)
    return str(info.value)


# ----------------------------------------------------------------------------- bundled taxonomy


@pytest.fixture(scope="module")
def default() -> Taxonomy:
    return load_taxonomy()


def test_default_taxonomy_is_rich_enough(default: Taxonomy) -> None:
    assert len(default) >= 25
    assert all(len(c.prompts) >= 2 for c in default.categories), "every category needs several prompts"
    assert 0 < default.threshold < 1
    assert "a photo" in default.background and "text on a screen" in default.background
    assert len(set(default.ids)) == len(default.ids)


def test_default_taxonomy_has_ad_staples(default: Taxonomy) -> None:
    for text in ["car", "beer", "wine", "soft drinks", "seaside", "construction site", "shipyard and port",
                 "city street", "nature", "football", "kitchen", "office", "mobile phones", "pets",
                 "toys", "concert", "night", "packshot", "logo", "bank", "airplanes and airports"]:
        assert default.find(text) is not None, text


def test_default_hierarchy(default: Taxonomy) -> None:
    football = default.get("sports/football")
    assert football.parent == "sports"
    assert default.get("sports").parent is None
    assert "sports/football" in [c.id for c in default.children("sports")]
    assert default.descendants("sports")[0] == "sports"
    assert set(default.descendants("alcohol")) >= {"alcohol", "alcohol/beer", "alcohol/wine"}
    roots = {c.id for c in default.roots()}
    assert "sports" in roots and "sports/football" not in roots
    assert all(c.parent is None or c.parent in default.ids for c in default.categories)


def test_restricted_flags(default: Taxonomy) -> None:
    for cid in ("alcohol", "alcohol/beer", "alcohol/wine", "tobacco", "weapons", "gambling"):
        assert default.get(cid).restricted, cid
    assert not default.get("drinks/soft-drinks").restricted
    assert not default.get("vehicles/car").restricted


def test_construction_site_has_port_negatives(default: Taxonomy) -> None:
    site = default.find("construction site")
    assert site is not None and site.id == "places/construction-site"
    assert any("shipyard" in n for n in site.negatives)
    assert any("port" in n for n in site.negatives)
    port = default.get("places/port")
    assert any("construction site" in n for n in port.negatives)
    assert sum(1 for c in default.categories if c.negatives) >= 10


def test_find_and_get(default: Taxonomy) -> None:
    assert default.find("SPORTS/FOOTBALL").id == "sports/football"
    assert default.find("football").id == "sports/football"
    assert default.find("Construction_Site").id == "places/construction-site"
    assert default.find("a purple elephant on a bicycle") is None
    with pytest.raises(NotFoundError):
        default.get("no/such")
    with pytest.raises(NotFoundError):
        default.descendants("no/such")


def test_default_path_falls_back_to_installed_data_file(tmp_path: Path, monkeypatch) -> None:
    installed = tmp_path / "share" / "reelsearch" / "taxonomy.toml"
    installed.parent.mkdir(parents=True)
    installed.write_text(GOOD, encoding="utf-8")
    monkeypatch.setattr(taxonomy_module, "_REPO_FILE", tmp_path / "missing.toml")
    monkeypatch.setattr(taxonomy_module.sysconfig, "get_path", lambda name, *a, **k: str(tmp_path))
    taxonomy = load_taxonomy()
    assert taxonomy.source == installed
    assert taxonomy.ids == ("sports", "sports/football")


# ----------------------------------------------------------------------------- user files


def test_user_file_loads(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(write(tmp_path, GOOD))
    football = taxonomy.get("sports/football")
    assert football == Category(id="sports/football", name="Football", parent="sports",
                                prompts=("a football match", "a soccer ball"),
                                negatives=("american football",), threshold=0.6, restricted=False)
    assert taxonomy.get("sports").name == "Sports"  # default name from the id
    assert taxonomy.background == ("a photo", "a person")


def test_restricted_is_inherited(tmp_path: Path) -> None:
    text = GOOD.replace('id = "sports"\n', 'id = "sports"\nrestricted = true\n')
    assert load_taxonomy(write(tmp_path, text)).get("sports/football").restricted


def test_disclaimer_is_inherited_and_checked(tmp_path: Path, default: Taxonomy) -> None:
    text = GOOD.replace('id = "sports"\n', 'id = "sports"\ndisclaimer = "play fair"\n')
    assert load_taxonomy(write(tmp_path, text)).get("sports/football").disclaimer == "play fair"
    assert default.get("alcohol/beer").disclaimer == "drink responsibly"
    assert "disclaimer must be a string" in error_of(tmp_path, GOOD.replace('id = "sports"\n', 'id = "sports"\ndisclaimer = 3\n'))


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="nope.toml"):
        load_taxonomy(tmp_path / "nope.toml")


def test_syntax_error_names_line(tmp_path: Path) -> None:
    text = GOOD.replace('prompts = ["a football match", "a soccer ball"]', 'prompts = ["a football match",, ]')
    message = error_of(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'taxonomy.toml'}:11:"), message
    assert "syntax" in message


def test_duplicate_id_names_second_line(tmp_path: Path) -> None:
    text = GOOD + '\n[[category]]\nid = "sports"\nprompts = ["again"]\n'
    message = error_of(tmp_path, text)
    assert ":16:" in message and "duplicate" in message and "'sports'" in message


def test_unknown_parent_names_line(tmp_path: Path) -> None:
    text = GOOD + '\n[[category]]\nid = "music/concert"\nprompts = ["a concert"]\n'
    message = error_of(tmp_path, text)
    assert ":16:" in message and "parent 'music' is not defined" in message


def test_missing_prompts_names_line(tmp_path: Path) -> None:
    text = GOOD + '\n[[category]]\nid = "sports/tennis"\n'
    message = error_of(tmp_path, text)
    assert ":16:" in message and "missing 'prompts'" in message


def test_missing_id_names_table(tmp_path: Path) -> None:
    text = GOOD + '\n[[category]]\nprompts = ["x"]\n'
    message = error_of(tmp_path, text)
    assert ":15:" in message and "missing 'id'" in message


def test_unknown_key_names_line(tmp_path: Path) -> None:
    text = GOOD.replace('name = "Football"', 'nmae = "Football"')
    message = error_of(tmp_path, text)
    assert ":10:" in message and "unknown key 'nmae'" in message


def test_threshold_out_of_range_names_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace("threshold = 0.6", "threshold = 1.5"))
    assert ":13:" in message and "threshold" in message and "between 0 and 1" in message
    message = error_of(tmp_path, GOOD.replace("threshold = 0.5", "threshold = 0"))
    assert ":1:" in message


def test_wrong_type_names_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace('prompts = ["a photo of sports"]', 'prompts = "a photo of sports"'))
    assert ":6:" in message and "prompts must be a list" in message
    message = error_of(tmp_path, GOOD.replace('threshold = 0.6', 'threshold = 0.6\nrestricted = "yes"'))
    assert ":14:" in message and "restricted" in message


def test_bad_id_and_unknown_top_key(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace('id = "sports/football"', 'id = "Sports/Football"'))
    assert ":9:" in message and "lowercase" in message
    message = error_of(tmp_path, "thresold = 0.4\n" + GOOD)
    assert ":1:" in message and "unknown top-level key 'thresold'" in message


def test_misplaced_tables_and_keys(tmp_path: Path) -> None:
    message = error_of(tmp_path, 'background = ["a photo"]\n\n[category]\nid = "a"\nprompts = ["a"]\n')
    assert ":3:" in message and "[[category]]" in message
    message = error_of(tmp_path, GOOD + 'background = ["a photo"]\n')
    assert ":14:" in message and "before the first [[category]]" in message
    assert "version" in error_of(tmp_path, "version = 2\n" + GOOD)


def test_missing_background_and_categories(tmp_path: Path) -> None:
    assert "background" in error_of(tmp_path, 'threshold = 0.5\n[[category]]\nid = "a"\nprompts = ["a"]\n')
    assert "no categories" in error_of(tmp_path, 'background = ["a photo"]\n')


def test_dataclasses_validate() -> None:
    with pytest.raises(ValueError):
        Category(id="a/b", name="B", parent=None, prompts=("b",), negatives=(), threshold=None, restricted=False)
    with pytest.raises(ValueError):
        Category(id="a", name="A", parent=None, prompts=(), negatives=(), threshold=None, restricted=False)
    cat = Category(id="a", name="A", parent=None, prompts=("a",), negatives=(), threshold=None, restricted=False)
    with pytest.raises(ValueError, match="duplicate"):
        Taxonomy(categories=(cat, cat), background=("a photo",), threshold=0.5, source=Path("x"))


@pytest.mark.parametrize("after", ["", "\n# a comment\n\n", 'name = "Beer"\n'])
def test_unclosed_array_names_its_own_line(tmp_path: Path, after: str) -> None:
    """tomllib notices the missing ']' at the next token; the error names the line that lacks it."""
    text = ('version = 1\nbackground = ["a photo"]\n\n[[category]]\nid = "beer"\n# prompts:\n'
            'prompts = ["a glass of beer", "a beer bottle"\n' + after)
    message = error_of(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'taxonomy.toml'}:7:"), message
    assert "Unclosed array" in message
