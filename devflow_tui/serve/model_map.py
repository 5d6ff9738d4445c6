"""What an incoming model name becomes: routed (`auto`), the same Anthropic model through
OpenRouter (`passthrough`), or a fixed OpenRouter id. Configured in `[serve.models]`."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from devflow_tui.errors import ConfigError

AUTO = "auto"
PASSTHROUGH = "passthrough"
_TIERS = ("opus", "sonnet", "haiku")
_VERSION = re.compile(r"(\d+)[-.](\d+)(?![\d])|(?<![\d.-])(\d)(?![\d.])")


@dataclass(frozen=True)
class ModelChoice:
    """The decision for one name: `model` is the pinned OpenRouter id, None to route."""

    model: str | None
    rule: str  # which entry decided, for logs and errors


class ModelMap:
    """Exact names first, then glob patterns (case-insensitive), in the order configured."""

    def __init__(self, entries: Mapping[str, str], catalog_ids: Iterable[str]) -> None:
        self._exact = {k.lower(): v for k, v in entries.items() if not _is_glob(k)}
        self._globs = [(k.lower(), v) for k, v in entries.items() if _is_glob(k)]
        self._ids = sorted(set(catalog_ids))
        known = set(self._ids)
        for name, target in entries.items():
            if target not in (AUTO, PASSTHROUGH) and "/" not in target:
                raise ConfigError(
                    f"[serve.models] maps {name!r} to {target!r}, which is not a model id.",
                    hint='Use "auto", "passthrough" or an OpenRouter id such as '
                    '"anthropic/claude-sonnet-4.5".',
                )
            if known and target not in (AUTO, PASSTHROUGH) and target not in known:
                raise ConfigError(
                    f"[serve.models] maps {name!r} to {target!r}, which is not in the catalog.",
                    hint="Run `devflow models` for the ids, or use auto.",
                )

    def choose(self, name: str | None) -> ModelChoice:
        """The model for an incoming name (None or empty: routed)."""
        if not name:
            return ModelChoice(None, "no model given")
        lowered = name.lower()
        target = self._exact.get(lowered)
        rule = f"[serve.models] {name!r}"
        if target is None:
            for pattern, value in self._globs:
                if fnmatch.fnmatchcase(lowered, pattern):
                    target, rule = value, f"[serve.models] {pattern!r}"
                    break
        if target is None:
            if "/" in name:
                # An OpenRouter id pins its model; an unknown one goes on as asked and
                # OpenRouter's answer says what is wrong with it.
                return ModelChoice(name, "an OpenRouter id pins its model")
            return ModelChoice(None, "default: auto")
        if target == AUTO:
            return ModelChoice(None, rule)
        if target == PASSTHROUGH:
            return ModelChoice(self.anthropic_id(name), rule)
        return ModelChoice(target, rule)

    def anthropic_id(self, name: str) -> str:
        """The OpenRouter id of a Claude model name (e.g. claude-sonnet-4-5-20250929 ->
        anthropic/claude-sonnet-4.5): same tier, the closest version the catalog has."""
        if name in self._ids:
            return name
        lowered = name.lower()
        tier = next((t for t in _TIERS if t in lowered), None)
        candidates = [i for i in self._ids if i.startswith("anthropic/") and tier and tier in i]
        if not candidates:
            raise ConfigError(
                f"No Anthropic model in the catalog matches {name!r} for passthrough.",
                hint="Map the name to a fixed id in [serve.models], or to auto.",
            )
        wanted = _version(lowered.split(tier or "", 1)[-1]) or _version(lowered)
        exact = [c for c in candidates if wanted and _version(c) == wanted]
        return (exact or sorted(candidates, key=lambda c: (_version(c) or (0, 0), c)))[-1]


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def _version(text: str) -> tuple[int, int] | None:
    """The model version in a name: "4-5" / "4.5" -> (4, 5); a lone "4" -> (4, 0)."""
    for match in _VERSION.finditer(text):
        if match.group(1) is not None:
            major, minor = int(match.group(1)), int(match.group(2))
            if major < 100 and minor < 100:  # not a date
                return major, minor
        elif match.group(3) is not None:
            return int(match.group(3)), 0
    return None
