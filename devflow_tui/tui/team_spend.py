"""The numbers behind the team screen: the team's spend today and this month against its
budgets, and each member's requests, spend, monthly budget and what is left of it.

Nothing is computed here: every figure is read from the one place that owns it. Spend today
and this month is the budget's own reading (`BudgetManager.status`, carried by the report), or,
for a period without a budget, the same store query it runs; requests and spend over the
report's window are the report's per-member groups (`devflow report --by member`); a member's
monthly budget, spend this month and what is left are `devflow team list`'s (`Members`).
Blocking database work: call `read_team_spend` from a thread worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from devflow_tui.tui.gateway_port import dashboard_report

if TYPE_CHECKING:
    from devflow_tui.accounting.records import BudgetView
    from devflow_tui.accounting.reports import GroupStats
    from devflow_tui.accounting.store import AnalyticsStore
    from devflow_tui.tui.gateway_port import DashboardGateway

# Report windows of the requests and spend columns, and how the screen names them.
WINDOWS = {"24h": "24 hours", "7d": "7 days", "30d": "30 days"}
WINDOW = "30d"  # the one shown first
NO_MEMBER = "(no member)"  # the report's group of requests sent without a member token


@dataclass(frozen=True)
class MemberSpend:
    """One member's row: the report's figures over its window, the budget's for this month."""

    name: str
    requests: int  # over the report window
    spent_usd: Decimal | None  # over the report window; None: unknown
    month_usd: Decimal  # this calendar month (UTC), what the monthly budget counts
    budget_usd: Decimal | None  # None: no monthly budget
    remaining_usd: Decimal | None  # None: no monthly budget
    removed: bool = False  # `devflow team remove`d: their recorded spend stays


@dataclass(frozen=True)
class TeamSpend:
    """The team's spend and each member's, as the team screen shows them."""

    window: str
    today: BudgetView  # named "today"; no limit without a daily budget
    month: BudgetView  # named "month"; no limit without a monthly budget
    totals: GroupStats  # every request of the window
    without_member: GroupStats | None  # requests sent without a member token
    members: list[MemberSpend]

    @property
    def has_members(self) -> bool:
        return bool(self.members)


def has_members(store: AnalyticsStore) -> bool:
    """Whether the database has team members (`devflow team add`)."""
    from devflow_tui.accounting.members import Members

    return Members(store).exist()


def _period(
    store: AnalyticsStore, views: list[BudgetView], budget: str, label: str, now: float
) -> BudgetView:
    """The team's budget `budget` ("daily", "monthly") as read by the budget manager, or,
    without one, the spend of that period by the store query the manager runs."""
    from devflow_tui.accounting.budget import calendar_start
    from devflow_tui.accounting.records import BudgetView

    view = next((v for v in views if v.name == budget), None)
    if view is None:
        spent = store.spend_since(calendar_start(budget, now))
        return BudgetView(name=label, limit_usd=None, spent_usd=spent, remaining_usd=None)
    return view.model_copy(update={"name": label})


def read_team_spend(gateway: DashboardGateway, *, now: float, window: str = WINDOW) -> TeamSpend:
    """Everything the team screen shows, with requests and spend over the report window
    `window` ("24h", "7d", "30d"), read once (blocking: call it from a thread)."""
    from devflow_tui.accounting.budget import calendar_start
    from devflow_tui.accounting.members import Members

    store = gateway.store
    report = dashboard_report(gateway, since=window, now=now)
    listed = {m.name: m for m in Members(store, clock=lambda: now).list()}
    groups = {g.key: g for g in report.by_member}
    rows = []
    for name in sorted(listed.keys() | groups.keys() - {NO_MEMBER}):
        group, member = groups.get(name), listed.get(name)
        rows.append(
            MemberSpend(
                name=name,
                requests=group.requests if group is not None else 0,
                spent_usd=group.cost_usd if group is not None else Decimal(0),
                month_usd=member.spent_this_month_usd
                if member is not None
                else store.member_spend_since(name, calendar_start("monthly", now)),
                budget_usd=member.budget_monthly_usd if member is not None else None,
                remaining_usd=member.remaining_usd if member is not None else None,
                removed=member is None,
            )
        )
    # Current members first, by name; removed ones (still in the report) after them.
    rows.sort(key=lambda row: (row.removed, row.name))
    return TeamSpend(
        window=window,
        today=_period(store, report.budgets, "daily", "today", now),
        month=_period(store, report.budgets, "monthly", "month", now),
        totals=report.totals,
        without_member=groups.get(NO_MEMBER),
        members=rows,
    )
