"""The README names the Node.js and npm versions the locked book scripts need, no more and no less."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lowest_major(range_: str) -> int:
    """The lowest major version a semver range such as '^10 || >=15.0.1' accepts ('*' accepts any)."""
    return min(
        int((re.findall(r"\d+", alternative) or [0])[0]) for alternative in range_.split("||")
    )


def needed(engine: str) -> int:
    """The highest of the minimum majors that the locked packages declare for `engine`."""
    packages = json.loads((ROOT / "package-lock.json").read_text())["packages"].values()
    return max(
        lowest_major(p["engines"][engine]) for p in packages if engine in p.get("engines", {})
    )


def test_readme_states_the_node_and_npm_the_lock_file_needs():
    readme = re.sub(r"\s+", " ", (ROOT / "README.md").read_text())
    stated = re.search(r"Node\.js (\d+) or later with npm (\d+) or later", readme)
    assert stated, "README.md names no Node.js and npm versions"
    assert (int(stated[1]), int(stated[2])) == (needed("node"), needed("npm"))


def test_the_range_reader_takes_the_lowest_alternative():
    assert lowest_major("^10 || ^12 || ^13.7 || ^14 || >=15.0.1") == 10
    assert lowest_major(">= 4") == 4
    assert lowest_major("*") == 0
