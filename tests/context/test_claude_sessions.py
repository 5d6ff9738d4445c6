"""Reading Claude Code sessions: the real 1.0.98 fixture and built 2.1.x sessions."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devflow_tui.context.claude_sessions import (
    ClaudeSession,
    claude_root,
    compact_text,
    find_sessions,
    parse_session,
    project_slug,
    resolve_session,
    session_source,
)
from devflow_tui.context.errors import ContextError
from tests.context.builders import SessionBuilder, thinking, tool_use

FIXTURES = Path(__file__).parent / "fixtures"
V1_FIXTURE = FIXTURES / "claude-code-viewer-v1.0.98.jsonl"
V1_ID = "fe5e1c67-53e7-4862-81ae-d0e013e3270b"


def _texts(session: ClaudeSession) -> list[tuple[str, str]]:
    return [(turn.role, turn.text) for turn in session.turns]


# -- the real fixture --------------------------------------------------------------------------


def test_real_v1_fixture_thread_and_summary() -> None:
    session = parse_session(V1_FIXTURE)
    # The expanded slash-command prompt (isMeta) and the inline sidechain are left out.
    assert [turn.role for turn in session.turns] == ["user", "assistant", "assistant", "assistant"]
    assert session.turns[0].text == "/orchestrator create TODO app by Next.js"
    assert session.task == "/orchestrator create TODO app by Next.js"
    assert session.last_request == "/orchestrator create TODO app by Next.js"
    assert session.title == "Empty Repo Setup: CLAUDE.md Foundation Created"
    assert session.cwd == "/path/to/Demo"
    assert session.version == "1.0.98"
    assert session.models == ["claude-sonnet-4-20250514"]
    assert session.counts.meta_skipped == 1
    assert session.counts.sidechain_records == 4
    assert session.counts.malformed_lines == 0
    assert not session.counts.truncated_last_line
    # Lines sharing a message id are merged: two Globs in one turn, results paired by id.
    first = session.turns[1]
    assert [call.summary for call in first.tools] == [
        "Glob: **/*.md in ~/.claude/commands",
        "Glob: **/*.md in ./.claude/commands",
    ]
    assert [call.result for call in first.tools] == ["No files found", "No files found"]
    assert [call.name for call in session.turns[3].tools] == ["Task", "Task", "Task"]
    assert session.turns[3].tools[0].result is None  # the fixture is cut before the results
    # usage repeated on each line is counted once per message id (largest value).
    assert session.counts.output_tokens == sum(
        max(v) for v in _usage_by_message(V1_FIXTURE).values()
    )


def _usage_by_message(path: Path) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        message = record.get("message")
        if record.get("type") == "assistant" and not record.get("isSidechain"):
            found.setdefault(message["id"], []).append(message["usage"]["output_tokens"])
    return found


def test_real_v1_fixture_with_sidechains() -> None:
    session = parse_session(V1_FIXTURE, include_sidechains=True)
    side = [turn for turn in session.turns if turn.sidechain]
    assert [turn.role for turn in side] == ["user", "assistant"]
    assert side[0].text.startswith("Create React components for the TODO app")
    assert side[1].tools[0].summary == "Bash: ls -la"
    assert side[1].tools[0].result is not None and "drwxr-xr-x" in side[1].tools[0].result
    # The subagent's prompt is not the user's last request.
    assert session.last_request == "/orchestrator create TODO app by Next.js"


def test_real_fixture_as_context_source() -> None:
    session = parse_session(V1_FIXTURE)
    source = session_source(session)
    assert source.kind == "claude-session"
    assert source.name.endswith("(4 turns)")
    assert source.parts[0].kind == "header"
    assert "Claude Code session" in source.parts[0].text
    assert "→ TodoWrite: [ ] Set up Next.js project structure" in source.content
    assert sum(p.tokens for p in source.parts) <= source.tokens
    assert {p.kind for p in source.parts} == {"header", "message", "tool-result"}


# -- built sessions: thread reconstruction ----------------------------------------------------


def test_side_branch_tool_result_is_reattached_and_hooks_skipped(tmp_path: Path) -> None:
    """The 2.1.39 shape of reference §5: result#1 hangs off a side branch."""
    b = SessionBuilder()
    b.progress("SessionStart", parent=None)
    b.progress("SessionStart")
    b.user("Work on bead spotter-dov.")
    b.assistant("\n\n", thinking(), tool_use("Bash", "toolu_1", command="bd show"), message_id="m1")
    use1 = b.last
    b.tool_result("toolu_1", "bead details", parent=use1, advance=False)
    b.progress("PreToolUse")
    b.assistant(tool_use("Bash", "toolu_2", command="bd ready"), message_id="m1")
    b.progress("PostToolUse")
    b.tool_result("toolu_2", "ready list")
    b.assistant("Both commands ran.", message_id="m2")
    session = parse_session(b.write(tmp_path / "s.jsonl"))
    assert _texts(session) == [
        ("user", "Work on bead spotter-dov."),
        ("assistant", ""),
        ("assistant", "Both commands ran."),
    ]
    calls = session.turns[1].tools
    assert [(c.summary, c.result) for c in calls] == [
        ("Bash: bd show", "bead details"),
        ("Bash: bd ready", "ready list"),
    ]
    assert "signature" not in session_source(session).content
    assert "Let me think" not in session_source(session).content


