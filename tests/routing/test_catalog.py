"""Catalog parsing (exact Decimal prices, capabilities) and the CatalogService source order."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

from devflow_tui.errors import ErrorCategory, OpenRouterError
from devflow_tui.openrouter.wire import PRICE_KEYS, ModelInfo
from devflow_tui.routing.catalog import (
    UNKNOWN_CONTEXT_LENGTH,
    CatalogModel,
    CatalogService,
    ModelCatalog,
)
from tests.routing.conftest import JsonFileCatalogCache, catalog_of, model_entry

# One distinct, awkward decimal string per documented key, so a mix-up between keys shows.
ALL_PRICES = {key: f"0.000000{index + 1}3333333333333333" for index, key in enumerate(PRICE_KEYS)}


def test_every_documented_price_key_becomes_an_exact_decimal() -> None:
    entry = model_entry("acme/all-prices", extra_prices=ALL_PRICES)
    model = CatalogModel.from_wire(ModelInfo.model_validate(entry))
    assert set(model.prices) == set(PRICE_KEYS)
    for key, text in ALL_PRICES.items():
        assert model.prices[key] == Decimal(text)
        assert isinstance(model.prices[key], Decimal)
    assert model.price_per_million("completion") == Decimal(ALL_PRICES["completion"]) * 1_000_000


def test_absent_negative_and_garbage_prices_are_unknown_not_zero() -> None:
    entry = model_entry("openrouter/auto", prompt="-1", completion="-1")
    entry["pricing"].update({"request": "not-a-number", "image": ""})
    model = CatalogModel.from_wire(ModelInfo.model_validate(entry))
    assert model.prompt_price is None
    assert model.completion_price is None
    assert "request" not in model.prices and "image" not in model.prices
    assert model.price_per_million("prompt") is None


def test_zero_price_is_not_free_only_the_suffix_is() -> None:
    catalog = catalog_of(
        model_entry("meta-llama/llama-3.3-70b-instruct:free", prompt="0", completion="0"),
        model_entry("acme/promo", prompt="0", completion="0"),
    )
    free = catalog.get("meta-llama/llama-3.3-70b-instruct:free")
    promo = catalog.get("acme/promo")
    assert free is not None and free.free
    assert promo is not None and not promo.free
    assert promo.prices["prompt"] == Decimal(0)


def test_capabilities_come_from_parameters_and_modalities() -> None:
    entry = model_entry(
        "acme/omni",
        params=("tools", "tool_choice", "structured_outputs", "reasoning"),
        inputs=("text", "image", "file", "audio"),
        moderated=True,
    )
    model = CatalogModel.from_wire(ModelInfo.model_validate(entry))
    assert model.capabilities == {
        "tools",
        "structured_output",
        "reasoning",
        "vision",
        "file_input",
        "audio_input",
    }
    assert model.moderated and model.has("vision")
    plain = CatalogModel.from_wire(ModelInfo.model_validate(model_entry("acme/plain")))
    assert plain.capabilities == frozenset()


def test_2024_entries_without_modality_lists_use_the_modality_string() -> None:
    entry: dict[str, Any] = {
        "id": "anthropic/claude-3.5-sonnet",
        "name": "Anthropic: Claude 3.5 Sonnet",
        "created": 1718841600,
        "context_length": 200000,
        "architecture": {"modality": "text+image->text", "tokenizer": "Claude"},
        "pricing": {"prompt": "0.000003", "completion": "0.000015", "image": "0.0048"},
        "top_provider": {"context_length": 200000, "max_completion_tokens": 8192},
    }
    model = CatalogModel.from_wire(ModelInfo.model_validate(entry))
    assert "vision" in model.capabilities
    assert model.chat_capable
    assert model.max_completion_tokens == 8192


def test_non_text_models_are_not_chat_models() -> None:
    catalog = catalog_of(
        model_entry("acme/painter", outputs=("image",)),
        model_entry("acme/talker"),
    )
    assert [m.id for m in catalog.chat_models()] == ["acme/talker"]
    assert len(catalog) == 2
    assert "acme/painter" in catalog
    assert catalog.ids() == ["acme/painter", "acme/talker"]


def test_unknown_context_is_conservative() -> None:
    entry = model_entry("acme/mystery")
    del entry["context_length"]
    entry["top_provider"]["context_length"] = None
    model = catalog_of(entry).get("acme/mystery")
    assert model is not None and model.context_length == UNKNOWN_CONTEXT_LENGTH


def test_invalid_entries_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        catalog = ModelCatalog.from_raw([{"name": "no id"}, model_entry("acme/ok")])
    assert catalog.ids() == ["acme/ok"]
    assert "does not validate" in caplog.text


def test_bundled_snapshot_parses_with_the_required_variety() -> None:
    catalog = ModelCatalog.bundled()
    assert len(catalog) >= 12
    models = list(catalog)
    assert any(m.free for m in models)
    assert any("reasoning" in m.capabilities for m in models)
    assert any("vision" in m.capabilities for m in models)
    assert any(m.context_length <= 32_768 for m in models)
    sonnet = catalog.get("anthropic/claude-sonnet-4.5")
    assert sonnet is not None
    assert sonnet.prices["prompt"] == Decimal("0.000003")
    assert sonnet.prices["input_cache_write"] == Decimal("0.00000375")


# ---------------------------------------------------------------------- CatalogService


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _fetcher(*ids: str, fail: bool = False) -> tuple[Any, list[int]]:
    calls: list[int] = []

    async def fetch() -> list[ModelInfo]:
        calls.append(1)
        if fail:
            raise OpenRouterError(
                "Cannot reach OpenRouter.", category=ErrorCategory.NETWORK, retryable=True
            )
        return [ModelInfo.model_validate(model_entry(i)) for i in ids]

    return fetch, calls


async def test_live_fetch_is_saved_then_served_from_the_fresh_cache(
    file_cache: JsonFileCatalogCache,
) -> None:
    clock = FakeClock(1_000_000.0)
    fetch, calls = _fetcher("acme/a", "acme/b")
    service = CatalogService(fetch, file_cache, refresh_hours=24, clock=clock)
    catalog, source = await service.load()
    assert (source, catalog.ids(), len(calls), file_cache.saves) == (
        "live",
        ["acme/a", "acme/b"],
        1,
        1,
    )
    clock.now += 23 * 3600
    catalog, source = await service.load()
    assert source == "cache" and catalog.ids() == ["acme/a", "acme/b"]
    assert len(calls) == 1  # the fresh cache answered


async def test_stale_cache_triggers_a_refresh(file_cache: JsonFileCatalogCache) -> None:
    file_cache.save_catalog([model_entry("acme/old")], fetched_at=0.0)
    fetch, calls = _fetcher("acme/new")
    service = CatalogService(fetch, file_cache, refresh_hours=24, clock=FakeClock(25 * 3600))
    catalog, source = await service.load()
    assert source == "live" and catalog.ids() == ["acme/new"] and len(calls) == 1


async def test_force_refresh_skips_a_fresh_cache(file_cache: JsonFileCatalogCache) -> None:
    file_cache.save_catalog([model_entry("acme/old")], fetched_at=100.0)
    fetch, calls = _fetcher("acme/new")
    service = CatalogService(fetch, file_cache, refresh_hours=24, clock=FakeClock(101.0))
    catalog, source = await service.load(force_refresh=True)
    assert source == "live" and catalog.ids() == ["acme/new"] and len(calls) == 1


async def test_failing_fetch_falls_back_to_the_stale_cache(
    file_cache: JsonFileCatalogCache, caplog: pytest.LogCaptureFixture
) -> None:
    file_cache.save_catalog([model_entry("acme/old")], fetched_at=0.0)
    fetch, calls = _fetcher(fail=True)
    service = CatalogService(fetch, file_cache, refresh_hours=1, clock=FakeClock(7200.0))
    with caplog.at_level(logging.WARNING):
        catalog, source = await service.load()
    assert source == "cache" and catalog.ids() == ["acme/old"] and len(calls) == 1
    assert "cannot fetch the model catalog" in caplog.text
    assert any("2.0 h ago" in w for w in service.warnings)


async def test_failing_fetch_without_cache_uses_the_bundled_snapshot(
    file_cache: JsonFileCatalogCache,
) -> None:
    fetch, _ = _fetcher(fail=True)
    service = CatalogService(fetch, file_cache, clock=FakeClock(0.0))
    catalog, source = await service.load()
    assert source == "bundled"
    assert len(catalog) == len(ModelCatalog.bundled())
    assert len(service.warnings) == 2


async def test_empty_live_catalog_is_treated_as_a_failure(
    file_cache: JsonFileCatalogCache,
) -> None:
    fetch, _ = _fetcher()
    service = CatalogService(fetch, file_cache, clock=FakeClock(0.0))
    _, source = await service.load()
    assert source == "bundled"
    assert file_cache.saves == 0
    assert "empty model catalog" in service.warnings[0]


class BrokenCache:
    """A cache whose database is unreadable and unwritable."""

    def load_catalog(self) -> tuple[list[dict[str, Any]], float] | None:
        raise OSError("database is locked")

    def save_catalog(self, models: list[dict[str, Any]], fetched_at: float) -> None:
        raise OSError("disk full")


async def test_a_broken_cache_never_stops_loading() -> None:
    fetch, _ = _fetcher("acme/a")
    service = CatalogService(fetch, BrokenCache(), clock=FakeClock(0.0))
    catalog, source = await service.load()
    assert source == "live" and catalog.ids() == ["acme/a"]
    assert any("cannot read" in w for w in service.warnings)
    assert any("cannot save" in w for w in service.warnings)


async def test_an_empty_cache_is_ignored(file_cache: JsonFileCatalogCache) -> None:
    file_cache.save_catalog([], fetched_at=0.0)
    fetch, _ = _fetcher("acme/a")
    service = CatalogService(fetch, file_cache, clock=FakeClock(1.0))
    _, source = await service.load()
    assert source == "live"


async def test_cached_entries_keep_every_price_key(file_cache: JsonFileCatalogCache) -> None:
    entry = model_entry("acme/all", extra_prices=ALL_PRICES)

    async def fetch() -> list[ModelInfo]:
        return [ModelInfo.model_validate(entry)]

    live, _ = await CatalogService(fetch, file_cache, clock=FakeClock(0.0)).load()
    cached, source = await CatalogService(fetch, file_cache, clock=FakeClock(1.0)).load()
    assert source == "cache"
    live_model, cached_model = live.get("acme/all"), cached.get("acme/all")
    assert live_model is not None and cached_model is not None
    assert cached_model.prices == live_model.prices
    assert cached_model.capabilities == live_model.capabilities
