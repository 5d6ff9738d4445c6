"""Budgets: reserve a request's worst-case cost before sending, settle it with the real cost.

Budgets (all optional): the limit for `budget.period` (from `OPENROUTER_COST_BUDGET_USD`, or
`budget.limit_usd` in the config file when the variable is unset), `daily_usd`, `monthly_usd`
and `session_usd` (since this manager was created). Periods follow UTC days, ISO weeks
(Monday) and calendar months; "total" is all time.

Atomicity: `reserve` reads the spend and the outstanding reservations and inserts its own
reservation inside one transaction that holds the database's own lock for budgets: on SQLite
`BEGIN IMMEDIATE` (the file's write lock, across threads and processes); on PostgreSQL the
exclusive escrow lock (an advisory transaction lock, below). Never a lock of this process
only. So concurrent requests can never together reserve more than a limit. A reservation
counts until its request's cost is in the request row (`finish_request` drops settled
reservations in the same transaction), so there is no moment where a request's money is
counted nowhere.

On PostgreSQL the reservation is one statement, the server-side function `devflow_reserve`
(migration pg011, the escrow): each budget's remaining money is handed out in
advance to a few escrow rows, and a reservation takes its amount from any row with room
(`FOR UPDATE SKIP LOCKED`), waiting for no other reservation; when no row has room (near the
limit, a new period, another configuration of budgets, a member's changed limit; money
counted that no row gave out is taken out of the rows), it runs the exact check under the
exclusive escrow lock, as pg008 did under its lock row, and refills the rows from what is
left. A member's limit is read under the escrow lock, and expired leases are deleted before
the reservations are counted.
So every refusal is decided by the exact check, and concurrent reservations never hand out
more than a limit (the invariant and the cases that take from or empty the escrow are in
`migrations_pg`). It runs at READ COMMITTED, so each statement after the lock
sees everything committed before it, and it reads the reservations before the spend: a
request finishing in between is then counted twice (a refusal too many, never an
overshoot), never zero times. The refusal messages and the periods' bounds are computed
here, once, for both backends. A member's month is read from the per-member rollups
(`rollup_party`), never by summing their rows, on both backends; giving a reservation back
is one statement.

Crashed holders: a reservation is a lease of `reservation_ttl_s`, renewed while its request
streams (`record_progress`). A process of this machine that died gives its reservations back
at the next start of devflow (`mark_stale_running_as_interrupted`); one on another machine,
whose process id means nothing here, loses them when the lease runs out.

Unknown cost: a request whose worst case cannot be computed (unpriced model) is refused while a
budget is active, unless `allow_unknown_cost` is set, because it could spend anything.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import NoReturn

from devflow_tui.accounting.database import Connection
from devflow_tui.accounting.records import BudgetView, Reservation
from devflow_tui.accounting.store import (
    HOST,
    AnalyticsStore,
    member_spend_bounds,
    member_spend_since,
    spend_bounds,
    spend_since,
)
from devflow_tui.config import BudgetSettings
from devflow_tui.errors import BudgetExceededError
from devflow_tui.openrouter.wire import KeyInfo
from devflow_tui.usd import format_usd

RESERVATION_TTL_S = 600.0
_ZERO = Decimal(0)


@dataclass(frozen=True)
class BudgetAlert:
    """A budget crossed one of its alert thresholds (an event the gateway passes on)."""

    budget: str
    threshold: float  # 0.5, 0.8, 1.0 ...
    spent_usd: Decimal
    limit_usd: Decimal
    message: str = ""


@dataclass(frozen=True)
class Budget:
    """One active limit."""

    name: str  # "total", "daily", "weekly", "monthly", "session"
    limit_usd: Decimal
    setting: str = "the budget in the config file"  # where the user sets it, for the fix


def _config_key(key: str) -> str:
    return f"{key} under [budget] in the config file"


class BudgetManager:
    """Enforces every configured budget for requests of this process and others sharing the DB."""

    def __init__(
        self,
        store: AnalyticsStore,
        budget: BudgetSettings,
        cost_budget_usd: Decimal | None = None,
        clock: Callable[[], float] = time.time,
        *,
        reservation_ttl_s: float = RESERVATION_TTL_S,
        allow_unknown_cost: bool = False,
        reserve_in_server: bool = True,
    ) -> None:
        self.store = store
        self.settings = budget
        self.clock = clock
        self.reservation_ttl_s = reservation_ttl_s
        self.allow_unknown_cost = allow_unknown_cost
        # False: reserve on PostgreSQL with the client-side transaction SQLite uses, a round
        # trip per statement (benchmarks/team.py times both in one run).
        self.reserve_in_server = reserve_in_server
        self.session_start = clock()
        limits: dict[str, Decimal] = {}
        settings: dict[str, list[str]] = {}  # where each limit is set (two may tie)

        def add(name: str, value: Decimal | None, setting: str) -> None:
            if value is None:
                return
            if name not in limits or value < limits[name]:
                limits[name], settings[name] = value, [setting]
            elif value == limits[name]:
                settings[name].append(setting)

        if cost_budget_usd is not None:
            add(budget.period, cost_budget_usd, "OPENROUTER_COST_BUDGET_USD (or cost_budget_usd)")
        else:
            add(budget.period, budget.limit_usd, _config_key("limit_usd"))
        add("daily", budget.daily_usd, _config_key("daily_usd"))
        add("monthly", budget.monthly_usd, _config_key("monthly_usd"))
        add("session", budget.session_usd, _config_key("session_usd"))
        self.budgets = [
            Budget(name, limit, " and ".join(settings[name])) for name, limit in limits.items()
        ]

    def setting(self, name: str) -> str:
        """Where the user sets the budget `name` (for the fix in a refusal)."""
        for budget in self.budgets:
            if budget.name == name:
                return budget.setting
        if name == "openrouter-key":
            return "the key's credit limit on openrouter.ai"
        return "the budget in the config file"

    @property
    def active(self) -> bool:
        """True when at least one limit is set."""
        return bool(self.budgets)

    def period_start(self, name: str, now: float | None = None) -> float:
        """Unix time at which the current period of budget `name` began."""
        now = self.clock() if now is None else now
        if name == "total":
            return 0.0
        if name == "session":
            return self.session_start
        return calendar_start(name, now)

    # ------------------------------------------------------------------ reservations

    def reserve(
        self, request_id: str, amount: Decimal | None, member: str | None = None
    ) -> Reservation:
        """Set aside `amount` (the request's worst-case cost) or raise BudgetExceededError.

        For a team member's request (`devflow serve` with a member token) the member's
        monthly budget applies too, in the same transaction: both must fit."""
        return self.reserve_sent(request_id, amount, member)()

    def reserve_sent(
        self, request_id: str, amount: Decimal | None, member: str | None = None
    ) -> Callable[[], Reservation]:
        """`reserve` in two steps: the reservation is sent now (inside `store.batched()`,
        with the block's other statements: one round trip on PostgreSQL) and its answer is
        read by calling what this returns, after the block: the reservation, or
        BudgetExceededError raised."""
        now = self.clock()
        unheld = Reservation(
            id=str(uuid.uuid4()), request_id=request_id, amount=amount, created=now, held=False
        )
        if not self.budgets and member is None:
            return lambda: unheld
        try:
            if amount is None and not self.allow_unknown_cost and self.budgets:
                self._refuse_unknown_cost(", ".join(b.name for b in self.budgets))
            reservation = Reservation(
                id=str(uuid.uuid4()), request_id=request_id, amount=amount, created=now
            )
            if self.store.backend == "postgresql" and self.reserve_in_server:
                return self._reserve_in_server(reservation, unheld, member)
            held = self._reserve_in_transaction(reservation, unheld, member)
        except BudgetExceededError as exc:
            return functools.partial(_raise, exc)
        return lambda: held

    def _reserve_in_transaction(
        self, reservation: Reservation, unheld: Reservation, member: str | None
    ) -> Reservation:
        """The reservation in a transaction of this process that holds the budget lock."""
        now, amount = reservation.created, reservation.amount
        with self.store.transaction() as conn:
            # One reservation at a time across every process and machine on this database.
            self.store.lock_budgets(conn)
            member_limit = _member_limit(conn, member) if member is not None else None
            if not self.budgets and member_limit is None:
                return unheld  # a member without a budget, and no team budget
            if amount is None and not self.allow_unknown_cost:
                self._refuse_unknown_cost(f"{member}'s monthly budget")
            cutoff = now - self.reservation_ttl_s
            live_since: float | None = cutoff  # None: every reservation left counts
            reserved, oldest = _held(conn, cutoff)
            if oldest is not None and oldest < cutoff:
                # Leases that ran out (crashed holders): rare, so not a statement per reserve.
                # Deleted first, then every reservation left counts: on PostgreSQL a lease
                # renewed (or settled) by its live holder this instant is locked, skipped and
                # counted, neither waited for (a deadlock with a settle's trigger) nor lost.
                conn.execute(_EXPIRE[self.store.backend], (cutoff,))
                live_since = None
                reserved, _ = _held(conn, live_since)
            wanted = amount or _ZERO
            # A request that cannot cost anything (a free model) never exceeds a budget.
            for budget in self.budgets if amount != 0 else ():
                spent = spend_since(conn, self.period_start(budget.name, now))
                if spent + reserved + wanted > budget.limit_usd:
                    raise _over_budget(budget, spent, reserved, wanted)
            if member is not None and member_limit is not None and amount != 0:
                self._check_member(conn, member, member_limit, wanted, now, live_since)
            conn.execute(
                "INSERT INTO budget_reservations (id, request_id, amount, created, state, pid, "
                "host, member) VALUES (?, ?, ?, ?, 'held', ?, ?, ?)",
                (
                    reservation.id,
                    reservation.request_id,
                    _str(amount),
                    now,
                    os.getpid(),
                    HOST,
                    member,
                ),
            )
        return reservation

    @staticmethod
    def _refuse_unknown_cost(names: str) -> NoReturn:
        raise BudgetExceededError(
            f"Request refused: its cost cannot be estimated (the model has no prices in the "
            f"catalog) and a budget is active ({names}).",
            hint="Pick a model with known prices, or remove the budget in the config file.",
        )

    def _check_member(
        self,
        conn: Connection,
        member: str,
        limit: Decimal,
        wanted: Decimal,
        now: float,
        live_since: float | None,
    ) -> None:
        """Refuse when the member's month (spent + their running requests) has no room."""
        spent = member_spend_since(conn, member, calendar_start("monthly", now))
        reserved, _ = _held(conn, live_since, member)
        if spent + reserved + wanted > limit:
            raise _over_member(member, limit, spent, reserved, wanted)

    def _reserve_in_server(
        self, reservation: Reservation, unheld: Reservation, member: str | None
    ) -> Callable[[], Reservation]:
        """PostgreSQL: the same reservation as the transaction above, in one statement
        (`devflow_reserve`, migration pg011): taken from the escrow rows, or checked under
        the escrow lock held for the server's work only, never for a round trip to this
        process. Sent now, read when called."""
        now = reservation.created
        bounds = [spend_bounds(self.period_start(b.name, now)) for b in self.budgets]
        cursor = self.store.send(
            _RESERVE,
            (
                reservation.id,
                reservation.request_id,
                reservation.amount,
                now,
                os.getpid(),
                HOST,
                member,
                now - self.reservation_ttl_s,
                self.allow_unknown_cost,
                [day for day, _, _ in bounds],
                [float(start) for _, start, _ in bounds],
                [float(end) for _, _, end in bounds],
                [b.limit_usd for b in self.budgets],
                *member_spend_bounds(calendar_start("monthly", now)),
            ),
        )

        def answer() -> Reservation:
            outcome, index, spent, reserved, limit = cursor.fetchone()
            wanted = reservation.amount or _ZERO
            if outcome == "held":
                return reservation
            if outcome == "unheld":
                return unheld  # a member without a budget, and no team budget
            if outcome == "unknown":
                self._refuse_unknown_cost(f"{member}'s monthly budget")
            if outcome == "budget":
                raise _over_budget(self.budgets[index - 1], spent, reserved, wanted)
            assert outcome == "member" and member is not None
            raise _over_member(member, limit, spent, reserved, wanted)

        return answer

    def settle(self, reservation: Reservation, actual: Decimal | None) -> None:
        """Replace the reserved amount by the real cost.

        When the request row already has its cost the reservation is dropped; otherwise it
        stays (with the real amount) until `finish_request` records the cost. An unknown real
        cost keeps the worst case reserved until then.
        """
        if not reservation.held:
            return
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT status FROM requests WHERE id = ?", (reservation.request_id,)
            ).fetchone()
            if row is not None and row[0] != "running":
                conn.execute("DELETE FROM budget_reservations WHERE id = ?", (reservation.id,))
                return
            conn.execute(
                "UPDATE budget_reservations SET state = 'settled', "
                "amount = coalesce(?, amount) WHERE id = ?",
                (_str(actual), reservation.id),
            )

    def release(self, reservation: Reservation) -> None:
        """Give a reservation back (the request was never sent)."""
        if not reservation.held:
            return
        # One statement on its own: one round trip on PostgreSQL, no BEGIN and COMMIT.
        self.store.send("DELETE FROM budget_reservations WHERE id = ?", (reservation.id,))

    def reserved(self) -> Decimal:
        """Money currently held by unexpired reservations (all processes)."""
        now = self.clock()
        with self.store.transaction() as conn:
            return _held(conn, now - self.reservation_ttl_s)[0]

    # ------------------------------------------------------------------ status and alerts

    def status(self, key_info: KeyInfo | None = None) -> list[BudgetView]:
        """Spend against each budget; with the key's own credit limit from `/key` when given."""
        # Plain reads: they never wait for another process's write lock (WAL).
        return self.views([self.store.spend_since(t) for t in self.period_starts()], key_info)

    def period_starts(self) -> list[float]:
        """When each budget's current period began, in `budgets` order."""
        now = self.clock()
        return [self.period_start(budget.name, now) for budget in self.budgets]

    def views(self, spent: list[Decimal], key_info: KeyInfo | None = None) -> list[BudgetView]:
        """`status` from each budget's spend since its `period_starts`."""
        views: list[BudgetView] = []
        for budget, used in zip(self.budgets, spent, strict=True):
            views.append(
                BudgetView(
                    name=budget.name,
                    limit_usd=budget.limit_usd,
                    spent_usd=used,
                    remaining_usd=max(budget.limit_usd - used, _ZERO),
                )
            )
        if key_info is not None and key_info.limit is not None:
            used = key_info.usage if key_info.usage is not None else _ZERO
            remaining = key_info.limit_remaining
            if remaining is None:
                remaining = max(key_info.limit - used, _ZERO)
            views.append(
                BudgetView(
                    name="openrouter-key",
                    limit_usd=key_info.limit,
                    spent_usd=used,
                    remaining_usd=remaining,
                )
            )
        return views

    @staticmethod
    def before_spending(after: Iterable[BudgetView], cost: Decimal | None) -> list[BudgetView]:
        """The budgets (`status()` after a request was recorded) as they stood before its
        known cost counted; the key's own limit is left out (OpenRouter counts it)."""
        spent = cost or _ZERO
        return [
            view.model_copy(update={"spent_usd": view.spent_usd - spent})
            for view in after
            if view.name != "openrouter-key"
        ]

    def alerts_crossed(
        self, before: Iterable[BudgetView], after: Iterable[BudgetView]
    ) -> list[BudgetAlert]:
        """Alerts for every threshold (default 50 %, 80 %, 100 %) a budget crossed in between."""
        previous = {view.name: view.spent_usd for view in before}
        alerts: list[BudgetAlert] = []
        for view in after:
            if view.limit_usd is None or view.limit_usd <= 0:
                continue
            was = previous.get(view.name, _ZERO)
            for threshold in sorted(self.settings.thresholds):
                mark = view.limit_usd * Decimal(str(threshold))
                if was < mark <= view.spent_usd:
                    alerts.append(
                        BudgetAlert(
                            budget=view.name,
                            threshold=threshold,
                            spent_usd=view.spent_usd,
                            limit_usd=view.limit_usd,
                            message=f"{view.name} budget at {threshold:.0%}: "
                            f"{format_usd(view.spent_usd)} of {format_usd(view.limit_usd)} spent.",
                        )
                    )
        return alerts


_RESERVE = (
    "SELECT outcome, budget, spent, reserved, limit_usd FROM devflow_reserve(?, ?, ?::numeric, "
    "?, ?, ?, ?, ?, ?, ?::bigint[], ?::double precision[], ?::double precision[], "
    "?::numeric[], ?, ?, ?, ?)"
)


# Expired leases deleted; on PostgreSQL skipping the rows a live holder is renewing or
# settling this instant (they stay, and count).
_EXPIRE = {
    "sqlite": "DELETE FROM budget_reservations WHERE created < ?",
    "postgresql": "DELETE FROM budget_reservations WHERE id IN (SELECT id FROM "
    "budget_reservations WHERE created < ? FOR UPDATE SKIP LOCKED)",
}


def _raise(error: BudgetExceededError) -> NoReturn:
    raise error


def _over_budget(
    budget: Budget, spent: Decimal, reserved: Decimal, wanted: Decimal
) -> BudgetExceededError:
    return BudgetExceededError(
        f"Request refused by the {budget.name} budget: spent "
        f"{format_usd(spent)} and {format_usd(reserved)} reserved by running "
        f"requests, of a {format_usd(budget.limit_usd)} limit; this request "
        f"could cost up to {format_usd(wanted)}.",
        hint=f"Raise the limit ({budget.setting}), or lower the maximum output tokens.",
    )


def _over_member(
    member: str, limit: Decimal, spent: Decimal, reserved: Decimal, wanted: Decimal
) -> BudgetExceededError:
    return BudgetExceededError(
        f"Request refused by {member}'s monthly budget: spent {format_usd(spent)} and "
        f"{format_usd(reserved)} reserved by running requests, of a "
        f"{format_usd(limit)} limit; this request could cost up to "
        f"{format_usd(wanted)}.",
        hint=f"Raise it with `devflow team budget {member} USD`, or lower the maximum "
        "output tokens.",
    )


def calendar_start(name: str, now: float) -> float:
    """Unix time at which the current UTC day, ISO week (Monday) or calendar month began."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    if name == "daily":
        start = today
    elif name == "weekly":
        start = today - dt.timedelta(days=today.weekday())
    elif name == "monthly":
        start = today.replace(day=1)
    else:
        raise ValueError(f"unknown budget period {name!r}")
    return start.timestamp()


def _held(
    conn: Connection, cutoff: float | None, member: str | None = None
) -> tuple[Decimal, float | None]:
    """Money held by reservations whose lease is still running (of one member, or all; every
    one left when `cutoff` is None), and the oldest lease of any (to tell when expired ones
    are left to delete); one statement."""
    sql = (
        "SELECT dec_sum(CASE WHEN created >= ? THEN amount END), min(created) "
        "FROM budget_reservations"
    )
    since = float("-inf") if cutoff is None else cutoff
    if member is None:
        total, oldest = conn.execute(sql, (since,)).fetchone()
    else:
        total, oldest = conn.execute(sql + " WHERE member = ?", (since, member)).fetchone()
    return Decimal(total or 0), oldest


def _member_limit(conn: Connection, member: str) -> Decimal | None:
    """A member's monthly budget (None: none, or no such member any more)."""
    row = conn.execute(
        "SELECT budget_monthly_usd FROM members WHERE name = ?", (member,)
    ).fetchone()
    return Decimal(row[0]) if row is not None and row[0] is not None else None


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
