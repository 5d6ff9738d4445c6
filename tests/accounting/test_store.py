"""The analytics store: request lifecycle, attempts, catalog cache, notes, conversations,
and opening corrupt or locked files without touching them."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from devflow_tui.accounting import migrations
from devflow_tui.accounting.errors import StoreError
from devflow_tui.accounting.records import RequestOutcome, RequestStart, hash_prompt
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.errors import DevflowError
from devflow_tui.openrouter.result import AttemptRecord
from devflow_tui.routing.health import HealthSample
from tests.accounting.conftest import FakeClock, record


def test_creates_database_in_wal_mode(store: AnalyticsStore, db_path: Path) -> None:
    assert db_path.exists()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert {
        "requests",
        "attempts",
        "catalog_cache",
        "budget_reservations",
        "response_cache",
        "notes",
        "conversations",
        "messages",
        "_migrations",
        "rollup_day",
        "rollup_total",
        "rollup_histogram",
    } <= tables
    assert store.schema_version == len(migrations.MIGRATIONS)


def test_begin_is_durable_before_finish(store: AnalyticsStore, db_path: Path) -> None:
    start = RequestStart(
        task_type="coding",
        complexity="high",
        requested_model="auto",
        model="m/a",
        routing_reason="cheapest capable",
        prompt_hash=hash_prompt("hello"),
        conversation_id="c1",
        project="/p",
        prompt_tokens=42,
    )
    request_id = store.begin_request(start)
    # Another connection (another process) sees the running row at once.
    other = sqlite3.connect(db_path)
    row = other.execute(
        "SELECT status, model, prompt_tokens, routing_reason FROM requests WHERE id = ?",
        (request_id,),
    ).fetchone()
    other.close()
    assert row == ("running", "m/a", 42, "cheapest capable")


def test_finish_writes_every_field(store: AnalyticsStore, clock: FakeClock) -> None:
    request_id = store.begin_request(RequestStart(task_type="coding", model="m/a"))
    clock.advance(2)
    store.finish_request(
        request_id,
        RequestOutcome(
            request_id=request_id,
            text="answer",
            model="m/b",
            requested_model="auto",
            task_type="coding",
            complexity="medium",
            prompt_tokens=1200,
            completion_tokens=300,
            reasoning_tokens=120,
            cached_tokens=1000,
            cost_usd=Decimal("0.00012345678901234567"),
            cost_source="estimated",
            latency_ms=1500.5,
            ttft_ms=320.25,
            tokens_per_s=61.5,
            generation_id="gen-1-abc",
            finish_reason="stop",
            complete=True,
        ),
    )
    row = store.get_request(request_id)
    assert row is not None
    assert row.status == "ok" and row.model == "m/b" and row.requested_model == "auto"
    assert row.complexity == "medium" and row.task_type == "coding"
    assert (row.prompt_tokens, row.completion_tokens) == (1200, 300)
    assert (row.reasoning_tokens, row.cached_tokens) == (120, 1000)
    assert row.cost_usd == Decimal("0.00012345678901234567")  # exact, as text
    assert row.cost_source == "estimated"
    assert (row.latency_ms, row.ttft_ms, row.tokens_per_s) == (1500.5, 320.25, 61.5)
    assert row.generation_id == "gen-1-abc" and row.finish_reason == "stop"
    assert row.complete and not row.cache_hit
    assert row.partial_text is None  # the answer lives in messages, not here
    assert row.updated == clock.now


def test_unknown_cost_is_null_not_zero(store: AnalyticsStore) -> None:
    request_id = record(store, cost=None, source="unknown")
    row = store.get_request(request_id)
    assert row is not None and row.cost_usd is None and row.cost_source == "unknown"
    assert store.spend_since(0) == 0


def test_failed_request_keeps_partial_answer_and_redacted_message(
    store: AnalyticsStore, fake_key: str
) -> None:
    request_id = store.begin_request(RequestStart(model="m/a"))
    store.finish_request(
        request_id,
        RequestOutcome(
            request_id=request_id,
            text="half an ans",
            model="m/a",
            status="error",
            error_category="network",
            error_message=f"connection reset while using {fake_key}",
            completion_tokens=7,
        ),
    )
    row = store.get_request(request_id)
    assert row is not None and row.status == "error" and row.partial_text == "half an ans"
    assert row.error_category == "network"
    assert row.error_message is not None and fake_key not in row.error_message


def test_attempts_numbered_and_not_duplicated(store: AnalyticsStore, fake_key: str) -> None:
    request_id = store.begin_request(RequestStart(model="m/a"))
    first = AttemptRecord(
        model="m/a", status=429, error="rate_limit", message=f"slow down {fake_key}"
    )
    second = AttemptRecord(model="m/b", status=200, latency_ms=900, wait_before_s=1.5)
    store.record_attempt(request_id, first, n=1)
    # The outcome repeats the recorded attempt and adds one: only the new one is written.
    store.finish_request(
        request_id,
        RequestOutcome(request_id=request_id, model="m/b", attempts=[first, second]),
    )
    attempts = store.attempts_for(request_id)
    assert [(a.n, a.model, a.status) for a in attempts] == [(1, "m/a", 429), (2, "m/b", 200)]
    assert attempts[1].wait_before_s == 1.5 and attempts[1].latency_ms == 900
    assert attempts[0].message is not None and fake_key not in attempts[0].message


def test_attempt_numbers_stay_exact_when_one_write_failed(
    store: AnalyticsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attempt 1 cannot be written (the disk was full for a moment), attempt 2 can: it keeps
    number 2, and the outcome fills in number 1 (before, attempt 2 took number 1 from the row
    count, and the outcome then wrote it again as number 2 while attempt 1 was lost)."""
    request_id = store.begin_request(RequestStart(model="m/a"))
    first = AttemptRecord(model="m/a", status=503, error="provider")
    second = AttemptRecord(model="m/b", status=200)
    real_write = AnalyticsStore._write_attempt

    def full_once(self: AnalyticsStore, rid: str, attempt: AttemptRecord, n: int) -> None:
        if n == 1:
            raise StoreError("database or disk is full")
        real_write(self, rid, attempt, n)

    monkeypatch.setattr(AnalyticsStore, "_write_attempt", full_once)
    store.record_attempt(request_id, first, n=1)  # logged, not raised
    store.record_attempt(request_id, second, n=2)
    assert [(a.n, a.model) for a in store.attempts_for(request_id)] == [(2, "m/b")]
    store.finish_request(
        request_id,
        RequestOutcome(request_id=request_id, model="m/b", attempts=[first, second]),
    )
    attempts = store.attempts_for(request_id)
    assert [(a.n, a.model, a.status) for a in attempts] == [(1, "m/a", 503), (2, "m/b", 200)]


