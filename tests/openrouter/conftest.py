"""Fixtures for the OpenRouter client tests: the simulated server, settings pointing at it,
a recording sleep and a client factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from devflow_tui.config import Settings, load_settings
from devflow_tui.openrouter.client import OpenRouterClient
from devflow_tui.openrouter.wire import ChatMessage, ChatRequest
from devflow_tui.sim import SimServer
from tests.sim_fixture import sim  # noqa: F401

MODEL = "openai/gpt-4o-mini"


class RecordingSleep:
    """An injected sleep: records every wait and returns at once (optionally moving a clock)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.waits: list[float] = []
        self._clock = clock

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self._clock is not None:
            self._clock.now += seconds


class FakeClock:
    """Seconds since the epoch, moved only by the test (or a RecordingSleep)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def chat_request(text: str = "Say hello", model: str = MODEL, **extra: Any) -> ChatRequest:
    """A one-message chat request."""
    return ChatRequest(model=model, messages=[ChatMessage(role="user", content=text)], **extra)


@pytest.fixture
def settings(sim: SimServer, tmp_path: Path) -> Settings:  # noqa: F811
    """Settings aimed at the simulator, with short timeouts and fast backoff."""
    return load_settings(
        cli={
            "base_url": sim.base_url,
            "max_retries": 2,
            "backoff_base_s": 0.5,
            "max_retry_wait_s": 30.0,
            "first_token_timeout_ms": 5_000,
            "chunk_timeout_ms": 5_000,
            "timeout_ms": 10_000,
            "connect_timeout_ms": 2_000,
        }
    )


@pytest.fixture
def sleeper() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def client(
    settings: Settings, fake_key: str, sleeper: RecordingSleep
) -> AsyncIterator[OpenRouterClient]:
    """A client for the simulator with the fake key and the recording sleep."""
    async with OpenRouterClient(settings, api_key=fake_key, sleep=sleeper) as c:
        yield c


ClientFactory = Callable[..., OpenRouterClient]


@pytest.fixture
async def make_client(
    settings: Settings, fake_key: str, sleeper: RecordingSleep
) -> AsyncIterator[ClientFactory]:
    """Build clients with overrides; all are closed at the end of the test."""
    made: list[OpenRouterClient] = []

    def factory(settings_override: Settings | None = None, **kwargs: Any) -> OpenRouterClient:
        kwargs.setdefault("api_key", fake_key)
        kwargs.setdefault("sleep", sleeper)
        made.append(OpenRouterClient(settings_override or settings, **kwargs))
        return made[-1]

    yield factory
    for c in made:
        await c.aclose()
