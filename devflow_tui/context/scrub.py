"""Secret scrubbing: API keys, tokens and private keys are replaced before context leaves.

Every pattern has a cheap literal pre-check (`in` on the text), so text without candidates
costs a handful of substring searches rather than a regular-expression pass per kind.
Replacements keep surrounding text (and a `.env` line's name) and say what was removed:
`[REDACTED:openai]`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise


@dataclass
class ScrubReport:
    """How many secrets of each kind were replaced."""

    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        """All secrets removed, of every kind."""
        return sum(self.counts.values())

    def merge(self, other: ScrubReport) -> None:
        """Add another report's counts to this one."""
        self.counts.update(other.counts)

    def summary(self) -> str:
        """A one-line message for the user, e.g. "removed 3 secrets (2 openai, 1 env)"."""
        if not self.total:
            return "no secrets found"
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts.items()))
        noun = "secret" if self.total == 1 else "secrets"
        return f"removed {self.total} {noun} ({kinds})"

    def as_dict(self) -> dict[str, int]:
        """Counts per kind, sorted, for JSON output."""
        return dict(sorted(self.counts.items()))


def marker(kind: str) -> str:
    """The text that replaces a secret of `kind`."""
    return f"[REDACTED:{kind}]"


# Names in `.env`-style lines whose value is a secret. Matched as whole `_`-separated words so
# that MAX_TOKENS or TOKENIZER_PATH are left alone.
_SENSITIVE_WORD = (
    r"(?:SECRET|SECRETS|TOKEN|PASSWORD|PASSWD|PASS|APIKEY|PRIVATE|CREDENTIAL|CREDENTIALS)"
)
_ENV_NAME = rf"(?:[A-Z0-9]+_)*(?:{_SENSITIVE_WORD}|API_KEY|ACCESS_KEY|SECRET_KEY)(?:_[A-Z0-9]+)*"
# A literal value: no spaces, not a reference (`$VAR`, `${{ x }}`, `<placeholder>`), not code.
_ENV_VALUE = r"""(?P<q>["']?)(?P<value>[^\s"'$<>{}()\[\],;`]{6,})(?P=q)[ \t]*$"""
_NOT_SECRET_VALUE = re.compile(r"(?i)^(?:\d+|true|false|none|null|changeme|x+|\*+|your[-_].*)$")


@dataclass(frozen=True)
class _Rule:
    kind: str
    source: str  # the regular expression, compiled when a text first has one of the hints
    # At least one must occur in the text for the rule to run (in the lower-cased text when
    # `lower_hints`, for rules whose names come in any case).
    hints: tuple[str, ...]
    group: str | tuple[str, ...] | None = None  # replace this group (the first that matched)
    accept: Callable[[re.Match[str]], bool] | None = None
    lower_hints: bool = False

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        # Compiling every rule at import took ~4 ms of each `devflow ask`, which scrubs
        # nothing unless context is injected.
        return re.compile(self.source)


def _env_value_ok(match: re.Match[str]) -> bool:
    return not _NOT_SECRET_VALUE.match(match.group("value"))


