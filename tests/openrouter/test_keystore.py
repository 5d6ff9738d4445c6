"""KeyStore and resolve_api_key: keyring first when usable, else a private file."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null

from devflow_tui.config import load_settings
from devflow_tui.errors import ConfigError
from devflow_tui.keystore import (
    MAX_KEY_FILE_BYTES,
    SERVICE,
    USERNAME,
    KeyStore,
    check_key,
    key_warning,
    resolve_api_key,
)


def null_backend() -> KeyringBackend:
    return null.Keyring()  # type: ignore[no-untyped-call]


def fail_backend() -> KeyringBackend:
    return fail.Keyring()  # type: ignore[no-untyped-call]


class MemoryKeyring(KeyringBackend):
    """A usable in-memory backend, through keyring's own backend API."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.store[(service, username)]


class BrokenKeyring(MemoryKeyring):
    """Looks usable but every call fails (a locked keyring, no D-Bus...)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("no")


def test_keyring_is_used_when_usable(tmp_path: Path, fake_key: str) -> None:
    backend = MemoryKeyring()
    store = KeyStore(tmp_path, backend=backend)
    assert store.get() is None
    assert store.set(fake_key) == "keyring"
    assert backend.store[(SERVICE, USERNAME)] == fake_key
    assert store.get() == (fake_key, "keyring")
    assert not store.file_path.exists()
    assert store.clear() == ["keyring"] and store.get() is None


@pytest.mark.parametrize("backend", [null_backend(), fail_backend(), BrokenKeyring()])
def test_unusable_keyring_falls_back_to_private_file(
    tmp_path: Path, fake_key: str, backend: KeyringBackend
) -> None:
    store = KeyStore(tmp_path / "home", backend=backend)
    assert store.set(fake_key) == "file"
    assert stat.S_IMODE(store.file_path.stat().st_mode) == 0o600
    assert store.file_path.read_text() == fake_key + "\n"
    assert store.get() == (fake_key, "file")
    assert store.clear() == ["file"] and not store.file_path.exists()
    assert store.clear() == []


def test_default_backend_comes_from_keyring_config(tmp_path: Path, fake_key: str) -> None:
    # conftest selects keyring's null backend through PYTHON_KEYRING_BACKEND.
    previous = keyring.get_keyring()
    keyring.set_keyring(null_backend())
    try:
        assert KeyStore(tmp_path).set(fake_key) == "file"
        keyring.set_keyring(MemoryKeyring())
        assert KeyStore(tmp_path).get() == (fake_key, "file")
        assert KeyStore(tmp_path).set(fake_key) == "keyring"
        assert not (tmp_path / "credentials").exists()  # one place only
    finally:
        keyring.set_keyring(previous)


def test_rotation_replaces_atomically(
    tmp_path: Path, fake_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = KeyStore(tmp_path, backend=null_backend())
    store.set(fake_key)
    new_key = "sk-or-v1-" + "rotated" + "z" * 40
    replaced: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        # At the moment of the swap the old file is still whole and the new one complete.
        assert Path(dst).read_text() == fake_key + "\n"
        assert Path(src).read_text() == new_key + "\n"
        assert stat.S_IMODE(Path(src).stat().st_mode) == 0o600
        replaced.append((Path(src).name, Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    store.set(new_key)
    assert replaced and replaced[0][1] == "credentials"
    assert store.get() == (new_key, "file")
    assert [p.name for p in tmp_path.iterdir()] == ["credentials"]  # no temp file left

    def failing(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(ConfigError, match="Cannot write the key file"):
        store.set(fake_key)
    assert store.get() == (new_key, "file")  # the old key survives a failed write
    assert [p.name for p in tmp_path.iterdir()] == ["credentials"]


def test_loose_file_mode_is_tightened_and_blank_file_ignored(tmp_path: Path, fake_key: str) -> None:
    store = KeyStore(tmp_path, backend=null_backend())
    store.set(fake_key)
    store.file_path.chmod(0o644)
    assert store.get() == (fake_key, "file")
    assert stat.S_IMODE(store.file_path.stat().st_mode) == 0o600
    store.file_path.write_text("\n\n")
    assert store.get() is None


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, backend=null_backend())
    store.file_path.mkdir()  # a folder where the file should be
    with pytest.raises(ConfigError, match="is a directory, not a file"):
        store.get()


def test_key_shape_checks(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="empty"):
        check_key("  ")
    with pytest.raises(ConfigError, match="spaces"):
        check_key("sk-or-v1-abc def")
    assert check_key("  sk-or-v1-abc\n") == "sk-or-v1-abc"
    assert key_warning("sk-or-v1-abc") is None
    odd = "not-an-openrouter-key-1234"
    warning = key_warning(odd)
    assert warning is not None and odd not in warning and "…1234" in warning
    with caplog.at_level(logging.WARNING):
        KeyStore(tmp_path, backend=null_backend()).set(odd)
    assert "does not start with sk-or-" in caplog.text and odd not in caplog.text


def test_resolve_precedence(tmp_path: Path, fake_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = MemoryKeyring()
    store = KeyStore(tmp_path, backend=backend)
    assert resolve_api_key(load_settings(), store) == (None, "none")
    KeyStore(tmp_path, backend=null_backend()).set("sk-or-v1-file")
    assert resolve_api_key(load_settings(), store) == ("sk-or-v1-file", "file")
    backend.set_password(SERVICE, USERNAME, "sk-or-v1-ring")
    assert resolve_api_key(load_settings(), store) == ("sk-or-v1-ring", "keyring")
    monkeypatch.setenv("OPENROUTER_API_KEY", fake_key)
    assert resolve_api_key(load_settings(), store) == (fake_key, "env")
    assert fake_key not in repr(store)


def test_never_prints_the_key(
    tmp_path: Path, fake_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = KeyStore(tmp_path, backend=MemoryKeyring())
    store.set(fake_key)
    store.get()
    store.clear()
    out = capsys.readouterr()
    assert fake_key not in out.out and fake_key not in out.err


def test_a_fifo_as_key_file_is_refused_without_blocking(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, backend=null_backend())
    os.mkfifo(store.file_path)
    with pytest.raises(ConfigError, match=r"is a named pipe \(FIFO\), not a file"):
        store.get()


def test_a_key_file_that_is_not_text_or_too_large_is_a_config_error(tmp_path: Path) -> None:
    """A key file of bytes that are not UTF-8 printed a UnicodeDecodeError traceback."""
    store = KeyStore(tmp_path, backend=null_backend())
    store.file_path.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="is not UTF-8 text") as caught:
        store.get()
    assert "devflow auth set" in (caught.value.hint or "")
    key = "sk-or-v1-" + "a" * (MAX_KEY_FILE_BYTES - 10)
    store.file_path.write_text(key + "\n")
    assert store.get() == (key, "file")  # the bound itself
    store.file_path.write_text("sk-or-v1-" + "a" * (MAX_KEY_FILE_BYTES - 9) + "\n")
    with pytest.raises(ConfigError, match="larger than"):
        store.get()
