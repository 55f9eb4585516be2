"""The shipped teaching releases are exactly what the committed builder makes from the committed source."""

import filecmp
from pathlib import Path

from codesetlib.cli.main import main

SHIPPED = (
    Path(__file__).resolve().parents[2]
    / "codesetlib"
    / "terminology"
    / "teaching_edition"
    / "releases"
)


def differences(left: Path, right: Path) -> list[str]:
    compare = filecmp.dircmp(left, right)
    found = [str(left / n) for n in compare.left_only + compare.right_only + compare.diff_files]
    for name in compare.common_dirs:
        found += differences(left / name, right / name)
    return found


def test_the_shipped_releases_are_rebuilt_byte_for_byte(tmp_path: Path):
    assert main(["teaching-edition", str(tmp_path)]) == 0
    assert differences(tmp_path, SHIPPED) == []
