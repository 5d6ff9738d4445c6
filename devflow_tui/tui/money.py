"""How money, tokens and times are written on screen (money stays Decimal until here)."""

from __future__ import annotations

from decimal import Decimal


def usd(amount: Decimal | None) -> str:
    """`$0.000123`, `$1.23`, or "unknown" for a cost nobody could price (never $0)."""
    if amount is None:
        return "unknown"
    if amount == 0:
        return "$0"
    if abs(amount) >= 1:
        return f"${amount.quantize(Decimal('0.01'))}"
    # Below a dollar, three significant digits: $0.0123 is not "$0.01", and cheap requests do
    # not all read $0.00.
    step = Decimal(1).scaleb(amount.adjusted() - 2)
    return f"${amount.quantize(step).normalize():f}"


def ms(value: float | None) -> str:
    """Milliseconds as `840 ms` or `2.3 s`; `—` when not measured."""
    if value is None:
        return "—"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"
