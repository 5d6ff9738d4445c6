"""The API call log: JSON lines, rotation, mode 0600, prompts only on request, no secrets."""

from __future__ import annotations

import json
import logging
import stat
from decimal import Decimal
from pathlib import Path

import pytest

from devflow_tui.config import Settings, load_settings
from devflow_tui.errors import OpenRouterError
from devflow_tui.openrouter.calllog import BACKUP_COUNT, CallEntry, CallLog
from devflow_tui.openrouter.client import StreamDone
from devflow_tui.sim import Fault, SimServer
from tests.openrouter.conftest import ClientFactory, chat_request


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_entry_written_as_json_line_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "api.jsonl"
    log = CallLog(path, max_bytes=10_000, level="INFO")
    log.record(
        CallEntry(
            endpoint="/chat/completions",
            request_id="r1",
            model="m/x",
            status=200,
            latency_ms=12.5,
            prompt_tokens=3,
            cost_usd=Decimal("0.0000621"),
        ),
        prompt=[{"role": "user", "content": "secret plan"}],
    )
    log.close()
    [entry] = lines(path)
    assert entry["endpoint"] == "/chat/completions" and entry["status"] == 200
    assert entry["cost_usd"] == "0.0000621" and entry["level"] == "INFO"
    assert "ts" in entry and "error" not in entry
    assert "prompt" not in entry  # log_prompts is off
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_prompts_only_when_enabled_and_level_filter(tmp_path: Path) -> None:
    path = tmp_path / "api.jsonl"
    log = CallLog(path, max_bytes=10_000, level="WARNING", log_prompts=True)
    prompt = [{"role": "user", "content": "hello"}]
    log.record(CallEntry(endpoint="/models", status=200), prompt=prompt)  # INFO: filtered
    log.record(CallEntry(endpoint="/chat/completions", error="network"), prompt=prompt)
    log.close()
    [entry] = lines(path)
    assert entry["error"] == "network" and entry["prompt"] == prompt
    assert entry["level"] == "WARNING"


def test_rotation_keeps_three_private_backups(tmp_path: Path) -> None:
    path = tmp_path / "api.jsonl"
    log = CallLog(path, max_bytes=10_000, level="INFO")
    for index in range(400):
        log.record(
            CallEntry(endpoint="/models", request_id=f"r{index:04d}", extra={"pad": "x" * 80})
        )
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["api.jsonl"] + [f"api.jsonl.{i}" for i in range(1, BACKUP_COUNT + 1)]
    for name in files:
        file = tmp_path / name
        assert file.stat().st_size <= 10_000
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert lines(path)[-1]["request_id"] == "r0399"


def test_each_line_is_formatted_once_even_near_rotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The standard rotating handler formats every line twice (once to measure it).
    from devflow_tui.openrouter import calllog

    formatted: list[str] = []
    real = calllog._JsonFormatter.format

    def counting(self: calllog._JsonFormatter, record: logging.LogRecord) -> str:
        formatted.append(real(self, record))
        return formatted[-1]

    monkeypatch.setattr(calllog._JsonFormatter, "format", counting)
    path = tmp_path / "api.jsonl"
    log = CallLog(path, max_bytes=2_000, level="INFO")
    for index in range(40):
        log.record(CallEntry(endpoint="/models", request_id=f"r{index:04d}"))
    log.close()
    assert len(formatted) == 40
    assert (tmp_path / "api.jsonl.1").exists()  # and it still rotates by size
    assert all(p.stat().st_size <= 2_000 for p in tmp_path.iterdir())
    assert lines(path)[-1]["request_id"] == "r0039"


def test_from_settings_and_stderr_mirror(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(cli={"log_prompts": True, "log_level": "WARNING"})
    log = CallLog.from_settings(settings, verbose=True)
    assert log.path == settings.log_path and log.log_prompts
    log.record(CallEntry(endpoint="/models", status=200))  # INFO, below the level
    log.record(CallEntry(endpoint="/key", status=200), level=logging.ERROR)
    log.close()
    err = capsys.readouterr().err
    assert '"endpoint":"/key"' in err and "/models" not in err
    assert settings.log_path.exists()


def test_key_shaped_text_is_redacted_as_a_last_guard(tmp_path: Path, fake_key: str) -> None:
    path = tmp_path / "api.jsonl"
    log = CallLog(path, max_bytes=10_000)
    other = "unrelated-secret-value-123"
    log.add_secret(other)
    log.record(CallEntry(endpoint="/x", message=f"leak {fake_key} and {other}"))
    log.close()
    text = path.read_text()
    assert fake_key not in text and other not in text and "sk-or-…fa1e" in text


async def test_no_secret_anywhere_after_failing_and_successful_calls(
    make_client: ClientFactory,
    settings: Settings,
    sim: SimServer,
    fake_key: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    verbose = settings.model_copy(update={"log_prompts": False, "log_level": "DEBUG"})
    log = CallLog.from_settings(verbose, verbose=True)
    client = make_client(call_log=log)
    sim.config.valid_keys = {fake_key}
    prompt = "my private prompt text"
    sim.add_fault(Fault(kind="http_error", status=503, times=1))
    result = await client.chat(chat_request(prompt))
    assert result.complete
    items = [item async for item in client.stream_chat(chat_request(prompt))]
    assert isinstance(items[-1], StreamDone)
    sim.add_fault(Fault(kind="mid_stream_error", status=502, after_chunks=1))
    errors: list[BaseException] = []
    with pytest.raises(OpenRouterError) as mid:
        async for _ in client.stream_chat(chat_request(prompt)):
            pass
    errors.append(mid.value)
    bad = make_client(api_key="sk-or-v1-" + "wrongkey" + "z" * 40, call_log=log)
    with pytest.raises(OpenRouterError) as rejected:
        await bad.chat(chat_request(prompt))
    errors.append(rejected.value)
    bad_key = "sk-or-v1-" + "wrongkey" + "z" * 40
    log.close()
    err = capsys.readouterr().err
    entries = lines(settings.log_path)
    assert [e["status"] for e in entries[:2]] == [503, 200]
    assert entries[0]["error"] == "provider" and entries[1]["attempt"] == 2
    assert any(e.get("mid_stream") for e in entries)
    assert entries[-1]["error"] == "auth"
    for secret in (fake_key, bad_key):
        for error in errors:
            assert secret not in str(error) and secret not in repr(error)
            assert secret not in str(getattr(error, "attempts", ""))
        assert secret not in err
        assert secret not in repr(client) and secret not in repr(bad)
        for file in tmp_path.rglob("*"):
            if file.is_file():
                assert secret.encode() not in file.read_bytes(), file
    # Prompts stay out of the log unless log_prompts is on.
    assert prompt not in settings.log_path.read_text() and prompt not in err
    assert "user_2Simulated" not in settings.log_path.read_text()
