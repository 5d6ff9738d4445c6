"""Typed settings: CLI flag > environment > config file (TOML) > default.

Environment variables keep the names users already know (`OPENROUTER_API_KEY`, ...). The API
key is only read from the environment here; `devflow_tui.keystore` adds the OS keyring and the
user's key file. A bad value becomes a `ConfigError` that names the variable, or the file and
line, and what to write instead.
"""

from __future__ import annotations

import os
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import platformdirs
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from devflow_tui.errors import ConfigError
from devflow_tui.redaction import mask_key
from devflow_tui.types import TaskType

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("devflow-tui", appauthor=False))


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir("devflow-tui", appauthor=False)) / "config.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskDefaults(_Section):
    """Routing criteria for one task type; `models` pins the pool for that task."""

    cost_priority: float | None = Field(default=None, ge=0, le=1)
    performance_priority: float | None = Field(default=None, ge=0, le=1)
    models: list[str] = Field(default_factory=list)


class RoutingSettings(_Section):
    cost_priority: float = Field(default=0.5, ge=0, le=1)
    performance_priority: float = Field(default=0.5, ge=0, le=1)
    excluded_models: list[str] = Field(default_factory=list)
    pinned_model: str | None = None
    catalog_refresh_hours: float = Field(default=24.0, gt=0)
    cooldown_failures: int = Field(default=3, ge=1)
    cooldown_seconds: float = Field(default=60.0, ge=0)
    tasks: dict[TaskType, TaskDefaults] = Field(default_factory=dict)


class BudgetSettings(_Section):
    """Spending limits in USD; any may be unset. `period` applies to `limit_usd`."""

    limit_usd: Decimal | None = Field(default=None, ge=0)
    period: Literal["total", "daily", "weekly", "monthly"] = "total"
    daily_usd: Decimal | None = Field(default=None, ge=0)
    monthly_usd: Decimal | None = Field(default=None, ge=0)
    session_usd: Decimal | None = Field(default=None, ge=0)
    thresholds: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=lambda: [0.5, 0.8, 1.0]
    )


class CacheSettings(_Section):
    enabled: bool = True
    ttl_seconds: int = Field(default=24 * 3600, ge=0)


class ServeSettings(_Section):
    """`devflow serve`: where it listens, and what each incoming model name becomes.

    `models` maps an incoming model name, exact or a glob such as `"*opus*"`, to `"auto"`
    (route each request), `"passthrough"` (the same Anthropic model through OpenRouter) or a
    fixed OpenRouter id. The first matching entry wins, exact names before globs; a name
    nothing matches is routed (`auto`), except an OpenRouter id (`vendor/model`), which pins.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=4141, ge=0, le=65535)
    models: dict[str, str] = Field(default_factory=dict)
    embedded: bool = False  # the dashboard starts the proxy itself
    reconcile_seconds: float = Field(default=30.0, gt=0)  # /generation lookups of recent costs


class Settings(BaseSettings):
    """Every knob of devflow-tui. Build with `load_settings()`, not directly."""

    model_config = SettingsConfigDict(
        extra="forbid", populate_by_name=True, case_sensitive=False, env_prefix=""
    )

    api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENROUTER_API_KEY", "OPEN_ROUTER_API_KEY", "api_key"),
        exclude=True,
    )
    base_url: str = Field(
        default=DEFAULT_BASE_URL, validation_alias=AliasChoices("OPENROUTER_BASE_URL", "base_url")
    )
    max_retries: int = Field(
        default=3,
        ge=0,
        le=20,
        validation_alias=AliasChoices("OPENROUTER_MAX_RETRIES", "max_retries"),
    )
    timeout_ms: int = Field(
        default=30_000, gt=0, validation_alias=AliasChoices("OPENROUTER_TIMEOUT_MS", "timeout_ms")
    )
    connect_timeout_ms: int = Field(default=10_000, gt=0)
    first_token_timeout_ms: int = Field(default=20_000, gt=0)
    chunk_timeout_ms: int = Field(default=15_000, gt=0)
    max_retry_wait_s: float = Field(default=60.0, ge=0)
    backoff_base_s: float = Field(default=0.5, ge=0)
    rate_limit_requests: int = Field(default=60, ge=1)
    rate_limit_interval_s: float = Field(default=60.0, gt=0)
    max_concurrency: int = Field(default=8, ge=1)
    cost_budget_usd: Decimal | None = Field(
        default=None,
        ge=0,
        validation_alias=AliasChoices("OPENROUTER_COST_BUDGET_USD", "cost_budget_usd"),
    )
    preferred_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("OPENROUTER_PREFERRED_MODELS", "preferred_models"),
    )
    home: Path = Field(
        default_factory=default_home, validation_alias=AliasChoices("DEVFLOW_HOME", "home")
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias=AliasChoices("DEVFLOW_LOG_LEVEL", "log_level")
    )
    log_prompts: bool = False
    demo_time_scale: float = Field(
        default=1.0,
        ge=0,
        le=10,
        validation_alias=AliasChoices("DEVFLOW_DEMO_TIME_SCALE", "demo_time_scale"),
    )
    log_max_bytes: int = Field(default=5_000_000, ge=10_000)
    app_url: str = "https://github.com/devflow-tui/devflow-tui"
    app_title: str = "devflow-tui"
    baseline_model: str | None = None
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    # Where the settings came from; not a setting itself.
    config_path: Path | None = Field(default=None, exclude=True)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("preferred_models", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @property
    def db_path(self) -> Path:
        return self.home / "devflow.db"

    @property
    def log_path(self) -> Path:
        return self.home / "logs" / "api.jsonl"

    @property
    def key_hint(self) -> str:
        return mask_key(self.api_key.get_secret_value() if self.api_key else None)

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield (name, self.key_hint if name == "api_key" and value else value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSource(settings_cls))


class _FileSource(PydanticBaseSettingsSource):
    """The TOML config file, parsed earlier by `load_settings` and handed over here."""

    data: ClassVar[dict[str, Any]] = {}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # pragma: no cover - __call__ is used instead

    def __call__(self) -> dict[str, Any]:
        return _to_aliases(_FileSource.data)


def _to_aliases(values: dict[str, Any]) -> dict[str, Any]:
    """Key by each field's primary alias, so env, file and CLI values of one field merge."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        names = _ENV_NAMES.get(key)
        out[names[0] if names else key] = value
    return out


