"""The API call log: one JSON line per HTTP attempt, in a size-rotated file.

Each line holds ts, request_id, generation_id, endpoint, model, attempt, status, error
category, latency_ms, ttft_ms and token counts. The key never appears: every finished line
goes through `redact` (with the secrets the log was told about) as a last guard. Prompt text
is only written when `log_prompts` is on. The file and its backups are created with mode 0600.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from devflow_tui.config import Settings
from devflow_tui.redaction import redact

BACKUP_COUNT = 3
_ids = itertools.count(1)


@dataclass(frozen=True)
class CallEntry:
    """One API call (or one attempt of a chat call) as written to the log."""

    endpoint: str
    request_id: str | None = None
    generation_id: str | None = None
    model: str | None = None
    attempt: int | None = None
    status: int | None = None
    error: str | None = None  # error category; None on success
    message: str | None = None  # the error message (already redacted by OpenRouterError)
    latency_ms: float | None = None
    ttft_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: Decimal | None = None
    wait_before_s: float | None = None
    stream: bool | None = None
    complete: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_FIELDS = tuple(f.name for f in fields(CallEntry) if f.name != "extra")


class _PrivateRotatingFileHandler(RotatingFileHandler):
    """A RotatingFileHandler whose files (current and after rotation) are mode 0600, and
    which formats each line once. The standard one formats every line twice (once to see
    whether it still fits the file) and looks the file up twice per line (is it a regular
    file?): a proxied request writes a line per attempt on the event loop, and that was
    ~5% of the proxy's CPU time. Here the size check is one seek to the end, which also
    counts what another process appended, and whether the file can rotate is read once
    per open."""

    _regular = True  # rotate only a regular file (not /dev/null, a pipe...), as the base does

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        # os.open honours the umask only to remove bits; chmod fixes a file made earlier.
        os.chmod(self.baseFilename, 0o600)
        self._regular = stat.S_ISREG(os.fstat(fd).st_mode)
        return os.fdopen(fd, self.mode.replace("w", "a"), encoding=self.encoding)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
            if self.stream is None:
                self.stream = self._open()
            rotates = self.maxBytes > 0 and self._regular
            if rotates and self.stream.seek(0, os.SEEK_END) + len(line) >= self.maxBytes:
                self.doRollover()
            self.stream.write(line)
            self.stream.flush()
        except Exception:
            self.handleError(record)


class _JsonFormatter(logging.Formatter):
    """Renders the record's `entry` dict as one JSON line, then redacts it."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
        }
        entry = getattr(record, "entry", None)
        if isinstance(entry, dict):
            payload.update(entry)
        else:
            payload["message"] = record.getMessage()
        line = json.dumps(payload, default=str, ensure_ascii=False, separators=(",", ":"))
        return redact(line, *self._secrets)


class CallLog:
    """Structured JSON-lines log of API calls, size-rotated, never containing the key."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int,
        level: str = "INFO",
        log_prompts: bool = False,
        stderr: bool = False,
    ) -> None:
        self.path = path
        self.log_prompts = log_prompts
        self._secrets: list[str] = []
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # A private logger per instance: no propagation to the root logger (which could print
        # to the terminal under the TUI) and no handler sharing between two logs.
        self._logger = logging.getLogger(f"devflow_tui.calllog.{next(_ids)}")
        self._logger.propagate = False
        self._logger.setLevel(level.upper())
        formatter = _JsonFormatter(self._secrets)
        self._file_handler = _PrivateRotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=BACKUP_COUNT, encoding="utf-8"
        )
        self._file_handler.setFormatter(formatter)
        self._logger.addHandler(self._file_handler)
        self._stderr_handler: logging.Handler | None = None
        if stderr:
            self._stderr_handler = logging.StreamHandler(sys.stderr)
            self._stderr_handler.setFormatter(formatter)
            self._logger.addHandler(self._stderr_handler)

    @classmethod
    def from_settings(cls, settings: Settings, verbose: bool = False) -> CallLog:
        """The log at settings.log_path, at settings.log_level; `verbose` mirrors it to stderr."""
        return cls(
            settings.log_path,
            max_bytes=settings.log_max_bytes,
            level=settings.log_level,
            log_prompts=settings.log_prompts,
            stderr=verbose,
        )

    def add_secret(self, secret: str | None) -> None:
        """Mask this exact string in every line from now on (the client registers its key)."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def record(
        self,
        entry: CallEntry,
        *,
        prompt: Sequence[dict[str, Any]] | None = None,
        level: int | None = None,
    ) -> None:
        """Write one line; failures go out at WARNING, successes at INFO."""
        if level is None:
            level = logging.WARNING if entry.error else logging.INFO
        if not self._logger.isEnabledFor(level):
            return
        # The fields as they are (all flat values): `asdict` would deep-copy each one, on
        # every call of every request.
        data = {f: v for f in _FIELDS if (v := getattr(entry, f)) is not None}
        data.update(entry.extra)
        if self.log_prompts and prompt is not None:
            data["prompt"] = list(prompt)
        # The record made directly: `Logger.log` would walk the stack for the caller's file
        # and line, which no line of this log shows.
        logger = self._logger
        record = logger.makeRecord(logger.name, level, "", 0, "api call", (), None)
        record.entry = data
        logger.handle(record)

    def note(self, event: str, *, level: int = logging.INFO, **fields: Any) -> None:
        """One line that is not an API call (`{"event": "model names", ...}`), e.g. at
        start-up; at `level`, so DEVFLOW_LOG_LEVEL filters it like the calls."""
        logger = self._logger
        if logger.isEnabledFor(level):
            record = logger.makeRecord(logger.name, level, "", 0, event, (), None)
            record.entry = {"event": event, **fields}
            logger.handle(record)

    def close(self) -> None:
        """Flush and detach the handlers (the file stays)."""
        for handler in (self._file_handler, self._stderr_handler):
            if handler is not None:
                self._logger.removeHandler(handler)
                handler.close()
