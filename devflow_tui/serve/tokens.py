"""Proxy tokens: what a local client must send to `devflow serve`.

`DEVFLOW_PROXY_TOKEN` wins; otherwise tokens live in `<home>/proxy-tokens`, one `label token`
per line, created on first start with a `default` token and kept private (0600). A label other
than `default` names the client in reports, so a user can give Claude Code its own token.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from devflow_tui.errors import ConfigError

ENV_VAR = "DEVFLOW_PROXY_TOKEN"
FILE_NAME = "proxy-tokens"
PREFIX = "dfp-"  # so a leaked one is recognisable; never an OpenRouter key
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
        return cls(_read(path), str(path))

    @property
    def default(self) -> str:
        return self.by_label.get("default") or next(iter(self.by_label.values()))

    def label_of(self, presented: str) -> str | None:
        """The label of a presented token, or None when it is not one of ours."""
        found = None
        for label, token in self.by_label.items():
            # Compare every token in constant time, so timing tells nothing.
            if hmac.compare_digest(token.encode(), presented.encode()):
                found = label
        return found

    def add(self, home: Path, label: str) -> str:
        """A new token for `label` in the token file; returns it."""
        if not valid_label(label):
            raise ConfigError(
                f"{label!r} is not a usable token label.",
                hint="Use up to 40 lowercase letters, digits, '-', '_' or '.'.",
            )
        if self.source == "env":
            raise ConfigError(
                f"{ENV_VAR} is set, so the token file is not used.",
                hint=f"Unset {ENV_VAR} to manage labelled tokens.",
            )
        token = new_token()
        self.by_label[label] = token
        _write(home / FILE_NAME, self.by_label)
        return token


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
    text = "# devflow serve tokens: label token (keep this file private)\n" + "".join(
        f"{label} {token}\n" for label, token in tokens.items()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
