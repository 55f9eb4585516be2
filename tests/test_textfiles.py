"""Reading a user's file: every way it can fail is one error naming the file (and line and byte)."""

from pathlib import Path

import pytest

from codesetlib.core.errors import CodesetFormatError, file_problem
from codesetlib.core.textfiles import read_text, text_lines


def test_bytes_that_are_not_utf8_are_named_by_line_and_offset(tmp_path: Path):
    path = tmp_path / "in.csv"
    path.write_bytes(b"code,term\n1,caf\xe9\n")
    with pytest.raises(CodesetFormatError) as raised:
        read_text(path, CodesetFormatError)
    assert raised.value.line == 2
    assert "byte 0xe9 at byte offset 15" in raised.value.message
    with pytest.raises(CodesetFormatError, match="byte offset 15") as raised:
        list(text_lines(path, CodesetFormatError))
    assert raised.value.line == 2


def test_a_byte_order_mark_is_dropped_and_counted(tmp_path: Path):
    path = tmp_path / "in.csv"
    path.write_bytes(b"\xef\xbb\xbfcode\n\xff\n")
    with pytest.raises(CodesetFormatError, match="byte 0xff at byte offset 8"):
        read_text(path, CodesetFormatError)
    path.write_bytes(b"\xef\xbb\xbfcode\n")
    assert read_text(path, CodesetFormatError) == "code\n"
    assert list(text_lines(path, CodesetFormatError)) == ["code\n"]


def test_a_file_over_the_limit_is_refused_before_it_is_read_whole(tmp_path: Path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"x" * 101)
    with pytest.raises(CodesetFormatError, match="larger than 100 bytes"):
        read_text(path, CodesetFormatError, limit=100)


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (FileNotFoundError(2, "No such file or directory"), "file not found"),
        (IsADirectoryError(21, "Is a directory"), "is a folder, not a file"),
        (NotADirectoryError(20, "Not a directory"), "a folder on its path is a file"),
        (PermissionError(13, "Permission denied"), "permission denied"),
        (OSError(40, "Too many levels of symbolic links"), "cannot be read (Too many levels"),
    ],
)
def test_why_a_file_cannot_be_read_is_said_in_words(error: OSError, said: str):
    assert file_problem(error).startswith(said)


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (FileNotFoundError(2, "No such file or directory"), "cannot write: file not found"),
        (IsADirectoryError(21, "Is a directory"), "cannot write: is a folder, not a file"),
        (PermissionError(13, "Permission denied"), "cannot write: permission denied"),
        (OSError(28, "No space left on device"), "cannot write: no space left on device"),
    ],
)
def test_why_a_file_cannot_be_written_is_said_in_the_same_words(error: OSError, said: str):
    assert file_problem(error, writing=True) == said


def test_a_missing_folder_or_file_is_one_error(tmp_path: Path):
    with pytest.raises(CodesetFormatError, match="file not found"):
        read_text(tmp_path / "nope.csv", CodesetFormatError)
    with pytest.raises(CodesetFormatError, match="is a folder"):
        read_text(tmp_path, CodesetFormatError)
    with pytest.raises(CodesetFormatError, match="is a folder"):
        list(text_lines(tmp_path, CodesetFormatError))
