"""Team members: who may spend through `devflow serve`, with what token and monthly budget.

Each member gets a proxy token, shown once when it is made (`devflow team add`, `rotate-token`)
and stored only as its SHA-256: the token is 32 random bytes, so a fast hash is enough (nothing
to brute-force), and the database never holds a usable token. `devflow serve` accepts member
tokens beside its own, records each request with its member, and reserves every request against
the member's monthly budget as well as the team's (see `budget`).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from decimal import Decimal

from pydantic import BaseModel

from devflow_tui.accounting.budget import calendar_start
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.errors import ConfigError

# Rotations and removals are announced on this channel (PostgreSQL), for instances' caches.
CHANNEL = "devflow_members"
# How long `devflow serve` trusts a member token it looked up, unless told of a change.
CACHE_TTL_S = 5.0
TOKEN_PREFIX = "dfm-"  # noqa: S105 - a prefix, not a secret: a member's token; recognisable if leaked, never an OpenRouter key
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


class Member(BaseModel):
    """One member as `devflow team list` shows it (never the token)."""

    name: str
    budget_monthly_usd: Decimal | None = None
    spent_this_month_usd: Decimal = Decimal(0)
    created: float
    rotated: float | None = None

    @property
    def remaining_usd(self) -> Decimal | None:
        """What the member may still spend this month (never below $0); None: no budget.
        Money held by their running requests is not taken off, as for the team's budgets."""
        if self.budget_monthly_usd is None:
            return None
        return max(self.budget_monthly_usd - self.spent_this_month_usd, Decimal(0))


def hash_token(token: str) -> str:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_name(name: str) -> str:
    if not name or len(name) > 40 or not set(name) <= _NAME_CHARS:
        raise ConfigError(
            f"{name!r} is not a usable member name.",
            hint="Use up to 40 lowercase letters, digits, '-', '_' or '.' (e.g. ada or ada.l).",
        )
    return name


def _check_budget(value: Decimal | None) -> Decimal | None:
    if value is not None and (not value.is_finite() or value < 0):
        raise ConfigError(
            f"A monthly budget of {value} USD is not possible.",
            hint="Give a number of dollars, 0 or more (e.g. --budget-monthly 25).",
        )
    return value


class Members:
    """The members of the team sharing `store`."""

    def __init__(
        self,
        store: AnalyticsStore,
        clock: Callable[[], float] = time.time,
        *,
        cache_ttl_s: float = 0.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.cache_ttl_s = cache_ttl_s
        # Token hash -> (member, until when it may be trusted); see `authenticate`.
        self._cache: dict[str, tuple[str, float]] = {}
        self._cache_lock = threading.Lock()
        self._generation = 0
        self._listener = store.listen(CHANNEL) if cache_ttl_s > 0 else None

    def add(self, name: str, budget_monthly_usd: Decimal | None = None) -> str:
        """Add a member; returns their token (shown once: only its hash is kept)."""
        _check_name(name)
        budget = _check_budget(budget_monthly_usd)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.store.transaction() as conn:
            added = conn.execute(
                "INSERT INTO members (name, token_hash, budget_monthly_usd, created) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                (name, hash_token(token), None if budget is None else str(budget), self.clock()),
            ).rowcount
        if not added:
            raise ConfigError(
                f"There is already a member called {name}.",
                hint=f"Pick another name, or `devflow team rotate-token {name}` for a new token.",
            )
        return token

    def list(self) -> list[Member]:
        """Every member, by name, with what they spent this calendar month (UTC)."""
        month = calendar_start("monthly", self.clock())
        with self.store.reading() as conn:
            rows = conn.execute(
                "SELECT name, budget_monthly_usd, created, rotated FROM members ORDER BY name"
            ).fetchall()
        return [
            Member(
                name=r[0],
                budget_monthly_usd=Decimal(r[1]) if r[1] is not None else None,
                spent_this_month_usd=self.store.member_spend_since(r[0], month),
                created=r[2],
                rotated=r[3],
            )
            for r in rows
        ]

    def exist(self) -> bool:
        """Whether the team has any member: one cheap read, for a caller that polls (the
        dashboard offers its team view only then), where `list` reads everyone's spend."""
        with self.store.reading() as conn:
            return conn.execute("SELECT 1 FROM members LIMIT 1").fetchone() is not None

    def set_budget(self, name: str, budget_monthly_usd: Decimal | None) -> None:
        """Change (or with None, remove) a member's monthly budget."""
        budget = _check_budget(budget_monthly_usd)
        with self.store.transaction() as conn:
            changed = conn.execute(
                "UPDATE members SET budget_monthly_usd = ? WHERE name = ?",
                (None if budget is None else str(budget), name),
            ).rowcount
        if not changed:
            raise self._unknown(name)

    def rotate_token(self, name: str) -> str:
        """A new token for `name`; the old one stops working at once. Returns the new one."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.store.transaction() as conn:
            changed = conn.execute(
                "UPDATE members SET token_hash = ?, rotated = ? WHERE name = ?",
                (hash_token(token), self.clock(), name),
            ).rowcount
            self.store.notify(conn, CHANNEL)
        if not changed:
            raise self._unknown(name)
        return token

    def remove(self, name: str) -> None:
        """Remove a member: their token stops working; their recorded requests stay."""
        with self.store.transaction() as conn:
            removed = conn.execute("DELETE FROM members WHERE name = ?", (name,)).rowcount
            self.store.notify(conn, CHANNEL)
        if not removed:
            raise self._unknown(name)

    def authenticate(self, token: str) -> str | None:
        """The member whose token this is, or None.

        With a cache (`cache_ttl_s`, PostgreSQL only) a token found is remembered for that
        long, unless a rotation or removal is announced first: every instance listens for
        them (LISTEN/NOTIFY) and forgets what it remembered before answering the next
        request, so a revoked token stops working in every instance as soon as PostgreSQL
        has delivered the notification. Should the listening connection fail, nothing is
        remembered any more."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = hash_token(token)
        now = self.clock()
        generation = 0
        if self._listener is not None:
            with self._cache_lock:
                if self._listener.changed():
                    self._cache.clear()
                    self._generation += 1
                generation = self._generation
                cached = self._cache.get(digest)
            if cached is not None and cached[1] > now:
                return cached[0]
        row = self.store.fetch_row(
            "SELECT name FROM members WHERE token_hash = ?", (digest,), reader=True
        )
        name = None if row is None else str(row[0])
        if name is not None and self._listener is not None:
            with self._cache_lock:
                # Not when a change was announced meanwhile: what was read may predate it.
                if generation == self._generation and not self._listener.changed():
                    self._cache[digest] = (name, now + self.cache_ttl_s)
                else:
                    self._cache.clear()
                    self._generation += 1
        return name

    @staticmethod
    def _unknown(name: str) -> ConfigError:
        return ConfigError(
            f"There is no member called {name}.",
            hint="`devflow team list` shows the members.",
        )
