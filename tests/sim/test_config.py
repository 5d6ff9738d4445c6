"""SimConfig.from_toml and fault matching."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from devflow_tui.errors import ConfigError
from devflow_tui.sim.config import Fault, SimConfig
from devflow_tui.sim.profiles import ModelProfile


def test_from_toml_reads_every_kind_of_field(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(
        """
time_scale = 0.25
usage_shape = 3
valid_keys = ["k1", "k2"]
key_limit = 5
credits_total = "12.5"
generation_delay_s = 1.5
max_answer_tokens = 40

[[faults]]
kind = "rate_limit"
model = "openai/gpt-5"
times = "forever"
upstream = true
retry_after_s = 3

[[faults]]
kind = "http_error"
status = 502

[profiles."openai/gpt-5"]
ttft_ms = 100
tokens_per_s = 50
""",
        encoding="utf-8",
    )
    config = SimConfig.from_toml(path)
    assert config.time_scale == 0.25
    assert config.usage_shape == 3
    assert config.valid_keys == {"k1", "k2"}
    assert config.key_limit == Decimal(5)
    assert config.credits_total == Decimal("12.5")
    assert config.faults == [
        Fault(kind="rate_limit", model="openai/gpt-5", times=None, upstream=True, retry_after_s=3),
        Fault(kind="http_error", status=502),
    ]
    assert config.profiles == {"openai/gpt-5": ModelProfile(ttft_ms=100, tokens_per_s=50)}


def test_from_toml_accepts_a_sim_table(tmp_path: Path) -> None:
    path = tmp_path / "devflow.toml"
    path.write_text("[sim]\ntime_scale = 0\n", encoding="utf-8")
    assert SimConfig.from_toml(path).time_scale == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("time_scale = -1\n", "`time_scale`"),
        ("tim_scale = 1\n", "`tim_scale`"),
        ("usage_shape = 4\n", "`usage_shape`"),
        ('[[faults]]\nkind = "explode"\n', "`faults.0.kind`"),
        ('[[faults]]\nkind = "http_error"\nstatus = 99\n', "`faults.0.status`"),
        ('[[faults]]\nkind = "http_error"\ncolour = 1\n', "`faults.0.colour`"),
        ("time_scale = = 1\n", "not valid TOML"),
        ('sim = "x"\n', "[sim] must be a table"),
    ],
)
def test_from_toml_rejects_bad_input_naming_file_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        SimConfig.from_toml(path)
    assert str(path) in info.value.message
    assert expected in info.value.message
    assert info.value.hint


def test_from_toml_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read"):
        SimConfig.from_toml(tmp_path / "absent.toml")


def test_fault_matching() -> None:
    fault = Fault(kind="http_error", model="a/b", times=1)
    assert fault.matches("/chat/completions", "a/b")
    assert not fault.matches("/chat/completions", "c/d")
    assert not fault.matches("/models", "a/b")
    fault.times = 0
    assert not fault.matches("/chat/completions", "a/b")
    assert Fault(kind="generation_404").matches("/generation", None)
    assert Fault(kind="keepalive", times=None).matches("/chat/completions", "x/y")