# Environment variable names per field, for error messages.
_ENV_NAMES: dict[str, tuple[str, ...]] = {
    "api_key": ("OPENROUTER_API_KEY", "OPEN_ROUTER_API_KEY"),
    "base_url": ("OPENROUTER_BASE_URL",),
    "max_retries": ("OPENROUTER_MAX_RETRIES",),
    "timeout_ms": ("OPENROUTER_TIMEOUT_MS",),
    "cost_budget_usd": ("OPENROUTER_COST_BUDGET_USD",),
    "preferred_models": ("OPENROUTER_PREFERRED_MODELS",),
    "home": ("DEVFLOW_HOME",),
    "log_level": ("DEVFLOW_LOG_LEVEL",),
    "demo_time_scale": ("DEVFLOW_DEMO_TIME_SCALE",),
}

_FORBIDDEN_FILE_KEYS = {"api_key", "OPENROUTER_API_KEY", "OPEN_ROUTER_API_KEY"}


def resolve_config_path(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    raw = env.get("DEVFLOW_CONFIG")
    return Path(raw).expanduser() if raw else default_config_path()


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse the TOML config file; a missing file is an empty config."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise ConfigError(
            f"Config file {path} is not UTF-8 text.",
            hint="Save it as UTF-8, or point DEVFLOW_CONFIG at another file.",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"Cannot read config file {path}: {exc.strerror}.",
            hint="Check its permissions, or point DEVFLOW_CONFIG at another file.",
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"Config file {path} is not valid TOML: {exc}.",
            hint="Fix that line, or point DEVFLOW_CONFIG at another file.",
        ) from None
    bad = _FORBIDDEN_FILE_KEYS & data.keys()
    if bad:
        raise ConfigError(
            f"Config file {path} contains an API key ({sorted(bad)[0]}).",
            hint="Remove it; set the key with `devflow auth set` or OPENROUTER_API_KEY instead.",
        )
    return data


def _line_of(path: Path, key: str) -> int | None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
    for number, line in enumerate(lines, start=1):
        if pattern.match(line):
            return number
    return None


def _describe(
    exc: ValidationError, env: dict[str, str], path: Path, cli: dict[str, Any]
) -> ConfigError:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    field = loc[0] if loc else "?"
    alias_to_field = {names[0]: name for name, names in _ENV_NAMES.items()}
    from_env = field.upper() == field and field.upper() in {k.upper() for k in env}
    if field in alias_to_field and not from_env:
        field = alias_to_field[field]
        loc = [field, *loc[1:]]
    reason = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    shown = repr(value) if field != "api_key" and not isinstance(value, dict) else "(hidden)"
    env_upper = {k.upper() for k in env}
    if field.upper() in env_upper and field.upper() == field:
        return ConfigError(
            f"Environment variable {field}={shown} is invalid: {reason}.",
            hint=f"Set {field} to a valid value or unset it.",
        )
    if field in cli:
        return ConfigError(
            f"Option --{field.replace('_', '-')}={shown} is invalid: {reason}.",
            hint="Pass a valid value.",
        )
    for name in _ENV_NAMES.get(field, ()):
        if name in env_upper:
            return ConfigError(
                f"Environment variable {name}={shown} is invalid: {reason}.",
                hint=f"Set {name} to a valid value or unset it.",
            )
    line = _line_of(path, loc[-1] if loc else field)
    where = f"{path}, line {line}" if line else str(path)
    return ConfigError(
        f"Config file {where}: '{'.'.join(loc)}' = {shown} is invalid: {reason}.",
        hint="Fix the value in the file.",
    )


def ensure_home(settings: Settings) -> Path:
    """Create DEVFLOW_HOME if needed; a path that cannot be a folder is a clear ConfigError."""
    try:
        settings.home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"DEVFLOW_HOME {settings.home} cannot be used as a folder: "
            f"{exc.strerror or type(exc).__name__}.",
            hint="Set DEVFLOW_HOME to a writable folder.",
        ) from None
    if not settings.home.is_dir():
        raise ConfigError(
            f"DEVFLOW_HOME {settings.home} is not a folder.",
            hint="Set DEVFLOW_HOME to a writable folder.",
        )
    return settings.home


def load_settings(cli: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Settings:
    """Build the settings from CLI overrides, the environment and the config file."""
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    env_map = dict(os.environ) if env is None else env
    path = resolve_config_path(env_map)
    file_data = read_config_file(path)
    previous = _FileSource.data
    _FileSource.data = file_data
    saved_env: dict[str, str] | None = None
    if env is not None:
        saved_env = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
    try:
        settings = Settings(**_to_aliases(cli))
    except ValidationError as exc:
        raise _describe(exc, env_map, path, cli) from None
    finally:
        _FileSource.data = previous
        if saved_env is not None:
            os.environ.clear()
            os.environ.update(saved_env)
    settings.config_path = path
    settings.home = settings.home.expanduser()
    return settings
