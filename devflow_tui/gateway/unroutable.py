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
from devflow_tui.routing.selector import THINKING_ROOM, ExclusionGroup, exclusion_group

if TYPE_CHECKING:
    from devflow_tui.routing.selector import RoutingDecision

_SHOWN = 3  # model reasons quoted in the message

# The fix for each kind of exclusion; {max_tokens} is how the caller sets it (`--max-tokens`
# on the command line). An escalation's "not stronger" has none: it is a notice of its own
# (`nothing_stronger_error`).
FIXES: dict[ExclusionGroup, str] = {
    ExclusionGroup.THINKING: (
        f"raise {{max_tokens}} to {THINKING_ROOM:,} or more (a model that reasons before "
        "answering needs room for both)"
    ),
    ExclusionGroup.CONTEXT: "trim the prompt or the injected context, or lower {max_tokens}",
    ExclusionGroup.CAPABILITY: "drop what the request needs (tools, images) or allow a "
    "model that supports it",
    ExclusionGroup.COOLDOWN: "wait for the cooldown to end (repeated failures paused the model)",
    ExclusionGroup.SETTINGS: "remove the model from routing.excluded_models",
    ExclusionGroup.BUDGET: "raise the budget or wait for its period to reset",
}


class NothingStrongerError(ConfigError):
    """An escalation for which no allowed model is stronger than the one that answered: a
    notice to the user, not a failed request (nothing is sent, nothing is recorded)."""


def nothing_stronger_error(
    decision: RoutingDecision, model: str, task: str, restricted_by: str | None
) -> ConfigError:
    """The notice for an escalation with nowhere to go (`RoutingDecision.nothing_stronger`);
    `restricted_by` names the setting that limits the models (`names.restriction`)."""
    if decision.only:
        allowed = ", ".join(decision.only)
        return NothingStrongerError(
            f"Nothing stronger to escalate to: no model the routing settings allow ({allowed}) "
            f"is stronger than {model} at {task}.",
            hint=f"Allow a stronger model in {restricted_by or 'the routing settings'} to "
            "escalate.",
        )
    return NothingStrongerError(
        f"Nothing stronger to escalate to: {model} is already the strongest model in the "
        f"catalog for {task}."
    )


def unroutable_error(
    decision: RoutingDecision,
    restricted_by: str | None = None,
    *,
    max_tokens: str = "--max-tokens",
    also: str | None = None,
) -> ConfigError:
    """The error for a decision without candidates: what ruled each model out and what to
    change. `restricted_by` names the setting that limited the pool to a few models, if one
    did (a config problem to fix there, rather than a request to change); `max_tokens` is
    how the caller sets the output limit; `also` is one more fix the caller offers."""
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
    fixes = [
        FIXES[group].format(max_tokens=max_tokens)
        for group, _ in groups.most_common()
        if group in FIXES
    ]
    if restricted_by:
        fixes.append(f"allow more models in {restricted_by}")
    if also:
        fixes.append(also)
    hint = _sentence(fixes) if fixes else None
    return ConfigError(f"No model can take this request: {cause}.", hint=hint)


def _sentence(parts: list[str]) -> str:
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + ", or " + parts[-1]
    return text[0].upper() + text[1:] + "."