def test_rewound_branch_is_ignored(tmp_path: Path) -> None:
    b = SessionBuilder()
    root = b.user("first question")
    b.assistant("first answer")
    b.user("abandoned follow-up")
    b.assistant("abandoned answer")
    b.user("edited follow-up", parent=b.lines and json.loads(b.lines[1])["uuid"])
    b.assistant("live answer")
    assert root
    session = parse_session(b.write(tmp_path / "s.jsonl"))
    assert [text for _, text in _texts(session)] == [
        "first question",
        "first answer",
        "edited follow-up",
        "live answer",
    ]


def test_compaction_starts_from_the_latest_boundary(tmp_path: Path) -> None:
    b = SessionBuilder()
    b.user("very old prompt")
    b.assistant(tool_use("Edit", "t0", file_path="/p/old.py"))
    b.tool_result("t0", "edited")
    b.compact("first summary")
    b.user("middle prompt")
    b.assistant("middle answer")
    b.compact("second summary: we refactored old.py")
    b.user("newest prompt")
    b.assistant("newest answer")
    session = parse_session(b.write(tmp_path / "s.jsonl"))
    assert [turn.role for turn in session.turns] == ["summary", "user", "assistant"]
    assert "second summary" in session.turns[0].text
    assert session.counts.compactions == 2
    assert session.compact_summary is not None and "second summary" in session.compact_summary
    assert session.task is not None and "second summary" in session.task
    assert session.last_request == "newest prompt"
    # Files touched before the compaction still show on the handoff screen.
    assert session.files_touched == ["/p/old.py"]
    assert session.files_edited == ["/p/old.py"]
    source = session_source(session)
    assert source.parts[1].kind == "summary"
    assert "very old prompt" not in source.content


def test_summary_as_first_record_of_a_new_file(tmp_path: Path) -> None:
    b = SessionBuilder()
    b.user("summary of the previous file", parent=None, compact_summary=True)
    b.user("go on")
    session = parse_session(b.write(tmp_path / "s.jsonl"))
    assert [turn.role for turn in session.turns] == ["summary", "user"]
    assert session.task == "summary of the previous file"


def test_meta_noise_interruptions_and_images(tmp_path: Path) -> None:
    b = SessionBuilder()
    b.user("<local-command-caveat>Caveat: The messages below were generated</local-command-caveat>")
    b.user("expanded command prompt", meta=True)
    b.user("shown in the UI only", isVisibleInTranscriptOnly=True)
    b.user("<command-name>/clear</command-name>\n<command-message>clear</command-message>")
    b.user("<local-command-stdout>\x1b[1mdone\x1b[0m</local-command-stdout>")
    b.user("[Request interrupted by user]")
    b.user(
        [
            {"type": "text", "text": "What is in this screenshot?"},
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
            },
        ]
    )
    b.assistant("   ", "It shows a login form.", {"type": "redacted_thinking", "data": "x"})
    session = parse_session(b.write(tmp_path / "s.jsonl"))
    assert _texts(session) == [
        ("user", "/clear"),
        ("user", "What is in this screenshot?\n[image: image/png]"),
        ("assistant", "It shows a login form."),
    ]
    assert session.counts.meta_skipped == 2
    assert session.counts.noise_skipped == 3
    assert "AAAA" not in session_source(session).content


