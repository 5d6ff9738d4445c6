"""Exact-match response cache: the same request within the TTL gets the stored answer for free.

The key is the sha256 of a normalised JSON of the request: keys sorted, `None` values dropped,
and the fields that do not change the answer (`stream`, `stream_options`, `user`, `usage`)
removed, so a streamed and a non-streamed request share one entry.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from devflow_tui.accounting.store import AnalyticsStore

_IGNORED_KEYS = frozenset({"stream", "stream_options", "user", "usage"})


class CachedAnswer(BaseModel):
    """A stored answer and what it cost the first time (built on first use: start-up time)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    key: str
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: Decimal | None = None  # the original cost: what a hit saves
    created: float
    hits: int = 0


def _normalise(value: Any, top: bool = False) -> Any:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, dict):
        return {
            str(k): _normalise(v)
            for k, v in sorted(value.items(), key=lambda item: str(item[0]))
            if v is not None and not (top and k in _IGNORED_KEYS)
        }
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


class ResponseCache:
    """Cache of completed answers in the analytics store, expiring after `ttl_s` seconds."""

    def __init__(
        self, store: AnalyticsStore, ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.clock = clock

    @property
    def enabled(self) -> bool:
        """A TTL of zero disables the cache."""
        return self.ttl_s > 0

    @staticmethod
    def key_for(model_inputs: dict[str, Any]) -> str:
        """Key of a request: messages, model choice inputs and parameters, normalised."""
        text = json.dumps(
            _normalise(model_inputs, top=True),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get(self, key: str) -> CachedAnswer | None:
        """The stored answer, or None when absent or expired; a hit is counted."""
        if not self.enabled:
            return None
        now = self.clock()
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT key, text, model, prompt_tokens, completion_tokens, reasoning_tokens, "
                "cached_tokens, cost_usd, created, hits, expires FROM response_cache "
                "WHERE key = ?",
                (key,),
            ).fetchone()
            if row is None:
                return None
            if row[10] <= now:
                conn.execute("DELETE FROM response_cache WHERE key = ?", (key,))
                return None
            conn.execute(
                "UPDATE response_cache SET hits = hits + 1, last_hit = ? WHERE key = ?",
                (now, key),
            )
        return CachedAnswer(
            key=row[0],
            text=row[1],
            model=row[2],
            prompt_tokens=row[3] or 0,
            completion_tokens=row[4] or 0,
            reasoning_tokens=row[5] or 0,
            cached_tokens=row[6] or 0,
            cost_usd=Decimal(row[7]) if row[7] is not None else None,
            created=row[8],
            hits=row[9] + 1,
        )

    def put(
        self,
        key: str,
        *,
        text: str,
        model: str,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        reasoning_tokens: int = 0,
        cached_tokens: int = 0,
        cost_usd: Decimal | None = None,
    ) -> None:
        """Store a completed answer (replacing an older one with the same key)."""
        if not self.enabled:
            return
        now = self.clock()
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO response_cache (key, created, expires, model, text, prompt_tokens, "
                "completion_tokens, reasoning_tokens, cached_tokens, cost_usd, hits, last_hit) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL) ON CONFLICT (key) DO UPDATE SET "
                "created = excluded.created, expires = excluded.expires, model = excluded.model, "
                "text = excluded.text, prompt_tokens = excluded.prompt_tokens, "
                "completion_tokens = excluded.completion_tokens, "
                "reasoning_tokens = excluded.reasoning_tokens, "
                "cached_tokens = excluded.cached_tokens, cost_usd = excluded.cost_usd, hits = 0",
                (
                    key,
                    now,
                    now + self.ttl_s,
                    model,
                    text,
                    prompt_tokens,
                    completion_tokens,
                    reasoning_tokens,
                    cached_tokens,
                    None if cost_usd is None else str(cost_usd),
                ),
            )

    def purge_expired(self) -> int:
        """Delete expired entries; returns how many."""
        with self.store.transaction() as conn:
            return conn.execute(
                "DELETE FROM response_cache WHERE expires <= ?", (self.clock(),)
            ).rowcount

    def clear(self) -> int:
        """Delete every entry; returns how many."""
        with self.store.transaction() as conn:
            return conn.execute("DELETE FROM response_cache").rowcount
