"""Context for a request: Claude Code sessions, CLAUDE.md, files, notes, fitted to a window.

Start with `gather_context` (collects sources) and `ContextSet.assemble` (fits them to a model);
the modules below hold the pieces.
"""

from devflow_tui.context.assembly import (
    AssembledContext,
    ContextItemReport,
    assemble,
    context_tokens,
)
from devflow_tui.context.claude_sessions import (
    ClaudeSession,
    SessionInfo,
    SessionSummary,
    claude_root,
    find_sessions,
    parse_session,
    project_slug,
    resolve_session,
    session_source,
)
from devflow_tui.context.errors import ContextError
from devflow_tui.context.gather import ContextSet, gather_context
from devflow_tui.context.scrub import ScrubReport
from devflow_tui.context.sources import ContextPart, ContextSource
from devflow_tui.context.tokens import estimate_tokens

__all__ = [
    "AssembledContext",
    "ClaudeSession",
    "ContextError",
    "ContextItemReport",
    "ContextPart",
    "ContextSet",
    "ContextSource",
    "ScrubReport",
    "SessionInfo",
    "SessionSummary",
    "assemble",
    "claude_root",
    "context_tokens",
    "estimate_tokens",
    "find_sessions",
    "gather_context",
    "parse_session",
    "project_slug",
    "resolve_session",
    "session_source",
]
