"""User-named files: the one bounded read of the text a user points devflow at (config file,
stdin, eval-routing)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from devflow_tui.filekinds import UnreadableText, read_user_text


def problem(source: Path | io.BytesIO, limit: int = 10, encoding: str = "utf-8") -> str:
    with pytest.raises(UnreadableText) as caught:
        read_user_text(source, limit, encoding=encoding)
    return caught.value.problem


def test_the_limit_is_inclusive_for_files_and_streams(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"x" * 10)
    assert read_user_text(path, 10) == "x" * 10
    assert read_user_text(io.BytesIO(b"y" * 10), 10) == "y" * 10
    path.write_bytes(b"x" * 11)
    assert problem(path) == "too large"
    assert problem(io.BytesIO(b"y" * 11)) == "too large"


def test_what_cannot_be_read_says_why(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # reading it would block until a writer came: refused before opening
    with pytest.raises(UnreadableText) as caught:
        read_user_text(fifo, 10)
    assert (caught.value.problem, caught.value.detail) == ("not a file", "a named pipe (FIFO)")
    assert problem(Path("/dev/zero")) == "not a file"  # a device never ends
    assert problem(tmp_path) == "not a file"
    assert problem(tmp_path / "absent") == "missing"
    (tmp_path / "plain").write_text("")
    with pytest.raises(UnreadableText) as caught:
        read_user_text(tmp_path / "plain" / "below", 10)
    assert (caught.value.problem, caught.value.detail) == ("unreadable", "Not a directory")


def test_text_must_be_utf8_and_a_bom_is_dropped_on_request(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"ok \xff")
    with pytest.raises(UnreadableText) as caught:
        read_user_text(path, 10)
    assert (caught.value.problem, caught.value.detail) == ("not UTF-8", "3")
    path.write_bytes("\ufeffciao".encode())
    assert read_user_text(path, 10) == "\ufeffciao"
    assert read_user_text(path, 10, encoding="utf-8-sig") == "ciao"
    assert read_user_text(io.StringIO("già decodificato"), 100) == "già decodificato"
