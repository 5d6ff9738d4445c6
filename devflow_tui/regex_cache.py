"""Compiled regular expressions kept across runs, the way Python keeps bytecode.

`re.compile` parses a pattern and generates the regex engine's code for it in pure Python:
the routing classifier's ~60 patterns cost ~16 ms of every `devflow ask`, about a tenth of
its start-up. That code depends only on the pattern, its flags and the engine, so
`cached_compile` keeps it in a file beside this module's bytecode
(`__pycache__/regex_cache.<interpreter tag>.sre`, marshal data: no code objects, nothing
executed), written at exit when the run compiled something new, read at the next start.
A cached pattern is handed to the engine's own constructor (`_sre.compile`, which validates
the code) with exactly the arguments `re.compile` would give it, so it behaves identically.

The engine's internals (`re._parser`, `re._compiler`, `_sre`) are not a public API: the file
records the engine's version, and anything unexpected (another Python, a damaged or
unwritable file, PYTHONDONTWRITEBYTECODE, an engine that changed) falls back to plain
`re.compile`, which is never slower than it was.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import marshal
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any, cast

_sre: Any
try:  # the engine's own modules (no type stubs: they are internal)
    _sre = importlib.import_module("_sre")
    _parser: Any = importlib.import_module("re._parser")
    _compiler: Any = importlib.import_module("re._compiler")
except ImportError:  # pragma: no cover - every CPython has them; another Python falls back
    _sre = None

# An entry: (flags as compiled, engine code, group count, group names, group by index).
_Entry = tuple[int, list[int], int, dict[str, int], tuple[str | None, ...]]
_FORMAT = 1  # of this file's own layout
_MAX_ENTRIES = 4096  # patterns kept; a pattern edited away ages out when the file is full


class _Cache:
    """The entries read at start-up, the ones this run used, and whether to write them."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.known: dict[tuple[str, int], _Entry] = {}
        self.used: dict[tuple[str, int], _Entry] = {}
        self.dirty = False
        self.lock = threading.Lock()
        self.loaded = False

    def version(self) -> tuple[Any, ...]:
        return (_FORMAT, sys.version_info[:2], _sre.MAGIC, _sre.CODESIZE)

    def load(self) -> None:
        self.loaded = True
        if self.path is None:
            return
        try:
            # Plain data this module wrote beside its own bytecode; nothing in it is run.
            data = marshal.loads(self.path.read_bytes())  # noqa: S302
        except (OSError, EOFError, ValueError, TypeError):
            return
        if isinstance(data, tuple) and len(data) == 2 and data[0] == self.version():
            entries = data[1]
            if isinstance(entries, dict):
                self.known = entries

    def save(self) -> None:
        """Write this run's patterns and the others still in the file."""
        if not self.dirty or self.path is None:
            return
        entries = dict(self.used)
        for key, entry in self.known.items():
            if len(entries) >= _MAX_ENTRIES:
                break
            entries.setdefault(key, entry)
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(marshal.dumps((self.version(), entries)))
            os.replace(temporary, self.path)  # whole or not at all, if two runs write at once
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                temporary.unlink()


def _default_path() -> Path | None:
    tag = sys.implementation.cache_tag
    if tag is None:
        return None  # pragma: no cover - an interpreter that writes no bytecode
    return Path(__file__).with_name("__pycache__") / f"regex_cache.{tag}.sre"


_cache = _Cache(_default_path())


def cached_compile(pattern: str, flags: int = 0, *, cache: _Cache | None = None) -> re.Pattern[str]:
    """`re.compile(pattern, flags)`, from the engine code a previous run stored if it can."""
    store = _cache if cache is None else cache
    if _sre is None or flags & re.DEBUG:
        return re.compile(pattern, flags)  # pragma: no cover - not CPython, or debug output
    flags = int(flags)  # a RegexFlag is not marshal data
    key = (pattern, flags)
    with store.lock:
        if not store.loaded:
            store.load()
        entry = store.known.get(key)
    if entry is not None:
        with contextlib.suppress(Exception):  # a stored entry the engine refuses: compile it
            compiled = cast(re.Pattern[str], _sre.compile(pattern, *entry))
            store.used[key] = entry
            return compiled
    try:
        parsed = _parser.parse(pattern, flags)
        groups = parsed.state.groupdict
        by_index: list[str | None] = [None] * parsed.state.groups
        for name, index in groups.items():
            by_index[index] = name
        entry = (
            flags | parsed.state.flags,
            [int(op) for op in _compiler._code(parsed, flags)],  # plain ints: marshal data
            parsed.state.groups - 1,
            dict(groups),
            tuple(by_index),
        )
        compiled = cast(re.Pattern[str], _sre.compile(pattern, *entry))
    except re.error:
        raise
    except Exception:  # the engine's internals changed: compile the public way
        return re.compile(pattern, flags)
    with store.lock:
        store.used[key] = entry
        if not store.dirty and store is _cache and not sys.dont_write_bytecode:
            atexit.register(store.save)  # once per run, like bytecode: only if asked to write
        store.dirty = True
    return compiled
