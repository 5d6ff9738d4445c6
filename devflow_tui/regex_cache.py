"""Compiled regular expressions kept across runs, the way Python keeps bytecode.

`re.compile` parses a pattern and generates the regex engine's code for it in pure Python:
the routing classifier's ~60 patterns cost ~16 ms of every `devflow ask`. That code depends
only on the pattern, its flags and the engine, so `cached_compile` keeps it in a
`CompileCache` file (`__pycache__/regex_cache.<interpreter tag>.sre`, plain data), written
at exit when the run compiled something new (not under PYTHONDONTWRITEBYTECODE). A stored
pattern is handed to the engine's own constructor (`_sre.compile`, which validates the code)
with exactly the arguments `re.compile` would give it, so it behaves identically.

The engine's internals (`re._parser`, `re._compiler`, `_sre`) are not a public API: the file
records the engine's version, and anything unexpected (another Python, a damaged file, an
entry the engine refuses, internals that changed) falls back to plain `re.compile`.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import re
import sys
from pathlib import Path
from typing import Any, cast

from devflow_tui.compile_cache import CompileCache, cache_path

_sre: Any
try:  # the engine's own modules (no type stubs: they are internal)
    _sre = importlib.import_module("_sre")
    _parser: Any = importlib.import_module("re._parser")
    _compiler: Any = importlib.import_module("re._compiler")
except ImportError:  # pragma: no cover - every CPython has them; another Python falls back
    _sre = None

# An entry: (flags as compiled, engine code, group count, group names, group by index).
_Entry = tuple[int, list[int], int, dict[str, int], tuple[str | None, ...]]
_FORMAT = 1  # of the entries' own layout
RegexCache = CompileCache[tuple[str, int], _Entry]


def new_cache(path: Path | None) -> RegexCache:
    """A cache kept in `path`, valid for this engine only."""
    version = (_FORMAT, *sys.version_info[:2], _sre.MAGIC, _sre.CODESIZE) if _sre else ()
    return CompileCache(path, version)


_cache = new_cache(cache_path("regex_cache", "sre"))


def cached_compile(
    pattern: str, flags: int = 0, *, cache: RegexCache | None = None
) -> re.Pattern[str]:
    """`re.compile(pattern, flags)`, from the engine code a previous run stored if it can."""
    store = _cache if cache is None else cache
    if _sre is None or flags & re.DEBUG:
        return re.compile(pattern, flags)  # pragma: no cover - not CPython, or debug output
    flags = int(flags)  # a RegexFlag is not marshal data
    key = (pattern, flags)
    entry = store.get(key)
    if entry is not None:
        with contextlib.suppress(Exception):  # a stored entry the engine refuses: compile it
            compiled = cast(re.Pattern[str], _sre.compile(pattern, *entry))
            store.keep(key, entry, new=False)
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
    if not store.dirty and store is _cache and not sys.dont_write_bytecode:
        atexit.register(store.save)  # once per run, like bytecode: only if asked to write
    store.keep(key, entry, new=True)
    return compiled
