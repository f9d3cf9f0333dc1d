"""Packaging: pyproject declares compatible ranges, constraints.txt pins the tested pair, and
.ci/run runs exactly README's test command (which installs with those constraints)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
PINNED = ("torch", "torchvision")


def _dependencies() -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {r.name: r for r in map(Requirement, project["dependencies"])}


def _constraints() -> dict[str, Version]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip()] = Version(version.strip())
    return pins


def test_torch_is_declared_as_a_range_not_a_pin():
    deps = _dependencies()
    for name in PINNED:
        operators = {spec.operator for spec in deps[name].specifier}
        assert "==" not in operators and "===" not in operators, deps[name]
        assert {">=", "<"} <= operators, deps[name]


def test_constraints_pin_a_pair_inside_the_declared_ranges():
    deps, pins = _dependencies(), _constraints()
    assert set(PINNED) <= set(pins)
    for name in PINNED:
        assert deps[name].specifier.contains(pins[name]), (name, pins[name], deps[name])


def test_ci_runs_exactly_the_readme_test_command_with_the_constraints():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"# 2\. Install, then run the tests[^\n]*\n([^\n]+)\n", readme)
    assert block, "README lost its test command"
    command = block.group(1).strip()
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert ci_lines[-1] == command
    assert "pip install -q -c constraints.txt -e '.[test]'" in command
