"""Typed settings: CLI flag > environment > config file (TOML) > default.

Environment variables keep the names users already know (`OPENROUTER_API_KEY`, ...). The API
key is only read from the environment here; `devflow_tui.keystore` adds the OS keyring and the
user's key file. A bad value becomes a `ConfigError` that names the variable, or the file and
line, and what to write instead.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from decimal import Decimal
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

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
    TomlConfigSettingsSource,
)

from devflow_tui.errors import ConfigError
from devflow_tui.filekinds import Problem, UnreadableText, read_user_text
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
    models: list[str] = []


class RoutingSettings(_Section):
    cost_priority: float = Field(default=0.5, ge=0, le=1)
    performance_priority: float = Field(default=0.5, ge=0, le=1)
    excluded_models: list[str] = []
    pinned_model: str | None = None
    catalog_refresh_hours: float = Field(default=24.0, gt=0)
    cooldown_failures: int = Field(default=3, ge=1)
    cooldown_seconds: float = Field(default=60.0, ge=0)
    tasks: dict[TaskType, TaskDefaults] = {}


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
    (route each request), `"passthrough"` (the model the name itself resolves to, as with
    `--model`) or a fixed model (any name `--model` takes). The first matching entry wins,
    exact names before globs; a name nothing matches is routed if it is a Claude name
    (`claude-*`), else passed through (`serve/model_map.py`).
    """

    host: str = "127.0.0.1"
    port: int = Field(default=4141, ge=0, le=65535)
    models: dict[str, str] = {}
    embedded: bool = False  # the dashboard starts the proxy itself
    reconcile_seconds: float = Field(default=30.0, gt=0)  # /generation lookups of recent costs


