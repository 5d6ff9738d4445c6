"""The catalog models closest to a model name that matches none: the suggestions in
`UnknownModelError` (routing/names.py).

Compared word by word, as people misspell names: `clade-sonet` is `claude` and `sonnet`, each
one or two letters off. A model is suggested only when some word of the name is close to one
of its words (difflib's ratio at least `CLOSE`, or two letters swapped: `gtp`), or the whole
name is close to its id (`WHOLE_CLOSE`): `grok-code-fast-1` is not suggested for `clade-sonet`
because `code` is only somewhat like `clade`. Ranked by how many words match, then the same
family (the name's first word is close to the model's: `claude`), the same vendor, a shared
version, how close, fewest extra words, the model before its variants, the newest. Below the
best number of matching words, only the same family is kept.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from devflow_tui.routing.catalog import ModelCatalog

CLOSE = 0.75  # two words this alike are one misspelled: claude/clade 0.91, code/clade 0.67
WHOLE_CLOSE = 0.6  # a name and an id this alike, word for word or not (`gpt5mni`)
SHOWN = 3
_WORD = re.compile(r"[a-z]{2,}")
# Versions as written, a letter with them: gpt-4o's is 4o, which gpt-4's 4 is not.
_VERSION = re.compile(r"(?<![a-z0-9.])\d+(?:\.\d+)*[a-z]?(?![a-z0-9])")


@dataclass(frozen=True)
class _Model:
    id: str
    vendor: str
    slug: str  # without vendor and variant
    words: tuple[str, ...]  # the slug's words, versions aside: ("claude", "sonnet")
    versions: frozenset[str]
    variant: bool
    created: int


def _split(name: str) -> tuple[str, str, bool]:
    """(vendor, slug without variant, has a variant) of `vendor/slug:variant`."""
    vendor, _, rest = name.lower().strip().rpartition("/")
    slug, colon, _ = rest.partition(":")
    return vendor, slug, bool(colon)


def _alike(a: str, b: str) -> float:
    """How alike two words are, 0 to 1; two swapped letters count as `CLOSE`."""
    if a == b:
        return 1.0
    if len(a) == len(b) >= 3:
        differ = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(differ) == 2 and differ[1] == differ[0] + 1:
            first, second = differ
            if (a[first], a[second]) == (b[second], b[first]):
                return CLOSE
    matcher = difflib.SequenceMatcher(None, a, b)
    if matcher.real_quick_ratio() < CLOSE or matcher.quick_ratio() < CLOSE:
        return 0.0  # the cheap upper bounds: most pairs stop here
    return matcher.ratio()


class ClosestModels:
    """Suggestions for misspelled names against one catalog."""

    def __init__(self, catalog: ModelCatalog) -> None:
        self._models: list[_Model] = []
        for model in catalog:
            vendor, slug, variant = _split(model.id)
            words = tuple(_WORD.findall(slug))
            if words:
                versions = frozenset(_VERSION.findall(slug))
                entry = _Model(model.id, vendor, slug, words, versions, variant, model.created or 0)
                self._models.append(entry)

    def to(self, name: str, n: int = SHOWN) -> list[str]:
        """Up to `n` catalog ids close to `name`, the closest first; none when nothing is."""
        vendor, slug, _ = _split(name)
        wanted = _WORD.findall(slug)
        versions = frozenset(_VERSION.findall(slug))
        scored: list[tuple[tuple[int, bool, bool, bool, float, int, bool, int], str]] = []
        for model in self._models:
            best = [max(_alike(w, word) for word in model.words) for w in wanted]
            matched = [b for b in best if b >= CLOSE]
            if not matched and difflib.SequenceMatcher(None, slug, model.slug).ratio() < (
                WHOLE_CLOSE
            ):
                continue
            family = bool(wanted) and _alike(wanted[0], model.words[0]) >= CLOSE
            key = (
                len(matched),
                family,
                bool(vendor) and _alike(vendor, model.vendor) >= CLOSE,
                bool(versions & model.versions),
                sum(matched),
                -len(set(model.words) - set(wanted)),
                not model.variant,
                model.created,
            )
            scored.append((key, model.id))
        scored.sort(reverse=True)
        most = scored[0][0][0] if scored else 0
        # Fewer matching words than the best: only the same family (`claude-opus` for
        # `clade-sonet`), not a word that happens to be alike (`qwen3-coder` for `gork-code`).
        return [model_id for key, model_id in scored if key[0] == most or key[1]][:n]
