"""The bundled snapshot: shape, coverage of tiers, and the spec's verbatim entries."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from devflow_tui.data.snapshot import load_snapshot, snapshot_date
from devflow_tui.openrouter.wire import ModelsResponse

SPEC = Path(__file__).resolve().parents[2] / "devflow_tui" / "data" / "models_snapshot.json"


def _by_id() -> dict[str, dict[str, Any]]:
    return {str(model["id"]): model for model in load_snapshot()}


def test_snapshot_parses_as_a_models_response() -> None:
    payload = json.loads(SPEC.read_text(encoding="utf-8"))
    parsed = ModelsResponse.model_validate(payload)
    assert len(parsed.data) >= 12
    assert date.fromisoformat(payload["snapshot_date"]) == date.fromisoformat(snapshot_date())


def test_every_entry_has_the_documented_fields_and_string_prices() -> None:
    for model in load_snapshot():
        for key in ("id", "canonical_slug", "name", "created", "context_length", "architecture",
                    "pricing", "top_provider", "supported_parameters"):  # fmt: skip
            assert key in model, (model["id"], key)
        pricing = model["pricing"]
        assert isinstance(pricing, dict)
        for key, value in pricing.items():
            assert isinstance(value, str), (model["id"], key)
            assert re.fullmatch(r"\d+(\.\d+)?", value), (model["id"], key, value)
        assert "prompt" in pricing and "completion" in pricing


def test_load_snapshot_returns_fresh_copies() -> None:
    first = load_snapshot()
    first[0]["id"] = "changed"
    assert load_snapshot()[0]["id"] != "changed"


def test_required_kinds_of_models_are_present() -> None:
    models = load_snapshot()
    free = [m for m in models if str(m["id"]).endswith(":free")]
    assert free and all(Decimal(str(m["pricing"]["prompt"])) == 0 for m in free)
    assert any("reasoning" in m["supported_parameters"] for m in models)
    assert any("image" in m["architecture"]["input_modalities"] for m in models)
    assert any(int(m["context_length"]) <= 32_768 for m in models)
    assert "deepseek/deepseek-r1" in {m["id"] for m in models}


def test_spec_entries_are_verbatim() -> None:
    models = _by_id()
    sonnet = models["anthropic/claude-sonnet-4.5"]
    assert sonnet["canonical_slug"] == "anthropic/claude-4.5-sonnet-20250929"
    assert sonnet["pricing"] == {
        "prompt": "0.000003",
        "completion": "0.000015",
        "web_search": "0.01",
        "input_cache_read": "0.0000003",
        "input_cache_write": "0.00000375",
    }
    assert sonnet["top_provider"] == {
        "context_length": 1000000,
        "max_completion_tokens": 64000,
        "is_moderated": False,
    }
    mini = models["openai/gpt-4o-mini"]
    assert mini["pricing"] == {
        "prompt": "0.00000015",
        "completion": "0.0000006",
        "request": "0",
        "image": "0.000217",
        "web_search": "0",
        "internal_reasoning": "0",
        "input_cache_read": "0.000000075",
    }
    lite = models["google/gemini-2.5-flash-lite-preview-09-2025"]
    assert lite["pricing"]["input_cache_write"] == "0.00000008333333333333334"
    assert models["deepseek/deepseek-v3.2-exp"]["context_length"] == 163840
    assert models["meta-llama/llama-3.3-70b-instruct"]["pricing"] == {
        "prompt": "0.0000001",
        "completion": "0.00000025",
    }
    nano = models["openai/gpt-5-nano"]["pricing"]
    assert (Decimal(nano["prompt"]), Decimal(nano["completion"])) == (
        Decimal("0.05e-6"),
        Decimal("0.40e-6"),
    )
