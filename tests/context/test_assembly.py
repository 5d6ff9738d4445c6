"""Assembly: priorities, trimming, scrubbing, and the window invariant over many sizes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from devflow_tui.context.assembly import (
    AssembledContext,
    assemble,
    context_tokens,
    default_reserve,
)
from devflow_tui.context.claude_sessions import parse_session, session_source
from devflow_tui.context.errors import ContextError
from devflow_tui.context.sources import ContextPart, ContextSource
from devflow_tui.context.tokens import estimate_tokens, message_tokens
from devflow_tui.openrouter.wire import ChatMessage
from tests.context.builders import SessionBuilder, tool_use

FIXTURE = Path(__file__).parent / "fixtures" / "claude-code-viewer-v1.0.98.jsonl"
SYSTEM = "You are a careful assistant."
PROMPT = "What should I do next?"


def _session(tmp_path: Path, turns: int = 30, output_lines: int = 400) -> ContextSource:
    b = SessionBuilder()
    for i in range(turns):
        b.user(f"step {i}: change module_{i}.py")
        b.assistant(f"Editing module_{i}.py now.", tool_use("Bash", f"t{i}", command=f"pytest {i}"))
        lines = output_lines if i % 7 == 3 else 5
        b.tool_result(f"t{i}", "\n".join(f"out {i}.{n} ok" for n in range(lines)))
        b.assistant(f"Step {i} done.")
    return session_source(parse_session(b.write(tmp_path / "s.jsonl")))


def _sources(tmp_path: Path) -> list[ContextSource]:
    return [
        ContextSource.from_text("file big.py", "file", "x = 1\n" * 800, ref="file:big.py"),
        _session(tmp_path),
        ContextSource.from_text("CLAUDE.md (project)", "claude-md", "Use ruff.\n" * 30),
        ContextSource.from_text("note #1 (project)", "note", "Prefer small commits.", ref="note:1"),
        ContextSource.refusal("file logo.png", "file", "binary (contains NUL bytes)"),
    ]


def _check(assembled: AssembledContext, context_length: int, max_output: int) -> None:
    assert assembled.total_tokens == message_tokens(assembled.messages)
    assert assembled.total_tokens + max_output <= context_length
    assert assembled.total_tokens <= assembled.budget
    assert assembled.messages[-1].role == "user"
    content = assembled.messages[-1].content
    assert isinstance(content, str) and content.endswith(PROMPT)


def test_window_is_never_exceeded_over_many_sizes(tmp_path: Path) -> None:
    sources = _sources(tmp_path)
    full = context_tokens(sources, PROMPT, SYSTEM)
    rng = random.Random(1234)
    statuses: set[str] = set()
    for context_length in [*range(120, 1200, 37), *range(1200, full + 600, 97)]:
        max_output = rng.choice([16, 64, 100, 256])
        if context_length - max_output - default_reserve(context_length) < 40:
            continue
        assembled = assemble(
            sources,
            context_length=context_length,
            max_output_tokens=max_output,
            system_prompt=SYSTEM,
            prompt=PROMPT,
        )
        _check(assembled, context_length, max_output)
        statuses |= {item.status for item in assembled.report}
        # The refused file is always reported as dropped with its reason.
        refused = [item for item in assembled.report if item.ref == "file:file logo.png"]
        assert refused[0].status == "dropped" and refused[0].note.startswith("binary")
    assert statuses == {"included", "trimmed", "dropped"}


def test_everything_fits_in_a_large_window(tmp_path: Path) -> None:
    sources = _sources(tmp_path)
    assembled = assemble(
        sources,
        context_length=200_000,
        max_output_tokens=4096,
        system_prompt=SYSTEM,
        prompt=PROMPT,
    )
    by_kind = {item.kind: item for item in assembled.report if item.status != "dropped"}
    assert all(item.status == "included" for item in by_kind.values())
    assert all(item.tokens_after == item.tokens_before for item in by_kind.values())
    system, user = assembled.messages
    assert system.role == "system" and isinstance(system.content, str)
    assert system.content.startswith(SYSTEM)
    # Notes come before CLAUDE.md in the system message; session before files in the user one.
    assert system.content.index("Prefer small commits.") < system.content.index("Use ruff.")
    assert isinstance(user.content, str)
    assert user.content.index("claude-session") < user.content.index('name="file big.py"')
    assert context_tokens(sources, PROMPT, SYSTEM) >= assembled.total_tokens
    assert assembled.context_tokens == sum(item.tokens_after for item in assembled.report)
    views = assembled.views()
    assert [v.source for v in views] == [item.ref for item in assembled.report]


def test_priority_drops_files_before_session_before_memory(tmp_path: Path) -> None:
    sources = _sources(tmp_path)
    note, claude_md, session, big_file = sources[3], sources[2], sources[1], sources[0]
    window = 60 + note.tokens + claude_md.tokens + session.tokens // 3
    assembled = assemble(
        sources,
        context_length=window + 200,
        max_output_tokens=64,
        system_prompt=SYSTEM,
        prompt=PROMPT,
    )
    status = {item.ref: item.status for item in assembled.report}
    assert status[note.ref] == "included"
    assert status[claude_md.ref] == "included"
    assert status[session.ref] == "trimmed"
    assert status[big_file.ref] == "dropped"


def test_session_trimming_shortens_largest_outputs_then_drops_oldest_turns(tmp_path: Path) -> None:
    session = _session(tmp_path)
    # Just too small for everything: the prompt and the framing take a few dozen tokens.
    assembled = assemble(
        [session],
        context_length=session.tokens + 64,
        max_output_tokens=64,
        system_prompt=None,
        prompt=PROMPT,
        reserve_tokens=0,
    )
    [item] = assembled.report
    assert item.status == "trimmed"
    assert "shortened" in item.note and "turns" not in item.note  # outputs went first
    content = assembled.messages[0].content
    assert isinstance(content, str)
    assert "step 0: change module_0.py" in content  # no turn was dropped
    # One of the largest outputs (400 lines) went; the small ones stayed.
    assert content.count("[output of Bash: pytest") == 1
    assert "trimmed: 400 lines]" in content and "out 1.4 ok" in content
    tight = assemble(
        [session], context_length=700, max_output_tokens=64, system_prompt=None, prompt=PROMPT
    )
    [item] = tight.report
    assert item.status == "trimmed" and "kept the newest" in item.note
    text = tight.messages[0].content
    assert isinstance(text, str)
    assert "Step 29 done." in text and "step 0:" not in text
    assert tight.messages[0].role == "user" and len(tight.messages) == 1


def test_compaction_summary_outlives_older_turns(tmp_path: Path) -> None:
    b = SessionBuilder()
    b.compact("SUMMARY-MARKER of the earlier work")
    for i in range(20):
        b.user(f"prompt {i} " + "word " * 40)
        b.assistant(f"answer {i} " + "word " * 40)
    source = session_source(parse_session(b.write(tmp_path / "s.jsonl")))
    assembled = assemble(
        [source], context_length=900, max_output_tokens=64, system_prompt=None, prompt=PROMPT
    )
    text = assembled.messages[0].content
    assert isinstance(text, str)
    assert "SUMMARY-MARKER" in text and "answer 19" in text and "prompt 0 " not in text


def test_newest_turn_alone_too_long_keeps_its_end(tmp_path: Path) -> None:
    b = SessionBuilder()
    b.user("short")
    b.assistant("START " + "filler " * 2000 + " THE-END")
    source = session_source(parse_session(b.write(tmp_path / "s.jsonl")))
    assembled = assemble(
        [source], context_length=600, max_output_tokens=64, system_prompt=None, prompt=PROMPT
    )
    [item] = assembled.report
    assert item.status == "trimmed"
    assert "cut the start of the newest turn" in item.note
    text = assembled.messages[0].content
    assert isinstance(text, str) and "THE-END" in text and "START" not in text
    _check(assembled, 600, 64)


def test_files_and_claude_md_keep_their_head(tmp_path: Path) -> None:
    lines = "".join(f"line {i}\n" for i in range(2000))
    file_source = ContextSource.from_text("file long.txt", "file", lines, ref="file:long.txt")
    assembled = assemble(
        [file_source], context_length=1000, max_output_tokens=100, system_prompt=None, prompt=PROMPT
    )
    [item] = assembled.report
    assert item.status == "trimmed" and item.note.startswith("kept the first")
    text = assembled.messages[0].content
    assert isinstance(text, str) and "line 0\n" in text and "line 1999" not in text
    assert "[… truncated: about" in text
    _check(assembled, 1000, 100)


def test_notes_are_never_cut_and_tiny_rooms_drop(tmp_path: Path) -> None:
    note = ContextSource.from_text("note #1", "note", "fact " * 400, ref="note:1")
    assembled = assemble(
        [note], context_length=400, max_output_tokens=50, system_prompt=None, prompt=PROMPT
    )
    assert [(i.status, i.tokens_after) for i in assembled.report] == [("dropped", 0)]
    assert [m.role for m in assembled.messages] == ["user"]


def test_secrets_are_scrubbed_and_counted_only_when_sent(tmp_path: Path, fake_key: str) -> None:
    b = SessionBuilder()
    b.user(f"my key is {fake_key}")
    b.assistant("Noted; never share it.")
    session = session_source(parse_session(b.write(tmp_path / "s.jsonl")))
    env_file = ContextSource.from_text("file .env", "file", "DB_PASSWORD=hunter2hunter2\nDEBUG=1\n")
    # A secret in the part of a file that is cut off is not sent, so not counted.
    cut = ContextSource.from_text(
        "file huge", "file", "x = 1\n" * 3000 + "AKIA" + "IOSFODNN7EXAMPLE"
    )
    assembled = assemble(
        [session, env_file, cut],
        context_length=2000,
        max_output_tokens=100,
        system_prompt=None,
        prompt=PROMPT,
    )
    sent = "\n".join(str(m.content) for m in assembled.messages)
    assert fake_key not in sent and "hunter2hunter2" not in sent
    assert "[REDACTED:openrouter]" in sent and "DB_PASSWORD=[REDACTED:env]" in sent
    assert "DEBUG=1" in sent
    assert [item.status for item in assembled.report] == ["included", "included", "trimmed"]
    assert assembled.scrubbed.as_dict() == {"env": 1, "openrouter": 1}


def test_history_keeps_newest_messages(tmp_path: Path) -> None:
    history = [
        ChatMessage(role="user" if i % 2 == 0 else "assistant", content=f"history {i} " * 30)
        for i in range(10)
    ]
    assembled = assemble(
        [],
        context_length=700,
        max_output_tokens=64,
        system_prompt=SYSTEM,
        prompt=PROMPT,
        history=history,
    )
    kept = assembled.messages[1:-1]
    assert kept and kept[-1] is history[-1]
    assert kept == history[-len(kept) :] and len(kept) < len(history)
    _check(assembled, 700, 64)
    # History is placed after CLAUDE.md and before the session in priority.
    memory = ContextSource.from_text("CLAUDE.md", "claude-md", "rule " * 50)
    with_memory = assemble(
        [memory],
        context_length=700,
        max_output_tokens=64,
        system_prompt=None,
        prompt=PROMPT,
        history=history,
    )
    assert with_memory.report[0].status == "included"
    assert len(with_memory.messages) - 2 < len(kept) + 1


def test_prompt_alone_too_large_is_a_clear_error() -> None:
    with pytest.raises(ContextError, match="the prompt alone needs about") as caught:
        assemble(
            [], context_length=100, max_output_tokens=50, system_prompt=SYSTEM, prompt="word " * 200
        )
    assert caught.value.hint is not None and "larger context window" in caught.value.hint
    with pytest.raises(ContextError, match="window of 100 tokens leaves 0"):
        assemble([], context_length=100, max_output_tokens=200, system_prompt=None, prompt="hi")


def test_explicit_reserve_and_empty_session_dropped(tmp_path: Path) -> None:
    empty = tmp_path / "e.jsonl"
    empty.write_text("", encoding="utf-8")
    source = session_source(parse_session(empty))
    assembled = assemble(
        [source],
        context_length=1000,
        max_output_tokens=10,
        system_prompt=None,
        prompt="hi",
        reserve_tokens=0,
    )
    assert assembled.budget == 990
    assert assembled.report[0].status == "dropped"  # a header without turns says nothing


def test_real_fixture_fits_every_window(tmp_path: Path) -> None:
    source = session_source(parse_session(FIXTURE))
    for context_length in range(150, source.tokens + 300, 11):
        assembled = assemble(
            [source],
            context_length=context_length,
            max_output_tokens=32,
            system_prompt=SYSTEM,
            prompt=PROMPT,
        )
        _check(assembled, context_length, 32)


def test_parts_sum_bounds_joined_text() -> None:
    parts = [ContextPart.of(f"part {i} {{x}};\n" * (i + 1), turn=i) for i in range(50)]
    source = ContextSource.from_parts("s", "claude-session", parts)
    assert estimate_tokens(source.content) <= source.tokens


def test_cut_turn_counts_only_secrets_that_are_sent(tmp_path: Path) -> None:
    early = "AKIA" + "IOSFODNN7EXAMPLE"
    late = "ghp_" + "x1Y2" * 9
    b = SessionBuilder()
    b.user("show me")
    b.assistant(f"{early} " + "filler " * 1500 + f"{late} and [REDACTED:jwt] was already there")
    source = session_source(parse_session(b.write(tmp_path / "s.jsonl")))
    assembled = assemble(
        [source], context_length=500, max_output_tokens=64, system_prompt=None, prompt=PROMPT
    )
    text = str(assembled.messages[0].content)
    assert early not in text and late not in text and "[REDACTED:github]" in text
    assert assembled.scrubbed.as_dict() == {"github": 1}
    _check(assembled, 500, 64)
