"""The model catalog: what OpenRouter offers today, with exact prices and derived capabilities.

`ModelCatalog` is an immutable set of `CatalogModel`s built from `/models` entries.
`CatalogService` decides where the catalog comes from: a fresh database cache, the live
`/models` endpoint, a stale cache, or the snapshot bundled with the package (in that order),
so routing works offline and never fails because the network does.

Conventions (see shared/openrouter-api.md section 4):
- Prices are `Decimal` USD per token (per request/image/search where the key says so), for
  every documented price key present; a missing, unparseable or negative (router "-1") price
  is absent from `prices`, never 0.
- `free` is True only for ids ending in ":free". A zero price without the suffix is not
  "free" (OpenRouter's own rule): such models are simply cheap, with cost 0 where known.
- A model with no known context length is given `UNKNOWN_CONTEXT_LENGTH` (conservative).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from devflow_tui.data.snapshot import load_snapshot
from devflow_tui.openrouter.wire import ModelInfo

log = logging.getLogger(__name__)

UNKNOWN_CONTEXT_LENGTH = 4096
CAPABILITIES = frozenset(
    {"tools", "structured_output", "reasoning", "vision", "file_input", "audio_input"}
)
CatalogSource = Literal["cache", "live", "bundled"]
_MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class CatalogModel:
    """One model as the router sees it: limits, exact prices per token, capabilities."""

    id: str
    name: str
    context_length: int
    max_completion_tokens: int | None
    prices: Mapping[str, Decimal]
    capabilities: frozenset[str] = frozenset()
    moderated: bool = False
    free: bool = False
    chat_capable: bool = True
    created: int | None = None

    @property
    def prompt_price(self) -> Decimal | None:
        """USD per prompt token, None when unknown."""
        return self.prices.get("prompt")

    @property
    def completion_price(self) -> Decimal | None:
        """USD per completion token, None when unknown."""
        return self.prices.get("completion")

    def price_per_million(self, key: str = "prompt") -> Decimal | None:
        """The price for `key` per million tokens (what people compare), None when unknown."""
        price = self.prices.get(key)
        return None if price is None else price * _MILLION

    def has(self, capability: str) -> bool:
        """True when the model supports `capability` (one of `CAPABILITIES`)."""
        return capability in self.capabilities

    @classmethod
    def from_wire(cls, info: ModelInfo) -> CatalogModel:
        """Derive the router's view of one `/models` entry."""
        prices = info.pricing.known_prices()
        context = info.context_length or info.top_provider.context_length
        return cls(
            id=info.id,
            name=info.name or info.id,
            context_length=context if context and context > 0 else UNKNOWN_CONTEXT_LENGTH,
            max_completion_tokens=info.top_provider.max_completion_tokens or None,
            prices=prices,
            capabilities=_capabilities(info),
            moderated=bool(info.top_provider.is_moderated),
            free=info.id.endswith(":free"),
            chat_capable=_outputs_text(info),
            created=info.created,
        )


def _modalities(info: ModelInfo) -> tuple[set[str], set[str]]:
    arch = info.architecture
    inputs = {m.lower() for m in arch.input_modalities or ()}
    outputs = {m.lower() for m in arch.output_modalities or ()}
    # 2024 entries only have "text+image->text"; parse it when the lists are absent.
    if arch.modality and "->" in arch.modality:
        left, right = arch.modality.lower().split("->", 1)
        if not inputs:
            inputs = {part.strip() for part in left.split("+") if part.strip()}
        if not outputs:
            outputs = {part.strip() for part in right.split("+") if part.strip()}
    return inputs, outputs


def _capabilities(info: ModelInfo) -> frozenset[str]:
    params = {p.lower() for p in info.supported_parameters}
    inputs, _ = _modalities(info)
    caps: set[str] = set()
    if "tools" in params:
        caps.add("tools")
    if "structured_outputs" in params or "response_format" in params:
        caps.add("structured_output")
    if "reasoning" in params or "include_reasoning" in params:
        caps.add("reasoning")
    if "image" in inputs:
        caps.add("vision")
    if "file" in inputs:
        caps.add("file_input")
    if "audio" in inputs:
        caps.add("audio_input")
    return frozenset(caps)


def _outputs_text(info: ModelInfo) -> bool:
    _, outputs = _modalities(info)
    # No modality information at all (old or minimal entries): assume a chat model.
    return not outputs or "text" in outputs


