"""Finished requests (and their conversation) written through the store's own API."""

from __future__ import annotations

from decimal import Decimal

from devflow_tui.accounting.records import RequestStart
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.gateway.events import RequestOutcome, Status


def seed_request(
    store: AnalyticsStore,
    model: str,
    cost: str,
    *,
    prompt: str | None = None,
    answer: str = "x",
    status: Status = "ok",
    ts: float | None = None,
    latency_ms: float = 800.0,
    ttft_ms: float = 200.0,
    member: str | None = None,
    client: str | None = None,
    escalation_of: str | None = None,
) -> tuple[str, str | None]:
    """Record one request; with a prompt, also its conversation. Returns (request, conversation).

    With `ts`, the store's clock reads `ts` meanwhile, so dates are fixed (for snapshots).
    `member` and `client` are who sent it, as `devflow serve` records them; `escalation_of`
    the request it re-asks with a stronger model (f12).
    """
    clock = store.clock
    if ts is not None:
        store.clock = lambda: ts
    try:
        request_id = store.begin_request(
            RequestStart(
                ts=ts,
                task_type="coding",
                model=model,
                member=member,
                client=client,
                escalation_of=escalation_of,
            )
        )
        store.finish_request(
            request_id,
            RequestOutcome(
                request_id=request_id,
                text=answer,
                model=model,
                task_type="coding",
                complexity="low",
                prompt_tokens=100,
                completion_tokens=50,
                cost_usd=Decimal(cost),
                cost_source="reported",
                latency_ms=latency_ms,
                ttft_ms=ttft_ms,
                tokens_per_s=60.0,
                complete=status == "ok",
                status=status,
                error_message="Cancelled by the user." if status == "cancelled" else None,
            ),
        )
        conversation = None
        if prompt is not None:
            conversation = store.save_message(None, "user", prompt, request_id=request_id)
            store.save_message(conversation, "assistant", answer, request_id=request_id)
    finally:
        store.clock = clock
    return request_id, conversation
