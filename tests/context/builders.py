"""Builders that write Claude Code session files with every record type of the reference.

Records follow `shared/claude-code-sessions.md` §4 (2.1.x envelope; 1.x files come from the real
fixture). Each method appends a record and returns its uuid (when it has one), so tests can
build branches, side-branch tool results, compactions and sidechains explicitly.
"""

from __future__ import annotations

import json
import uuid as uuid_module
from pathlib import Path
from typing import Any

_LAST = object()


class SessionBuilder:
    """Append records, then `write()` them as JSONL."""

    def __init__(
        self,
        session_id: str | None = None,
        cwd: str = "/home/dev/project",
        version: str = "2.1.39",
        git_branch: str = "main",
    ) -> None:
        self.session_id = session_id or str(uuid_module.uuid4())
        self.cwd = cwd
        self.version = version
        self.git_branch = git_branch
        self.lines: list[str] = []
        self.last: str | None = None
        self.count = 0

    # -- plumbing -------------------------------------------------------------------------
    def _uuid(self) -> str:
        self.count += 1
        return str(uuid_module.uuid4())

    def _parent(self, parent: object) -> str | None:
        return self.last if parent is _LAST else parent  # type: ignore[return-value]

    def add(self, record: dict[str, Any], *, advance: bool = True) -> str | None:
        """Append a raw record (dict); `advance` moves the default parent to it."""
        self.lines.append(json.dumps(record, ensure_ascii=False))
        uid = record.get("uuid")
        if advance and isinstance(uid, str):
            self.last = uid
        return uid if isinstance(uid, str) else None

    def raw(self, line: str) -> None:
        """Append a line as is (malformed JSON, blank lines...)."""
        self.lines.append(line)

    def envelope(
        self, kind: str, parent: object = _LAST, *, sidechain: bool = False, **extra: Any
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "parentUuid": self._parent(parent),
            "isSidechain": sidechain,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": self.version,
            "gitBranch": self.git_branch,
            "type": kind,
            "uuid": self._uuid(),
            "timestamp": f"2026-02-12T16:{self.count // 60 % 60:02d}:{self.count % 60:02d}.000Z",
        }
        record.update(extra)
        return record

    # -- conversational records -----------------------------------------------------------
    def user(
        self,
        content: Any,
        parent: object = _LAST,
        *,
        meta: bool = False,
        sidechain: bool = False,
        compact_summary: bool = False,
        advance: bool = True,
        **extra: Any,
    ) -> str:
        record = self.envelope(
            "user", parent, sidechain=sidechain, message={"role": "user", "content": content}
        )
        if meta:
            record["isMeta"] = True
        if compact_summary:
            record["isCompactSummary"] = True
        record.update(extra)
        return self.add(record, advance=advance) or ""

    def assistant(
        self,
        *blocks: dict[str, Any] | str,
        message_id: str | None = None,
        model: str = "claude-opus-4-6",
        parent: object = _LAST,
        sidechain: bool = False,
        output_tokens: int = 10,
        **extra: Any,
    ) -> list[str]:
        """One line per content block, sharing one message id (as Claude Code streams them)."""
        message_id = message_id or f"msg_{uuid_module.uuid4().hex[:24]}"
        uuids: list[str] = []
        for block in blocks:
            content = {"type": "text", "text": block} if isinstance(block, str) else block
            record = self.envelope(
                "assistant",
                parent if not uuids else _LAST,
                sidechain=sidechain,
                message={
                    "model": model,
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "content": [content],
                    "stop_reason": None,
                    "usage": {"input_tokens": 3, "output_tokens": output_tokens},
                },
                requestId=f"req_{message_id}",
            )
            record.update(extra)
            uuids.append(self.add(record) or "")
        return uuids

    def tool_result(
        self,
        tool_use_id: str,
        content: Any,
        parent: object = _LAST,
        *,
        is_error: bool = False,
        sidechain: bool = False,
        advance: bool = True,
    ) -> str:
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": tool_use_id,
            "content": content,
        }
        if is_error:
            block["is_error"] = True
        record = self.envelope(
            "user",
            parent,
            sidechain=sidechain,
            message={"role": "user", "content": [block]},
            toolUseResult={"stdout": content if isinstance(content, str) else "", "stderr": ""},
        )
        return self.add(record, advance=advance) or ""

    # -- bookkeeping records -----------------------------------------------------------------
    def progress(self, hook: str = "PreToolUse", parent: object = _LAST) -> str:
        record = self.envelope(
            "progress", parent, data={"type": "hook_progress", "hookEvent": hook}, toolUseID="t"
        )
        return self.add(record) or ""

    def system(self, subtype: str, parent: object = _LAST, **extra: Any) -> str:
        record = self.envelope("system", parent, subtype=subtype, content=subtype, level="info")
        record.update(extra)
        return self.add(record) or ""

    def compact(self, summary: str) -> str:
        """A compact_boundary (parentUuid null) followed by the isCompactSummary user record."""
        boundary = self.envelope(
            "system",
            None,
            subtype="compact_boundary",
            content="Conversation compacted",
            logicalParentUuid=self.last,
            compactMetadata={"trigger": "auto", "preTokens": 155025},
        )
        self.add(boundary)
        text = (
            "This session is being continued from a previous conversation that ran out of "
            f"context. The conversation is summarized below:\n{summary}"
        )
        return self.user(text, compact_summary=True)

    def attachment(self, kind: str = "nested_memory") -> str:
        record = self.envelope("attachment", attachment={"type": kind, "displayPath": "CLAUDE.md"})
        return self.add(record, advance=False) or ""

    def uuidless(self, kind: str, **fields: Any) -> None:
        """summary, file-history-snapshot, queue-operation, custom-title, ai-title, ..."""
        self.add({"type": kind, **fields}, advance=False)

    def all_bookkeeping(self) -> None:
        """One record of every non-conversational type in the reference's table."""
        self.uuidless("summary", summary="A title", leafUuid="00000000-dead")
        self.uuidless("file-history-snapshot", messageId="m", snapshot={}, isSnapshotUpdate=False)
        self.uuidless("queue-operation", operation="enqueue", content="later", sessionId="s")
        self.uuidless("pr-link", prNumber=3, prUrl="https://example.invalid/pr/3")
        self.uuidless("agent-name", agentName="helper")
        self.uuidless("custom-title", customTitle="My custom title")
        self.uuidless("ai-title", aiTitle="AI title")
        self.uuidless("last-prompt", lastPrompt="x", leafUuid=self.last)
        self.uuidless("permission-mode", permissionMode="default")
        self.uuidless("agent-setting", agentSetting={})
        self.uuidless("bridge-session", bridgeSessionId="b", lastSequenceNum=1)
        self.uuidless("worktree-state", worktreeSession={"originalCwd": self.cwd})
        self.attachment()
        self.system("turn_duration", durationMs=12)

    # -- output ---------------------------------------------------------------------------
    def text(self, *, truncate_last: bool = False) -> str:
        lines = list(self.lines)
        if truncate_last and lines:
            lines[-1] = lines[-1][: len(lines[-1]) // 2]
            return "\n".join(lines)
        return "\n".join(lines) + "\n"

    def write(self, path: Path, *, truncate_last: bool = False) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.text(truncate_last=truncate_last), encoding="utf-8")
        return path


def tool_use(name: str, tool_id: str, **data: Any) -> dict[str, Any]:
    """A tool_use content block."""
    return {"type": "tool_use", "id": tool_id, "name": name, "input": data}


def thinking(text: str = "Let me think.") -> dict[str, Any]:
    return {"type": "thinking", "thinking": text, "signature": "c2lnbmF0dXJl"}
