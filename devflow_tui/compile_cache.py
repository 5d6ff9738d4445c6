"""A file of compiled results kept across runs beside the package's bytecode, as `.pyc` are.

Two start-up costs of every `devflow` command are compilations whose input never changes
between runs: regular expressions (`regex_cache`) and the methods `dataclasses` generates
(`dataclass_cache`). Each keeps its results in a `CompileCache`: read once when first needed,
written at exit when the run compiled something new (whole, through a temporary file, so two
runs writing at once leave one complete file), in Python's marshal format (plain data and
code objects, the format of `.pyc` files), under `__pycache__` next to this module.
A file from another format version, another Python or a damaged one is ignored.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
import threading
from pathlib import Path
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
MAX_ENTRIES = 4096  # results kept; one whose input was edited away ages out when it is full


def cache_path(name: str, suffix: str) -> Path | None:
    """`__pycache__/<name>.<interpreter tag>.<suffix>` beside this module; None for an
    interpreter that keeps no bytecode."""
    tag = sys.implementation.cache_tag
    if tag is None:
        return None  # pragma: no cover - every CPython has a tag
    return Path(__file__).with_name("__pycache__") / f"{name}.{tag}.{suffix}"


class CompileCache(Generic[K, V]):
    """Results by input: what the file held at start (`known`) and what this run used."""

    def __init__(self, path: Path | None, version: tuple[object, ...]) -> None:
        self.path = path
        self.version = version  # the file's entries are used only under the same version
        self.known: dict[K, V] = {}
        self.used: dict[K, V] = {}
        self.dirty = False  # this run compiled something the file lacks
        self.loaded = False
        self.lock = threading.Lock()

    def load(self) -> None:
        self.loaded = True
        if self.path is None:
            return
        try:
            # Written by this module beside the package's own bytecode, with the trust the
            # .pyc files next to it have; nothing in it runs unless its user asks for it.
            data = marshal.loads(self.path.read_bytes())  # noqa: S302
        except (OSError, EOFError, ValueError, TypeError):
            return
        valid = isinstance(data, tuple) and len(data) == 2 and data[0] == self.version
        if valid and isinstance(data[1], dict):
            self.known = data[1]

    def get(self, key: K) -> V | None:
        """The stored result for `key` (the file is read on the first call)."""
        with self.lock:
            if not self.loaded:
                self.load()
            return self.known.get(key)

    def keep(self, key: K, value: V, *, new: bool) -> None:
        """Note that this run used `value`; `new` when it was compiled here."""
        with self.lock:
            self.used[key] = value
            self.dirty = self.dirty or new

    def save(self) -> None:
        """Write this run's results and the rest of what the file held, when anything new."""
        if not self.dirty or self.path is None:
            return
        entries = dict(self.used)
        for key, value in self.known.items():
            if len(entries) >= MAX_ENTRIES:
                break
            entries.setdefault(key, value)
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            document: Any = (self.version, entries)  # marshal data, as the callers store
            temporary.write_bytes(marshal.dumps(document))
            os.replace(temporary, self.path)  # whole or not at all, if two runs write at once
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                temporary.unlink()
