"""Saving routing preferences chosen on the models screen back to the TOML config file.

Only the keys the screen owns are touched; every other key (and section) of the file is kept.
The file is replaced atomically so a crash never leaves half a config behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import tomli_w

from devflow_tui.config import read_config_file
from devflow_tui.errors import ConfigError


def save_routing_preferences(
    path: Path,
    *,
    pinned_model: str | None,
    excluded_models: list[str],
    preferred_models: list[str],
) -> None:
    """Write `routing.pinned_model`, `routing.excluded_models` and `preferred_models` to `path`."""
    data: dict[str, Any] = read_config_file(path)
    routing = dict(data.get("routing") or {})
    if pinned_model:
        routing["pinned_model"] = pinned_model
    else:
        routing.pop("pinned_model", None)
    routing["excluded_models"] = sorted(excluded_models)
    data["routing"] = routing
    data["preferred_models"] = list(preferred_models)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            tomli_w.dump(data, handle)
        Path(tmp).replace(path)
    except OSError as exc:
        raise ConfigError(
            f"Cannot save preferences to {path}: {exc.strerror}.",
            hint="Check the folder's permissions, or point DEVFLOW_CONFIG at a writable file.",
        ) from None
