"""CLAUDE.md memory files, found and expanded the way Claude Code loads them.

Order (earlier = more general, later = more specific and taking precedence):
1. user: `<claude root>/CLAUDE.md`, then `<claude root>/rules/*.md`;
2. ancestors of the project, from the top down to (not including) the project directory:
   `CLAUDE.md` and `CLAUDE.local.md` in each (the filesystem root `/` itself is not read);
3. the project: `CLAUDE.md`, `.claude/CLAUDE.md`, `.claude/rules/*.md`, `CLAUDE.local.md`;
4. auto memory: the first 200 lines of `<root>/projects/<slug>/memory/MEMORY.md`.
Each file's `@path` imports (relative to that file, `~` for home, absolute) follow it, up to
depth 5, ignoring `@` inside code spans and fenced code blocks. Nested CLAUDE.md files below the
project are left out: Claude Code loads them only when it reads files in that subtree.
The managed policy file (`/etc/claude-code/CLAUDE.md`) is not read: it is outside the user's
control and tests could not isolate it. `~/.claude.json` (account data) is never read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from devflow_tui.context.claude_sessions import claude_root, project_slug
from devflow_tui.context.sources import ContextSource

MAX_IMPORT_DEPTH = 5
MAX_MEMORY_BYTES = 256_000
AUTO_MEMORY_LINES = 200

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"`+[^`]*`+")
_IMPORT = re.compile(r"(?:^|(?<=\s))@((?:~|\.{1,2}|/)?[^\s`@]*[^\s`@.,;:!?)\]}'\"])")


def _imports(text: str) -> Iterator[str]:
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        for match in _IMPORT.finditer(_CODE_SPAN.sub(" ", line)):
            yield match.group(1)


def _read(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_MEMORY_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _resolve_import(spec: str, base: Path, home: Path) -> Path:
    if spec.startswith("~"):
        return home / spec[1:].lstrip("/")
    path = Path(spec)
    return path if path.is_absolute() else base / path


def _expand(path: Path, home: Path, seen: set[Path], out: list[Path], depth: int = 0) -> None:
    key = Path(os.path.abspath(path))
    if key in seen or not path.is_file():
        return
    seen.add(key)
    out.append(path)
    if depth >= MAX_IMPORT_DEPTH:
        return
    text = _read(path)
    if text is None:
        return
    for spec in _imports(text):
        _expand(_resolve_import(spec, path.parent, home), home, seen, out, depth + 1)


def _rules(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.md")) if folder.is_dir() else []


def discover_memory_files(
    project_dir: Path, root: Path | None = None, home: Path | None = None
) -> list[Path]:
    """Every memory file Claude Code would load for `project_dir`, in load order."""
    root = claude_root() if root is None else root
    home = Path.home() if home is None else home
    project = Path(os.path.abspath(project_dir))
    candidates: list[Path] = [root / "CLAUDE.md", *_rules(root / "rules")]
    for ancestor in reversed(project.parents):
        if ancestor == ancestor.parent:
            continue  # "/" is not searched
        candidates += [ancestor / "CLAUDE.md", ancestor / "CLAUDE.local.md"]
    candidates += [
        project / "CLAUDE.md",
        project / ".claude" / "CLAUDE.md",
        *_rules(project / ".claude" / "rules"),
        project / "CLAUDE.local.md",
    ]
    seen: set[Path] = set()
    found: list[Path] = []
    for candidate in candidates:
        _expand(candidate, home, seen, found)
    memory = root / "projects" / project_slug(project) / "memory" / "MEMORY.md"
    if memory.is_file() and Path(os.path.abspath(memory)) not in seen:
        found.append(memory)
    return found


def _scope(path: Path, project: Path, root: Path) -> str:
    absolute = Path(os.path.abspath(path))
    if absolute.name == "MEMORY.md" and absolute.parent.name == "memory":
        return "auto memory"
    if absolute.is_relative_to(Path(os.path.abspath(root))):
        return "user"
    if absolute.is_relative_to(project):
        return "local" if absolute.name == "CLAUDE.local.md" else "project"
    if absolute.parent in project.parents:
        return "parent"
    return "import"


def memory_sources(
    project_dir: Path, root: Path | None = None, home: Path | None = None
) -> list[ContextSource]:
    """The memory files as context sources, one per file, in load order."""
    root = claude_root() if root is None else root
    project = Path(os.path.abspath(project_dir))
    sources: list[ContextSource] = []
    for path in discover_memory_files(project, root, home):
        text = _read(path)
        if text is None:
            continue
        scope = _scope(path, project, root)
        if scope == "auto memory":
            text = "\n".join(text.splitlines()[:AUTO_MEMORY_LINES])
        if not text.strip():
            continue
        shown = os.path.relpath(path, project) if scope in ("project", "local") else str(path)
        sources.append(
            ContextSource.from_text(
                f"{path.name} ({scope}: {shown})",
                "claude-md",
                text,
                ref=f"claude-md:{path}",
                path=path,
                meta={"scope": scope},
            )
        )
    return sources
