"""How money, tokens and times are written on screen (money stays Decimal until here)."""

from __future__ import annotations

from devflow_tui.usd import short_usd as usd

__all__ = ["ms", "usd"]


def ms(value: float | None) -> str:
    """Milliseconds as `840 ms` or `2.3 s`; `—` when not measured."""
    if value is None:
        return "—"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"