def test_every_bookkeeping_type_and_unknown_records_survive(tmp_path: Path) -> None:
    b = SessionBuilder()
    b.all_bookkeeping()
    b.user("hello")
    b.system("api_error", level="error")
    b.system("microcompact_boundary")
    b.add({"type": "future-record", "uuid": "u-future", "payload": [1, 2]}, advance=False)
    b.add({"type": "model_changed", "model": "x"}, advance=False)
    b.raw("[1, 2, 3]")  # valid JSON, not an object
    b.raw("")
    b.raw("{not json")
    b.assistant("hi there", extra_field_from_2_2={"nested": True})
    session = parse_session(b.write(tmp_path / "s.jsonl"))
    assert _texts(session) == [("user", "hello"), ("assistant", "hi there")]
    assert session.counts.unknown_types == {"future-record": 1, "model_changed": 1}
    assert session.counts.malformed_lines == 2
    assert not session.counts.truncated_last_line
    assert session.title == "My custom title"  # custom title beats ai-title and summary


def test_truncated_last_line_is_skipped_and_reported(tmp_path: Path) -> None:
    b = SessionBuilder()
    b.user("question")
    b.assistant("answer that is being written when the file was read")
    session = parse_session(b.write(tmp_path / "s.jsonl", truncate_last=True))
    assert _texts(session) == [("user", "question")]
    assert session.counts.truncated_last_line
    assert session.counts.malformed_lines == 1


def test_empty_and_whitespace_sessions(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    session = parse_session(empty)
    assert session.turns == [] and session.task is None and session.counts.records == 0
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n\n  \n", encoding="utf-8")
    assert parse_session(blank).turns == []
    source = session_source(session)
    assert source.name.endswith("(0 turns)")
    # Left out saying why (it was "did not fit the model's context window", at 5 tokens).
    assert source.refused == "the session has no conversation yet" and not source.parts


@pytest.mark.parametrize("content", [b"[]\n", bytes(range(256)) * 8, b'{"no": "type"\n'])
def test_a_file_that_is_not_a_session_is_an_error(tmp_path: Path, content: bytes) -> None:
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(content)
    with pytest.raises(ContextError, match="is not a Claude Code session") as info:
        session_source(parse_session(junk))
    assert info.value.hint is not None and "claude:latest" in info.value.hint


def test_unreadable_session_is_a_context_error(tmp_path: Path) -> None:
    with pytest.raises(ContextError, match="cannot read Claude Code session"):
        parse_session(tmp_path / "missing.jsonl")


def test_cycles_and_dangling_parents(tmp_path: Path) -> None:
    b = SessionBuilder()
    first = b.user("orphan start", parent="does-not-exist")
    b.assistant("reply")
    b.write(tmp_path / "s.jsonl")
    session = parse_session(tmp_path / "s.jsonl")
    assert [text for _, text in _texts(session)] == ["orphan start", "reply"]
    # A cycle (a -> b -> a) must terminate.
    c = SessionBuilder()
    a_id = c.user("a", parent="placeholder")
    b_id = c.assistant("b")[0]
    lines = [json.loads(line) for line in c.lines]
    lines[0]["parentUuid"] = b_id
    path = tmp_path / "cycle.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n", encoding="utf-8")
    assert [t for _, t in _texts(parse_session(path))] == ["a", "b"]
    assert first and a_id


def test_duplicate_uuid_keeps_first_occurrence(tmp_path: Path) -> None:
    b = SessionBuilder()
    b.user("original")
    record = json.loads(b.lines[-1])
    record["message"]["content"] = "copied by a resume"
    b.add(record)
    b.assistant("answer")
    session = parse_session(b.write(tmp_path / "s.jsonl"))
    assert [t for _, t in _texts(session)] == ["original", "answer"]


