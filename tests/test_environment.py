"""environment.yml (for conda users) lists the same dependencies as pyproject.toml."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _normalise(name: str) -> str:
    """A package name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(requirements: list[str]) -> dict[str, str]:
    out = {}
    for req in requirements:
        match = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)$", req)
        out[_normalise(match.group(1))] = match.group(3).replace(" ", "")
    return out


def test_environment_yml_agrees_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _names(
        project["dependencies"]
        + [d for extra in project["optional-dependencies"].values() for d in extra]
    )
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = _names(
        [
            d
            for d in env["dependencies"]
            if isinstance(d, str) and not d.startswith(("python=", "pip"))
        ]
    )
    listed.pop("nodejs", None)
    listed.pop("openjdk", None)
    assert listed == wanted


def test_every_dependency_is_pinned_in_the_constraints():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = {
        _normalise(line.split("==")[0])
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    names = _names(
        project["dependencies"]
        + [d for extra in project["optional-dependencies"].values() for d in extra]
    )
    assert set(names) - pinned == set()
