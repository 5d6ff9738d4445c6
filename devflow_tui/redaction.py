"""Masking of secrets at the source: keys are shown as `sk-or-…abcd` at most."""

from __future__ import annotations

import re

_KEY_PATTERN = re.compile(r"sk-or-[A-Za-z0-9_-]{8,}|sk-[A-Za-z0-9_-]{20,}")


def mask_key(key: str | None) -> str:
    """Show a key as its `sk-or-` prefix (when it has one) and its last four characters."""
    if not key:
        return "(not set)"
    prefix = "sk-or-" if key.startswith("sk-or-") else ""
    tail = key[-4:] if len(key) >= 12 else ""
    return f"{prefix}…{tail}"


def redact(text: str, *secrets: str | None) -> str:
    """Replace every given secret, and anything shaped like an API key, by its mask."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, mask_key(secret))
    return _KEY_PATTERN.sub(lambda m: mask_key(m.group(0)), text)
