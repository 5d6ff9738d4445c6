"""How amounts of US dollars are written: the one display rule for money, used by every layer
(routing's reasons, the screen, `report`, refusals). Amounts stay `Decimal` until here."""

from __future__ import annotations

from decimal import Decimal


def format_usd(amount: Decimal | None) -> str:
    """Money for people: `$0.000123`, or `unknown` when the cost is not known (never `$0`)."""
    if amount is None:
        return "unknown"
    if amount == 0:
        return "$0"
    text = format(amount.normalize(), "f")
    return f"-${text[1:]}" if text.startswith("-") else f"${text}"


def short_usd(amount: Decimal | None) -> str:
    """Money for a glance, the one display rule for the screen, `report` and advice: cents from a
    dollar up (`$12.30`), below it three significant digits and at least two decimals (`$0.50`,
    `$0.0123`, `$0.0000516`, so cheap requests do not all read `$0.00`); `unknown` when the cost
    is not known (never `$0`). `format_usd` keeps every digit, for refusals and records."""
    if amount is None:
        return "unknown"
    if amount == 0:
        return "$0"
    size = abs(amount)
    if size < 1:
        size = size.quantize(Decimal(1).scaleb(size.adjusted() - 2)).normalize()
    if size >= 1:  # also $0.9996, which rounds up to a dollar
        text = f"{size.quantize(Decimal('0.01')):f}"
    else:
        whole, _, decimals = f"{size:f}".partition(".")
        text = f"{whole}.{decimals.ljust(2, '0')}"
    return f"-${text}" if amount < 0 else f"${text}"
