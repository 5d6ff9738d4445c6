"""Run `devflow` in-process with click's runner against the simulated server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from devflow_tui.cli import main
from devflow_tui.sim import SimServer
from tests.sim_fixture import sim  # noqa: F401

Invoke = Callable[..., Result]


@pytest.fixture
def devflow(
    sim: SimServer,  # noqa: F811
    fake_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Invoke:
    """`devflow(*args, input=None, key=True)` with the sim as OPENROUTER_BASE_URL."""
    monkeypatch.setenv("OPENROUTER_BASE_URL", sim.base_url)
    monkeypatch.setenv("DEVFLOW_DEMO_TIME_SCALE", "0")
    (_config := __import__("os").environ["DEVFLOW_CONFIG"])
    with open(_config, "w", encoding="utf-8") as fh:
        fh.write("backoff_base_s = 0.0\nmax_retries = 1\n")

    def invoke(*args: str, input: str | None = None, key: bool = True) -> Result:
        if key:
            monkeypatch.setenv("OPENROUTER_API_KEY", fake_key)
        else:
            monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke
