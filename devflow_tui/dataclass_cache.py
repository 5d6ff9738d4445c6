"""The code `dataclasses` generates, compiled once and kept across runs, as bytecode is.

Each `@dataclass` writes the source of its `__init__`, `__repr__`, `__eq__` (and, frozen,
`__setattr__`, `__delattr__`, `__hash__`) and compiles it with `exec`: about 0.5 M
instructions a method, ~550 methods and ~275 M instructions (a sixth) of every
`devflow ask`, for classes whose source never changes between runs. While `install()` is in
effect, `dataclasses` compiles through this module instead: a source text an earlier run
compiled gets that run's code object, kept in a `CompileCache` file
(`__pycache__/dataclass_cache.<interpreter tag>.code`, the marshal format `.pyc` files use),
and the class gets exactly the methods `exec` of that text would give it.

Only the `devflow` program installs it (`cli.run`), as its own process; imported as a
library, devflow leaves `dataclasses` alone. A file from another Python, a damaged file,
PYTHONDONTWRITEBYTECODE (nothing written) or a `dataclasses` that no longer calls `exec` all
mean plain `exec`.
"""

from __future__ import annotations

import atexit
import builtins
import dataclasses
import importlib.util
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import CodeType
from typing import Any, cast

from devflow_tui.compile_cache import CompileCache, cache_path

_FORMAT = 1  # of the entries' own layout
CodeCache = CompileCache[str, CodeType]


def new_cache(path: Path | None) -> CodeCache:
    """A cache kept in `path`, valid for this Python's bytecode only."""
    return CompileCache(path, (_FORMAT, importlib.util.MAGIC_NUMBER, *sys.version_info[:2]))


def code_for(source: str, cache: CodeCache) -> CodeType:
    """The code of `source`, as `exec(source)` compiles it in the dataclasses module."""
    code = cache.get(source)
    new = not isinstance(code, CodeType)
    if new:
        # No inherited __future__ flags: dataclasses' own module has none.
        code = compile(source, "<string>", "exec", dont_inherit=True)
    cache.keep(source, cast(CodeType, code), new=new)
    return cast(CodeType, code)


def install(cache: CodeCache | None = None) -> Callable[[], None]:
    """Compile dataclasses' generated methods through `cache` (the package's own file by
    default) until the returned undo is called; the cache is written at exit when the run
    compiled something new and Python writes bytecode (not under PYTHONDONTWRITEBYTECODE)."""
    namespace: dict[str, Any] = vars(dataclasses)
    if "exec" in namespace:
        return lambda: None  # already routed (or changed by someone else): leave it be
    store = new_cache(cache_path("dataclass_cache", "code")) if cache is None else cache

    def cached_exec(
        source: object,
        globals: dict[str, Any] | None = None,
        locals: Mapping[str, object] | None = None,
        /,
    ) -> None:
        code = code_for(source, store) if isinstance(source, str) else cast(CodeType, source)
        # exec without globals runs in its caller's: here, the dataclasses module.
        builtins.exec(code, namespace if globals is None else globals, locals)  # noqa: S102

    namespace["exec"] = cached_exec
    if not sys.dont_write_bytecode:
        atexit.register(store.save)

    def undo() -> None:  # the saving at exit stays: what was compiled is still worth keeping
        if namespace.get("exec") is cached_exec:
            del namespace["exec"]

    return undo