# Words that make a setting's name sensitive, as whole words of the name (split at `_`, `-`,
# `.` and camelCase), so `tokenizer` or `max_tokens` stay readable while `db_password`,
# `secret_key` and `SecretAccessKey` do not.
_SECRET_WORDS = frozenset(
    {"password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "apikey"}
    | {"credential", "credentials", "pass"}
)
_SECRET_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key")})
_NAME_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# `name = value`, `name: value`, `"name": "value"`, `name => 'value'`, anywhere in a line.
_ASSIGNMENT = (
    r"""(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)["']?[ \t]*(?:=>|:|=)[ \t]*"""
    r"""(?:"(?P<dq>[^"\n]{4,})"|'(?P<sq>[^'\n]{4,})'"""
    r"""|(?P<bare>[^\s"'`,;(){}\[\]<>$]{6,})(?![\w(\[.$]))"""
)
_LINE_START = re.compile(r"(?:^|\n)[ \t]*(?:export[ \t]+|-[ \t]+)?[\"']?$")
_REST_OF_LINE = re.compile(r"[ \t]*(?:#.*)?$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
_REFERENCE = re.compile(r"^\$?\{?[\w.]+\}$|^\$[\w.]+$|^\{\{.*\}\}$|^<[^>]*>$|^\[REDACTED:")


def _sensitive_name(name: str) -> bool:
    words = [w.lower() for w in _NAME_WORD.findall(name)]
    if _SECRET_WORDS.intersection(words):
        return True
    return any(pair in _SECRET_PAIRS for pair in pairwise(words))


def _assignment_ok(match: re.Match[str]) -> bool:
    """A sensitive name given a literal value (not a reference, a call or a placeholder)."""
    if not _sensitive_name(match.group("name")):
        return False
    quoted = match.group("dq") or match.group("sq")
    value = quoted if quoted is not None else match.group("bare")
    if _NOT_SECRET_VALUE.match(value.strip()) or _REFERENCE.match(value.strip()):
        return False
    if quoted is not None:
        return True
    # An unquoted value in the middle of code is usually a variable (`password = pw`); at the
    # start of a line (.env, YAML, INI, shell) it is the value itself.
    before = match.string[max(0, match.start() - 80) : match.start()]
    if before.endswith("--"):  # a command-line flag: `--password=value`
        return True
    if not _IDENTIFIER.match(value):
        return True
    # A word-like value is a secret only as the whole rest of a line that starts with the
    # name (.env, YAML, INI): not `token: Token = Depends()` nor `settings.password`.
    end = match.string.find("\n", match.end())
    rest = match.string[match.end() : end if end >= 0 else len(match.string)]
    return bool(_LINE_START.search(before) and _REST_OF_LINE.match(rest)) and "." not in value


_RULES: tuple[_Rule, ...] = (
    _Rule(
        "private-key",
        (
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        ),
        ("PRIVATE KEY",),
    ),
    # A block whose END line is missing (a file cut short): the header and every line after
    # it that looks like key material (base64, or a `Proc-Type:`-style header).
    _Rule(
        "private-key",
        (
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:\r?\n(?:[A-Za-z0-9+/=]+|[A-Za-z-]+:[^\n]*)(?=\r?\n|$))*"
        ),
        ("PRIVATE KEY",),
    ),
    _Rule("openrouter", r"\bsk-or-(?:v\d+-)?[A-Za-z0-9_-]{20,}", ("sk-or-",)),
    _Rule("anthropic", r"\bsk-ant-[A-Za-z0-9_-]{20,}", ("sk-ant-",)),
    _Rule(
        "openai",
        (
            r"\bsk-(?!or-|ant-)(?=[A-Za-z0-9_-]*\d)(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}"
        ),
        ("sk-",),
    ),
    _Rule(
        "aws",
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
        ("AKIA", "ASIA", "ABIA", "ACCA"),
    ),
    _Rule(
        "aws",
        (
            r"(?i)\baws_?secret_?access_?key\b[\"']?\s*[:=]\s*[\"']?(?P<value>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
        ),
        ("ecret_access_key", "ECRET_ACCESS_KEY", "ecretAccessKey", "SecretAccessKey"),
        group="value",
    ),
    _Rule(
        "github",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
        ("ghp_", "gho_", "ghs_", "ghu_", "ghr_", "github_pat_"),
    ),
    _Rule("slack", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", ("xox",)),
    _Rule("google", r"\bAIza[0-9A-Za-z_-]{35}", ("AIza",)),
    _Rule(
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        ("eyJ",),
    ),
    _Rule(
        "bearer",
        r"(?i:\bbearer)\s+(?P<value>(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{20,}=*)",
        ("Bearer", "bearer", "BEARER"),
        group="value",
    ),
    _Rule(
        "env",
        rf"(?m)^[ \t]*(?:export[ \t]+)?(?P<name>{_ENV_NAME})[ \t]*[=:][ \t]*{_ENV_VALUE}",
        ("SECRET", "TOKEN", "PASS", "APIKEY", "API_KEY", "PRIVATE", "CREDENTIAL", "ACCESS_KEY"),
        group="value",
        accept=_env_value_ok,
    ),
    _Rule(
        "url-credentials",
        (r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]+:(?P<value>[^\s@/'\"]+)@"),
        ("://",),
        group="value",
        accept=lambda m: not _REFERENCE.match(m.group("value")),
    ),
    _Rule(
        "basic-auth",
        (
            r"(?i:authorization)[\"']?[ \t]*[:=][ \t]*[\"']?(?i:basic)[ \t]+"
            r"(?P<value>[A-Za-z0-9+/]{6,}={0,2})"
        ),
        ("authorization",),
        group="value",
        lower_hints=True,
    ),
    _Rule(
        "password",
        (
            r"\bmysql(?:dump|admin|sh)?\b[^\n]*?[ \t]-p"
            r"""(?P<value>'[^'\n]+'|"[^"\n]+"|[^\s'"-]\S*)"""
        ),
        ("mysql",),
        group="value",
    ),
    _Rule(
        "password",
        _ASSIGNMENT,
        ("pass", "pwd", "secret", "token", "key", "credential"),
        group=("dq", "sq", "bare"),
        accept=_assignment_ok,
        lower_hints=True,
    ),
)


def _apply(rule: _Rule, text: str, report: ScrubReport) -> str:
    replacement = marker(rule.kind)

    def substitute(match: re.Match[str]) -> str:
        whole = match.group(0)
        if rule.accept is not None and not rule.accept(match):
            return whole
        report.counts[rule.kind] += 1
        if rule.group is None:
            return replacement
        groups = (rule.group,) if isinstance(rule.group, str) else rule.group
        start, end = next(match.span(g) for g in groups if match.group(g) is not None)
        offset = match.start()
        return whole[: start - offset] + replacement + whole[end - offset :]

    return rule.pattern.sub(substitute, text)


def scrub(text: str) -> tuple[str, ScrubReport]:
    """Replace every secret found in `text` by `[REDACTED:<kind>]`; return the text and counts."""
    report = ScrubReport()
    lowered: str | None = None
    for rule in _RULES:
        if rule.lower_hints:
            lowered = text.lower() if lowered is None else lowered
            if not any(hint in lowered for hint in rule.hints):
                continue
        elif not any(hint in text for hint in rule.hints):
            continue
        found = report.total
        text = _apply(rule, text, report)
        if report.total != found:
            lowered = None
    return text, report
