"""Patterns compiled from the stored engine code behave exactly as `re.compile`'s."""

from __future__ import annotations

import atexit
import marshal
import re
import sys
from pathlib import Path

import pytest

from devflow_tui import regex_cache
from devflow_tui.regex_cache import cached_compile, new_cache

PATTERNS: list[tuple[str, int]] = [
    (r"\bhow (?:to|do i)\b", 0),
    (r"(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<value>\S+)", 0),
    (r"^\s*(?:[-*•]|\d+[.)])\s", re.M),
    (r"write(?<=\bwrite) (?:a|an) (?:poem|story)", re.I),
    (r"(?i:\bbearer)\s+(?P<value>[A-Za-z0-9._~+/-]{20,}=*)", 0),
    (r"[àèéìòù]|^(?:l|un|dell)'", 0),
    (r"(a)(b)?(?(2)c|d)", 0),
]
TEXTS = [
    "How to write a poem?\n- first\n2) second",
    "password = hunter22 and Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123",
    "dell'arte è bella; WRITE A STORY",
    "abc ad ab",
]


def behaviour(pattern: re.Pattern[str]) -> object:
    return (
        pattern.pattern,
        pattern.flags,
        pattern.groups,
        dict(pattern.groupindex),
        [[m.span() + m.groups() for m in pattern.finditer(text)] for text in TEXTS],
    )


def test_compiled_patterns_behave_as_re_compile_on_a_first_and_a_later_run(tmp_path: Path) -> None:
    path = tmp_path / "cache.sre"
    first = new_cache(path)
    for pattern, flags in PATTERNS:
        assert behaviour(cached_compile(pattern, flags, cache=first)) == behaviour(
            re.compile(pattern, flags)
        )
    assert first.dirty
    first.save()

    later = new_cache(path)
    for pattern, flags in PATTERNS:
        assert behaviour(cached_compile(pattern, flags, cache=later)) == behaviour(
            re.compile(pattern, flags)
        )
    assert len(later.known) == len(PATTERNS)
    assert not later.dirty  # every pattern came from the file: nothing to write


def test_a_damaged_or_foreign_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "cache.sre"
    for content in (b"not marshal data", marshal.dumps(((0, (2, 7), 1, 1), {}))):
        path.write_bytes(content)
        cache = new_cache(path)
        compiled = cached_compile(r"\d+", 0, cache=cache)
        assert compiled.findall("a1b22") == ["1", "22"]
        assert cache.known == {}
        assert cache.dirty


def test_an_entry_the_engine_refuses_is_compiled_afresh(tmp_path: Path) -> None:
    path = tmp_path / "cache.sre"
    cache = new_cache(path)
    cached_compile(r"x+y", 0, cache=cache)
    cache.save()
    version, entries = marshal.loads(path.read_bytes())  # noqa: S302 - the test's own file
    flags, _code, groups, names, by_index = entries[(r"x+y", 0)]
    entries[(r"x+y", 0)] = (flags, [999_999], groups, names, by_index)
    path.write_bytes(marshal.dumps((version, entries)))

    later = new_cache(path)
    assert cached_compile(r"x+y", 0, cache=later).findall("axxyb xy") == ["xxy", "xy"]
    assert later.dirty  # compiled again, so the next save repairs the entry


def test_an_invalid_pattern_raises_as_re_compile_does(tmp_path: Path) -> None:
    with pytest.raises(re.error):
        cached_compile(r"(unclosed", 0, cache=new_cache(tmp_path / "cache.sre"))


def test_an_unwritable_place_leaves_no_file_and_raises_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "a file, not a folder"
    blocker.write_text("")
    cache = new_cache(blocker / "cache.sre")
    cached_compile(r"\w+", 0, cache=cache)
    cache.save()
    assert not (blocker / "cache.sre").exists()


def test_a_save_keeps_the_stored_patterns_this_run_did_not_use(tmp_path: Path) -> None:
    path = tmp_path / "cache.sre"
    first = new_cache(path)
    for pattern in ("a+", "b+"):
        cached_compile(pattern, 0, cache=first)
    first.save()
    second = new_cache(path)
    cached_compile("a+", 0, cache=second)
    cached_compile("c+", 0, cache=second)
    second.save()
    third = new_cache(path)
    third.load()
    assert sorted(third.known) == [("a+", 0), ("b+", 0), ("c+", 0)]


def test_an_engine_whose_internals_changed_gets_plain_re_compile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Changed:
        def _code(self, *_args: object) -> list[int]:
            raise AttributeError("no _code in this engine")

    monkeypatch.setattr(regex_cache, "_compiler", Changed())
    cache = new_cache(tmp_path / "cache.sre")
    assert cached_compile(r"\d+", 0, cache=cache).findall("a1b22") == ["1", "22"]
    assert not cache.dirty  # nothing stored from an engine it does not understand


@pytest.mark.parametrize("dont_write", [False, True])
def test_the_shared_cache_is_saved_at_exit_unless_bytecode_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dont_write: bool
) -> None:
    at_exit: list[object] = []
    shared = new_cache(tmp_path / "cache.sre")
    monkeypatch.setattr(regex_cache, "_cache", shared)
    monkeypatch.setattr(atexit, "register", at_exit.append)
    monkeypatch.setattr(sys, "dont_write_bytecode", dont_write)
    cached_compile("x", 0)
    cached_compile("y", 0)
    assert at_exit == ([] if dont_write else [shared.save])
