"""What to do after a model failed: try the next one, or stop and tell the user.

The client has already retried transient errors on the same model (as many times as the
settings allow) before an error reaches this policy, so "retry" is not an option here.

Rules, in order:
1. tokens already reached the user (`mid_stream`): stop; the answer is kept and marked
   incomplete, and the user may re-run. Re-running silently on another model would show two
   different answers glued together, and bill both.
2. auth, credits, moderation, budget, config, cancelled, network down (no connection to the
   API host at all): stop; another model cannot help, the user must act (the error's own
   message and hint say how).
   The same when the request used up `timeout_ms`, its total time.
3. context length: the next untried model in the chain whose window is larger than the
   failed model's; stop when there is none.
4. any other invalid request (user category): stop; the same request would fail anywhere.
5. everything else (provider, rate limit, network, timeout, invalid response): the next
   untried model in the chain that is not in cooldown; stop when the chain is exhausted.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from devflow_tui.errors import DevflowError, ErrorCategory, OpenRouterError
from devflow_tui.openrouter.error_map import TOTAL_TIMEOUT
from devflow_tui.routing.catalog import ModelCatalog
from devflow_tui.routing.health import HealthTracker

STOP_CATEGORIES = frozenset(
    {
        ErrorCategory.AUTH,
        ErrorCategory.CREDITS,
        ErrorCategory.MODERATION,
        ErrorCategory.BUDGET,
        ErrorCategory.CONFIG,
        ErrorCategory.CANCELLED,
        ErrorCategory.NETWORK_DOWN,
    }
)


@dataclass(frozen=True)
class FallbackStep:
    """The decision: `next` with the model to try, or `stop` with why."""

    action: Literal["next", "stop"]
    model: str | None
    reason: str
    incomplete: bool = False  # part of the answer already reached the user


def next_step(
    error: DevflowError,
    *,
    failed_model: str,
    chain: Sequence[str],
    tried: Collection[str],
    catalog: ModelCatalog,
    health: HealthTracker | None = None,
) -> FallbackStep:
    """Decide what follows `error` from `failed_model`, given the chain and the models tried."""
    if isinstance(error, OpenRouterError) and error.mid_stream:
        return FallbackStep(
            "stop",
            None,
            f"{failed_model} failed after the answer had started; it is marked incomplete "
            "and can be re-run",
            incomplete=True,
        )
    if error.category in STOP_CATEGORIES:
        return FallbackStep(
            "stop", None, f"{error.category.value} error: another model cannot help"
        )
    if isinstance(error, OpenRouterError) and error.error_type == TOTAL_TIMEOUT:
        return FallbackStep("stop", None, "timeout_ms, the total time for the request, ran out")
    done = set(tried) | {failed_model}
    untried = [m for m in chain if m not in done and m in catalog]
    if isinstance(error, OpenRouterError) and error.is_context_length:
        failed = catalog.get(failed_model)
        window = failed.context_length if failed else 0
        for model_id in untried:
            model = catalog.get(model_id)
            if model is not None and model.context_length > window:
                return FallbackStep(
                    "next",
                    model_id,
                    f"the request did not fit {failed_model}'s {window:,}-token window; "
                    f"{model_id} takes {model.context_length:,}",
                )
        return FallbackStep(
            "stop", None, f"no model in the chain has a larger window than {failed_model}"
        )
    if error.category is ErrorCategory.USER:
        return FallbackStep("stop", None, "the request itself was rejected; fix it and retry")
    for model_id in untried:
        if health is not None and health.in_cooldown(model_id):
            continue
        return FallbackStep(
            "next", model_id, f"{failed_model} failed ({error.category.value}); trying {model_id}"
        )
    return FallbackStep("stop", None, "every model in the fallback chain failed")
