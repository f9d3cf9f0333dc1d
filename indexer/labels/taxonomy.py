"""Category taxonomy: what labels exist, how CLIP is asked about them, and where they nest.

A taxonomy is read from a TOML file (layout documented at the top of ``data/taxonomy.toml``):
top-level ``threshold`` and ``background`` prompts, then one ``[[category]]`` table per category
with ``id`` (``"sports/football"``; the part before the last ``/`` names the parent, which must be
defined too), ``prompts`` and optional ``name``, ``negatives``, ``threshold``, ``restricted`` and
``description``, and ``disclaimer``: text that must be on screen or spoken while the category is
(``"drink responsibly"``; answered by ``reelsearch report --label``). ``restricted`` and
``disclaimer`` are inherited by children (a child may name its own disclaimer). Any problem raises
:class:`~indexer.errors.TaxonomyError` whose message is ``FILE:LINE: problem``.
"""

from __future__ import annotations

import logging
import re
import site
import sys
import sysconfig
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.errors import NotFoundError, TaxonomyError
from indexer.labels.names import match_key

log = logging.getLogger(__name__)

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$")
_ID_RULE = "must be lowercase words [a-z0-9_-] joined by '/'"
_TOP_KEYS = {"version", "threshold", "background", "category"}
_CATEGORY_KEYS = {"id", "name", "prompts", "negatives", "threshold", "restricted", "description", "disclaimer"}
_DATA_FILE = Path("share") / "reelsearch" / "taxonomy.toml"  # pyproject installs it there
_REPO_FILE = Path(__file__).resolve().parents[2] / "data" / "taxonomy.toml"  # source checkout / -e


def _check_threshold(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"{what} must be a number strictly between 0 and 1, got {value!r}")


def _check_prompts(value: object, what: str, *, empty_ok: bool) -> None:
    if not isinstance(value, tuple) or not all(isinstance(p, str) and p.strip() for p in value):
        raise ValueError(f"{what} must be a list of non-empty strings")
    if not value and not empty_ok:
        raise ValueError(f"{what} must not be empty")


@dataclass(frozen=True)
class Category:
    """One label of the taxonomy; ``parent`` is the id before the last ``/`` (or None)."""

    id: str
    name: str
    parent: str | None
    prompts: tuple[str, ...]
    negatives: tuple[str, ...]
    threshold: float | None
    restricted: bool
    description: str = ""
    disclaimer: str = ""  # text required on screen or spoken while the category is (inherited)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID_RE.match(self.id):
            raise ValueError(f"category id {self.id!r} {_ID_RULE}")
        expected_parent = self.id.rpartition("/")[0] or None
        if self.parent != expected_parent:
            raise ValueError(f"category {self.id!r} must have parent {expected_parent!r}, got {self.parent!r}")
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"category {self.id!r}: name must be a non-empty string")
        _check_prompts(self.prompts, f"category {self.id!r}: prompts", empty_ok=False)
        _check_prompts(self.negatives, f"category {self.id!r}: negatives", empty_ok=True)
        if self.threshold is not None:
            _check_threshold(self.threshold, f"category {self.id!r}: threshold")
        if not isinstance(self.restricted, bool):
            raise ValueError(f"category {self.id!r}: restricted must be true or false")
        if not isinstance(self.disclaimer, str) or len(self.disclaimer) > 200:
            raise ValueError(f"category {self.id!r}: disclaimer must be a string of at most 200 characters")


