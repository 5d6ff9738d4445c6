"""Model names as people write them, resolved against the catalog.

`OPENROUTER_PREFERRED_MODELS=claude-3-sonnet,gpt-4,gemini-pro` and `claude-haiku-4.5` are what
users type; the catalog has `anthropic/claude-sonnet-4.5`, `openai/gpt-5`... A name resolves, in
this order, by:

1. id: `anthropic/claude-sonnet-4.5` (also with a `:free`-style variant);
2. slug: the id without the vendor, `claude-haiku-4.5`, or the catalog's display name
   ("Anthropic: Claude Haiku 4.5"), compared without case and punctuation;
3. family: the name's words without version numbers (`claude-3-sonnet` -> {claude, sonnet},
   `gpt-4` -> {gpt}) against each model's words without version numbers; a model with exactly
   those words wins over one with extra words (`gpt-5` over `gpt-5-mini` for `gpt-4`), and the
   newest such model is the closest current one.

A name that resolves to nothing raises `UnknownModelError` naming the closest catalog ids
(stdlib `difflib`), so a typo is an error with a fix, not a silent no-op.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from devflow_tui.errors import ConfigError
from devflow_tui.routing.catalog import CatalogModel, ModelCatalog

How = Literal["id", "slug", "family"]
_SPLIT = re.compile(r"[^a-z0-9.]+")
# Version-like words: 4, 4.5, 3.5, 4o, 2508, v3, 70b, 09 ... and words that name a release.
_VERSION = re.compile(
    r"^(?:v?\d+(?:\.\d+)*[a-z]?|\d+[bkm]|r\d|exp|preview|latest|instruct|chat|turbo)$"
)
_NUMBER = re.compile(r"(?<![a-z])\d+(?:\.\d+)*")

_TRAILING_VERSION = re.compile(r"(?<=[a-z])\d+(?:\.\d+)*$")


class UnknownModelError(ConfigError):
    """A model name in the settings that matches nothing in the catalog."""


@dataclass(frozen=True)
class Resolution:
    """What a user-written name turned into, and how."""

    name: str
    model_id: str
    how: How

    def describe(self) -> str:
        """`claude-3-sonnet -> anthropic/claude-sonnet-4.5 (family)`, or just the id."""
        if self.how == "id":
            return self.model_id
        return f"{self.name} -> {self.model_id} ({self.how})"


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _words(text: str) -> frozenset[str]:
    slug = text.lower().split("/")[-1].split(":")[0]
    # "qwen3" and "gpt4" are a family and a version written together.
    words = (_TRAILING_VERSION.sub("", w) for w in _SPLIT.split(slug) if not _VERSION.match(w))
    return frozenset(w for w in words if w)


class ModelNames:
    """Resolves user-written model names against one catalog; results are cached."""

    def __init__(self, catalog: ModelCatalog) -> None:
        self._catalog = catalog
        self._by_slug: dict[str, str] = {}
        for model in catalog:
            slug = model.id.split("/", 1)[-1]
            for key in (slug, slug.split(":")[0], model.name, model.name.split(":", 1)[-1]):
                self._by_slug.setdefault(_compact(key), model.id)
        self._words = [(model, _words(model.id)) for model in catalog.chat_models()]
        self._cache: dict[str, Resolution] = {}

    def resolve(self, name: str) -> Resolution:
        """The catalog model `name` means; raises `UnknownModelError` with the closest ids."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        found = self._resolve(name.strip())
        if found is None:
            raise UnknownModelError(
                f"model {name!r} matches nothing in the model catalog",
                hint=self._suggest(name),
            )
        self._cache[name] = found
        return found

    def resolve_all(self, names: Iterable[str]) -> list[Resolution]:
        """Every name resolved, in order, without duplicates of the same model."""
        seen: set[str] = set()
        result: list[Resolution] = []
        for name in names:
            found = self.resolve(name)
            if found.model_id not in seen:
                seen.add(found.model_id)
                result.append(found)
        return result

    def _resolve(self, name: str) -> Resolution | None:
        if name in self._catalog:
            return Resolution(name, name, "id")
        slug = self._by_slug.get(_compact(name.split("/", 1)[-1]))
        if slug is not None:
            return Resolution(name, slug, "slug")
        wanted = _words(name)
        if not wanted:
            return None
        vendor = name.lower().split("/", 1)[0] if "/" in name else None
        versions = _versions(name)
        best: tuple[int, bool, int, str] | None = None
        for model, words in self._words:
            if not wanted <= words or (vendor and not model.id.startswith(vendor + "/")):
                continue
            # Fewest extra words, then the same version if there is one, then the newest.
            same = bool(versions) and versions <= _versions(model.id)
            key = (-len(words - wanted), same, _created(model), model.id)
            if best is None or key > best:
                best = key
        return Resolution(name, best[3], "family") if best is not None else None

    def _suggest(self, name: str) -> str:
        ids = self._catalog.ids()
        slugs = {model_id.split("/", 1)[-1]: model_id for model_id in ids}
        close = difflib.get_close_matches(name.split("/", 1)[-1], list(slugs), n=3, cutoff=0.4)
        picks = [slugs[s] for s in close] or difflib.get_close_matches(name, ids, n=3, cutoff=0.3)
        if not picks:
            return "Run `devflow models` to see the catalog's ids."
        return "Closest catalog models: " + ", ".join(picks) + "."


def _versions(text: str) -> frozenset[str]:
    return frozenset(_NUMBER.findall(text.lower().split("/")[-1]))


def _created(model: CatalogModel) -> int:
    return model.created or 0


def describe_all(resolutions: Sequence[Resolution]) -> str:
    """One line for logs: `claude-3-sonnet -> anthropic/claude-sonnet-4.5 (family), …`."""
    return ", ".join(r.describe() for r in resolutions)