def test_huge_tool_result_becomes_head_and_tail(tmp_path: Path) -> None:
    output = "\n".join(f"line {i}" for i in range(5000))
    b = SessionBuilder()
    b.user("run it")
    b.assistant(tool_use("Bash", "t1", command="seq 5000"))
    b.tool_result("t1", [{"type": "text", "text": output}])
    session = parse_session(b.write(tmp_path / "s.jsonl"))
    call = session.turns[1].tools[0]
    assert call.result_lines == 5000
    assert call.result is not None
    assert call.result.startswith("line 0\nline 1\n")
    assert call.result.endswith("line 4998\nline 4999")
    assert "[… 4950 lines omitted …]" in call.result
    assert len(call.result.splitlines()) == 51


def test_compact_text_cuts_one_long_line() -> None:
    text = "x" * 20_000
    cut = compact_text(text)
    assert cut.startswith("x" * 3000 + "\n[… 15000 characters omitted …]\n")
    assert len(cut) < 5_100
    assert compact_text("short") == "short"


def test_tool_summaries_and_errors(tmp_path: Path) -> None:
    b = SessionBuilder()
    b.user("do things")
    b.assistant(
        tool_use("Read", "r", file_path="/p/a.py"),
        tool_use("Write", "w", file_path="/p/b.py", content="x"),
        tool_use("Grep", "g", pattern="TODO", path="src"),
        tool_use("Agent", "a", description="explore", subagent_type="Explore", prompt="..."),
        tool_use("WebFetch", "f", url="https://example.invalid"),
        tool_use("WebSearch", "s", query="textual markdown stream"),
        tool_use("NotebookEdit", "n", notebook_path="/p/n.ipynb"),
        tool_use("mcp__srv__do", "m", flag=True),
        tool_use("TodoWrite", "t", todos=[{"content": "a", "status": "completed"}]),
        {"type": "server_tool_use", "id": "srv", "name": "web_search", "input": {}},
    )
    b.tool_result("r", "     1→import os\n     2→print(os.sep)")
    b.tool_result("w", "permission denied", is_error=True)
    session = parse_session(b.write(tmp_path / "s.jsonl"))
    calls = {call.id: call for call in session.turns[1].tools}
    assert calls["r"].summary == "Read: /p/a.py"
    assert calls["r"].result == "import os\nprint(os.sep)"  # Read's line numbers removed
    assert calls["w"].is_error
    assert calls["g"].summary == "Grep: TODO in src"
    assert calls["a"].summary == "Agent: explore (Explore)"
    assert calls["f"].summary == "WebFetch: https://example.invalid"
    assert calls["s"].summary == "WebSearch: textual markdown stream"
    assert calls["m"].summary == 'mcp__srv__do: {"flag": true}'
    assert calls["t"].summary == "TodoWrite: [x] a"
    assert calls["srv"].summary == "web_search"
    assert session.files_touched == ["/p/a.py", "/p/b.py", "/p/n.ipynb"]
    assert session.files_edited == ["/p/b.py", "/p/n.ipynb"]
    assert session.counts.tool_calls == 10
    content = session_source(session).content
    assert "⎿ error from Write: /p/b.py:\npermission denied" in content


def test_orphan_tool_result_and_api_error_lines(tmp_path: Path) -> None:
    b = SessionBuilder()
    b.user("start")
    b.tool_result("toolu_before_compaction", "late output")
    b.assistant("Prompt is too long", isApiErrorMessage=True, model="<synthetic>")
    b.assistant("fine now")
    session = parse_session(b.write(tmp_path / "s.jsonl"))
    assert [turn.role for turn in session.turns] == ["user", "user", "assistant"]
    assert session.turns[1].tools[0].result == "late output"
    assert session.models == ["claude-opus-4-6"]


def test_subagent_file_is_its_own_main_thread(tmp_path: Path) -> None:
    b = SessionBuilder()
    b.user("subagent task", parent="parent-session-uuid", sidechain=True)
    b.assistant("subagent answer", sidechain=True)
    session = parse_session(b.write(tmp_path / "agent-a1.jsonl"))
    assert _texts(session) == [("user", "subagent task"), ("assistant", "subagent answer")]
    assert all(not turn.sidechain for turn in session.turns)
    assert session.cwd == "/home/dev/project"


