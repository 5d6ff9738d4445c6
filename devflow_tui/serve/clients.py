"""Which client sent a request: the token's label when it has one, else the User-Agent."""

from __future__ import annotations

import re

# (User-Agent pattern, client name), first match wins.
_AGENTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"claude-cli|claude-code", re.I), "claude-code"),
    (re.compile(r"^(async)?anthropic/", re.I), "anthropic-sdk"),  # Anthropic, AsyncAnthropic
    (re.compile(r"^(async)?openai/", re.I), "openai-sdk"),
    (re.compile(r"^devflow-tui", re.I), "devflow"),
    (re.compile(r"litellm", re.I), "litellm"),
)
_PRODUCT = re.compile(r"^([A-Za-z][\w.-]{0,31})")


def client_name(user_agent: str | None, token_label: str | None = None) -> str:
    """The client name recorded with a request."""
    if token_label and token_label not in ("default", "env"):
        return token_label
    agent = (user_agent or "").strip()
    for pattern, name in _AGENTS:
        if pattern.search(agent):
            return name
    product = _PRODUCT.match(agent)
    return product.group(1).lower() if product else "unknown"
