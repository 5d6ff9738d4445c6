"""End to end: a project with a Claude Code session, CLAUDE.md, notes and files, to messages."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.context.claude_sessions import project_slug
from devflow_tui.context.errors import ContextError
from devflow_tui.context.gather import gather_context
from devflow_tui.context.notes import project_key
from tests.context.builders import SessionBuilder, tool_use

FIXTURE = Path(__file__).parent / "fixtures" / "claude-code-viewer-v1.0.98.jsonl"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AnalyticsStore]:
    with AnalyticsStore(tmp_path / "devflow.db", clock=lambda: 1_700_000_000.0) as opened:
        yield opened


@pytest.fixture
def project(tmp_path: Path, fake_key: str) -> Path:
    """A project with a session in the isolated Claude dir (CLAUDE_CONFIG_DIR, see conftest)."""
    project = tmp_path / "proj"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text("def main() -> None:\n    pass\n", encoding="utf-8")
    (project / "CLAUDE.md").write_text("Run `make test` before committing.\n", encoding="utf-8")
    b = SessionBuilder(cwd=str(project), git_branch="feature/x")
    b.user("Add a --verbose flag to the CLI")
    b.assistant("I'll edit the CLI.", tool_use("Edit", "t1", file_path=str(project / "src/app.py")))
    b.tool_result("t1", "The file has been updated.")
    b.user(f"Also use OPENROUTER_API_KEY={fake_key} for the tests")
    b.assistant("Done; tests pass.")
    b.write(tmp_path / "claude" / "projects" / project_slug(project) / f"{b.session_id}.jsonl")
    return project


def test_handoff_gathers_everything_and_fits(
    project: Path, store: AnalyticsStore, fake_key: str
) -> None:
    store.add_note("The CLI uses click.", project_key(project))
    context = gather_context(
        project,
        "Review @src/app.py and finish the task.",
        claude_session="latest",
        notes=store,
    )
    kinds = [source.kind for source in context.sources]
    assert kinds == ["note", "claude-md", "claude-session", "file"]
    assert context.prompt == "Review src/app.py and finish the task."
    assert context.mentions == ["src/app.py"]
    assert context.session is not None
    summary = context.session.summary()
    assert summary.task == "Add a --verbose flag to the CLI"
    assert summary.last_request is not None and summary.last_request.startswith("Also use")
    assert summary.files_edited == [str(project / "src/app.py")]
    assert (summary.git_branch, summary.turns, summary.tool_calls) == ("feature/x", 4, 1)
    assert json.loads(summary.model_dump_json())["session_id"] == context.session.session_id
    assert context.total_tokens == sum(s.tokens for s in context.sources)
    need = context.required_tokens("sys")
    assert context.fits(need + 100, 100, "sys") and not context.fits(need + 99, 100, "sys")

    assembled = context.assemble(context_length=8000, max_output_tokens=500, system_prompt="sys")
    sent = json.dumps([m.model_dump() for m in assembled.messages])
    assert fake_key not in sent
    assert assembled.scrubbed.as_dict() == {"openrouter": 1}
    assert [item.kind for item in assembled.report] == kinds
    assert assembled.messages[0].role == "system"
    lines = assembled.describe()
    assert lines[0].startswith("included") and "note #1 (project)" in lines[0]
    assert lines[-1] == "secrets  removed 1 secret (1 openrouter)"
    assert any(line.startswith("total") for line in lines)


def test_plain_ask_without_session_skips_claude_md(project: Path) -> None:
    context = gather_context(project, "hello", context_paths=["src"])
    assert [s.kind for s in context.sources] == ["file"]
    assert context.session is None
    assert [s.kind for s in gather_context(project, "hi", include_memory=True).sources] == [
        "claude-md"
    ]
    assert gather_context(project, "").sources == []


def test_session_by_path_and_errors(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.jsonl"
    shutil.copy(FIXTURE, copy)
    context = gather_context(project, "go", claude_session=str(copy), include_sidechains=True)
    assert context.session is not None and context.session.turn_count == 6
    with pytest.raises(ContextError, match="no Claude Code session for"):
        gather_context(tmp_path / "elsewhere", "go", claude_session="latest")
    with pytest.raises(ContextError, match=r"no such file or directory: missing\.py"):
        gather_context(project, "look at @missing.py")


def test_every_source_is_scrubbed_on_the_way_out(
    project: Path, store: AnalyticsStore, tmp_path: Path
) -> None:
    """Notes, CLAUDE.md, the Claude session, `--context` files, `.env` and `@mentions` all
    reach the model through the scrubber (fake secrets built at run time)."""
    pw = {name: f"{name}-" + "Zq7" * 4 for name in ("note", "md", "env", "yaml", "json", "url")}
    store.add_note(f"staging password={pw['note']}", project_key(project))
    (project / "CLAUDE.md").write_text(f"Deploy with secret_key={pw['md']}\n", encoding="utf-8")
    (project / ".env").write_text(f'DB_PASSWORD="{pw["env"]} with $pace"\n', encoding="utf-8")
    (project / "cfg.yml").write_text(f"db:\n  db_password: {pw['yaml']}\n", encoding="utf-8")
    (project / "aws.json").write_text(f'{{"SecretAccessKey": "{pw["json"]}"}}', encoding="utf-8")
    (project / "src" / "db.py").write_text(f"URL = 'postgres://app:{pw['url']}@db/app'\n")
    context = gather_context(
        project,
        "Check @.env and @cfg.yml please",
        claude_session="latest",
        context_paths=["aws.json", "src"],
        notes=store,
    )
    assembled = context.assemble(context_length=16_000, max_output_tokens=500, system_prompt="")
    sent = json.dumps([m.model_dump() for m in assembled.messages])
    assert [v for v in pw.values() if v in sent] == []
    assert "$pace" not in sent
    assert assembled.scrubbed.total == 7  # the six above and the session's key


def test_a_mentioned_directory_is_named_not_walked(project: Path) -> None:
    with pytest.raises(ContextError, match=r"@src/ is a directory, not a file") as info:
        gather_context(project, "look at @src/ please")
    assert "--context src/" in str(info.value)
    with pytest.raises(ContextError, match=r"@/ is a directory"):
        gather_context(project, "read @/ for me")
    # Asked for with --context, the folder is read (and its mention is then fine).
    context = gather_context(project, "look at @src/", context_paths=["src/"])
    assert [s.kind for s in context.sources] == ["file"]