def test_subagents_folder_merged_when_asked(tmp_path: Path) -> None:
    main = SessionBuilder(session_id="11111111-aaaa-bbbb-cccc-000000000000")
    main.user("delegate it")
    main.assistant(tool_use("Agent", "t1", description="dig", subagent_type="Explore"))
    main.tool_result("t1", "subagent found the bug")
    main.assistant("done")
    path = main.write(tmp_path / f"{main.session_id}.jsonl")
    sub = SessionBuilder(session_id=main.session_id)
    sub.count = 2  # timestamps fall between the main thread's turns
    sub.user("dig into it", parent=None, sidechain=True)
    sub.assistant("found it", sidechain=True)
    sub.write(tmp_path / main.session_id / "subagents" / "agent-a1.jsonl")
    compaction = SessionBuilder(session_id=main.session_id)
    compaction.user("summarise", parent=None, sidechain=True)
    compaction.write(tmp_path / main.session_id / "subagents" / "agent-acompact-1.jsonl")
    plain = parse_session(path)
    assert not any(turn.sidechain for turn in plain.turns)
    merged = parse_session(path, include_sidechains=True)
    side = [turn.text for turn in merged.turns if turn.sidechain]
    assert side == ["dig into it", "found it"]
    assert "summarise" not in [turn.text for turn in merged.turns]
    assert "subagent user: dig into it" in session_source(merged).content


# -- finding sessions -----------------------------------------------------------------------------


