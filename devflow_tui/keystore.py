"""Where the OpenRouter API key lives: the OS keyring when there is a usable one, else a
private file `home/credentials` (mode 0600, replaced atomically).

Precedence when resolving the key: environment (`OPENROUTER_API_KEY`, already in `Settings`)
> keyring > file. The key itself is never logged or put in a message; only `mask_key` output.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devflow_tui.config import Settings

if TYPE_CHECKING:
    # keyring costs ~15 ms to import; only commands that reach the keyring pay for it.
    from keyring.backend import KeyringBackend
from devflow_tui.errors import ConfigError
from devflow_tui.filekinds import Problem, UnreadableText, read_user_text
from devflow_tui.redaction import mask_key

SERVICE = "devflow-tui"
USERNAME = "openrouter-api-key"
CREDENTIALS_FILE = "credentials"

_log = logging.getLogger(__name__)

# A key is one line of some 80 characters; anything much larger is not a key file.
MAX_KEY_FILE_BYTES = 64 * 1024
_AGAIN = "Remove it and run `devflow auth set` again."
# What to say when the key file cannot be read, per `UnreadableText.problem` (a missing file
# is no key).
_UNREADABLE: dict[Problem, tuple[str, str]] = {
    "not a file": ("The key file {path} is {detail}, not a file.", _AGAIN),
    "unreadable": (
        "Cannot read the key file {path}: {detail}.",
        "Fix its permissions, or run `devflow auth set` again.",
    ),
    "too large": (f"The key file {{path}} is larger than {MAX_KEY_FILE_BYTES:,} bytes.", _AGAIN),
    "not UTF-8": ("The key file {path} is not UTF-8 text.", _AGAIN),
}


def check_key(key: str, source: str = "The API key") -> str:
    """The key with surrounding whitespace removed; ConfigError when it cannot be a key.

    The message says what is wrong, never the key itself: a malformed key must not end up
    on the screen, in a log or in an HTTP header (httpx would fail on non-ASCII anyway)."""
    cleaned = key.strip()
    if not cleaned:
        raise ConfigError(f"{source} is empty.", hint="Paste the whole key, e.g. sk-or-v1-….")
    if any(ch.isspace() for ch in cleaned):
        raise ConfigError(
            f"{source} contains spaces or line breaks.",
            hint="Paste the key alone, on one line.",
        )
    if not cleaned.isascii():
        raise ConfigError(
            f"{source} contains non-ASCII characters (smart quotes or look-alike letters, "
            "often from copying it out of a document).",
            hint="Copy the key again from openrouter.ai/keys and paste it as plain text.",
        )
    if not cleaned.isprintable():
        raise ConfigError(
            f"{source} contains control characters.",
            hint="Copy the key again from openrouter.ai/keys and paste it as plain text.",
        )
    return cleaned


def key_warning(key: str) -> str | None:
    """A warning when the key does not look like an OpenRouter key (it may still work)."""
    if key.startswith("sk-or-"):
        return None
    return f"The key {mask_key(key)} does not start with sk-or-; is it an OpenRouter key?"


class KeyStore:
    """Reads, writes and removes the API key in the keyring or the credentials file."""

    def __init__(self, home: Path, *, backend: KeyringBackend | None = None) -> None:
        self.home = home
        self._backend = backend

    def __repr__(self) -> str:
        return f"KeyStore(home={str(self.home)!r})"

    @property
    def file_path(self) -> Path:
        """The credentials file used when no keyring is available."""
        return self.home / CREDENTIALS_FILE

    def _keyring(self) -> KeyringBackend | None:
        """The keyring backend, or None when only the null/fail backends are there."""
        import keyring
        from keyring.backends import fail, null

        backend = self._backend if self._backend is not None else keyring.get_keyring()
        if isinstance(backend, null.Keyring | fail.Keyring):
            return None
        try:
            priority = float(backend.priority)
        except Exception:  # a backend that cannot even say its priority is not usable
            return None
        return backend if priority > 0 else None

    def _keyring_call(self, action: str, *args: Any) -> Any:
        """Run a keyring call; any backend failure (locked, no D-Bus…) reads as 'unusable'."""
        import keyring.errors

        backend = self._keyring()
        if backend is None:
            raise keyring.errors.NoKeyringError("no usable keyring backend")
        return getattr(backend, action)(SERVICE, USERNAME, *args)

    def get(self) -> tuple[str, str] | None:
        """The stored key and where it came from ("keyring" or "file"), or None."""
        try:
            value = self._keyring_call("get_password")
        except Exception as exc:  # keyring backends raise many kinds of errors
            _log.debug("keyring unavailable: %s", type(exc).__name__)
            value = None
        if isinstance(value, str) and value.strip():
            return value.strip(), "keyring"
        stored = self._read_file()
        return (stored, "file") if stored else None

    def set(self, key: str) -> str:
        """Store the key; returns "keyring" or "file". A keyring copy removes the file copy."""
        cleaned = check_key(key)
        warning = key_warning(cleaned)
        if warning:
            _log.warning(warning)
        try:
            self._keyring_call("set_password", cleaned)
        except Exception as exc:
            _log.debug("keyring unavailable, using the file: %s", type(exc).__name__)
        else:
            # One place only: a stale key left in the file would surprise after a rotation.
            with contextlib.suppress(OSError):
                self.file_path.unlink()
            return "keyring"
        try:
            self._write_file(cleaned)
        except OSError as exc:
            raise ConfigError(
                f"Cannot write the key file in {self.home}: {exc.strerror or exc}.",
                hint="Set DEVFLOW_HOME to a writable folder, or set OPENROUTER_API_KEY instead.",
            ) from None
        return "file"

    def clear(self) -> list[str]:
        """Remove the key from the keyring and the file; returns where it was removed from."""
        removed: list[str] = []
        try:
            if self._keyring_call("get_password") is not None:
                self._keyring_call("delete_password")
                removed.append("keyring")
        except Exception as exc:
            _log.debug("keyring unavailable: %s", type(exc).__name__)
        try:
            self.file_path.unlink()
            removed.append("file")
        except FileNotFoundError:
            pass
        return removed

    def _read_file(self) -> str | None:
        path = self.file_path
        try:
            text = read_user_text(path, MAX_KEY_FILE_BYTES)
        except UnreadableText as exc:
            if exc.problem == "missing":
                return None
            message, hint = _UNREADABLE[exc.problem]
            raise ConfigError(message.format(path=path, detail=exc.detail), hint=hint) from None
        if path.stat().st_mode & 0o077:
            # Someone loosened the mode; a key must stay private to its owner.
            path.chmod(0o600)
        for line in text.splitlines():
            if line.strip():
                return line.strip()
        return None

    def _write_file(self, key: str) -> None:
        """Write via a temp file in the same folder and os.replace: never half a key."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp_name = tempfile.mkstemp(prefix=".credentials.", dir=self.home)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(key + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            tmp.chmod(0o600)  # mkstemp already uses 0600; make it explicit
            os.replace(tmp, self.file_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise


def resolve_api_key(settings: Settings, store: KeyStore) -> tuple[str | None, str]:
    """The key to use and its source: "env" > "keyring" > "file", else (None, "none")."""
    if settings.api_key is not None:
        value = settings.api_key.get_secret_value().strip()
        if value:
            return check_key(value, "The key in OPENROUTER_API_KEY"), "env"
    stored = store.get()
    if stored is not None:
        value, source = stored
        where = "in the OS keyring" if source == "keyring" else f"in {store.file_path}"
        return check_key(value, f"The stored API key ({where})"), source
    return None, "none"
