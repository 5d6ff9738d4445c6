"""The CLI's JSON documents are read from the core's models, field by field."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from devflow_tui.accounting.records import BudgetView, RequestOutcome
from devflow_tui.cli_output import AskJson, ask_json
from devflow_tui.openrouter.result import AttemptRecord


def test_ask_json_of_a_failed_fallback_request() -> None:
    outcome = RequestOutcome(
        request_id="r1",
        text="partial",
        model="b/m",
        attempts=[
            AttemptRecord(model="a/m", status=503, error="provider", latency_ms=12.5, retried=True),
            AttemptRecord(model="b/m", status=200, latency_ms=40.0),
        ],
        prompt_tokens=10,
        completion_tokens=3,
        cost_usd=Decimal("0.000120"),
        cost_source="reported",
        status="error",
        error_category="provider",
        error_message="cut off",
        budget=[
            BudgetView(
                name="daily",
                limit_usd=Decimal(1),
                spent_usd=Decimal("0.25"),
                remaining_usd=Decimal("0.75"),
            ),
        ],
    )
    data = ask_json(outcome)
    assert data["attempts"] == [
        {"model": "a/m", "status": 503, "error": "provider", "latency_ms": 12.5},
        {"model": "b/m", "status": 200, "error": None, "latency_ms": 40.0},
    ]
    assert data["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 3,
        "reasoning_tokens": 0,
        "cached_tokens": 0,
    }
    assert data["cost_usd"] == "0.000120" and data["cost_source"] == "reported"
    assert data["error"] == {"category": "provider", "message": "cut off"}
    assert data["budget"] == {
        "daily": {"limit_usd": "1", "spent_usd": "0.25", "remaining_usd": "0.75"}
    }
    assert "request_id" not in data and "error_category" not in data
    assert ask_json(RequestOutcome(request_id="r2"))["error"] is None


def test_a_document_that_lost_a_field_fails_instead_of_printing_a_stale_key() -> None:
    with pytest.raises(ValidationError):
        AskJson.model_validate({"text": "x"})
