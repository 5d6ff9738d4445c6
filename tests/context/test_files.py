"""Files as context: paths, globs, directories with .gitignore, refusals, @mentions."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from devflow_tui.context.errors import ContextError
from devflow_tui.context.files import extract_mentions, file_sources


def _tree(base: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    base = tmp_path / "repo"
    (base / ".git").mkdir(parents=True)
    _tree(
        base,
        {
            ".gitignore": "build/\n*.log\n!keep.log\n",
            "src/app.py": "print('app')\n",
            "src/util.py": "X = 1",
            "src/.gitignore": "generated.py\n",
            "src/generated.py": "# generated\n",
            "src/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00",
            "src/latin1.txt": "caf\xe9".encode("latin-1"),
            "build/out.py": "print('built')\n",
            "debug.log": "noise\n",
            "keep.log": "kept\n",
            ".git/config": "[core]\n",
            "README.md": "# Readme\n",
        },
    )
    return base


def test_directory_walk_respects_gitignore_and_records_refusals(repo: Path) -> None:
    sources = file_sources(["."], repo)
    read = {s.ref: s for s in sources if s.refused is None}
    refused = {s.ref: s.refused for s in sources if s.refused is not None}
    assert sorted(read) == [
        "file:.gitignore",
        "file:README.md",
        "file:keep.log",
        "file:src/.gitignore",
        "file:src/app.py",
        "file:src/util.py",
    ]
    assert refused == {
        "file:src/latin1.txt": "binary or not UTF-8 text",
        "file:src/logo.png": "binary (contains NUL bytes)",
    }
    app = read["file:src/app.py"]
    assert (app.name, app.kind, app.content) == (
        "file src/app.py (1 lines)",
        "file",
        "print('app')\n",
    )
    assert read["file:src/util.py"].name == "file src/util.py (1 lines)"
    assert app.tokens > 0 and app.path == repo / "src" / "app.py"


def test_globs_are_filtered_by_gitignore(repo: Path) -> None:
    sources = file_sources(["**/*.py"], repo)
    assert [s.ref for s in sources] == ["file:src/app.py", "file:src/util.py"]
    with pytest.raises(ContextError, match=r"no files match '\*\*/\*.rs'"):
        file_sources(["**/*.rs"], repo)


def test_explicit_files_are_read_even_when_ignored_but_refused_loudly(repo: Path) -> None:
    [built] = file_sources(["build/out.py"], repo)
    assert built.content == "print('built')\n"
    with pytest.raises(ContextError, match=r"cannot use src/logo.png as context: binary"):
        file_sources(["src/logo.png"], repo)
    with pytest.raises(ContextError, match=r"no such file or directory: nope\.py"):
        file_sources(["nope.py"], repo)
    # Each refusal's fix fits its cause: a Latin-1 file is text to convert.
    with pytest.raises(ContextError) as latin:
        file_sources(["src/latin1.txt"], repo)
    assert latin.value.hint is not None and "convert it to UTF-8 (e.g. iconv" in latin.value.hint


def test_ignored_or_empty_directory_is_an_error(repo: Path) -> None:
    with pytest.raises(ContextError, match="no files to read in build"):
        file_sources(["build"], repo)
    (repo / "empty").mkdir()
    with pytest.raises(ContextError, match="it is empty or ignored"):
        file_sources(["empty"], repo)


def test_size_limits(repo: Path) -> None:
    _tree(repo, {"big.txt": "x" * 2048})
    with pytest.raises(
        ContextError, match=r"big.txt as context: too large \(2 KB; the limit is 1 KB\)"
    ):
        file_sources(["big.txt"], repo, max_bytes=1024)
    with pytest.raises(ContextError) as big:
        file_sources(["big.txt"], repo, max_bytes=1024)
    assert big.value.hint == "Pass the part that matters, or leave it out."
    sources = file_sources(["*.txt"], repo, max_bytes=1024)
    assert [(s.ref, s.refused) for s in sources] == [
        ("file:big.txt", "too large (2 KB; the limit is 1 KB)")
    ]
    with pytest.raises(ContextError, match="more than 3 files"):
        file_sources(["."], repo, max_files=3)


def test_absolute_and_home_paths(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "notes.md"
    outside.write_text("outside", encoding="utf-8")
    [source] = file_sources([str(outside)], repo)
    assert source.ref == f"file:{outside}"
    home = Path.home()
    (home / "h.txt").parent.mkdir(parents=True, exist_ok=True)
    (home / "h.txt").write_text("home file", encoding="utf-8")
    assert file_sources(["~/h.txt"], repo)[0].content == "home file"


def test_directory_outside_a_repository(tmp_path: Path) -> None:
    base = tmp_path / "plain"
    _tree(base, {".gitignore": "*.tmp\n", "a.txt": "a", "b.tmp": "b", "sub/c.txt": "c"})
    refs = [s.ref for s in file_sources(["."], base)]
    assert refs == ["file:.gitignore", "file:a.txt", "file:sub/c.txt"]


@pytest.mark.parametrize(
    ("prompt", "cleaned", "paths"),
    [
        ("Explain @src/app.py please", "Explain src/app.py please", ["src/app.py"]),
        ("Compare @a.py, @b.py.", "Compare a.py, b.py.", ["a.py", "b.py"]),
        ('Read @"docs/My Notes.md" now', "Read docs/My Notes.md now", ["docs/My Notes.md"]),
        ("Read @'x y/z.txt'", "Read x y/z.txt", ["x y/z.txt"]),
        (
            "mail dev@example.com about @~/todo.md",
            "mail dev@example.com about ~/todo.md",
            ["~/todo.md"],
        ),
        ("use @dataclass and ask @alice", "use @dataclass and ask @alice", []),
        ("code `@src/skip.py` stays", "code `@src/skip.py` stays", []),
        (
            "```\n@src/fenced.py\n```\nand @src/real.py",
            "```\n@src/fenced.py\n```\nand src/real.py",
            ["src/real.py"],
        ),
        ("(see @lib/x.ts)", "(see lib/x.ts)", ["lib/x.ts"]),
        ("@first.md then @first.md again", "first.md then first.md again", ["first.md"]),
        ("no mentions here", "no mentions here", []),
    ],
)
def test_extract_mentions(prompt: str, cleaned: str, paths: list[str]) -> None:
    assert extract_mentions(prompt) == (cleaned, paths)


def test_fifo_device_and_symlink_loop_are_named_not_read(repo: Path) -> None:
    """A FIFO would block the read forever and a device never end: each is refused by what it
    is, whether named (as a mention) or met in a folder."""
    os.mkfifo(repo / "src" / "pipe.txt")
    (repo / "loop").symlink_to(repo / "loop")
    cases = {
        "src/pipe.txt": "is a named pipe (FIFO), not a file",
        "/dev/zero": "is a device, not a file",
        "loop": "is a symbolic link loop, not a file",
    }
    for spec, expected in cases.items():
        with pytest.raises(ContextError, match=re.escape(expected)):
            file_sources([spec], repo)
    walked = {s.ref: s.refused for s in file_sources(["src"], repo)}
    assert walked["file:src/pipe.txt"] == "it is a named pipe (FIFO), not a file"
    assert walked["file:src/app.py"] is None


def test_too_many_files_is_said_without_reading_the_rest(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-c /` walked the whole disk (58 s) before saying "more than 200 files"."""
    from devflow_tui.context import files

    _tree(repo, {f"many/d{i:02}/f{j}.txt": "x" for i in range(30) for j in range(3)})
    walked: list[str] = []
    real_walk = os.walk

    def counting_walk(top: str | Path) -> Iterator[tuple[str, list[str], list[str]]]:
        for entry in real_walk(top):
            walked.append(entry[0])
            yield entry

    monkeypatch.setattr(os, "walk", counting_walk)
    with pytest.raises(ContextError, match="more than 5 files"):
        file_sources(["many"], repo, max_files=5)
    assert len(walked) <= 3  # the folder and the two subfolders that hold the first 6 files
    checked: list[Path] = []
    real_check = files._ignored_anywhere

    def counting_check(path: Path, ignores: object) -> bool:
        checked.append(path)
        return real_check(path, ignores)  # type: ignore[arg-type]

    monkeypatch.setattr(files, "_ignored_anywhere", counting_check)
    with pytest.raises(ContextError, match="more than 5 files"):
        file_sources(["many/**/*.txt"], repo, max_files=5)
    assert len(checked) == 6
    # Under the limit, every match is taken, in order, as before.
    sources = file_sources(["many/d0[0-1]/*.txt"], repo, max_files=10)
    assert [s.ref for s in sources] == [
        f"file:many/d{i:02}/f{j}.txt" for i in range(2) for j in range(3)
    ]
