"""Model names as people write them, resolved against the catalog: the one rule for every
setting that names models (`--model`, `pinned_model`, preferred, only and excluded models, the
dashboard's pin/prefer/exclude keys).

`OPENROUTER_PREFERRED_MODELS=claude-3-sonnet,gpt-4,gemini-pro` and `claude-haiku-4.5` are what
users type; the catalog has `anthropic/claude-sonnet-4.5`, `openai/gpt-5`... A name resolves, in
this order, by:

1. id: `anthropic/claude-sonnet-4.5`, exactly (case aside). A name with a vendor (`x-ai/grok-4`)
   is a full id and resolves only to itself: it never silently becomes another model;
2. slug: the id without the vendor, `claude-haiku-4.5`, or the catalog's display name
   ("Anthropic: Claude Haiku 4.5"), compared without case and punctuation;
3. family: every word and version of the name is one of the model's (`llama`,
   `gemini-pro`, `deepseek-v3.2`, `qwen-coder`, and `gpt-4o` -> `gpt-4o-mini`: the same
   generation before another one);
4. version: when no model contains the name, its words without version numbers are exactly
   the model's (`claude-3-sonnet` -> {claude, sonnet}, `gpt-4` -> {gpt}): the closest current
   version of that model line. `gpt-5-mini` is another line (`mini`), so `gpt-4` is `gpt-5`.

A `:variant` (`:free`) in a name matches only models with that variant: `...:free` never
resolves to the paid model. Among several matches the closest comes first: without a variant
in the name the model itself before its variants, then fewest extra words, the same version,
the newest. Pinned, preferred and only names use the closest model; an excluded name excludes
every model it covers: all of a family, and a model's variants with it (an exact id excludes
that entry alone). A name that resolves to nothing raises `UnknownModelError` naming the
setting it came from and the catalog ids close to it, if any (routing/closest.py).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from devflow_tui.config import Settings, env_names
from devflow_tui.errors import ConfigError
from devflow_tui.routing.catalog import CatalogModel, ModelCatalog
from devflow_tui.routing.closest import ClosestModels

How = Literal["id", "slug", "family", "version"]
HINTS_KEPT = 256  # the hints of the last unknown names, each a pass over the catalog
_LABEL = {"id": "id", "slug": "slug", "family": "family", "version": "closest version"}
_SPLIT = re.compile(r"[^a-z0-9.]+")
# Version-like words: 4, 4.5, 3.5, 4o, 2508, v3, 70b, 09 ... and words that name a release.
_VERSION = re.compile(
    r"^(?:v?\d+(?:\.\d+)*[a-z]?|\d+[bkm]|r\d|exp|preview|latest|instruct|chat|turbo)$"
)
_NUMBER = re.compile(r"(?<![a-z])\d+(?:\.\d+)*")
_TRAILING_VERSION = re.compile(r"(?<=[a-z])\d+(?:\.\d+)*$")
# Words and versions as written: "qwen3-coder" -> qwen, 3, coder; "gpt-4o" -> gpt, 4o.
_TOKEN = re.compile(r"[a-z]+|\d+(?:\.\d+)*[a-z]?")


class UnknownModelError(ConfigError):
    """A model name in the settings or a request that matches nothing in the catalog."""


@dataclass(frozen=True)
class Resolution:
    """What a user-written name turned into, and how: `model_ids` are the models it stands
    for, the closest first (one, except for an excluded family)."""

    name: str
    model_ids: tuple[str, ...]
    how: How

    @property
    def model_id(self) -> str:
        """The closest model: the one a pinned, preferred or only name means."""
        return self.model_ids[0]

    def describe(self) -> str:
        """`claude-3-sonnet -> anthropic/claude-sonnet-4.5 (closest version)`, or just the id."""
        if self.how == "id" and len(self.model_ids) == 1:
            return self.model_id
        return f"{self.name} -> {', '.join(self.model_ids)} ({_LABEL[self.how]})"


@dataclass(frozen=True)
class NameSetting:
    """One setting that holds model names, as the user knows it (`where`), and its names."""

    label: str  # "preferred", "only", "excluded", "pinned", "coding models"
    where: str  # "OPENROUTER_PREFERRED_MODELS", "routing.excluded_models in /x/config.toml"
    names: tuple[str, ...]
    every: bool = False  # exclusions: a name excludes every model it covers


@dataclass(frozen=True)
class _Match:
    how: How
    ranked: tuple[str, ...]  # every model the name matches, the closest first
    covered: tuple[str, ...]  # what an exclusion of the name excludes


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _variant(text: str) -> str:
    """`free` for `...:free`, "" without a variant."""
    last = text.lower().rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


def _words(text: str) -> frozenset[str]:
    slug = text.lower().split("/")[-1].split(":")[0]
    # "qwen3" and "gpt4" are a family and a version written together.
    words = (_TRAILING_VERSION.sub("", w) for w in _SPLIT.split(slug) if not _VERSION.match(w))
    return frozenset(w for w in words if w)


def _tokens(text: str) -> frozenset[str]:
    return frozenset(_TOKEN.findall(text.lower().split("/")[-1].split(":")[0]))


def _versions(text: str) -> frozenset[str]:
    return frozenset(_NUMBER.findall(text.lower().split("/")[-1]))


def _created(model: CatalogModel) -> int:
    return model.created or 0


class ModelNames:
    """Resolves user-written model names against one catalog; results are cached."""

    def __init__(self, catalog: ModelCatalog) -> None:
        self._catalog = catalog
        # name -> (resolved, covered), None for a name that matches nothing
        self._cache: dict[str, tuple[Resolution, Resolution] | None] = {}
        self._in_settings: dict[tuple[object, ...], SettingsNames] = {}
        self._closest: ClosestModels | None = None  # built on the first unknown name
        # A client of the proxy may send the same unknown name again and again.
        self._hint = functools.lru_cache(maxsize=HINTS_KEPT)(self._suggest)

    # The indexes are built when a first name is resolved: most requests name no model, and
    # a 400-model catalog's took a few milliseconds of every start-up.
    @cached_property
    def _by_id(self) -> dict[str, str]:
        return {model.id.lower(): model.id for model in self._catalog}

    @cached_property
    def _by_compact_id(self) -> dict[str, str]:
        return {_compact(model.id): model.id for model in self._catalog}

    @cached_property
    def _by_slug(self) -> dict[str, str]:
        by_slug: dict[str, str] = {}
        # The models themselves first: a variant's display name must not take its model's key.
        for model in sorted(self._catalog, key=lambda m: bool(_variant(m.id))):
            slug = model.id.split("/", 1)[-1]
            for key in (slug, model.name, model.name.split(":", 1)[-1]):
                by_slug.setdefault(_compact(key), model.id)
        return by_slug

    @cached_property
    def _chat(self) -> list[tuple[CatalogModel, frozenset[str], frozenset[str], str]]:
        return [
            (model, _words(model.id), _tokens(model.id), _variant(model.id))
            for model in self._catalog.chat_models()
        ]

    def resolve(self, name: str) -> Resolution:
        """The catalog model `name` means (pinned, preferred, only); raises
        `UnknownModelError` with the closest ids."""
        return self._match(name)[0]

    def cover(self, name: str) -> Resolution:
        """Every catalog model an exclusion of `name` excludes, the closest first."""
        return self._match(name)[1]

    def resolve_all(self, names: Iterable[str], *, every: bool = False) -> list[Resolution]:
        """Every name resolved (`every`: covered, for exclusions), in order, without
        duplicates of the same models."""
        seen: set[tuple[str, ...]] = set()
        result: list[Resolution] = []
        for name in names:
            found = self.cover(name) if every else self.resolve(name)
            if found.model_ids not in seen:
                seen.add(found.model_ids)
                result.append(found)
        return result

    def check(self, settings: Iterable[NameSetting]) -> list[str]:
        """One line per name, "preferred: gpt-4 -> openai/gpt-5 (closest version)"; a name
        that matches nothing raises `UnknownModelError` naming its setting and the fix."""
        listed = list(settings)
        lines, failed = _described(self, [(s.label, s.names, s.every) for s in listed])
        if failed is not None:
            index, exc = failed
            raise _in_setting(exc, listed[index].where)
        return lines

    def in_settings(self, settings: Settings) -> SettingsNames:
        """Every model name in `settings` resolved, once for each state of the settings that
        name models (the dashboard edits them live): a request reads the result instead of
        checking every name again."""
        groups = tuple(g for g in _name_groups(settings) if g[1])
        key = (*groups, settings.config_path)
        found = self._in_settings.get(key)
        if found is None:
            if len(self._in_settings) >= _SETTINGS_KEPT:
                self._in_settings.clear()
            found = SettingsNames.of(self, groups, settings.config_path)
            self._in_settings[key] = found
        return found

    def _match(self, name: str) -> tuple[Resolution, Resolution]:
        try:
            found = self._cache[name]
        except KeyError:
            match = self._find(name.strip())
            found = self._cache[name] = (
                None
                if match is None
                else (
                    Resolution(name, match.ranked[:1], match.how),
                    Resolution(name, match.covered, match.how),
                )
            )
        if found is None:
            raise UnknownModelError(
                f"model {name!r} matches nothing in the model catalog", hint=self._hint(name)
            )
        return found

    def _find(self, name: str) -> _Match | None:
        exact = self._by_id.get(name.lower())
        if exact is not None:
            return _Match("id", (exact,), (exact,))
        if "/" in name:
            # A full id stands for that model only: written differently, but never another one.
            same = self._by_compact_id.get(_compact(name))
            return _Match("slug", (same,), (same,)) if same else None
        slug = self._by_slug.get(_compact(name))
        if slug is not None:
            return _Match("slug", (slug,), self._with_variants(slug, name))
        variant = _variant(name)
        models = [m for m in self._chat if not variant or m[3] == variant]
        tokens = _tokens(name)
        family = [m for m in models if tokens and tokens <= m[2]]
        if family:
            ranked = self._rank(name, [m[0] for m in family])
            return _Match("family", ranked, ranked)
        words = _words(name)
        line = [m[0] for m in models if words and words == m[1]]
        if not line:
            return None
        ranked = self._rank(name, line)
        return _Match("version", ranked, self._with_variants(ranked[0], name))

    def _with_variants(self, model_id: str, name: str) -> tuple[str, ...]:
        """The model and, when the name gives no variant, its variants (`:free`): excluding a
        model by name excludes them too."""
        if _variant(name) or _variant(model_id):
            return (model_id,)
        return (model_id, *(m.id for m, *_ in self._chat if m.id.startswith(model_id + ":")))

    def _rank(self, name: str, models: Sequence[CatalogModel]) -> tuple[str, ...]:
        """The closest first: the model before its variants, fewest extra words, the same
        version, the newest."""
        words, versions = _words(name), _versions(name)

        def key(model: CatalogModel) -> tuple[bool, int, bool, int, str]:
            same = bool(versions) and versions <= _versions(model.id)
            extra = len(_words(model.id) - words)
            return (not _variant(model.id), -extra, same, _created(model), model.id)

        return tuple(m.id for m in sorted(models, key=key, reverse=True))

    def _suggest(self, name: str) -> str:
        """The hint of a name that matches nothing: the closest catalog models, if any are
        close (routing/closest.py), else where to see the ids."""
        variant = _variant(name)
        picks: list[str] = []
        note = ""
        if variant:
            try:
                twin = self.resolve(name.rsplit(":", 1)[0]).model_id
            except UnknownModelError:
                twin = ""
            if twin:
                picks.append(twin)
                note = f"The catalog has no :{variant} variant of {twin}, a model priced apart. "
        if self._closest is None:
            self._closest = ClosestModels(self._catalog)
        picks += [p for p in self._closest.to(name) if p not in picks]
        fresh = ""
        if "/" in name:
            fresh = " If it is newer than the catalog, `devflow models --refresh` fetches it."
        if not picks:
            return note + "Run `devflow models` to see the catalog's ids." + fresh
        return note + "Closest catalog models: " + ", ".join(picks[:3]) + "." + fresh


def describe_all(resolutions: Sequence[Resolution]) -> str:
    """One line for logs: `claude-3-sonnet -> anthropic/claude-sonnet-4.5 (family), …`."""
    return ", ".join(r.describe() for r in resolutions)


_SETTINGS_KEPT = 16  # states of the name settings remembered per catalog (`in_settings`)

_Group = tuple[str, tuple[str, ...], str, str | None]  # label, names, config key, env field


def setting_where(settings: Settings, key: str, field: str | None = None) -> str:
    """Where a setting is, as the user would look for it: the environment variable of
    `field` that set it, else `key` in the config file."""
    return _where_in(settings.config_path, key, field)


def _where_in(config_path: Path | None, key: str, field: str | None) -> str:
    for env in env_names(field) if field else ():
        if env in os.environ:
            return env
    return f"{key} in the config file {config_path}" if config_path else f"the setting {key}"


def _name_groups(settings: Settings) -> list[_Group]:
    """What every setting that names models holds, with its config key and its field."""
    routing = settings.routing
    groups: list[_Group] = [
        ("preferred", tuple(settings.preferred_models), "preferred_models", "preferred_models"),
        ("only", tuple(settings.only_models), "only_models", "only_models"),
        ("excluded", tuple(routing.excluded_models), "[routing] excluded_models", None),
        (
            "pinned",
            (routing.pinned_model,) if routing.pinned_model else (),
            "[routing] pinned_model",
            None,
        ),
    ]
    for task, defaults in routing.tasks.items():
        groups.append(
            (f"{task} models", tuple(defaults.models), f"[routing.tasks.{task}] models", None)
        )
    return groups


def _covers(group: _Group) -> bool:
    """An exclusion: a name excludes every model it covers (`ModelNames.cover`)."""
    return group[0] == "excluded"


def _where(group: _Group, config_path: Path | None) -> str:
    """`setting_where` for one of `_name_groups`. Read when asked (an error's words): it
    depends on the environment as it is now, and looking variables up costs more than the
    names' cache."""
    _label, _names, key, field = group
    return _where_in(config_path, key, field)


def _setting(group: _Group, config_path: Path | None) -> NameSetting:
    label, names, _key, _field = group
    return NameSetting(label, _where(group, config_path), names, every=_covers(group))


def name_settings(settings: Settings) -> list[NameSetting]:
    """Every setting that names models, each named as the user would look for it: the
    environment variable that set it, else its key in the config file."""
    return [_setting(g, settings.config_path) for g in _name_groups(settings) if g[1]]


def restriction(settings: Settings, task: str) -> tuple[list[str], str | None]:
    """The names routing for `task` is restricted to, and the setting that says so as
    `name_settings` names it (None: no restriction): the task's own `models`, else "only"."""
    groups = [g for g in _name_groups(settings) if g[1]]
    found = _restricting(groups, task)
    return (list(found[1]), _where(found, settings.config_path)) if found else ([], None)


def _restricting(groups: Sequence[_Group], task: str) -> _Group | None:
    """The setting that restricts routing for `task`: its own `models`, else "only"."""
    by_label = {group[0]: group for group in groups}
    return by_label.get(f"{task} models") or by_label.get("only")


@dataclass(frozen=True)
class SettingsNames:
    """Every model name in the settings resolved against one catalog
    (`ModelNames.in_settings`): the lines `devflow models` shows, the ids each setting
    stands for, each task's restriction, and the first name that matches nothing."""

    groups: tuple[_Group, ...]  # the settings that name models (none empty)
    config_path: Path | None
    lines: tuple[str, ...]
    ids: dict[str, frozenset[str]]  # per label; a name that matches nothing stands for itself
    error: tuple[_Group, UnknownModelError] | None  # the first unknown name's setting, error

    @classmethod
    def of(
        cls, names: ModelNames, groups: tuple[_Group, ...], config_path: Path | None
    ) -> SettingsNames:
        lines, failed = _described(names, [(g[0], g[1], _covers(g)) for g in groups])
        error = (groups[failed[0]], failed[1]) if failed is not None else None
        ids = {g[0]: _ids(names, g[1], every=_covers(g)) for g in groups}
        return cls(groups, config_path, tuple(lines), ids, error)

    def check(self) -> list[str]:
        """One line per name, "preferred: gpt-4 -> openai/gpt-5 (closest version)"; a name
        that matches nothing raises `UnknownModelError` naming its setting and the fix."""
        if self.error is not None:
            group, exc = self.error
            raise _in_setting(exc, _where(group, self.config_path))
        return list(self.lines)

    def restricted_to(self, task: str) -> list[str]:
        """The names routing for `task` is restricted to ([]: every model)."""
        found = _restricting(self.groups, task)
        return list(found[1]) if found else []

    def restriction(self, task: str) -> tuple[list[str], str | None]:
        """As `restriction` reads them from the settings: the names and the setting."""
        found = _restricting(self.groups, task)
        return (list(found[1]), _where(found, self.config_path)) if found else ([], None)


def _ids(names: ModelNames, written: Sequence[str], *, every: bool) -> frozenset[str]:
    """The catalog ids a setting's names stand for (`every`: all that an exclusion covers);
    a name that matches nothing stands for itself (the error is `SettingsNames.check`'s)."""
    ids: set[str] = set()
    for name in written:
        try:
            ids.update((names.cover(name) if every else names.resolve(name)).model_ids)
        except UnknownModelError:
            ids.add(name)
    return frozenset(ids)


def _described(
    names: ModelNames, settings: Sequence[tuple[str, Sequence[str], bool]]
) -> tuple[list[str], tuple[int, UnknownModelError] | None]:
    """One line per name of each `(label, names, every)` in order, up to the first setting
    with a name that matches nothing: its index and the error."""
    lines: list[str] = []
    for index, (label, written, every) in enumerate(settings):
        try:
            found = names.resolve_all(written, every=every)
        except UnknownModelError as exc:
            return lines, (index, exc)
        lines.extend(f"{label}: {r.describe()}" for r in found)
    return lines, None


def _in_setting(exc: UnknownModelError, where: str) -> UnknownModelError:
    """`exc` naming the setting the name came from, and where to correct it."""
    return UnknownModelError(
        f"{exc.message} (from {where})", hint=f"{exc.hint} Correct it in {where}."
    )