def test_claude_root_lookup_order(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert claude_root({"HOME": str(home)}) == home / ".claude"
    (home / ".config" / "claude" / "projects").mkdir(parents=True)
    assert claude_root({"HOME": str(home)}) == home / ".config" / "claude"
    (home / ".claude" / "projects").mkdir(parents=True)
    assert claude_root({"HOME": str(home)}) == home / ".claude"
    other = tmp_path / "other"
    other.mkdir()
    env = {"HOME": str(home), "CLAUDE_CONFIG_DIR": f"{tmp_path / 'nope'}, {other}"}
    assert claude_root(env) == other
    assert claude_root({"CLAUDE_CONFIG_DIR": str(tmp_path / "x")}) == tmp_path / "x"
    assert claude_root() == Path(os.environ["CLAUDE_CONFIG_DIR"])  # conftest isolates it


def test_project_slug_rule() -> None:
    assert project_slug("/Users/alice/myapp") == "-Users-alice-myapp"
    assert project_slug("/home/user/my_example_workspace") == "-home-user-my-example-workspace"
    assert project_slug("/Users/me/.agents") == "-Users-me--agents"
    assert project_slug("/Users/foo/Projects/Open Source/x") == "-Users-foo-Projects-Open-Source-x"


def _session_file(
    root: Path, project: Path, *, slug: str | None = None, cwd: str | None = None, age: int = 0
) -> Path:
    b = SessionBuilder(cwd=cwd or str(project))
    b.user(f"prompt {b.session_id[:4]}")
    b.assistant("ok")
    path = b.write(root / "projects" / (slug or project_slug(project)) / f"{b.session_id}.jsonl")
    stamp = datetime(2026, 1, 1, tzinfo=UTC).timestamp() + age
    os.utime(path, (stamp, stamp))
    return path


def test_find_sessions_newest_first_and_skips_collisions(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    project = tmp_path / "spec_rl"
    older = _session_file(root, project, age=10)
    newer = _session_file(root, project, age=20)
    # spec-rl and spec_rl share a slug; a session recorded for the other directory is left out.
    _session_file(root, project, cwd=str(tmp_path / "spec-rl"), age=30)
    (newer.parent / "agent-abc.jsonl").write_text("{}\n", encoding="utf-8")
    found = find_sessions(project, root)
    assert [info.path for info in found] == [newer, older]
    assert found[0].session_id == newer.stem
    assert found[0].project_dir == str(project)
    assert resolve_session("latest", project, root) == newer


def test_find_sessions_falls_back_to_recorded_cwd(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    project = tmp_path / "my.project"
    # An older Claude Code that kept the dot in the slug: not one of our candidates...
    path = _session_file(root, project, slug="-weird-old-slug")
    assert [info.path for info in find_sessions(project, root)] == [path]
    # ...and the index's projectPath is used too.
    other = tmp_path / "indexed"
    indexed = _session_file(root, other, slug="-another-slug")
    index = {
        "version": 1,
        "entries": [
            {
                "sessionId": indexed.stem,
                "fullPath": str(indexed),
                "firstPrompt": "Search if claude -p can …",
                "messageCount": 4,
                "gitBranch": "feature",
                "projectPath": str(other),
            },
            "garbage",
        ],
    }
    (indexed.parent / "sessions-index.json").write_text(json.dumps(index), encoding="utf-8")
    [info] = find_sessions(other, root)
    assert (info.path, info.first_prompt, info.message_count, info.git_branch) == (
        indexed,
        "Search if claude -p can …",
        4,
        "feature",
    )


def test_broken_index_is_ignored(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    project = tmp_path / "proj"
    path = _session_file(root, project)
    (path.parent / "sessions-index.json").write_text("{broken", encoding="utf-8")
    assert [i.path for i in find_sessions(project, root)] == [path]
    (path.parent / "sessions-index.json").write_text('{"entries": 3}', encoding="utf-8")
    assert [i.path for i in find_sessions(project, root)] == [path]


def test_missing_data_directory_message(tmp_path: Path) -> None:
    root = tmp_path / "no-claude-here"
    expected = f"no Claude Code data at {root}; set CLAUDE_CONFIG_DIR or pass a .jsonl path"
    with pytest.raises(ContextError) as caught:
        resolve_session("latest", tmp_path, root)
    assert caught.value.message == expected
    with pytest.raises(ContextError, match="no Claude Code data"):
        find_sessions(tmp_path, root)
    with pytest.raises(ContextError, match="no Claude Code data"):
        resolve_session("abc", tmp_path, root)


def test_no_session_for_this_project(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    _session_file(root, tmp_path / "elsewhere")
    with pytest.raises(ContextError, match=r"no Claude Code session for .*here") as caught:
        resolve_session("latest", tmp_path / "here", root)
    assert caught.value.hint is not None and "--project" in caught.value.hint


def test_resolve_by_id_prefix_path_and_ambiguity(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    project = tmp_path / "proj"
    folder = root / "projects" / project_slug(project)
    folder.mkdir(parents=True)
    for name in ("3f2a1b00-0000", "3f2a1b99-0000", "77aa0000-0000"):
        shutil.copy(V1_FIXTURE, folder / f"{name}.jsonl")
    elsewhere = _session_file(root, tmp_path / "other-project")
    assert resolve_session("77aa", project, root) == folder / "77aa0000-0000.jsonl"
    assert resolve_session("3f2a1b99-0000", project, root).stem == "3f2a1b99-0000"
    with pytest.raises(ContextError, match="ambiguous: 3f2a1b00-0000, 3f2a1b99-0000"):
        resolve_session("3f2a1b", project, root)
    # An id from another project is still found (the user may pass --project wrongly).
    assert resolve_session(elsewhere.stem[:12], project, root) == elsewhere
    with pytest.raises(ContextError, match="no Claude Code session with id 'zzz'"):
        resolve_session("zzz", project, root)
    # A path, relative to the project directory or absolute.
    assert resolve_session(str(V1_FIXTURE), project, root) == V1_FIXTURE
    with pytest.raises(ContextError, match="no Claude Code session file at"):
        resolve_session("missing/session.jsonl", project, root)


def test_fixture_as_latest_session_of_a_project(tmp_path: Path) -> None:
    """The real file placed where Claude Code would keep it, found through its cwd."""
    root = tmp_path / "claude"
    folder = root / "projects" / "sample-project"
    folder.mkdir(parents=True)
    shutil.copy(V1_FIXTURE, folder / f"{V1_ID}.jsonl")
    path = resolve_session("latest", Path("/path/to/Demo"), root)
    session = parse_session(path)
    assert session.session_id == V1_ID
    assert session.short_id == "fe5e1c67"
    assert session_source(session).name == "claude-session fe5e1c67 (4 turns)"


def test_odd_shapes_from_other_versions(tmp_path: Path) -> None:
    """Content as a plain string, odd tool_result items, bad timestamps, non-dict blocks."""
    b = SessionBuilder()
    b.user("question", timestamp="not a time")
    record = b.envelope("assistant", message={"id": "m1", "model": "m", "content": "plain reply"})
    record["timestamp"] = "2026-02-12T16:00:00"  # no zone: read as UTC
    b.add(record)
    b.assistant(tool_use("ToolSearch", "t1", query="x"), "not-a-dict-block-follows")
    b.add(b.envelope("assistant", message={"id": "m3", "content": 42}))
    b.add(b.envelope("assistant", message="not an object"))
    b.tool_result(
        "t1",
        [
            {"type": "tool_reference", "tool_name": "Bash"},
            {"type": "document", "source": {"type": "base64", "data": "JVBER"}},
            "a bare string item",
            7,
            {"type": "mystery"},
        ],
    )
    b.user(None)
    b.user([7, {"type": "text", "text": ""}])
    b.user({"unexpected": "shape"})
    path = b.write(tmp_path / "s.jsonl")
    session = parse_session(path)
    assert [(t.role, t.text) for t in session.turns[:2]] == [
        ("user", "question"),
        ("assistant", "plain reply"),
    ]
    assert session.turns[0].ts is None
    assert session.turns[1].ts == datetime(2026, 2, 12, 16, 0, tzinfo=UTC)
    call = session.turns[2].tools[0]
    assert call.result == "[tool: Bash]\n[document: unknown]\na bare string item"
    assert len(session.turns) == 3


def test_head_cwd_skips_sidechain_and_broken_lines(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    project = tmp_path / "proj"
    folder = root / "projects" / "-old-style"
    b = SessionBuilder(cwd=str(project))
    b.raw('{"cwd": broken')
    b.user("sub", sidechain=True, cwd="/somewhere/else")
    b.user("main prompt")
    path = b.write(folder / "abc.jsonl")
    assert [info.path for info in find_sessions(project, root)] == [path]
    (folder / "abc" / "subagents").mkdir(parents=True)  # no subagent files in it
    merged = parse_session(path, include_sidechains=True)
    assert [(t.text, t.sidechain) for t in merged.turns] == [("sub", True), ("main prompt", False)]


def test_symlinked_project_dir_matches_the_recorded_real_path(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    real = tmp_path / "real-project"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    path = _session_file(root, real)  # Claude Code records the resolved cwd
    assert resolve_session("latest", link, root) == path


def test_fixture_cut_anywhere_still_parses(tmp_path: Path) -> None:
    """A live session can be read at any byte: every prefix of the real file must parse."""
    data = V1_FIXTURE.read_bytes()
    path = tmp_path / "cut.jsonl"
    for end in range(0, len(data), 397):
        path.write_bytes(data[:end])
        session = parse_session(path)
        assert session.counts.malformed_lines <= 1
        assert session.counts.truncated_last_line == (session.counts.malformed_lines == 1)
        assert session_source(session).tokens >= 0


def test_secrets_are_scrubbed_before_a_long_tool_output_is_cut(fake_key: str) -> None:
    """A key cut in half by "lines omitted" (or by the character cut) would no longer be
    recognised by the scrubber, so the whole text is scrubbed first."""
    label = "EC " + "PRIVATE KEY"
    pem_lines = [f"-----BEGIN {label}-----", *(["MHcCAQEEIB" + "k" * 54] * 60)]
    pem_lines.append(f"-----END {label}-----")
    noise = [f"line {n}" for n in range(40)]
    cut = compact_text("\n".join([*noise[:25], *pem_lines, *noise]))
    assert "lines omitted" in cut and "[REDACTED:private-key]" in cut
    assert "MHcCAQEEIB" not in cut and "BEGIN" not in cut
    # A key straddling the character cut (HEAD_CHARS = 3,000 characters).
    text = "x" * (3_000 - 20) + " " + fake_key + " " + "y" * 5_000
    cut = compact_text(text)
    assert "characters omitted" in cut
    assert fake_key[:20] not in cut and fake_key[-12:] not in cut


def test_a_fifo_given_as_session_is_named_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "session.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(ContextError, match=r"is a named pipe \(FIFO\), not a Claude Code session"):
        resolve_session(str(fifo), tmp_path)
