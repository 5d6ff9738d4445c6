"""CLAUDE.md discovery in Claude Code's order, imports, and the sources built from them."""

from __future__ import annotations

from pathlib import Path

from devflow_tui.context.claude_md import discover_memory_files, memory_sources
from devflow_tui.context.claude_sessions import project_slug


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_discovery_order_and_scopes(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    home = tmp_path / "home"
    repo = tmp_path / "work" / "repo"
    project = repo / "pkg"
    user = _write(root / "CLAUDE.md", "user rules")
    rule_b = _write(root / "rules" / "b.md", "rule b")
    rule_a = _write(root / "rules" / "a.md", "rule a")
    ancestor = _write(repo / "CLAUDE.md", "repo rules")
    ancestor_local = _write(repo / "CLAUDE.local.md", "repo local")
    own = _write(project / "CLAUDE.md", "project rules")
    dot = _write(project / ".claude" / "CLAUDE.md", "dot-claude rules")
    project_rule = _write(project / ".claude" / "rules" / "style.md", "style")
    local = _write(project / "CLAUDE.local.md", "my local notes")
    memory = _write(
        root / "projects" / project_slug(project) / "memory" / "MEMORY.md",
        "\n".join(f"fact {i}" for i in range(300)),
    )
    _write(project / "sub" / "CLAUDE.md", "nested: loaded only on demand")
    _write(home / ".claude.json", '{"oauthAccount": "never read"}')
    found = discover_memory_files(project, root, home)
    assert found == [
        user,
        rule_a,
        rule_b,
        ancestor,
        ancestor_local,
        own,
        dot,
        project_rule,
        local,
        memory,
    ]
    sources = memory_sources(project, root, home)
    assert [s.meta["scope"] for s in sources] == [
        "user",
        "user",
        "user",
        "parent",
        "parent",
        "project",
        "project",
        "project",
        "local",
        "auto memory",
    ]
    assert sources[5].name == "CLAUDE.md (project: CLAUDE.md)"
    assert sources[8].name == "CLAUDE.local.md (local: CLAUDE.local.md)"
    assert all(s.kind == "claude-md" for s in sources)
    assert sources[-1].content.splitlines()[-1] == "fact 199"  # first 200 lines only
    assert all("never read" not in s.content for s in sources)


def test_imports_recursive_with_depth_limit_and_code_ignored(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    home = tmp_path / "home"
    project = tmp_path / "proj"
    main = _write(
        project / "CLAUDE.md",
        "See @docs/guide.md and @~/personal.md, mail admin@example.com.\n"
        "Inline `@docs/not-this.md` is code.\n"
        "```\n@docs/in-fence.md\n```\n"
        "Missing @docs/missing.md is ignored; so is the cycle @CLAUDE.md\n",
    )
    guide = _write(project / "docs" / "guide.md", "guide; next @chain1.md")
    personal = _write(home / "personal.md", "personal prefs")
    _write(project / "docs" / "not-this.md", "no")
    _write(project / "docs" / "in-fence.md", "no")
    chain = [_write(project / "docs" / f"chain{i}.md", f"@chain{i + 1}.md") for i in range(1, 7)]
    found = discover_memory_files(project, root, home)
    # main (depth 0) -> guide (1) -> chain1 (2) ... chain4 (5); chain5 would be depth 6.
    assert found == [main, guide, *chain[:4], personal]
    scopes = {s.path: s.meta["scope"] for s in memory_sources(project, root, home)}
    assert scopes[personal] == "import"


def test_nothing_to_find_and_unreadable_files(tmp_path: Path) -> None:
    project = tmp_path / "empty"
    project.mkdir()
    assert discover_memory_files(project, tmp_path / "claude", tmp_path / "home") == []
    assert memory_sources(project, tmp_path / "claude", tmp_path / "home") == []
    _write(project / "CLAUDE.md", "   \n")  # blank files are not worth a source
    huge = _write(project / "CLAUDE.local.md", "x" * 300_000)
    assert discover_memory_files(project, tmp_path / "claude", tmp_path / "home")[-1] == huge
    assert memory_sources(project, tmp_path / "claude", tmp_path / "home") == []


def test_defaults_use_the_isolated_claude_dir(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    user = _write(tmp_path / "claude" / "CLAUDE.md", "from CLAUDE_CONFIG_DIR")  # see conftest
    assert discover_memory_files(project) == [user]
    assert [s.content for s in memory_sources(project)] == ["from CLAUDE_CONFIG_DIR"]
