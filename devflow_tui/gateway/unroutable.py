"""Why no model can take a request, and the fix for each cause.

The selector records one reason per model it ruled out (`RoutingDecision.excluded`); this
turns them into the one error a user sees, `ask`, `route` and the dashboard alike. Each kind
of exclusion has its own fix: a reasoning model ruled out by a small `max_tokens` needs more
room (raising it, never lowering it), a context that does not fit needs trimming, and so on.
When a setting restricted the pool ("only these models"), the fix names that setting.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from devflow_tui.errors import ConfigError
from devflow_tui.routing.selector import THINKING_ROOM, exclusion_group

if TYPE_CHECKING:
    from devflow_tui.routing.selector import RoutingDecision

ONLY_SETTING = "OPENROUTER_ONLY_MODELS (only_models)"
_SHOWN = 3  # model reasons quoted in the message

# The fix for each group of `exclusion_group`, in the order they are offered.
_FIXES = {
    "by max_tokens (they think first)": (
        f"raise --max-tokens to {THINKING_ROOM:,} or more (a model that reasons before "
        "answering needs room for both)"
    ),
    "by the context size": "trim the prompt or the injected context, or lower --max-tokens",
    "lacking a required capability": "drop what the request needs (tools, images) or allow a "
    "model that supports it",
    "in cooldown": "wait for the cooldown to end (repeated failures paused the model)",
    "excluded in settings": "remove the model from routing.excluded_models",
    "by the budget": "raise the budget or wait for its period to reset",
}


def only_setting(task: str | None, task_models: bool) -> str:
    """The setting that restricted the pool: a task's own model list, else the "only" one."""
    return f"[routing.tasks.{task}] models" if task_models and task else ONLY_SETTING


def unroutable_error(decision: RoutingDecision, restricted_by: str | None = None) -> ConfigError:
    """The error for a decision without candidates: what ruled each model out and what to
    change. `restricted_by` names the setting that limited the pool to a few models, if one
    did (a config problem to fix there, rather than a request to change)."""
    excluded = decision.excluded
    if not excluded:
        where = f"{restricted_by} allows no model" if restricted_by else "the catalog is empty"
        return ConfigError(
            f"No model can take this request: {where}.",
            hint="Run `devflow models --refresh` to load the catalog"
            + (f", and check {restricted_by}." if restricted_by else "."),
        )
    if len(excluded) == 1:
        model, why = excluded[0]
        cause = f"{model} is ruled out: {why}"
    else:
        quoted = "; ".join(f"{m}: {r}" for m, r in excluded[:_SHOWN])
        more = f"; {len(excluded) - _SHOWN} more" if len(excluded) > _SHOWN else ""
        cause = f"{decision.exclusion_summary}. {quoted}{more}"
    groups = Counter(exclusion_group(why) for _, why in excluded)
    fixes = [_FIXES[group] for group, _ in groups.most_common() if group in _FIXES]
    if restricted_by:
        fixes.append(f"allow more models in {restricted_by}")
    hint = _sentence(fixes) if fixes else None
    return ConfigError(f"No model can take this request: {cause}.", hint=hint)


def _sentence(parts: list[str]) -> str:
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + ", or " + parts[-1]
    return text[0].upper() + text[1:] + "."