@dataclass(frozen=True)
class Taxonomy:
    """All categories (parents before children), shared background prompts, default threshold."""

    categories: tuple[Category, ...]
    background: tuple[str, ...]
    threshold: float
    source: Path

    def __post_init__(self) -> None:
        _check_threshold(self.threshold, "taxonomy threshold")
        _check_prompts(self.background, "background", empty_ok=False)
        seen: set[str] = set()
        for cat in self.categories:
            if cat.id in seen:
                raise ValueError(f"duplicate category id {cat.id!r}")
            if cat.parent is not None and cat.parent not in seen:
                raise ValueError(f"category {cat.id!r}: parent {cat.parent!r} is not defined before it")
            seen.add(cat.id)

    def __len__(self) -> int:
        return len(self.categories)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.categories)

    def get(self, id: str) -> Category:
        """Return the category ``id``; raises NotFoundError if there is none."""
        for cat in self.categories:
            if cat.id == id:
                return cat
        raise NotFoundError(f"unknown category {id!r} in {self.source}")

    def find(self, text: str) -> Category | None:
        """Category whose id, name or last id component matches ``text`` (case, '-' and '_'
        and invisible characters ignored; see :meth:`matches`); an ambiguous text gives None."""
        hits = self.matches(text)
        if len(hits) > 1:
            log.warning("%r matches several categories (%s); give the full id",
                        text, ", ".join(c.id for c in hits))
            return None
        return hits[0] if hits else None

    def matches(self, text: str) -> tuple[Category, ...]:
        """Categories ``text`` names: by id, else by display name, else by last id component
        (compared with :func:`indexer.labels.names.match_key`: case, '-', '_' and invisible
        characters ignored). More than one means the text is ambiguous."""
        key = match_key(text)
        for part in (lambda c: c.id, lambda c: c.name, lambda c: c.id.rpartition("/")[2]):
            hits = tuple(c for c in self.categories if match_key(part(c)) == key)
            if hits:
                return hits
        return ()

    def children(self, id: str) -> tuple[Category, ...]:
        """Direct children of ``id``; raises NotFoundError for an unknown id."""
        self.get(id)
        return tuple(c for c in self.categories if c.parent == id)

    def descendants(self, id: str) -> tuple[str, ...]:
        """``id`` itself followed by the ids of all its children, grandchildren, ...

        Raises NotFoundError for an unknown id.
        """
        self.get(id)
        return tuple(c.id for c in self.categories if c.id == id or c.id.startswith(id + "/"))

    def roots(self) -> tuple[Category, ...]:
        """Categories without a parent, in file order."""
        return tuple(c for c in self.categories if c.parent is None)


# ----------------------------------------------------------------------------- loading


def default_taxonomy_path() -> Path:
    """The bundled taxonomy: the repo's data/taxonomy.toml, else the installed data-file.

    Raises TaxonomyError if neither exists.
    """
    candidates = [_REPO_FILE]
    for prefix in (sysconfig.get_path("data"), sys.prefix, site.getuserbase()):
        candidates.append(Path(prefix) / _DATA_FILE)
    for path in candidates:
        if path.is_file():
            return path
    raise TaxonomyError(f"default taxonomy not found (looked in {', '.join(map(str, candidates))}); "
                        "reinstall reelsearch or pass --taxonomy FILE")


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read and validate a taxonomy file (None: the bundled default).

    Raises TaxonomyError (``FILE:LINE: problem``) for a missing/unreadable file, a TOML syntax
    error or a semantic error (missing id/prompts, duplicate id, undefined parent, unknown key,
    threshold outside (0, 1), wrong type).
    """
    path = default_taxonomy_path() if path is None else Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TaxonomyError(f"{path}: taxonomy file does not exist") from None
    except UnicodeDecodeError as exc:
        raise TaxonomyError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise TaxonomyError(f"{path}: cannot read taxonomy file ({exc.strerror or exc})") from None
    taxonomy = parse_taxonomy(text, path)
    log.debug("loaded %d categories from %s", len(taxonomy), path)
    return taxonomy


def parse_taxonomy(text: str, source: Path) -> Taxonomy:
    """Parse taxonomy TOML ``text``; ``source`` names it in errors. Raises TaxonomyError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(match.group(1)) if match else text.count("\n") + 1
        problem = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        col = f" at column {match.group(2)}" if match else " at end of file"
        if problem.startswith("Unclosed") and (match is None or match.group(2) == "1"):
            line, col = _last_content_line(text, line), ""
        raise TaxonomyError(f"{source}:{line}: TOML syntax error{col}: {problem}") from None
    return _Builder(text, source).build(data)


def _last_content_line(text: str, before: int) -> int:
    """The last line before line ``before`` that holds more than blanks or a comment.

    tomllib notices an unclosed array or inline table only at the next token, often lines
    later; the missing bracket belongs at the end of the last line with content.
    """
    lines = text.splitlines()
    for number in range(min(before - 1, len(lines)), 0, -1):
        stripped = lines[number - 1].strip()
        if stripped and not stripped.startswith("#"):
            return number
    return before


