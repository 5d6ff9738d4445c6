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
    pattern: re.Pattern[str]
    hints: tuple[str, ...]  # at least one must occur in the text for the rule to run
    group: str | None = None  # replace only this group (else the whole match)
    accept: Callable[[re.Match[str]], bool] | None = None


def _env_value_ok(match: re.Match[str]) -> bool:
    return not _NOT_SECRET_VALUE.match(match.group("value"))


_RULES: tuple[_Rule, ...] = (
    _Rule(
        "private-key",
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        ),
        ("PRIVATE KEY",),
    ),
    _Rule("openrouter", re.compile(r"\bsk-or-(?:v\d+-)?[A-Za-z0-9_-]{20,}"), ("sk-or-",)),
    _Rule("anthropic", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}"), ("sk-ant-",)),
    _Rule(
        "openai",
        re.compile(
            r"\bsk-(?!or-|ant-)(?=[A-Za-z0-9_-]*\d)(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}"
        ),
        ("sk-",),
    ),
    _Rule(
        "aws",
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
        ("AKIA", "ASIA", "ABIA", "ACCA"),
    ),
    _Rule(
        "aws",
        re.compile(
            r"(?i)\baws_?secret_?access_?key\b[\"']?\s*[:=]\s*[\"']?(?P<value>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
        ),
        ("ecret_access_key", "ECRET_ACCESS_KEY", "ecretAccessKey", "SecretAccessKey"),
        group="value",
    ),
    _Rule(
        "github",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
        ("ghp_", "gho_", "ghs_", "ghu_", "ghr_", "github_pat_"),
    ),
    _Rule("slack", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), ("xox",)),
    _Rule("google", re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), ("AIza",)),
    _Rule(
        "jwt",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        ("eyJ",),
    ),
    _Rule(
        "bearer",
        re.compile(r"(?i:\bbearer)\s+(?P<value>(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{20,}=*)"),
        ("Bearer", "bearer", "BEARER"),
        group="value",
    ),
    _Rule(
        "env",
        re.compile(
            rf"(?m)^[ \t]*(?:export[ \t]+)?(?P<name>{_ENV_NAME})[ \t]*[=:][ \t]*{_ENV_VALUE}"
        ),
        ("SECRET", "TOKEN", "PASS", "APIKEY", "API_KEY", "PRIVATE", "CREDENTIAL", "ACCESS_KEY"),
        group="value",
        accept=_env_value_ok,
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
        start, end = match.span(rule.group)
        offset = match.start()
        return whole[: start - offset] + replacement + whole[end - offset :]

    return rule.pattern.sub(substitute, text)


def scrub(text: str) -> tuple[str, ScrubReport]:
    """Replace every secret found in `text` by `[REDACTED:<kind>]`; return the text and counts."""
    report = ScrubReport()
    for rule in _RULES:
        if any(hint in text for hint in rule.hints):
            text = _apply(rule, text, report)
    return text, report
