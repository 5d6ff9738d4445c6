"""The dashboard's non-widget pieces: money formatting, config saving, labels."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from devflow_tui.errors import ConfigError
from devflow_tui.gateway.events import AttemptRecord, RequestOutcome
from devflow_tui.routing.catalog import ModelCatalog
from devflow_tui.routing.health import ModelHealth
from devflow_tui.tui.actions import ACTIONS, bindings
from devflow_tui.tui.config_file import save_routing_preferences
from devflow_tui.tui.gateway_port import catalog_models
from devflow_tui.tui.money import ms
from devflow_tui.tui.screens.help import help_markdown
from devflow_tui.tui.screens.models import health_text, per_million
from devflow_tui.tui.widgets.budget_gauges import level_for
from devflow_tui.tui.widgets.conversation import answer_footer, code_blocks
from devflow_tui.tui.widgets.latency_charts import short_models


def test_ms() -> None:
    assert ms(None) == "—"
    assert ms(840.4) == "840 ms"
    assert ms(2340) == "2.3 s"


def test_budget_levels() -> None:
    marks = [0.5, 0.8, 1.0]
    assert level_for(Decimal("0.1"), Decimal(1), marks) == "-ok"
    assert level_for(Decimal("0.5"), Decimal(1), marks) == "-caution"
    assert level_for(Decimal("0.85"), Decimal(1), marks) == "-warning"
    assert level_for(Decimal("1"), Decimal(1), marks) == "-over"
    assert level_for(Decimal(3), None, marks) == "-ok"
    assert level_for(Decimal(0), Decimal(0), marks) == "-ok"
    assert level_for(Decimal("0.01"), Decimal(0), marks) == "-over"
    assert level_for(Decimal("0.9"), Decimal(1), [0.9]) == "-over"


def test_code_blocks_and_footer() -> None:
    text = "intro\n```python\nprint(1)\n```\nmid\n~~~\nraw\n~~~\n```unterminated\nx"
    assert code_blocks(text) == ["print(1)\n", "raw\n"]
    outcome = RequestOutcome(
        request_id="r",
        model="m",
        cost_usd=None,
        prompt_tokens=1200,
        completion_tokens=30,
        latency_ms=1500,
        ttft_ms=300,
        cache_hit=True,
        fallbacks=["x", "y"],
    )
    # The routing's fallbacks were never tried: the footer does not name them.
    assert answer_footer(outcome) == (
        "m · unknown · 1,200→30 tok · latency 1.5 s · ttft 300 ms · cache hit"
    )
    tried = outcome.model_copy(
        update={
            "attempts": [
                AttemptRecord(model="x", status=503, error="provider"),
                AttemptRecord(model="x", status=503, error="provider"),
                AttemptRecord(model="y", status=None, error="timeout"),
                AttemptRecord(model="m", status=200),
            ]
        }
    )
    assert answer_footer(tried).endswith("cache hit · after 503×2 on x, timeout on y")


def test_models_screen_formatting() -> None:
    assert per_million(None) == "unknown"
    assert per_million(Decimal("0.000003")) == "$3"
    assert per_million(Decimal("2.7e-7")) == "$0.27"
    assert per_million(Decimal(0)) == "$0"

    class Tracker:
        def __init__(self, samples: int) -> None:
            self.samples = samples

        def in_cooldown(self, model: str) -> bool:
            return model == "cold"

        def stats(self, model: str) -> ModelHealth:
            if model == "boom":
                raise RuntimeError("broken")
            return ModelHealth(samples=self.samples, success_rate=0.5, latency_p50=1200.0)

    assert health_text(None, "m") == "—"
    assert health_text(Tracker(2), "cold") == "cooldown"
    assert health_text(Tracker(2), "boom") == "—"
    assert health_text(Tracker(0), "m") == "no data"
    assert health_text(Tracker(2), "m") == "50% ok · 1.2 s · n=2"


def test_save_preferences_keeps_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "config.toml"
    save_routing_preferences(
        path, pinned_model="a", excluded_models=["z", "b"], preferred_models=["p"]
    )
    data = tomllib.loads(path.read_text())
    assert data == {
        "preferred_models": ["p"],
        "routing": {"pinned_model": "a", "excluded_models": ["b", "z"]},
    }
    path.write_text('log_level = "DEBUG"\n[routing]\ncost_priority = 0.7\npinned_model = "a"\n')
    save_routing_preferences(path, pinned_model=None, excluded_models=[], preferred_models=[])
    data = tomllib.loads(path.read_text())
    assert data["log_level"] == "DEBUG"
    assert data["routing"] == {"cost_priority": 0.7, "excluded_models": []}


def test_save_preferences_reports_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"Cannot (read|save)"):
        save_routing_preferences(
            blocker / "config.toml", pinned_model=None, excluded_models=[], preferred_models=[]
        )


def test_catalog_models_sorted_by_id() -> None:
    catalog = ModelCatalog.bundled()
    ids = [m.id for m in catalog_models(catalog)]
    assert ids == sorted(ids) and len(ids) == len(catalog)
    assert catalog_models(None) == []


def test_every_action_has_a_binding_and_help_line() -> None:
    keys = {b.key for b in bindings()}
    assert all(a.key in keys for a in ACTIONS)
    text = help_markdown()
    assert all(a.description in text for a in ACTIONS)
    assert short_models(["openai/gpt-4o-mini"]) == ["gpt-4o-mini"]
    # Shortened at a separator, never mid-word ("mistral-7b-in…"), and the free variant apart.
    assert short_models(["mistralai/mistral-7b-instruct"]) == ["mistral-7b-…"]
    llamas = ["meta-llama/llama-3.3-70b-instruct", "meta-llama/llama-3.3-70b-instruct:free"]
    assert short_models(llamas) == ["llama-3.3-70b-…", "llama-3.3-…:free"]


def test_warm_imports_skips_missing_modules() -> None:
    from devflow_tui.tui.app import warm_imports

    assert warm_imports(("devflow_tui.no_such_module", "devflow_tui.config")) == 1


def test_an_answer_cut_at_the_token_limit_says_to_raise_it_not_retry() -> None:
    """A retry stops at the same limit; the footer said "ctrl+r retry"."""
    from devflow_tui.tui.widgets.conversation import AnswerBlock, AnswerFacts

    block = AnswerBlock("r1", "write a long essay")
    block.show_end(AnswerFacts(model="m/x", status="ok", complete=False, finish_reason="length"))
    assert block.state == "incomplete"
    assert block.footer.startswith(
        "INCOMPLETE (output token limit) · raise max tokens (ctrl+o) · m/x"
    )
    assert "retry" not in block.footer
    cut_text = AnswerBlock("r3", "hi", text="partial")
    cut_text.show_end(
        AnswerFacts(model="m/x", status="error", complete=False, error_message="lost")
    )
    assert cut_text.footer.startswith("INCOMPLETE (lost) · ctrl+r retry")
