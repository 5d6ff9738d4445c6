"""One call that collects every context source for a request, for the CLI and the dashboard.

`gather_context` resolves a Claude Code session (`latest`, an id, a prefix or a path), the
CLAUDE.md memory files, `--context` paths, `@path` mentions in the prompt, and pinned notes,
and returns them as a `ContextSet` whose size the router can read before choosing a model.

CLAUDE.md files are included by default only for a handoff (when a session is given): they are
the rules that session worked under. Plain `devflow ask` sends them only when asked.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from devflow_tui.context.assembly import AssembledContext, assemble, context_tokens
from devflow_tui.context.errors import ContextError
from devflow_tui.context.files import MAX_FILE_BYTES, extract_mentions, file_sources
from devflow_tui.context.notes import NoteSource, NotesStore, project_key
from devflow_tui.context.scrub import ScrubReport, scrub
from devflow_tui.context.sources import ContextSource
from devflow_tui.openrouter.wire import ChatMessage

if TYPE_CHECKING:
    # Imported where used: a plain `devflow ask` reads no Claude files, and these modules
    # are a noticeable part of its start-up.
    from devflow_tui.context.claude_sessions import ClaudeSession


@dataclass
class ContextSet:
    """The sources gathered for one request, and the prompt with its `@` mentions resolved."""

    sources: list[ContextSource]
    prompt: str
    session: ClaudeSession | None = None
    mentions: list[str] = field(default_factory=list)
    # The conversation's earlier messages, scrubbed as the prompt is (the dashboard keeps a
    # turn as typed: a key pasted in it went upstream with every later request).
    history: list[ChatMessage] = field(default_factory=list)
    # Secrets taken out of the prompt and the history (a key pasted with an error log),
    # counted with those of the context sources in every assembly.
    prompt_scrubbed: ScrubReport = field(default_factory=ScrubReport)

    @property
    def total_tokens(self) -> int:
        """Tokens of all readable sources, untrimmed."""
        return sum(source.tokens for source in self.sources if source.refused is None)

    def required_tokens(self, system_prompt: str | None = None) -> int:
        """Prompt tokens the request needs untrimmed; compare with a model's window."""
        return context_tokens(self.sources, self.prompt, system_prompt)

    def fits(
        self, context_length: int, max_output_tokens: int, system_prompt: str | None = None
    ) -> bool:
        """Whether a model with this window takes everything without trimming."""
        return self.required_tokens(system_prompt) + max_output_tokens <= context_length

    def assemble(
        self,
        *,
        context_length: int,
        max_output_tokens: int,
        system_prompt: str | None,
        reserve_tokens: int | None = None,
    ) -> AssembledContext:
        """Fit the set (its history included) into one model's window (`assembly.assemble`)."""
        assembled = assemble(
            self.sources,
            context_length=context_length,
            max_output_tokens=max_output_tokens,
            system_prompt=system_prompt,
            prompt=self.prompt,
            history=self.history,
            reserve_tokens=reserve_tokens,
        )
        assembled.scrubbed.merge(self.prompt_scrubbed)
        return assembled


def gather_context(
    project_dir: Path,
    prompt: str = "",
    *,
    claude_session: str | None = None,
    context_paths: Sequence[str] = (),
    notes: NotesStore | None = None,
    include_memory: bool | None = None,
    include_sidechains: bool = False,
    root: Path | None = None,
    home: Path | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
    history: Sequence[ChatMessage] = (),
) -> ContextSet:
    """Collect the context for a prompt asked in `project_dir` (after the conversation's
    `history`); raises `ContextError`. The prompt and the history are scrubbed here, once
    per request, not once per model the request is fitted to."""
    sources: list[ContextSource] = []
    session: ClaudeSession | None = None
    if notes is not None:
        sources += NoteSource(notes, project_key(project_dir)).sources()
    if include_memory is None:
        include_memory = claude_session is not None
    if include_memory:
        from devflow_tui.context.claude_md import memory_sources

        sources += memory_sources(project_dir, root, home)
    if claude_session is not None:
        from devflow_tui.context.claude_sessions import (
            parse_session,
            resolve_session,
            session_source,
        )

        path = resolve_session(claude_session, project_dir, root)
        session = parse_session(path, include_sidechains=include_sidechains)
        sources.append(session_source(session))
    cleaned, mentions = extract_mentions(prompt)
    # The prompt goes through the scrubber every source does: what is sent, recorded, titled
    # and shown never holds a key, even one typed or pasted in the prompt.
    cleaned, prompt_scrubbed = scrub(cleaned)
    clean_history: list[ChatMessage] = []
    for message in history:
        if isinstance(message.content, str):
            text, found = scrub(message.content)
            if found.total:
                message = message.model_copy(update={"content": text})
                prompt_scrubbed.merge(found)
        clean_history.append(message)
    for mention in mentions:
        target = Path(os.path.expanduser(mention))
        if mention not in context_paths and (project_dir / target).is_dir():
            # A mention names one file; a whole folder (maybe `/` or a home directory) is
            # only read when asked for with --context.
            raise ContextError(
                f"@{mention} is a directory, not a file",
                hint=f"Mention a file in it, or pass --context {mention} to include the folder.",
            )
    paths = [*context_paths, *(m for m in mentions if m not in context_paths)]
    if paths:
        sources += file_sources(paths, project_dir, max_bytes=max_file_bytes)
    return ContextSet(
        sources=sources,
        prompt=cleaned,
        session=session,
        mentions=mentions,
        history=clean_history,
        prompt_scrubbed=prompt_scrubbed,
    )
