"""Response cache: normalised keys, TTL expiry, hits counted and recorded as money saved."""

from __future__ import annotations

from decimal import Decimal

from devflow_tui.accounting.cache import ResponseCache
from devflow_tui.accounting.reports import build_report
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.openrouter.wire import ChatMessage, ChatRequest
from tests.accounting.conftest import FakeClock, record

D = Decimal


def request(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "messages": [{"role": "user", "content": "Explain WAL mode"}],
        "task_type": "analysis",
        "pool": ["m/a", "m/b"],
        "temperature": 0.2,
    }
    base.update(extra)
    return base


def test_key_is_normalised() -> None:
    key = ResponseCache.key_for(request())
    # Key order, None values, and stream/user flags do not change the key.
    reordered = dict(reversed(list(request().items())))
    assert ResponseCache.key_for(reordered) == key
    assert ResponseCache.key_for(request(stream=True, user="me", max_tokens=None)) == key
    # Anything that changes the answer does.
    assert ResponseCache.key_for(request(temperature=0.3)) != key
    assert ResponseCache.key_for(request(pool=["m/a"])) != key
    other = request(messages=[{"role": "user", "content": "Explain WAL mode!"}])
    assert ResponseCache.key_for(other) != key
    assert len(key) == 64 and int(key, 16) >= 0


def test_key_accepts_pydantic_models_and_decimals() -> None:
    chat = ChatRequest(messages=[ChatMessage(role="user", content="hi")], max_tokens=10)
    as_model = ResponseCache.key_for({"request": chat, "budget": D("0.10")})
    as_dict = ResponseCache.key_for(
        {"request": chat.model_dump(mode="json", exclude_none=True), "budget": "0.10"}
    )
    assert as_model == as_dict
    streamed = chat.model_copy(update={"stream": True})
    # `stream` inside a nested request is part of that object, so only top-level is ignored.
    assert ResponseCache.key_for({"request": streamed}) != ResponseCache.key_for({"request": chat})


def test_put_get_and_hits(store: AnalyticsStore, clock: FakeClock) -> None:
    cache = ResponseCache(store, ttl_s=3600, clock=clock)
    key = cache.key_for(request())
    assert cache.get(key) is None
    cache.put(key, text="WAL keeps a log", model="m/a", prompt_tokens=12, completion_tokens=40,
              reasoning_tokens=3, cached_tokens=1, cost_usd=D("0.00042"))  # fmt: skip
    first = cache.get(key)
    second = cache.get(key)
    assert first is not None and second is not None
    assert first.text == "WAL keeps a log" and first.model == "m/a"
    assert (first.prompt_tokens, first.completion_tokens, first.reasoning_tokens) == (12, 40, 3)
    assert first.cached_tokens == 1 and first.cost_usd == D("0.00042")
    assert (first.hits, second.hits) == (1, 2)


def test_entries_expire_after_ttl(store: AnalyticsStore, clock: FakeClock) -> None:
    cache = ResponseCache(store, ttl_s=60, clock=clock)
    cache.put("k1", text="a", model="m/a")
    cache.put("k2", text="b", model="m/a", cost_usd=None)
    clock.advance(59)
    hit = cache.get("k1")
    assert hit is not None and hit.cost_usd is None
    clock.advance(1)
    assert cache.get("k1") is None  # expired, and removed
    assert cache.purge_expired() == 1  # k2
    cache.put("k3", text="c", model="m/a")
    assert cache.clear() == 1


def test_put_replaces_and_resets_hits(store: AnalyticsStore, clock: FakeClock) -> None:
    cache = ResponseCache(store, ttl_s=60, clock=clock)
    cache.put("k", text="old", model="m/a")
    cache.get("k")
    clock.advance(50)
    cache.put("k", text="new", model="m/b")
    clock.advance(50)  # would have expired under the old entry
    hit = cache.get("k")
    assert hit is not None and (hit.text, hit.model, hit.hits) == ("new", "m/b", 1)


def test_zero_ttl_disables_cache(store: AnalyticsStore, clock: FakeClock) -> None:
    cache = ResponseCache(store, ttl_s=0, clock=clock)
    assert not cache.enabled
    cache.put("k", text="x", model="m/a")
    assert cache.get("k") is None


def test_hit_is_free_and_counts_as_saved_in_reports(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    cache = ResponseCache(store, ttl_s=600, clock=clock)
    key = cache.key_for(request())
    record(store, cost="0.004")
    cache.put(key, text="answer", model="m/cheap", cost_usd=D("0.004"))
    hit = cache.get(key)
    assert hit is not None
    record(store, cache_hit=True, saved=str(hit.cost_usd), cost=None)
    report = build_report(store, since="24h", now=clock.now)
    assert report.totals.requests == 2 and report.totals.cache_hits == 1
    assert report.totals.cost_usd == D("0.004")  # the hit added nothing
    assert report.totals.saved_by_cache_usd == D("0.004")
    assert report.totals.unknown_cost_requests == 0