def test_finish_without_begin_still_records(store: AnalyticsStore, clock: FakeClock) -> None:
    store.finish_request(
        "no-begin",
        RequestOutcome(request_id="no-begin", model="m/a", status="refused"),
    )
    row = store.get_request("no-begin")
    assert row is not None and row.status == "refused" and row.ts == clock.now


def test_finishing_twice_replaces_rollup_contribution(store: AnalyticsStore) -> None:
    request_id = record(store, cost="0.5")
    store.finish_request(
        request_id,
        RequestOutcome(
            request_id=request_id,
            model="m/cheap",
            cost_usd=Decimal("0.25"),
            cost_source="reported",
        ),
    )
    assert store.spend_since(0) == Decimal("0.25")


def test_cache_hit_costs_zero_and_records_saving(store: AnalyticsStore) -> None:
    request_id = record(store, cache_hit=True, cost="0.9", saved="0.004")
    row = store.get_request(request_id)
    assert row is not None and row.cache_hit
    assert row.cost_usd == 0 and row.cost_source == "cache" and row.saved_usd == Decimal("0.004")
    assert store.spend_since(0) == 0


def test_recent_requests_newest_first(store: AnalyticsStore, clock: FakeClock) -> None:
    ids = []
    for _ in range(3):
        ids.append(record(store))
        clock.advance(1)
    assert [r.id for r in store.recent_requests(2)] == [ids[2], ids[1]]