class ModelCatalog:
    """An immutable, id-indexed set of models."""

    def __init__(self, models: Iterable[CatalogModel]) -> None:
        by_id: dict[str, CatalogModel] = {}
        for model in models:
            by_id[model.id] = model  # a later duplicate wins, as in a re-fetched list
        self._by_id = by_id
        self._models = tuple(by_id.values())
        self._chat = tuple(m for m in self._models if m.chat_capable)

    @classmethod
    def from_wire(cls, models: Iterable[ModelInfo]) -> ModelCatalog:
        """Build from parsed `/models` entries."""
        return cls(CatalogModel.from_wire(info) for info in models)

    @classmethod
    def from_raw(cls, models: Iterable[Mapping[str, Any]]) -> ModelCatalog:
        """Build from raw `/models` dicts; invalid entries are skipped with a warning."""
        parsed: list[ModelInfo] = []
        for entry in models:
            try:
                parsed.append(ModelInfo.model_validate(entry))
            except ValidationError as exc:
                log.warning("skipping a catalog entry that does not validate: %s", exc)
        return cls.from_wire(parsed)

    @classmethod
    def bundled(cls) -> ModelCatalog:
        """The snapshot shipped with the package (devflow_tui/data/models_snapshot.json)."""
        return cls.from_raw(load_snapshot())

    def get(self, model_id: str) -> CatalogModel | None:
        """The model with this id, or None."""
        return self._by_id.get(model_id)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._by_id

    def __iter__(self) -> Iterator[CatalogModel]:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)

    def ids(self) -> list[str]:
        """Every model id, in catalog order."""
        return list(self._by_id)

    def chat_models(self) -> tuple[CatalogModel, ...]:
        """Models that produce text (the ones a chat request can go to)."""
        return self._chat


class CatalogCacheStore(Protocol):
    """Where the fetched catalog is cached (the analytics database implements it)."""

    def load_catalog(self) -> tuple[list[dict[str, Any]], float] | None:
        """The cached raw model dicts and when they were fetched (unix seconds), or None."""
        ...

    def save_catalog(self, models: list[dict[str, Any]], fetched_at: float) -> None:
        """Replace the cached catalog."""
        ...


class CatalogService:
    """Loads the catalog from the best available source; never raises for a network failure."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[list[ModelInfo]]],
        cache: CatalogCacheStore,
        refresh_hours: float = 24.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._cache = cache
        self._refresh_s = refresh_hours * 3600
        self._clock = clock
        self.warnings: list[str] = []  # what went wrong during the last load, for the user

    async def load(self, force_refresh: bool = False) -> tuple[ModelCatalog, CatalogSource]:
        """The catalog and its source: fresh cache, then live, then stale cache, then bundled."""
        self.warnings = []
        cached = self._read_cache()
        if cached is not None and not force_refresh:
            catalog, fetched_at = cached
            if self._clock() - fetched_at < self._refresh_s:
                return catalog, "cache"
        live = await self._fetch_live()
        if live is not None:
            return live, "live"
        if cached is not None:
            age_h = max(0.0, self._clock() - cached[1]) / 3600
            self._warn(f"using the cached model catalog from {age_h:.1f} h ago")
            return cached[0], "cache"
        self._warn("using the model catalog bundled with devflow-tui; prices may be out of date")
        return ModelCatalog.bundled(), "bundled"

    def _warn(self, message: str) -> None:
        log.warning("%s", message)
        self.warnings.append(message)

    def _read_cache(self) -> tuple[ModelCatalog, float] | None:
        try:
            loaded = self._cache.load_catalog()
        except Exception as exc:  # a corrupt cache must not stop the app
            self._warn(f"cannot read the cached model catalog: {exc}")
            return None
        if loaded is None:
            return None
        raw, fetched_at = loaded
        catalog = ModelCatalog.from_raw(raw)
        if not len(catalog):
            self._warn("the cached model catalog is empty")
            return None
        return catalog, fetched_at

    async def _fetch_live(self) -> ModelCatalog | None:
        try:
            infos = await self._fetch()
        except Exception as exc:  # network, HTTP or parse errors: fall back, never raise
            self._warn(f"cannot fetch the model catalog from OpenRouter: {exc}")
            return None
        if not infos:
            self._warn("OpenRouter returned an empty model catalog")
            return None
        catalog = ModelCatalog.from_wire(infos)
        try:
            self._cache.save_catalog(
                [info.model_dump(mode="json", exclude_none=True) for info in infos], self._clock()
            )
        except Exception as exc:  # the catalog is still usable without the cache
            self._warn(f"cannot save the model catalog to the database: {exc}")
        return catalog
