"""The one display rule for money."""

from __future__ import annotations

from decimal import Decimal
from decimal import Decimal as D

import pytest

from devflow_tui.usd import format_usd, short_usd


def test_format_usd_never_shows_unknown_as_zero() -> None:
    assert format_usd(None) == "unknown"
    assert format_usd(D("0")) == "$0"
    assert format_usd(D("0.0000801")) == "$0.0000801"
    assert format_usd(D("12.50")) == "$12.5"
    assert format_usd(D("-0.25")) == "-$0.25"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (None, "unknown"),
        (D("0"), "$0"),
        (D("12"), "$12.00"),
        (D("1.234"), "$1.23"),
        (D("0.5"), "$0.50"),
        (D("0.9996"), "$1.00"),  # rounds up to a dollar: cents, not "$1.000"
        (D("0.00123456"), "$0.00123"),
        (D("0.0000516"), "$0.0000516"),
        (D("-0.0012"), "-$0.0012"),
        (D("-3.456"), "-$3.46"),
    ],
)
def test_short_usd_is_the_one_display_rule(amount: Decimal | None, text: str) -> None:
    assert short_usd(amount) == text
