"""Issue 13, item 3: the dashboard, pointed at the team database, shows the team's spend and
each member's. Members are added by the code `devflow team add` runs (`Members.add`) and their
requests recorded by the store's record path, or sent through `devflow serve` (running inside
the dashboard) to the simulated OpenRouter; on a SQLite file and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Footer, Static
from textual.widgets._footer import FooterKey

from devflow_tui.accounting.budget import calendar_start
from devflow_tui.accounting.members import Members
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.compose import open_gateway
from devflow_tui.config import Settings, load_settings
from devflow_tui.serve.server import start_embedded
from devflow_tui.sim import SimServer
from devflow_tui.tui.app import DevflowApp
from devflow_tui.tui.commands import DevflowCommands
from devflow_tui.tui.screens.team import EMPTY_HINT, TeamScreen, member_cells
from devflow_tui.tui.team_spend import WINDOWS
from devflow_tui.tui.widgets.budget_gauges import BudgetGauge
from tests.pg_fixture import pg_cluster, pg_template, pg_url  # noqa: F401
from tests.sim_fixture import sim  # noqa: F401
from tests.tui.recorded_gateway import ReplayGateway
from tests.tui.store_rows import seed_request
from tests.tui.test_dashboard import wait_for
from tests.tui.test_widths import ELLIPSIS, SIZES, shown_lines, whole_or_abbreviated

MakeApp = Callable[..., DevflowApp]
MODEL = "openai/gpt-4o-mini"
# Names as long as `devflow team add` allows (40 characters), to be shortened at 80 columns.
LONG = "ada.lovelace-analytical-engine-notes-g"
LONGER = "grace-hopper_cobol-compiler.team-lead"


def footer_keys(app: DevflowApp) -> set[str]:
    """The keys the footer of the screen on top shows inside its width."""
    footer = app.screen.query_one(Footer)
    return {
        key.key
        for key in footer.query(FooterKey)
        if key.region.width and footer.region.contains_region(key.region)
    }


async def open_team(app: DevflowApp, pilot: Pilot[None], rows: int) -> TeamScreen:
    """Wait for the dashboard to find the members, press F10 and wait for `rows` members."""
    await wait_for(lambda: app.has_team, pilot)
    await pilot.press("f10")
    await wait_for(
        lambda: isinstance(app.screen, TeamScreen)
        and app.screen.spend is not None
        and len(app.screen.spend.members) == rows
        and app.screen.query_one("#team-table", DataTable).row_count == rows,
        pilot,
    )
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, TeamScreen)
    return screen


def _words_whole(shown: list[str], full: str) -> None:
    """Every word drawn is a whole word of `full`: wrapped at spaces, never cut inside one."""
    words = set(full.split())
    for line in shown:
        for word in line.split():
            assert word in words, (word, line, full)


@pytest.mark.parametrize("size", SIZES)
async def test_team_screen_fits_every_width(
    make_app: MakeApp, replay: ReplayGateway, size: tuple[int, int]
) -> None:
    members = Members(replay.store)
    members.add(LONG, Decimal("25"))
    members.add(LONGER)
    members.add("bob", Decimal("0.00001"))
    for member, cost in ((LONG, "0.0123"), (LONG, "0.0100"), ("bob", "0.0000138"), (None, "0.5")):
        seed_request(replay.store, MODEL, cost, member=member, client="claude-code")
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await wait_for(lambda: app.has_team, pilot)
        await pilot.pause()
        # With members the dashboard's footer offers F10 where there is room, and at 80
        # columns it still shows the keys a new user needs first.
        offered = footer_keys(app)
        assert {"f4", "f5", "f8"} <= offered
        assert "f10" in offered or size[0] < 160
        screen = await open_team(app, pilot, rows=3)
        assert screen.spend is not None
        table = screen.query_one("#team-table", DataTable)
        # Every column is on screen: nothing hides past the right edge.
        assert table.virtual_size.width <= table.scrollable_content_region.width
        visible = "\n".join(shown_lines(table))
        by_name = {row.name: row for row in screen.spend.members}
        assert set(by_name) == {LONG, LONGER, "bob"}
        for index in range(table.row_count):
            cells = [str(cell) for cell in table.get_row_at(index)]
            name = next(n for n in by_name if whole_or_abbreviated(cells[0], n))
            full = member_cells(by_name[name])
            for shown, whole in zip(cells, full, strict=True):
                assert whole_or_abbreviated(shown, whole), (shown, whole)
            # Counts and amounts are never shortened, and every cell is drawn.
            assert not any(cell.endswith(ELLIPSIS) for cell in cells[1:])
            for cell in cells:
                assert cell in visible, (cell, visible)
        if size[0] >= 160:
            assert all(str(table.get_row_at(i)[0]) in by_name for i in range(3))
        # The figures themselves: ada's two requests, bob's one, nothing for grace.
        assert [by_name[LONG].requests, by_name["bob"].requests, by_name[LONGER].requests] == [
            2,
            1,
            0,
        ]
        assert by_name[LONG].month_usd == Decimal("0.0223")
        assert by_name[LONG].remaining_usd == Decimal("24.9777")
        assert by_name["bob"].remaining_usd == 0  # over budget: nothing left, never negative
        assert member_cells(by_name[LONGER])[4:] == ("none", "—")
        # Lines of text wrap at spaces; the gauges for today and this month are on screen.
        for selector in ("#team-totals", "#team-caption"):
            text = screen.query_one(selector, Static)
            _words_whole(shown_lines(text), str(text.content))
            assert screen.region.contains_region(text.region)
        assert "4 requests" in str(screen.query_one("#team-totals", Static).content)
        gauges = list(screen.query(BudgetGauge))
        assert [g.view.name for g in gauges] == ["today", "month"]
        for gauge in gauges:
            assert screen.region.contains_region(gauge.region)
        # The footer offers F10 (to close it again) where the width allows.
        if size[0] >= 160:
            assert "f10" in footer_keys(app)
        await pilot.press("f10")
        await wait_for(lambda: app.screen is app.dashboard, pilot)


async def test_without_members_there_is_no_team_view(make_app: MakeApp) -> None:
    """A single user's dashboard is unchanged: no F10 in the footer, and F10 does nothing."""
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await pilot.pause()
        assert not app.has_team
        assert "f10" not in footer_keys(app)
        await pilot.press("f10")
        await pilot.pause()
        assert app.screen is app.dashboard
        # Nor does the command palette offer it.
        palette = DevflowCommands(app.dashboard)
        offered = [hit.text async for hit in palette.discover()]
        assert offered and not any("Team" in str(text) for text in offered)


