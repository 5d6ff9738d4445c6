"""GET endpoints: models, generation (with its 404 window), key (with /auth/key), credits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import SecretStr

from devflow_tui.config import Settings
from devflow_tui.errors import ErrorCategory, OpenRouterError
from devflow_tui.openrouter.client import OpenRouterClient
from devflow_tui.sim import Fault, SimServer
from tests.openrouter.conftest import ClientFactory, RecordingSleep, chat_request


def paths(sim: SimServer) -> list[str]:
    return [r.path for r in sim.requests]


async def test_list_models_parses_catalog(client: OpenRouterClient, sim: SimServer) -> None:
    models = await client.list_models()
    ids = [m.id for m in models]
    assert ids == [m["id"] for m in sim.catalog()]
    mini = next(m for m in models if m.id == "openai/gpt-4o-mini")
    raw = sim.find_model(mini.id)
    assert raw is not None
    assert mini.pricing.known_prices()["prompt"] == Decimal(str(raw["pricing"]["prompt"]))


async def test_get_generation_waits_out_the_404_window(
    client: OpenRouterClient, sim: SimServer, sleeper: RecordingSleep
) -> None:
    result = await client.chat(chat_request())
    assert result.generation_id is not None
    sim.add_fault(Fault(kind="generation_404", times=3))
    generation = await client.get_generation(result.generation_id, wait_s=3.0)
    assert generation.id == result.generation_id
    assert generation.total_cost == result.usage.cost  # type: ignore[union-attr]
    assert client.poll_waits == [0.5, 0.5, 0.5] == sleeper.waits
    assert paths(sim).count("/generation") == 4
    assert client.retry_waits == []  # a 404 is not a retryable error


async def test_get_generation_gives_up_after_wait_s(
    client: OpenRouterClient, sim: SimServer
) -> None:
    sim.add_fault(Fault(kind="generation_404", times=None))
    with pytest.raises(OpenRouterError) as info:
        await client.get_generation("gen-1-missing", wait_s=1.2)
    assert info.value.status == 404 and info.value.category is ErrorCategory.USER
    assert client.poll_waits == [0.5, 0.5, pytest.approx(0.2)]
    assert paths(sim).count("/generation") == 4


async def test_get_generation_other_errors_are_not_polled(
    client: OpenRouterClient, sim: SimServer
) -> None:
    sim.add_fault(Fault(kind="http_error", status=401, path="/generation"))
    with pytest.raises(OpenRouterError) as info:
        await client.get_generation("gen-1-x")
    assert info.value.category is ErrorCategory.AUTH and client.poll_waits == []


async def test_get_key(client: OpenRouterClient, sim: SimServer) -> None:
    info = await client.get_key()
    assert info.label == "sk-or-…fa1e"
    assert info.limit == sim.config.key_limit
    assert paths(sim) == ["/key"]


async def test_get_key_falls_back_to_auth_key_on_404(
    client: OpenRouterClient, sim: SimServer
) -> None:
    sim.add_fault(Fault(kind="http_error", status=404, path="/key"))
    info = await client.get_key()
    assert info.usage == sim.config.key_usage
    assert paths(sim) == ["/key", "/auth/key"]


async def test_get_key_other_error_raises(client: OpenRouterClient, sim: SimServer) -> None:
    sim.add_fault(Fault(kind="http_error", status=401, path="/key"))
    with pytest.raises(OpenRouterError) as info:
        await client.get_key()
    assert info.value.category is ErrorCategory.AUTH
    assert paths(sim) == ["/key"]


async def test_get_credits(client: OpenRouterClient, sim: SimServer) -> None:
    credits = await client.get_credits()
    assert credits is not None
    assert credits.balance == sim.config.credits_total - sim.config.credits_usage


@pytest.mark.parametrize("status", [401, 403])
async def test_credits_unavailable_is_none(
    client: OpenRouterClient, sim: SimServer, status: int
) -> None:
    message = "Only management keys can perform this operation"
    sim.add_fault(Fault(kind="http_error", status=status, path="/credits", message=message))
    assert await client.get_credits() is None


async def test_credits_server_error_is_retried_then_raised(
    client: OpenRouterClient, sim: SimServer
) -> None:
    sim.add_fault(Fault(kind="http_error", status=503, path="/credits", times=None))
    with pytest.raises(OpenRouterError) as info:
        await client.get_credits()
    assert info.value.category is ErrorCategory.PROVIDER
    assert paths(sim).count("/credits") == 3 and len(client.retry_waits) == 2


async def test_bad_key_rejected_on_get(make_client: ClientFactory, sim: SimServer) -> None:
    sim.config.valid_keys = {"sk-or-v1-" + "0" * 4}
    client = make_client()
    with pytest.raises(OpenRouterError) as info:
        await client.get_key()
    assert info.value.category is ErrorCategory.AUTH
    assert "sk-or-…fa1e" in info.value.message


async def test_key_from_settings_is_used_when_none_given(
    make_client: ClientFactory, settings: Settings, sim: SimServer, fake_key: str
) -> None:
    sim.config.valid_keys = {fake_key}
    client = make_client(settings.model_copy(update={"api_key": SecretStr(fake_key)}), api_key=None)
    assert (await client.get_key()).label == "sk-or-…fa1e"
    assert fake_key not in repr(client)