def test_progress_then_stale_running_becomes_interrupted(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    request_id = store.begin_request(RequestStart(model="m/a"))
    store.record_progress(
        request_id, completion_tokens=37, reasoning_tokens=5, partial_text="par", generation_id="g1"
    )
    # Our own live process: left alone.
    assert store.mark_stale_running_as_interrupted() == 0
    # Much later, it is considered abandoned even though the pid is alive.
    clock.advance(7 * 3600)
    assert store.mark_stale_running_as_interrupted() == 1
    row = store.get_request(request_id)
    assert row is not None and row.status == "interrupted"
    assert row.completion_tokens == 37 and row.reasoning_tokens == 5
    assert row.partial_text == "par"
    # Its generation is kept: `reconcile` fetches what the killed process's answer was billed.
    assert row.generation_id == "g1"
    assert [r.id for r in store.unbilled_requests(10)] == [request_id]
    # Progress after the fact does not resurrect it.
    store.record_progress(request_id, completion_tokens=99)
    row = store.get_request(request_id)
    assert row is not None and row.completion_tokens == 37


def test_running_row_of_dead_pid_is_interrupted(store: AnalyticsStore, db_path: Path) -> None:
    request_id = store.begin_request(RequestStart(model="m/a"))
    dead = _dead_pid()
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE requests SET pid = ? WHERE id = ?", (dead, request_id))
    conn.commit()
    conn.close()
    assert store.mark_stale_running_as_interrupted() == 1
    row = store.get_request(request_id)
    assert row is not None and row.status == "interrupted"


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_health_samples_latest_per_model_oldest_first(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    for i in range(4):
        record(store, model="m/a", latency=100.0 + i)
        clock.advance(1)
    record(store, model="m/b", status="error", latency=None, ttft=None, tps=None, cost=None)
    record(store, model="m/b", status="cancelled")
    record(store, model="m/a", cache_hit=True, saved="0.1")
    samples = store.health_samples(limit_per_model=2)
    a = [s for s in samples if s.model == "m/a"]
    b = [s for s in samples if s.model == "m/b"]
    assert [s.latency_ms for s in a] == [102.0, 103.0]
    assert b == [HealthSample("m/b", False, None, None, None, None)]


def test_catalog_cache_round_trip(store: AnalyticsStore) -> None:
    assert store.load_catalog() is None
    models = [{"id": "m/a", "pricing": {"prompt": "0.000001"}}]
    store.save_catalog(models, 1000.0)
    store.save_catalog([*models, {"id": "m/b"}], 2000.0)
    loaded = store.load_catalog()
    assert loaded is not None
    assert loaded[1] == 2000.0 and [m["id"] for m in loaded[0]] == ["m/a", "m/b"]


def test_damaged_catalog_cache_is_a_miss(store: AnalyticsStore, db_path: Path) -> None:
    store.save_catalog([], 1.0)
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE catalog_cache SET models_json = '{not json'")
    conn.commit()
    assert store.load_catalog() is None
    conn.execute("UPDATE catalog_cache SET models_json = ?", (json.dumps({"a": 1}),))
    conn.commit()
    conn.close()
    assert store.load_catalog() is None


def test_notes(store: AnalyticsStore, clock: FakeClock) -> None:
    g = store.add_note("always use type hints", None)
    clock.advance(1)
    p = store.add_note("this repo uses ruff", "/work/p")
    clock.advance(1)
    store.add_note("other project", "/work/q")
    assert [n.id for n in store.list_notes("/work/p")] == [g, p]
    assert [n.text for n in store.list_notes("/work/p", include_global=False)] == [
        "this repo uses ruff"
    ]
    assert [n.id for n in store.list_notes(None)] == [g]
    assert store.remove_note(p) is True
    assert store.remove_note(p) is False
    assert [n.id for n in store.list_notes("/work/p")] == [g]


def test_conversations_history_and_markdown(store: AnalyticsStore, clock: FakeClock) -> None:
    c1 = store.save_message(None, "user", "How do I parse TOML?\nIn Python.", project="/p")
    clock.advance(1)
    store.save_message(c1, "assistant", "Use tomllib.", request_id="r1")
    clock.advance(1)
    c2 = store.save_message(None, "user", "100% sure_about this?", title="Certainty")
    conversations = store.list_conversations()
    assert [c.id for c in conversations] == [c2, c1]
    assert conversations[1].title == "How do I parse TOML?" and conversations[1].messages == 2
    assert [c.id for c in store.list_conversations(search="tomllib")] == [c1]
    assert [c.id for c in store.list_conversations(search="100%")] == [c2]
    assert store.list_conversations(search="_about") == conversations[:1]
    assert store.list_conversations(search="nothing like it") == []
    messages = store.load_conversation(c1)
    assert [(m.role, m.request_id) for m in messages] == [("user", None), ("assistant", "r1")]
    markdown = store.export_markdown(c1)
    assert markdown.startswith("# How do I parse TOML?\n")
    assert "## assistant (" in markdown and "Use tomllib." in markdown
    with pytest.raises(StoreError):
        store.export_markdown("missing")


def test_concurrent_writers_from_threads(store: AnalyticsStore) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                record(store, cost="0.001")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.spend_since(0) == Decimal("0.160")


def test_corrupt_file_is_an_error_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "devflow.db"
    content = b"this is not a database, but it may be someone's data" * 100
    path.write_bytes(content)
    with pytest.raises(StoreError) as info:
        AnalyticsStore(path)
    assert "not a valid SQLite database" in str(info.value)
    assert isinstance(info.value, DevflowError) and info.value.hint
    assert path.read_bytes() == content
    assert not (tmp_path / "devflow.db-wal").exists()


def test_damaged_database_with_valid_header_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "devflow.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    content = bytearray(path.read_bytes())
    content[100:4096] = b"\xff" * (4096 - 100)  # wipe the schema page after the header
    path.write_bytes(bytes(content))
    with pytest.raises(StoreError):
        AnalyticsStore(path)
    assert path.read_bytes() == bytes(content)


def test_locked_database_is_an_error_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "devflow.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE keep (x)")
    holder.execute("INSERT INTO keep VALUES (1)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError) as info:
            AnalyticsStore(path, busy_timeout_s=0.05)
        assert "locked" in str(info.value)
    finally:
        holder.execute("ROLLBACK")
    assert holder.execute("SELECT x FROM keep").fetchall() == [(1,)]
    tables = {r[0] for r in holder.execute("SELECT name FROM sqlite_master")}
    holder.close()
    assert tables == {"keep"}


def test_write_lock_held_by_another_process_is_a_store_error(
    store: AnalyticsStore, db_path: Path
) -> None:
    store.busy_timeout_s = 0.05
    store._conn.execute("PRAGMA busy_timeout = 50")
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="locked"):
            record(store)
        with pytest.raises(StoreError, match="locked"):
            store.begin_request(RequestStart())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    record(store)  # works again once the other writer is done


def test_unreadable_directory_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError):
        AnalyticsStore(blocker / "devflow.db")


def test_close_is_idempotent_and_context_manager(db_path: Path) -> None:
    with AnalyticsStore(db_path) as s:
        record(s)
    s.close()
    with AnalyticsStore(db_path) as again:
        assert len(again.recent_requests()) == 1


def test_pid_alive_helper() -> None:
    from devflow_tui.accounting.store import _pid_alive

    assert _pid_alive(os.getpid())
    assert not _pid_alive(_dead_pid())


def test_transaction_rolls_back_everything_on_error(store: AnalyticsStore) -> None:
    with pytest.raises(ValueError), store.transaction() as conn:
        conn.execute("INSERT INTO notes (text, created) VALUES ('outer', 0)")
        with store.transaction() as inner:
            inner.execute("INSERT INTO notes (text, created) VALUES ('inner', 0)")
            raise ValueError("stop")
    assert store.list_notes(None) == []


def test_sql_errors_become_store_errors(store: AnalyticsStore) -> None:
    with pytest.raises(StoreError, match="failed"), store.transaction() as conn:
        conn.execute("INSERT INTO no_such_table VALUES (1)")
    with pytest.raises(StoreError, match="failed"):
        store._execute("SELECT * FROM no_such_table")
    record(store)  # the store still works
