"""Dataclasses made while the cache is installed behave exactly as plain ones."""

from __future__ import annotations

import atexit
import dataclasses
import inspect
import sys
from collections.abc import Callable, Iterator
from dataclasses import FrozenInstanceError, dataclass, field
from pathlib import Path

import pytest

from devflow_tui.dataclass_cache import CodeCache, code_for, install, new_cache


def make_classes() -> tuple[type, type]:
    """A frozen dataclass and a plain one with defaults, factories and keyword-only fields."""

    @dataclass(frozen=True)
    class Point:
        x: int
        y: int = 2
        tags: tuple[str, ...] = ()

    @dataclass(order=True)
    class Bag:
        name: str
        items: list[int] = field(default_factory=list)
        hidden: str = field(default="h", repr=False, compare=False)
        _: dataclasses.KW_ONLY
        size: int = 0

    return Point, Bag


def behaviour(point_cls: type, bag_cls: type) -> object:
    point = point_cls(1, tags=("a",))
    with pytest.raises(FrozenInstanceError):
        point.x = 5
    bag = bag_cls("b", size=3)
    bag.items.append(7)
    return (
        str(inspect.signature(point_cls)),
        str(inspect.signature(bag_cls)),
        repr(point).replace(point_cls.__qualname__, "P"),
        repr(bag).replace(bag_cls.__qualname__, "B"),
        point == point_cls(1, 2, ("a",)),
        hash(point) == hash(point_cls(1, 2, ("a",))),
        bag < bag_cls("c"),
        bag_cls("b") == bag_cls("b", hidden="other"),
        bag_cls("b").items is not bag_cls("b").items,
    )


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[CodeCache], None]]:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # no saving at the tests' exit
    undos: list[Callable[[], None]] = []
    try:
        yield lambda cache: undos.append(install(cache))
    finally:
        for undo in undos:
            undo()
    assert "exec" not in vars(dataclasses)  # plain exec again


def test_dataclasses_behave_the_same_on_a_first_and_a_later_run(
    tmp_path: Path, installed: Callable[[CodeCache], None]
) -> None:
    plain = behaviour(*make_classes())
    first = new_cache(tmp_path / "code")
    installed(first)
    assert behaviour(*make_classes()) == plain
    assert first.dirty and first.used
    first.save()

    later = new_cache(tmp_path / "code")
    vars(dataclasses).pop("exec")  # as a new process would start
    installed(later)
    assert behaviour(*make_classes()) == plain
    assert later.known and not later.dirty  # every method came from the file


def test_a_second_install_changes_nothing(
    tmp_path: Path, installed: Callable[[CodeCache], None]
) -> None:
    installed(new_cache(tmp_path / "one"))
    routed = vars(dataclasses)["exec"]
    second = new_cache(tmp_path / "two")
    installed(second)
    assert vars(dataclasses)["exec"] is routed
    make_classes()
    assert not second.used


def test_a_damaged_or_foreign_file_is_ignored(
    tmp_path: Path, installed: Callable[[CodeCache], None]
) -> None:
    path = tmp_path / "code"
    path.write_bytes(b"\x00 not marshal data")
    cache = new_cache(path)
    installed(cache)
    assert behaviour(*make_classes()) is not None
    assert cache.known == {} and cache.dirty


def test_an_unwritable_place_leaves_no_file(tmp_path: Path) -> None:
    blocker = tmp_path / "a file, not a folder"
    blocker.write_text("")
    cache = new_cache(blocker / "code")
    code_for("x = 1\n", cache)
    cache.save()
    assert not (blocker / "code").exists()


@pytest.mark.parametrize("dont_write", [False, True])
def test_the_code_is_saved_at_exit_unless_bytecode_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dont_write: bool
) -> None:
    at_exit: list[object] = []
    monkeypatch.setattr(atexit, "register", at_exit.append)
    monkeypatch.setattr(sys, "dont_write_bytecode", dont_write)
    cache = new_cache(tmp_path / "code")
    install(cache)()
    assert at_exit == ([] if dont_write else [cache.save])


def test_a_save_keeps_the_stored_code_this_run_did_not_use(tmp_path: Path) -> None:
    path = tmp_path / "code"
    first = new_cache(path)
    code_for("a = 1\n", first)
    code_for("b = 2\n", first)
    first.save()
    second = new_cache(path)
    code_for("a = 1\n", second)
    code_for("c = 3\n", second)
    second.save()
    third = new_cache(path)
    third.load()
    assert sorted(third.known) == ["a = 1\n", "b = 2\n", "c = 3\n"]
    namespace: dict[str, object] = {}
    exec(third.known["c = 3\n"], namespace)  # noqa: S102 - the code the test stored
    assert namespace["c"] == 3
