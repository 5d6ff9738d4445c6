"""What an incoming model name becomes: routed (`auto`), the model the name itself means
(`passthrough`), or a fixed model. Configured in `[serve.models]`.

Every name, the client's and the configured targets, resolves by the one rule of
`routing/names.py`, the one `--model` follows: id, slug, display name, family, closest
version; a `:free` name only that variant. A target that resolves to nothing stops the proxy
at start-up (the error names the key); a client's name that resolves to nothing is refused
with the closest ids, never sent upstream as written.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from devflow_tui.routing.names import ModelNames, NameSetting, Resolution, UnknownModelError

AUTO = "auto"
PASSTHROUGH = "passthrough"
# OpenRouter's own "let the router choose" id (not a catalog model): a client configured for
# OpenRouter sends it; here it means devflow's routing, as `auto` does.
OPENROUTER_AUTO = "openrouter/auto"
# A name nothing in [serve.models] matches: Claude Code and the Anthropic SDK send Claude
# names (`claude-opus-4-8`, `claude-sonnet-4-5-20250929`), routed by default, the proxy's
# point; any other name is the model it resolves to, as with `--model` (passthrough).
ROUTED_BY_DEFAULT = "claude-*"
# Names whose choice is remembered (and logged once): a client sends a handful; the bound
# keeps a client that sends a new name on every request from growing the map for ever.
REMEMBERED_NAMES = 1024


class Note(Protocol):
    """A line in the API log (`CallLog.note`)."""

    def __call__(self, event: str, *, level: int = logging.INFO, **fields: Any) -> None: ...


@dataclass(frozen=True)
class ModelChoice:
    """The decision for one name: `model` is the pinned catalog id, None to route."""

    model: str | None
    rule: str  # which entry decided, for logs
    resolution: Resolution | None = None  # how the name (or its target) became `model`

    def describe(self) -> str:
        """`claude-3-sonnet -> anthropic/claude-sonnet-4.5 (closest version)`, or `routed`."""
        return self.resolution.describe() if self.resolution else "routed"


class ModelMap:
    """Exact names first, then glob patterns (case-insensitive), in the order configured,
    then the defaults (`ROUTED_BY_DEFAULT`, else passthrough). `where(key)` says where an
    entry is configured, for errors; `note` logs each new name's choice."""

    def __init__(
        self,
        entries: Mapping[str, str],
        names: ModelNames,
        *,
        where: Callable[[str], str] = lambda key: f'[serve.models] "{key}"',
        note: Note | None = None,
    ) -> None:
        self._names = names
        self._note = note
        self._exact = {k.lower(): v for k, v in entries.items() if not _is_glob(k)}
        self._globs = [(k.lower(), v) for k, v in entries.items() if _is_glob(k)]
        self._targets: dict[str, Resolution] = {}
        self._chosen: dict[str, ModelChoice] = {}
        settings = [
            NameSetting(f'[serve.models] "{key}"', where(key), (target,))
            for key, target in entries.items()
            if target.lower() not in (AUTO, PASSTHROUGH)
        ]
        # Raises UnknownModelError naming the key, the closest ids and the fix.
        self.lines = names.check(settings)
        for setting in settings:
            self._targets[setting.names[0]] = names.resolve(setting.names[0])
        if note is not None and self.lines:
            note("serve models", names=self.lines)

    def choose(self, name: str | None) -> ModelChoice:
        """The model for an incoming name (None, empty or `auto`: routed). A name that
        resolves to nothing raises `UnknownModelError` with the closest catalog ids."""
        if not name:
            return ModelChoice(None, "no model given")
        known = self._chosen.get(name)
        if known is not None:
            return known
        try:
            choice = self._choose(name)
        except UnknownModelError as exc:
            if self._note is not None:
                self._note("serve model name", level=logging.WARNING, name=name, error=str(exc))
            raise
        if len(self._chosen) < REMEMBERED_NAMES:
            self._chosen[name] = choice
        if self._note is not None:
            self._note("serve model name", name=name, model=choice.describe(), rule=choice.rule)
        return choice

    def _choose(self, name: str) -> ModelChoice:
        target, rule = self._rule(name)
        if target.lower() == AUTO:
            return ModelChoice(None, rule)
        if target.lower() != PASSTHROUGH:
            found = self._targets[target]
            return ModelChoice(found.model_id, rule, found)
        try:
            found = self._names.resolve(name)
        except UnknownModelError as exc:
            raise UnknownModelError(
                f"{exc.message} (the model the request names)",
                hint=f"{exc.hint} Send one of those, or `auto` to route; or map the name to a "
                "model in [serve.models].",
            ) from None
        return ModelChoice(found.model_id, rule, found)

    def _rule(self, name: str) -> tuple[str, str]:
        """The target for `name` and the entry that says so."""
        lowered = name.lower()
        if lowered in (AUTO, OPENROUTER_AUTO):
            return AUTO, lowered
        target = self._exact.get(lowered)
        if target is not None:
            return target, f'[serve.models] "{name}"'
        for pattern, value in self._globs:
            if fnmatch.fnmatchcase(lowered, pattern):
                return value, f'[serve.models] "{pattern}"'
        if fnmatch.fnmatchcase(lowered, ROUTED_BY_DEFAULT):
            return AUTO, f'default: "{ROUTED_BY_DEFAULT}" names are routed'
        return PASSTHROUGH, "default: the name resolves as --model does"


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")
