"""Shared builders for routing tests: synthetic `/models` entries and a JSON-file catalog cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devflow_tui.routing.catalog import ModelCatalog


def model_entry(
    model_id: str,
    *,
    prompt: str = "0.000001",
    completion: str = "0.000002",
    context: int = 128_000,
    max_completion: int | None = 8_192,
    params: tuple[str, ...] = ("max_tokens", "temperature"),
    inputs: tuple[str, ...] = ("text",),
    outputs: tuple[str, ...] = ("text",),
    created: int | None = 1_750_000_000,
    extra_prices: dict[str, str] | None = None,
    moderated: bool = False,
) -> dict[str, Any]:
    """A raw `/models` entry in the documented shape, prices as decimal strings per token."""
    pricing = {"prompt": prompt, "completion": completion}
    pricing.update(extra_prices or {})
    entry: dict[str, Any] = {
        "id": model_id,
        "name": model_id.split("/")[-1].replace("-", " ").title(),
        "context_length": context,
        "architecture": {
            "modality": "+".join(inputs) + "->" + "+".join(outputs),
            "input_modalities": list(inputs),
            "output_modalities": list(outputs),
            "tokenizer": "Other",
        },
        "pricing": pricing,
        "top_provider": {
            "context_length": context,
            "max_completion_tokens": max_completion,
            "is_moderated": moderated,
        },
        "supported_parameters": list(params),
    }
    if created is not None:
        entry["created"] = created
    return entry


def catalog_of(*entries: dict[str, Any]) -> ModelCatalog:
    """A catalog built from raw entries, the way the live and cached paths build it."""
    return ModelCatalog.from_raw(entries)


class JsonFileCatalogCache:
    """`CatalogCacheStore` backed by one JSON file (a real implementation, not a mock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.saves = 0

    def load_catalog(self) -> tuple[list[dict[str, Any]], float] | None:
        if not self.path.exists():
            return None
        payload = json.loads(self.path.read_text("utf-8"))
        return payload["models"], float(payload["fetched_at"])

    def save_catalog(self, models: list[dict[str, Any]], fetched_at: float) -> None:
        self.path.write_text(json.dumps({"models": models, "fetched_at": fetched_at}), "utf-8")
        self.saves += 1


@pytest.fixture
def file_cache(tmp_path: Path) -> JsonFileCatalogCache:
    return JsonFileCatalogCache(tmp_path / "catalog.json")