class _Builder:
    """Turns parsed TOML into a Taxonomy, locating the line of every problem in ``text``."""

    def __init__(self, text: str, source: Path) -> None:
        self.source = source
        self.lines = text.splitlines()
        self.headers = [n for n, line in enumerate(self.lines, 1)
                        if re.match(r"^\s*\[\[\s*category\s*\]\]", line)]

    def fail(self, line: int, problem: str) -> TaxonomyError:
        return TaxonomyError(f"{self.source}:{line}: {problem}")

    def key_line(self, key: str, index: int | None = None) -> int:
        """Line of ``key = ...`` in category ``index`` (None: the top level), else its header."""
        if index is None:
            start, stop, fallback = 1, (self.headers[0] if self.headers else len(self.lines) + 1), 1
        elif index < len(self.headers):
            start = fallback = self.headers[index]
            stop = self.headers[index + 1] if index + 1 < len(self.headers) else len(self.lines) + 1
        else:  # inline tables: no header to anchor on
            return next((n for n, line in enumerate(self.lines, 1)
                         if re.match(r"^\s*category\s*=", line)), 1)
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for n in range(start, stop):
            if pattern.match(self.lines[n - 1]):
                return n
        return fallback

    def build(self, data: dict[str, Any]) -> Taxonomy:
        threshold, background = self.top_level(data)
        tables = data.get("category", [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            line = next((n for n, text in enumerate(self.lines, 1)
                         if re.match(r"^\s*(\[\s*category\b|category\s*=)", text)), 1)
            raise self.fail(line, "categories must be [[category]] tables (an array of tables)")
        if not tables:
            raise self.fail(1, "no categories defined (add [[category]] tables)")
        return Taxonomy(categories=self.categories(tables), background=background,
                        threshold=threshold, source=self.source)

    def top_level(self, data: dict[str, Any]) -> tuple[float, tuple[str, ...]]:
        """Validate the keys before the first [[category]]; returns (threshold, background)."""
        for key in data:
            if key not in _TOP_KEYS:
                raise self.fail(self.key_line(key), f"unknown top-level key {key!r} "
                                f"(allowed: {', '.join(sorted(_TOP_KEYS))})")
        if data.get("version", 1) != 1:
            raise self.fail(self.key_line("version"),
                            f"unsupported taxonomy version {data['version']!r} (expected 1)")
        threshold = data.get("threshold", 0.5)
        try:
            _check_threshold(threshold, "threshold")
        except ValueError as exc:
            raise self.fail(self.key_line("threshold"), str(exc)) from None
        background = data.get("background")
        if background is None:
            raise self.fail(1, "missing top-level 'background' (generic prompts such as \"a photo\")")
        try:
            _check_prompts(_as_tuple(background), "background", empty_ok=False)
        except ValueError as exc:
            raise self.fail(self.key_line("background"), str(exc)) from None
        return float(threshold), tuple(background)

    def categories(self, tables: list[dict[str, Any]]) -> tuple[Category, ...]:
        seen: dict[str, Category] = {}
        for index, table in enumerate(tables):
            cat = self.category(index, table, seen)
            seen[cat.id] = cat
        return tuple(seen.values())

    def category(self, index: int, table: dict[str, Any], seen: dict[str, Category]) -> Category:
        """Validate one [[category]] table; ``seen`` holds the categories defined before it."""
        where = f"category #{index + 1}"
        for key in table:
            if key not in _CATEGORY_KEYS:
                hint = (" (top-level keys must come before the first [[category]])" if key in _TOP_KEYS
                        else f" (allowed: {', '.join(sorted(_CATEGORY_KEYS))})")
                raise self.fail(self.key_line(key, index), f"{where}: unknown key {key!r}{hint}")
        cid = table.get("id")
        if not isinstance(cid, str) or not _ID_RE.match(cid):
            problem = "missing 'id'" if cid is None else f"id {cid!r} {_ID_RULE}"
            raise self.fail(self.key_line("id", index), f"{where}: {problem}")
        where = f"category {cid!r}"
        if cid in seen:
            raise self.fail(self.key_line("id", index), f"duplicate category id {cid!r}")
        parent = cid.rpartition("/")[0] or None
        if parent is not None and parent not in seen:
            raise self.fail(self.key_line("id", index), f"{where}: parent {parent!r} is not defined "
                            "(define it in an earlier [[category]] table)")
        if "prompts" not in table:
            raise self.fail(self.key_line("id", index), f"{where}: missing 'prompts'")
        fields = {"id": cid, "parent": parent,
                  "name": table.get("name", re.sub(r"[-_]", " ", cid.rpartition("/")[2]).capitalize()),
                  "prompts": _as_tuple(table["prompts"]), "negatives": _as_tuple(table.get("negatives", [])),
                  "threshold": table.get("threshold"),
                  "restricted": table.get("restricted", False), "description": table.get("description", ""),
                  "disclaimer": table.get("disclaimer", seen[parent].disclaimer if parent is not None else "")}
        if isinstance(fields["restricted"], bool) and parent is not None and seen[parent].restricted:
            fields["restricted"] = True
        try:
            if not isinstance(fields["description"], str):
                raise ValueError(f"{where}: description must be a string")
            return Category(**fields)
        except ValueError as exc:
            key = next((k for k in _CATEGORY_KEYS if f"': {k} " in str(exc)), "id")
            raise self.fail(self.key_line(key, index), str(exc)) from None


def _as_tuple(value: object) -> Any:
    """Lists become tuples (for validation); anything else is passed on to fail validation."""
    return tuple(value) if isinstance(value, list) else value
