"""Saving routing preferences chosen on the models screen back to the TOML config file.

Only the keys the screen owns are touched; every other key (and section) of the file is kept.
Reading and (atomic) writing are the config module's own `read_config_file`/`write_config_file`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devflow_tui.config import read_config_file, write_config_file


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
    write_config_file(path, data)
