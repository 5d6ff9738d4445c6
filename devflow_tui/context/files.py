"""Files as context: `--context PATH` (paths, globs, directories) and `@path` in a prompt.

Refusals, decided as follows:
- a file the user named explicitly (a path, or an `@path` mention) that is missing, binary or
  too large raises `ContextError`: the user asked for exactly that file, so silently leaving it
  out would answer a different question than the one asked;
- a file reached through a glob or a directory walk that is binary or too large is returned as a
  *refused* source (`ContextSource.refused` holds the reason); assembly reports it as dropped,
  so the user sees it without the whole request failing.
Directories are walked respecting `.gitignore` files (the repository's, from its root down, and
nested ones) and never enter `.git`; glob results are filtered the same way.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from devflow_tui.context.errors import ContextError
from devflow_tui.context.sources import ContextSource
from devflow_tui.filekinds import not_a_file

if TYPE_CHECKING:
    # Imported where a folder is walked: a plain `devflow ask` never needs it, and it is one
    # of the larger imports of its start-up.
    import pathspec

MAX_FILE_BYTES = 512 * 1024
MAX_FILES = 200
_SNIFF_BYTES = 8192
_GLOB_CHARS = frozenset("*?[")
_ALWAYS_SKIPPED = frozenset({".git", ".hg", ".svn"})


class _Refused(Exception):
    def __init__(self, reason: str, fix: str = "Pass a text file, or leave it out.") -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


def _read_text(path: Path, max_bytes: int) -> str:
    kind = not_a_file(path)
    if kind is not None:  # a FIFO would block the read forever, a device never end
        raise _Refused(f"it is {kind}, not a file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _Refused(f"cannot read it ({exc.strerror})") from None
    if size > max_bytes:
        raise _Refused(
            f"too large ({size // 1024} KB; the limit is {max_bytes // 1024} KB)",
            "Pass the part that matters, or leave it out.",
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _Refused(f"cannot read it ({exc.strerror})") from None
    if b"\0" in data[:_SNIFF_BYTES]:
        raise _Refused("binary (contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(
            "binary or not UTF-8 text",
            "If it is text, convert it to UTF-8 (e.g. iconv -f latin1 -t utf-8 FILE > "
            "FILE.utf8) and pass that; or leave it out.",
        ) from None


def _repo_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


@dataclass
class _Ignores:
    """The .gitignore rules that apply below a directory, loaded lazily per folder."""

    specs: dict[Path, pathspec.GitIgnoreSpec | None] = field(default_factory=dict)
    top: Path | None = None

    def _spec(self, folder: Path) -> pathspec.GitIgnoreSpec | None:
        if folder not in self.specs:
            try:
                lines = (folder / ".gitignore").read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                lines = []
            import pathspec

            self.specs[folder] = pathspec.GitIgnoreSpec.from_lines(lines) if lines else None
        return self.specs[folder]

    def ignored(self, path: Path, is_dir: bool) -> bool:
        if path.name in _ALWAYS_SKIPPED:
            return True
        start = self.top or path.parent
        folders = [path.parent, *path.parent.parents]
        for folder in folders:
            spec = self._spec(folder)
            if spec is not None:
                relative = path.relative_to(folder).as_posix() + ("/" if is_dir else "")
                if spec.match_file(relative):
                    return True
            if folder == start:
                break
        return False


def _ignores_for(base: Path) -> _Ignores:
    root = _repo_root(base)
    return _Ignores(top=root or base)


def _walk(folder: Path, ignores: _Ignores) -> Iterator[Path]:
    """The files under `folder` not ignored, in a stable order, as they are found: a caller
    that stops early stops the walk (`-c /` used to walk the whole disk first)."""
    for current, dirs, files in os.walk(folder):
        here = Path(current)
        dirs[:] = sorted(d for d in dirs if not ignores.ignored(here / d, True))
        for name in sorted(files):
            if not ignores.ignored(here / name, False):
                yield here / name


def _first_new(
    paths: Iterable[Path], chosen: Mapping[Path, bool], room: int
) -> tuple[list[Path], bool]:
    """The paths not yet chosen, in order, stopping after `room` + 1 of them (one more than
    there is room for says "too many" without reading the rest), and whether any path came."""
    new: dict[Path, None] = {}
    came = False
    for path in paths:
        came = True
        if path not in chosen:
            new[path] = None
            if len(new) > room:
                break
    return list(new), came


def _shown(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def _source(path: Path, base: Path, max_bytes: int, explicit: bool) -> ContextSource:
    shown = _shown(path, base)
    try:
        text = _read_text(path, max_bytes)
    except _Refused as refused:
        if explicit:
            raise ContextError(
                f"cannot use {shown} as context: {refused.reason}",
                hint=refused.fix,
            ) from None
        return ContextSource.refusal(
            f"file {shown}", "file", refused.reason, path=path, ref=f"file:{shown}"
        )
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    return ContextSource.from_text(
        f"file {shown} ({lines} lines)", "file", text, ref=f"file:{shown}", path=path
    )


def file_sources(
    specs: Sequence[str],
    base: Path,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_files: int = MAX_FILES,
) -> list[ContextSource]:
    """Read the files named by `specs` (paths, globs, directories) relative to `base`."""
    base = Path(os.path.abspath(base))
    chosen: dict[Path, bool] = {}  # path -> named explicitly
    ignores = _ignores_for(base)
    for spec in specs:
        expanded = os.path.expanduser(spec)
        if _GLOB_CHARS & set(expanded):
            pattern = expanded if os.path.isabs(expanded) else str(base / expanded)
            matches = (Path(p) for p in glob.iglob(pattern, recursive=True))
            files = (p for p in matches if p.is_file() and not _ignored_anywhere(p, ignores))
            new, came = _first_new(files, chosen, max_files - len(chosen))
            if not came:
                raise ContextError(
                    f"no files match {spec!r} (from {base})",
                    hint="Check the pattern; files ignored by .gitignore are left out.",
                )
            for path in sorted(new):
                chosen.setdefault(path, False)
            if len(chosen) > max_files:
                break
            continue
        path = Path(expanded)
        path = path if path.is_absolute() else base / path
        if path.is_dir():
            walked = _walk(path, ignores)
            new, came = _first_new(walked, chosen, max_files - len(chosen))
            if not came:
                raise ContextError(
                    f"no files to read in {spec} (from {base}): it is empty or ignored",
                    hint="Files matched by .gitignore are left out; name a file to force it.",
                )
            for found in new:
                chosen.setdefault(found, False)
        elif path.is_file():
            chosen[path] = True
        elif (kind := not_a_file(path)) is not None:
            raise ContextError(
                f"cannot use {spec} as context: it is {kind}, not a file",
                hint="Name a regular text file (or a folder), or leave it out.",
            )
        else:
            raise ContextError(
                f"no such file or directory: {spec} (from {base})",
                hint="Check the path; it is relative to the project directory.",
            )
        if len(chosen) > max_files:
            break
    if len(chosen) > max_files:
        raise ContextError(
            f"the context paths select more than {max_files} files",
            hint="Narrow them with a glob such as 'src/**/*.py', or name the files.",
        )
    return [_source(path, base, max_bytes, explicit) for path, explicit in chosen.items()]


def _ignored_anywhere(path: Path, ignores: _Ignores) -> bool:
    """A glob match is dropped when it or any of its folders is ignored."""
    top = ignores.top
    if top is None or not path.is_relative_to(top):
        return ignores.ignored(path, False)
    relative_parts = path.relative_to(top).parts
    current = top
    for index, part in enumerate(relative_parts):
        current = current / part
        is_dir = index < len(relative_parts) - 1
        if ignores.ignored(current, is_dir):
            return True
    return False


# `@path` mentions: after start/whitespace/opening bracket (so not e-mails or decorators inside
# words), either quoted (spaces allowed) or a run of non-space characters that looks like a path.
_MENTION = re.compile(
    r"""(?:^|(?<=[\s(\[{]))@(?:"(?P<dq>[^"\n]+)"|'(?P<sq>[^'\n]+)'|(?P<bare>[^\s"'`@]+))"""
)
_TRAILING = ".,;:!?)]}>'\""
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.S)


def _looks_like_path(token: str) -> bool:
    # "@dataclass" or "@alice" in prose are not files; a path has a separator or an extension.
    return "/" in token or token.startswith("~") or bool(re.search(r"\.[A-Za-z0-9]+$", token))


def extract_mentions(prompt: str) -> tuple[str, list[str]]:
    """Find `@path` mentions outside code; return the prompt with the `@` removed and the paths."""
    code_spans = [match.span() for match in _CODE.finditer(prompt)]

    def in_code(position: int) -> bool:
        return any(start <= position < end for start, end in code_spans)

    paths: list[str] = []
    pieces: list[str] = []
    last = 0
    for match in _MENTION.finditer(prompt):
        if in_code(match.start()):
            continue
        quoted = match.group("dq") or match.group("sq")
        if quoted is not None:
            path, tail = quoted.strip(), ""
        else:
            bare = match.group("bare")
            path = bare.rstrip(_TRAILING)
            tail = bare[len(path) :]
            if not path or not _looks_like_path(path):
                continue
        if path not in paths:
            paths.append(path)
        pieces.append(prompt[last : match.start()])
        pieces.append(path + tail)
        last = match.end()
    pieces.append(prompt[last:])
    return "".join(pieces), paths
