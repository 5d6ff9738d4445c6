"""Proxy tokens: what a local client must send to `devflow serve`.

`DEVFLOW_PROXY_TOKEN` wins; otherwise tokens live in `<home>/proxy-tokens`, one `label token`
per line, created on first start with a `default` token and kept private (0600). A label other
than `default` names the client in reports, so a user can give Claude Code its own token.
A token can be rotated (a new value for its label) or revoked (removed); a running proxy sees
the change on its next request, since it re-reads the file whenever the file changes.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from devflow_tui.errors import ConfigError

ENV_VAR = "DEVFLOW_PROXY_TOKEN"
FILE_NAME = "proxy-tokens"
PREFIX = "dfp-"  # so a leaked one is recognisable; never an OpenRouter key
log = logging.getLogger(__name__)
_LABEL_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(24)


def valid_label(label: str) -> bool:
    return bool(label) and len(label) <= 40 and set(label) <= _LABEL_CHARS


@dataclass
class ProxyTokens:
    """The accepted tokens, by label."""

    by_label: dict[str, str]
    source: str  # "env" or the file path
    _stamp: tuple[int, int, int] | None = field(default=None, repr=False)  # the file as read

    @classmethod
    def load(cls, home: Path, env: dict[str, str] | None = None) -> ProxyTokens:
        """The env token, else the token file (created with a default token when missing)."""
        environ = os.environ if env is None else env
        value = environ.get(ENV_VAR, "").strip()
        if value:
            return cls({"default": value}, "env")
        path = home / FILE_NAME
        if not path.exists():
            home.mkdir(parents=True, exist_ok=True)
            _write(path, {"default": new_token()})
        return cls(_read(path), str(path), _stamp_of(path))

    @property
    def default(self) -> str:
        return self.by_label.get("default") or next(iter(self.by_label.values()), "")

    def label_of(self, presented: str) -> str | None:
        """The label of a presented token, or None when it is not one of ours (a token
        rotated or revoked since the file was read is refused at once)."""
        self._refresh()
        found = None
        for label, token in self.by_label.items():
            # Compare every token in constant time, so timing tells nothing.
            if hmac.compare_digest(token.encode(), presented.encode()):
                found = label
        return found

    def add(self, home: Path, label: str) -> str:
        """A new token for `label` in the token file (replacing the label's old one, which
        stops working); returns it."""
        if not valid_label(label):
            raise ConfigError(
                f"{label!r} is not a usable token label.",
                hint="Use up to 40 lowercase letters, digits, '-', '_' or '.'.",
            )
        self._file_only()
        token = new_token()
        self.by_label[label] = token
        self._save(home)
        return token

    def rotate(self, home: Path, label: str) -> str:
        """A new value for an existing token; the old value stops working. Returns it."""
        self._known(label)
        return self.add(home, label)

    def revoke(self, home: Path, label: str) -> None:
        """Remove a token: clients that send it get 401 from then on."""
        self._known(label)
        if len(self.by_label) == 1:
            raise ConfigError(
                f"{label!r} is the only proxy token; without it no client could connect.",
                hint=f"Rotate it instead: `devflow serve --rotate-token {label}`.",
            )
        del self.by_label[label]
        self._save(home)

    def _known(self, label: str) -> None:
        self._file_only()
        if label not in self.by_label:
            names = ", ".join(sorted(self.by_label))
            raise ConfigError(
                f"There is no proxy token labelled {label!r} (labels: {names}).",
                hint="`devflow serve --list-tokens` shows them.",
            )

    def _file_only(self) -> None:
        if self.source == "env":
            raise ConfigError(
                f"{ENV_VAR} is set, so the token file is not used.",
                hint=f"Change or unset {ENV_VAR} to replace that token; unset it to manage "
                "labelled tokens.",
            )

    def _save(self, home: Path) -> None:
        path = home / FILE_NAME
        _write(path, self.by_label)
        self._stamp = _stamp_of(path)

    def _refresh(self) -> None:
        """Re-read the token file when it changed since it was read (a stat per request)."""
        if self.source == "env":
            return
        path = Path(self.source)
        stamp = _stamp_of(path)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self.by_label = _read(path)
        except (OSError, ConfigError) as exc:
            # Safer to refuse every client than to keep accepting a token the user removed.
            log.warning("proxy tokens unreadable, refusing every request: %s", exc)
            self.by_label = {}


def _stamp_of(path: Path) -> tuple[int, int, int] | None:
    """What tells a changed file apart: every write replaces the file (a new inode)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _read(path: Path) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        label, _, token = line.partition(" ")
        if not valid_label(label) or not token.strip():
            raise ConfigError(
                f"Line {number} of {path} is not `label token`.",
                hint="Fix or delete the line; delete the file to get a new default token.",
            )
        tokens[label] = token.strip()
    if not tokens:
        raise ConfigError(f"{path} holds no token.", hint="Delete it to get a new one.")
    return tokens


def _write(path: Path, tokens: dict[str, str]) -> None:
    """Write the file private (0600) and whole: a new file renamed over the old one, so a
    running proxy never reads half of it and sees the change."""
    text = "# devflow serve tokens: label token (keep this file private)\n" + "".join(
        f"{label} {token}\n" for label, token in tokens.items()
    )
    fresh = path.with_name(path.name + ".new")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(fresh, 0o600)
    os.replace(fresh, path)
