"""Configuration of the simulated OpenRouter server: behaviour knobs and injected faults.

`SimConfig` is a plain dataclass so tests can build and mutate it directly (the running server
reads it on every request). `SimConfig.from_toml` reads the same fields from a TOML file for
`devflow sim --config FILE`, validated by pydantic so a typo names the file and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from devflow_tui.errors import ConfigError
from devflow_tui.sim.profiles import ModelProfile

FaultKind = Literal[
    "http_error",
    "rate_limit",
    "mid_stream_error",
    "abrupt_close",
    "slow_first_token",
    "error_200",
    "keepalive",
    "empty_content",
    "generation_404",
]

# Faults that happen before the model starts: the `models` fallback list moves past them.
PRE_STREAM_KINDS: frozenset[str] = frozenset({"http_error", "rate_limit"})


@dataclass
class Fault:
    """One injected misbehaviour, applied to the next `times` matching requests."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")

    kind: FaultKind
    model: str | None = None  # only requests for this model (None = any)
    times: Annotated[int, Field(ge=1)] | None = 1  # None = forever
    status: Annotated[int, Field(ge=100, le=599)] = 503
    error_type: str | None = None  # metadata.error_type; default chosen by status
    message: str | None = None  # default: the documented message for that status
    code_as_string: bool = False  # mid-stream error code "server_error" instead of an int
    retry_after_s: Annotated[float, Field(ge=0)] | None = None
    reset_ms: int | None = None  # rate_limit: X-RateLimit-Reset (ms since the epoch)
    upstream: bool = False  # rate_limit: provider-originated variant
    after_chunks: Annotated[int, Field(ge=0)] = 0
    delay_ms: Annotated[float, Field(ge=0)] = 0.0
    count: Annotated[int, Field(ge=0)] = 3
    path: str = "/chat/completions"

    @property
    def target_path(self) -> str:
        """The endpoint this fault applies to (generation_404 always targets /generation)."""
        return "/generation" if self.kind == "generation_404" else self.path

    def matches(self, path: str, model: str | None) -> bool:
        """True when this fault still applies to a request for `model` on `path`."""
        if self.times is not None and self.times <= 0:
            return False
        if path != self.target_path:
            return False
        return self.model is None or self.model == model


@dataclass
class SimConfig:
    """Everything the simulated server can be told; mutable while the server runs."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")

    time_scale: Annotated[float, Field(ge=0)] = 1.0  # 0.0: never sleep (tests)
    usage_shape: Literal[1, 2, 3] = 1  # final usage chunk variant (spec section 2.3)
    valid_keys: set[str] | None = None  # None: any non-empty Bearer key is accepted
    key_label: str | None = None  # None: the masked calling key
    key_limit: Decimal | None = Decimal("100")
    key_usage: Decimal = Decimal("25.5")
    credits_total: Decimal = Decimal("100.5")
    credits_usage: Decimal = Decimal("25.75")
    generation_delay_s: Annotated[float, Field(ge=0)] = 0.0
    faults: list[Fault] = field(default_factory=list)
    models: list[dict[str, Any]] | None = None  # catalog override; None: bundled snapshot
    profiles: dict[str, ModelProfile] = field(default_factory=dict)
    max_answer_tokens: Annotated[int, Field(ge=0)] | None = None
    answer_tokens: Annotated[int, Field(ge=0)] | None = None
    chunk_tokens: Annotated[int, Field(ge=1)] = 3  # tokens per streamed content chunk
    default_model: str = "openai/gpt-4o-mini"  # used when a request names no model

    @classmethod
    def from_toml(cls, path: Path) -> SimConfig:
        """Read a config from TOML (top level or a `[sim]` table); ConfigError on bad input."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"Cannot read the simulator config {path}: {exc.strerror or exc}.",
                hint="Check the path given to --config.",
            ) from exc
        try:
            data: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"The simulator config {path} is not valid TOML: {exc}.",
                hint="Fix the syntax at the position shown.",
            ) from exc
        section = data.get("sim", data)
        if not isinstance(section, dict):
            raise ConfigError(
                f"In {path}, [sim] must be a table.", hint="Write the settings under [sim]."
            )
        section = dict(section)
        for fault in section.get("faults", []) or []:
            # TOML has no null: `times = "forever"` means no limit.
            if isinstance(fault, dict) and fault.get("times") == "forever":
                fault["times"] = None
        try:
            return _ADAPTER.validate_python(section)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "(top level)"
            raise ConfigError(
                f"In the simulator config {path}, `{where}`: {first['msg']}.",
                hint="See SimConfig and Fault in devflow_tui/sim/config.py for the valid keys.",
            ) from exc


_ADAPTER: TypeAdapter[SimConfig] = TypeAdapter(SimConfig)