async def test_the_palette_offers_the_team_view_with_members(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    Members(replay.store).add("ada")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.has_team, pilot)
        palette = DevflowCommands(app.dashboard)
        offered = [str(hit.text) async for hit in palette.discover()]
        assert "Team (f10)" in offered


async def test_members_gone_leave_a_one_line_hint(make_app: MakeApp, replay: ReplayGateway) -> None:
    """The last member removed while the screen shows (with no recorded requests of theirs):
    one line saying how to add one, not an empty table."""
    Members(replay.store).add("ada")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_team(app, pilot, rows=1)
        Members(replay.store).remove("ada")
        status = screen.query_one("#team-status", Static)
        await wait_for(lambda: status.display and str(status.content) == EMPTY_HINT, pilot)
        await pilot.pause()
        assert len(shown_lines(status)) == 1
        for hidden in ("#team-table", "#team-periods", "#team-totals", "#team-caption"):
            assert not screen.query_one(hidden).display


async def test_removed_members_keep_their_recorded_spend(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    members = Members(replay.store)
    members.add("ada")
    members.add("bob", Decimal("10"))
    seed_request(replay.store, MODEL, "0.25", member="ada")
    members.remove("ada")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_team(app, pilot, rows=2)
        assert screen.spend is not None
        bob, ada = screen.spend.members  # current members first, removed ones after
        assert (bob.name, bob.removed) == ("bob", False)
        assert (ada.name, ada.removed, ada.requests) == ("ada", True, 1)
        assert ada.month_usd == Decimal("0.25")
        assert member_cells(ada)[4:] == ("removed", "—")


def _settings(sim: SimServer, fake_key: str, **extra: object) -> Settings:  # noqa: F811
    return load_settings(
        cli={
            "base_url": sim.base_url,
            "api_key": fake_key,
            "serve": {"port": 0},
            "budget": {"daily_usd": "5", "monthly_usd": "40"},
            **extra,
        }
    )


def _app(settings: Settings) -> DevflowApp:
    async def factory(current: Settings, *, demo: bool | None = None) -> object:
        return await open_gateway(current, demo=False)

    return DevflowApp(
        settings,
        gateway_factory=factory,  # type: ignore[arg-type]
        proxy_starter=start_embedded,
    )


async def test_member_spend_through_the_proxy_shows_live(sim: SimServer, fake_key: str) -> None:  # noqa: F811
    """Two members send through `devflow serve` inside the dashboard while the team screen is
    open: their rows count each request as it is recorded, with the cost the store holds, and
    the team's gauges read the team's daily and monthly budgets."""
    settings = _settings(sim, fake_key)
    with AnalyticsStore(settings.db_path) as store:
        tokens = {
            "ada": Members(store).add("ada", Decimal("1")),
            "bob": Members(store).add("bob"),
        }
    app = _app(settings)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await app.start_proxy()  # what `s` on the proxy screen does: serve on this gateway
        assert app.proxy is not None
        screen = await open_team(app, pilot, rows=2)
        assert screen.spend is not None
        assert [m.requests for m in screen.spend.members] == [0, 0]
        # Different questions: the response cache would answer a repeated one at $0.
        async with httpx.AsyncClient(timeout=30) as client:
            for i, name in enumerate(("ada", "ada", "bob")):
                response = await client.post(
                    f"{app.proxy.url}/v1/chat/completions",
                    headers={"Authorization": f"Bearer {tokens[name]}"},
                    json={
                        "model": MODEL,
                        "messages": [{"role": "user", "content": f"question {i}"}],
                    },
                )
                assert response.status_code == 200

        def counted() -> bool:
            spend = screen.spend
            return spend is not None and [m.requests for m in spend.members] == [2, 1]

        await wait_for(counted, pilot)
        await pilot.pause()
        assert screen.spend is not None
        gateway = app.gateway
        assert gateway is not None
        rows = [r for r in gateway.store.recent_requests(10) if r.status != "running"]
        cost = {
            name: sum((r.cost_usd or Decimal(0) for r in rows if r.member == name), Decimal(0))
            for name in ("ada", "bob")
        }
        ada, bob = screen.spend.members
        assert cost["ada"] > 0 and cost["bob"] > 0
        assert (ada.spent_usd, ada.month_usd) == (cost["ada"], cost["ada"])
        assert ada.remaining_usd == Decimal(1) - cost["ada"]
        assert (bob.spent_usd, bob.budget_usd) == (cost["bob"], None)
        today, month = screen.query(BudgetGauge)
        assert (today.view.limit_usd, month.view.limit_usd) == (Decimal(5), Decimal(40))
        assert today.view.spent_usd == cost["ada"] + cost["bob"] == month.view.spent_usd
        table = screen.query_one("#team-table", DataTable)
        assert [str(c) for c in table.get_row_at(0)] == list(member_cells(ada))
        await app.toggle_proxy()
        assert app.proxy is None


async def test_team_screen_on_postgresql(
    sim: SimServer,  # noqa: F811
    fake_key: str,
    pg_url: str,  # noqa: F811
) -> None:
    """`DEVFLOW_DATABASE_URL` pointing at the team's PostgreSQL: the same screen, the same
    figures, read from there."""
    settings = _settings(sim, fake_key, database_url=pg_url)
    app = _app(settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        gateway = app.gateway
        assert gateway is not None
        Members(gateway.store).add("ada", Decimal("2"))
        seed_request(gateway.store, MODEL, "0.125", member="ada", client="claude-code")
        seed_request(gateway.store, MODEL, "0.5")
        app.check_team()
        screen = await open_team(app, pilot, rows=1)
        assert screen.spend is not None
        (ada,) = screen.spend.members
        assert (ada.requests, ada.month_usd, ada.remaining_usd) == (
            1,
            Decimal("0.125"),
            Decimal("1.875"),
        )
        month = gateway.store.spend_since(calendar_start("monthly", gateway.store.clock()))
        assert screen.spend.month.spent_usd == month == Decimal("0.625")
        assert screen.spend.without_member is not None
        assert screen.spend.without_member.requests == 1


async def test_a_failed_read_is_shown_and_the_last_figures_stay(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    """The database going away (a closed store here; a PostgreSQL server down for real) is a
    line on the screen, never a crash, and what was read before stays."""
    Members(replay.store).add("ada")
    seed_request(replay.store, MODEL, "0.25", member="ada")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_team(app, pilot, rows=1)
        replay.store.close()
        status = screen.query_one("#team-status", Static)
        await wait_for(lambda: status.display, pilot)
        assert str(status.content).startswith("Could not read the team's spend")
        table = screen.query_one("#team-table", DataTable)
        assert table.display and str(table.get_row_at(0)[0]) == "ada"


async def test_t_changes_the_window_of_requests_and_spend(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    """`t` goes round 24 hours, 7 days and 30 days for the report's columns."""
    members = Members(replay.store)
    members.add("ada")
    members.add("bob")
    now = replay.store.clock()
    for member, days_ago in (("ada", 10), ("ada", 0), ("bob", 2)):
        seed_request(replay.store, MODEL, "0.01", member=member, ts=now - days_ago * 86_400 - 60)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_team(app, pilot, rows=2)
        caption = screen.query_one("#team-caption", Static)
        seen = []
        for _ in range(4):
            spend = screen.spend
            assert spend is not None
            seen.append((spend.window, [m.requests for m in spend.members]))
            assert f"over the last {WINDOWS[spend.window]};" in str(caption.content)
            await pilot.press("t")
            await wait_for(
                lambda: screen.spend is not None and screen.spend.window == screen.window, pilot
            )
        assert seen == [("30d", [2, 1]), ("24h", [1, 0]), ("7d", [1, 1]), ("30d", [2, 1])]
