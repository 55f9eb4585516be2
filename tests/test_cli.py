"""The `codeset` command as a user runs it: exit codes and one-line errors, no tracebacks."""

import subprocess
import sys
from pathlib import Path

from tests.conftest import write_codeset


def codeset(*args: str, cwd: Path, env_path: Path | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ)
    if env_path is not None:
        env["CODESET_TERMINOLOGY_PATH"] = str(env_path)
    return subprocess.run(
        [sys.executable, "-m", "codesetlib.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_an_unknown_codeset_is_one_line_and_exit_2(tmp_path: Path):
    write_codeset(tmp_path / "codesets")
    result = codeset("show", "nope", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "codeset: error: no codeset 'nope' (expected codesets/nope/codeset.yaml; available: cancer)"
    ]
    assert "Traceback" not in result.stderr


def test_show_expand_and_check(tmp_path: Path, release_root: Path):
    write_codeset(tmp_path / "codesets")
    shown = codeset("show", "cancer", cwd=tmp_path, env_path=release_root)
    assert shown.returncode == 0
    assert "R2: exclude 128462008 |Secondary malignant neoplastic disease|" in shown.stdout
    check = codeset("check", "cancer", cwd=tmp_path, env_path=release_root)
    assert check.returncode == 2 and "codes.csv: file not found" in check.stderr
    wrote = codeset("expand", "--write", "cancer", cwd=tmp_path, env_path=release_root)
    assert wrote.returncode == 0, wrote.stderr
    assert codeset("check", "cancer", cwd=tmp_path, env_path=release_root).returncode == 0


def test_check_fails_with_findings_when_codes_drift(tmp_path: Path, release_root: Path):
    folder = write_codeset(tmp_path / "codesets")
    codeset("expand", "--write", "cancer", cwd=tmp_path, env_path=release_root)
    codes = folder / "codes.csv"
    codes.write_text("".join(codes.read_text().splitlines(keepends=True)[:-1]))
    result = codeset("check", "cancer", cwd=tmp_path, env_path=release_root)
    assert result.returncode == 1
    assert (
        "codes.csv lacks 399068003 |Malignant tumor of prostate| that rule R1 gives"
        in result.stdout
    )


def test_a_bad_synth_parameter_is_one_line(tmp_path: Path):
    result = codeset("synth", "--patients", "0", "--out", "d", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("codeset: error: patients: Input should be greater than")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "d").exists()


def test_lint_of_a_folder_glob_skips_files_and_says_so(tmp_path: Path, release_root: Path):
    folder = write_codeset(tmp_path / "codesets")
    codeset("expand", "--write", "cancer", cwd=tmp_path, env_path=release_root)
    (tmp_path / "codesets" / "README.md").write_text("about")
    result = codeset(
        "lint",
        str(folder),
        str(tmp_path / "codesets" / "README.md"),
        cwd=tmp_path,
        env_path=release_root,
    )
    assert "skipped" in result.stderr and "README.md" in result.stderr
    assert "1 codeset(s)" in result.stdout


def test_printing_a_record_not_yet_built_is_one_line_and_exit_2(tmp_path: Path):
    result = codeset("pdf", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"codeset: error: {tmp_path}: the record's pages have not been generated; build the book "
        "first (`make book`)"
    ]


def test_no_module_but_the_cli_chooses_an_exit_code_or_prints_an_error():
    """The kit's errors become one line and an exit code in one place, `codesetlib/cli/main.py`."""
    package = Path(__file__).resolve().parents[1] / "codesetlib"
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.parent.name == "cli":
            continue
        text = path.read_text(encoding="utf-8")
        for marker in ("sys.exit(", "SystemExit", "parser.exit(", "codeset: error:", "__main__"):
            if marker in text:
                found.append(f"{path.relative_to(package)}: {marker}")
    assert found == []
