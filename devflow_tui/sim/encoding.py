"""JSON encoding that writes Decimal money as exact JSON numbers (no float rounding)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

_MARK = "\u2063decimal:"  # an invisible separator no real payload contains
_MARKED = re.compile('"' + _MARK + r'([-0-9.]+)"')


def decimal_text(value: Decimal) -> str:
    """A Decimal as plain JSON number text: fixed point, no trailing zeros, no exponent."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text


def _mark(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _MARK + decimal_text(value)
    if isinstance(value, dict):
        return {key: _mark(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mark(item) for item in value]
    return value


def dumps(payload: Any) -> str:
    """Compact JSON text of `payload`, with Decimals written as exact numbers."""
    text = json.dumps(_mark(payload), separators=(",", ":"), ensure_ascii=False)
    return _MARKED.sub(r"\1", text)