class Settings(BaseSettings):
    """Every knob of devflow-tui. Build with `load_settings()`, not directly."""

    model_config = SettingsConfigDict(
        extra="forbid", populate_by_name=True, case_sensitive=True, env_prefix=""
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
        default=[],
        validation_alias=AliasChoices("OPENROUTER_PREFERRED_MODELS", "preferred_models"),
    )
    # Preferred models get a higher score; "only" models are the whole pool routing picks from.
    only_models: Annotated[list[str], NoDecode] = Field(
        default=[],
        validation_alias=AliasChoices("OPENROUTER_ONLY_MODELS", "only_models"),
    )
    home: Path = Field(
        default_factory=default_home, validation_alias=AliasChoices("DEVFLOW_HOME", "home")
    )
    # A team's shared PostgreSQL database (postgresql://user:password@host/db); unset: the
    # SQLite file in `home`. Secret: it may hold a password.
    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DEVFLOW_DATABASE_URL", "database_url"),
        exclude=True,
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
        try:
            port = urlsplit(value).port  # raises on a port outside 0..65535
        except ValueError:
            raise ValueError("its port must be a number from 1 to 65535") from None
        if port == 0:
            raise ValueError("its port must be a number from 1 to 65535")
        return value.rstrip("/")

    @field_validator("home", mode="before")
    @classmethod
    def _home_not_empty(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            # Path("") is the current directory: the database would land wherever devflow runs.
            raise ValueError("is empty; unset it or name a folder")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("preferred_models", "only_models", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        """Model names: comma-separated (`gpt-4,gemini-pro`) or a JSON list of strings."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text.startswith("["):
            return [item.strip() for item in text.split(",") if item.strip()]
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ValueError(
                "write the model names comma-separated (gpt-4,gemini-pro) or as a JSON list "
                'of strings (["gpt-4", "gemini-pro"])'
            )
        return [item.strip() for item in items if item.strip()]

    @field_validator("database_url", mode="before")
    @classmethod
    def _postgres_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if not re.match(r"^postgres(ql)?://", value, re.IGNORECASE):
                raise ValueError(
                    "must be a postgresql:// URL (postgresql://user:password@host:5432/db); "
                    "unset it to use the local SQLite file"
                )
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
        return (init_settings, env_settings, ConfigFileSource(settings_cls, resolve_config_path()))


class ConfigFileSource(TomlConfigSettingsSource):
    """pydantic-settings' own TOML source, reading the file through `read_config_file` so a
    FIFO, a device, a huge file or an API key in the file is refused with a clear error."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls, toml_file=path)

    def _read_files(self, files: Any, deep_merge: bool = False) -> dict[str, Any]:
        # The base class skips anything that is not a regular file; a FIFO or a folder given
        # as DEVFLOW_CONFIG is a mistake the user should hear about, so every path is read.
        return read_config_file(Path(files))

    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        return read_config_file(Path(str(file_path)))  # pragma: no cover - _read_files reads


def env_names(field: str) -> tuple[str, ...]:
    """The environment variables of a settings field: the upper-case names among its aliases."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
    return tuple(c for c in choices if isinstance(c, str) and c.isupper())


_FORBIDDEN_FILE_KEYS = {"api_key", *env_names("api_key")}
# A config file is a few hundred bytes; a cap keeps `DEVFLOW_CONFIG=/dev/zero` or a runaway
# file from filling the memory.
MAX_CONFIG_BYTES = 1_000_000


# What to say when the config file cannot be read, per `UnreadableText.problem` (a missing
# file is an empty config).
_UNREADABLE: dict[Problem, tuple[str, str]] = {
    "not a file": (
        "Config file {path} is {detail}, not a file.",
        "Point DEVFLOW_CONFIG at a TOML file.",
    ),
    "unreadable": (
        "Cannot read config file {path}: {detail}.",
        "Check its permissions, or point DEVFLOW_CONFIG at another file.",
    ),
    "too large": (
        "Config file {path} is larger than {limit:,} bytes.",
        "A devflow config is a few lines of TOML: point DEVFLOW_CONFIG at the right file.",
    ),
    "not UTF-8": (
        "Config file {path} is not UTF-8 text.",
        "Save it as UTF-8, or point DEVFLOW_CONFIG at another file.",
    ),
}


def resolve_config_path() -> Path:
    """The config file: DEVFLOW_CONFIG, or the platform's config folder."""
    raw = os.environ.get("DEVFLOW_CONFIG")
    return Path(raw).expanduser() if raw else default_config_path()


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse the TOML config file; a missing file is an empty config."""
    try:
        text = read_user_text(path, MAX_CONFIG_BYTES)
    except UnreadableText as exc:
        if exc.problem == "missing":
            return {}
        message, hint = _UNREADABLE[exc.problem]
        raise ConfigError(
            message.format(path=path, detail=exc.detail, limit=MAX_CONFIG_BYTES), hint=hint
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


def write_config_file(path: Path, data: dict[str, Any]) -> None:
    """Replace the config file with `data`, atomically: a crash never leaves half a file."""
    # Imported here: only the dashboard writes, and `devflow ask` start-up stays lean.
    import tempfile

    import tomli_w

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                tomli_w.dump(data, handle)
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(
            f"Cannot save the config file {path}: {exc.strerror}.",
            hint="Check the folder's permissions, or point DEVFLOW_CONFIG at a writable file.",
        ) from None


def _line_of(path: Path, key: str) -> int | None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
    for number, line in enumerate(lines, start=1):
        if pattern.match(line):
            return number
    return None


def _describe(exc: ValidationError, path: Path, cli: dict[str, Any]) -> ConfigError:
    """The first validation error, naming where the bad value came from."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    field = loc[0] if loc else "?"
    alias_to_field = {name: f for f in Settings.model_fields for name in env_names(f)}
    env_set = {k.upper() for k in os.environ}
    if field in alias_to_field:  # keyed by an environment name: env, file or CLI gave it
        field = alias_to_field[field]
        loc = [field, *loc[1:]]
    reason = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    secret = field in ("api_key", "database_url")  # a URL may hold a password
    shown = repr(value) if not secret and not isinstance(value, dict) else "(hidden)"
    if field in cli:
        return ConfigError(
            f"Option --{field.replace('_', '-')}={shown} is invalid: {reason}.",
            hint="Pass a valid value.",
        )
    for name in env_names(field):
        if name in env_set:
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


def load_settings(cli: dict[str, Any] | None = None) -> Settings:
    """Build the settings from CLI overrides, the environment and the config file."""
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    path = resolve_config_path()
    try:
        settings = Settings(**cli)
    except ValidationError as exc:
        raise _describe(exc, path, cli) from None
    settings.config_path = path
    settings.home = settings.home.expanduser()
    return settings
