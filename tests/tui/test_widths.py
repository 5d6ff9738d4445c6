"""Issue 12, bug 10: text cut off at every width. At 80x24, 160x48 and 220x60 every pane shows
its text whole, wrapped, or abbreviated at a word, id or path boundary with "…"; nothing is cut
in the middle of a word, a model id, a path or a number."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Label, Static
from textual.widgets._footer import FooterKey

from devflow_tui.gateway.events import BudgetView, RoutingDecided
from devflow_tui.tui.app import DevflowApp
from devflow_tui.tui.fit import BoundaryWrapped, wrap_at_boundaries
from devflow_tui.tui.screens.history import HistoryScreen, ReportTable, escalation_rows
from devflow_tui.tui.screens.models import HEADERS, ModelsScreen
from devflow_tui.tui.widgets.budget_gauges import (
    BudgetGauge,
    BudgetGauges,
    GaugeLayout,
    gauge_layout,
)
from devflow_tui.tui.widgets.context_list import ContextList
from devflow_tui.tui.widgets.prompt_editor import PromptEditor
from devflow_tui.tui.widgets.routing_pane import RoutingPane
from tests.tui.recorded_gateway import ReplayGateway
from tests.tui.store_rows import seed_request
from tests.tui.test_dashboard import wait_for

MakeApp = Callable[..., DevflowApp]
SIZES = [
    pytest.param((80, 24), id="80x24"),
    pytest.param((160, 48), id="160x48"),
    pytest.param((220, 60), id="220x60"),
]
ELLIPSIS = "…"


def shown_lines(widget: Widget) -> list[str]:
    """The lines `widget` draws on screen now."""
    size = widget.size
    return [strip.text for strip in widget.render_lines(Region(0, 0, size.width, size.height))]


def on_screen(widget: Widget) -> list[str]:
    """The lines of the screen inside `widget`'s region, as the terminal shows them (its
    children included, cut where the screen cuts them)."""
    strips = widget.screen._compositor.render_strips()
    region = widget.region
    return [strip.text[region.x : region.right] for strip in strips[region.y : region.bottom]]


def whole_or_abbreviated(shown: str, full: str) -> bool:
    """`shown` is `full`, or a start of it that ends at a boundary followed by "…"; or, for a
    path, `full` with leading folders replaced by "…/"."""
    if shown == full:
        return True
    head, mid, tail = shown.partition(ELLIPSIS)
    if mid and tail and tail[0] in "/-_:" and ELLIPSIS not in tail:
        # Shortened in the middle, its end kept (a variant `…:free`, a date `…-2025`).
        middle = full[len(head) : len(full) - len(tail)]
        return (
            full.startswith(head)
            and full.endswith(tail)
            and bool(middle)
            and _at_boundary(head, middle)
        )
    if not shown.endswith(ELLIPSIS):
        if ELLIPSIS + "/" in shown:  # folders left out: the rest is the path's end, whole
            head, _, tail = shown.partition(ELLIPSIS + "/")
            return full.startswith(head) and full.endswith(tail) and "/" + tail in full
        return False
    prefix = shown[: -len(ELLIPSIS)]
    if ELLIPSIS + "/" in prefix:
        head, _, tail = prefix.partition(ELLIPSIS + "/")
        rest = full[full.index("/" + tail) + 1 + len(tail) :] if "/" + tail in full else None
        return rest is not None and full.startswith(head) and _at_boundary(tail, rest)
    if not full.startswith(prefix):
        return False
    return _at_boundary(prefix, full[len(prefix) :])


def _at_boundary(prefix: str, rest: str) -> bool:
    return not prefix or prefix[-1] in "/-_.: ,·" or rest[:1] in (" ", ",", "·", "(")


def test_the_check_itself() -> None:
    assert whole_or_abbreviated("google/gemini-2.5-…", "google/gemini-2.5-flash")
    assert not whole_or_abbreviated("google/gemi…", "google/gemini-2.5-flash")
    assert not whole_or_abbreviated("google/gemini-2.5-fla", "google/gemini-2.5-flash")
    assert whole_or_abbreviated("file …/b/c.py (4 lines)", "file a/b/c.py (4 lines)")
    assert not whole_or_abbreviated("file …/b/c.p", "file a/b/c.py (4 lines)")
    free = "meta-llama/llama-3.3-70b-instruct:free"
    assert whole_or_abbreviated("meta-llama/llama-3.…:free", free)
    assert not whole_or_abbreviated("meta-llama/lla…:free", free)
    assert not whole_or_abbreviated("meta-llama/…ree", free)


@pytest.mark.parametrize("size", SIZES)
async def test_models_screen_fits_every_width(
    make_app: MakeApp, replay: ReplayGateway, size: tuple[int, int]
) -> None:
    """The capabilities and health columns were cut at the table's edge (it scrolled sideways)."""
    for model in ("anthropic/claude-sonnet-4.5", "google/gemini-2.5-flash-lite-preview-09-2025"):
        for _ in range(3):
            replay.health.record_success(model, latency_ms=840.0, ttft_ms=200.0)
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await pilot.press("f5")
        await wait_for(
            lambda: isinstance(app.screen, ModelsScreen) and bool(app.screen.model_ids), pilot
        )
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        table = screen.query_one("#models-table", DataTable)
        # Every column is on screen: nothing hides past the right edge.
        assert table.virtual_size.width <= table.scrollable_content_region.width
        catalog = {model.id: model for model in screen.catalog_rows()}
        visible = "\n".join(shown_lines(table))
        # Headers whole ("capabili" was cut), and two models never read the same (Llama and
        # Llama :free were both `meta-llama/llama-3.3-…`).
        headers = [str(column.label) for column in table.columns.values()]
        assert headers == list(HEADERS)
        assert all(header in visible for header in HEADERS if header)
        shown_ids = [str(table.get_row_at(i)[1]) for i in range(len(screen.model_ids))]
        assert len(set(shown_ids)) == len(shown_ids), shown_ids
        for index, model_id in enumerate(screen.model_ids):
            cells = [str(cell) for cell in table.get_row_at(index)]
            full = screen.row_texts(catalog[model_id])
            for shown, whole in zip(cells, full, strict=True):
                assert whole_or_abbreviated(shown, whole), (shown, whole)
            if index < table.scrollable_content_region.height - 2:
                assert cells[1] in visible
        # Prices and context sizes are never abbreviated.
        for index in range(len(screen.model_ids)):
            cells = [str(cell) for cell in table.get_row_at(index)]
            assert not any(cell.endswith(ELLIPSIS) for cell in cells[3:6])
        # The full row of the selected model is shown, wrapped, under the table.
        detail = "\n".join(shown_lines(screen.query_one("#models-detail")))
        first = screen.model_ids[0]
        assert first in detail.replace("\n", "")


@pytest.mark.parametrize("size", SIZES)
async def test_context_pane_paths_and_token_counts_fit(
    make_app: MakeApp, tmp_path: Path, size: tuple[int, int]
) -> None:
    """Long paths and per-file token counts were cut at the pane's edge."""
    project = tmp_path / "project"
    folder = project / "src" / "devflow_example" / "deeply" / "nested"
    folder.mkdir(parents=True)
    (folder / "module_with_a_rather_long_name.py").write_text("x = 1\n" * 4000)
    app = make_app(project_dir=project, compact=False)
    async with app.run_test(size=size) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        context = app.dashboard.query_one(ContextList)
        context.add_spec("src/**/*.py")
        await wait_for(lambda: bool(context.preview), pilot)
        await pilot.pause()
        assert context.preview is not None
        (item,) = context.preview
        table = context.query_one("#context-table", DataTable)
        assert table.virtual_size.width <= table.scrollable_content_region.width
        # At 80 columns the status makes way for the source (it would go in front of it).
        cells = [str(cell) for cell in table.get_row_at(0)]
        tokens, source = cells[0], cells[-1]
        assert tokens == f"{item.tokens:,}"
        assert whole_or_abbreviated(source, item.name), source
        assert "module_with_a_rather_long_name.py" in item.name
        visible = "\n".join(shown_lines(table))
        assert tokens in visible and source in visible


async def test_footer_keys_show_at_80_columns(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await pilot.pause()
        footer = app.dashboard.query_one(Footer)
        shown = {
            key.key: key.region
            for key in footer.query(FooterKey)
            if key.region.width and footer.region.contains_region(key.region)
        }
        for key in ("f4", "f5", "f8"):
            assert key in shown and shown[key].right <= 80


async def routed_answer(app: DevflowApp, pilot: Pilot[None]) -> RoutingPane:
    """Send a coding prompt, wait for its answer to end, and return the routing pane."""
    await wait_for(lambda: app.gateway is not None, pilot)
    app.dashboard.query_one(PromptEditor).text = "write add"
    await pilot.press("enter")
    await wait_for(lambda: app.dashboard.current is not None and not app.dashboard.streaming, pilot)
    await pilot.pause()
    return app.dashboard.query_one(RoutingPane)


@pytest.mark.parametrize("size", SIZES)
async def test_routing_pane_scrolls_rather_than_clipping(
    make_app: MakeApp, replay: ReplayGateway, size: tuple[int, int]
) -> None:
    """At 80x24 the routing pane is short: its decision and attempts ran past its bottom edge
    and were clipped. It scrolls instead, so every line can be brought into view."""
    app = make_app()
    async with app.run_test(size=size) as pilot:
        routing = await routed_answer(app, pilot)
        routing.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        attempts = routing.query_one("#routing-attempts")
        assert routing.region.contains_region(attempts.region)
        routing.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        decision = routing.query_one("#routing-decision")
        assert decision.region.y >= routing.region.y


@pytest.mark.parametrize("size", SIZES)
async def test_routing_pane_draws_the_last_line_of_its_decision_and_attempts(
    make_app: MakeApp, replay: ReplayGateway, size: tuple[int, int]
) -> None:
    """QA2 #1: the decision and the attempts log were sized one line short of their wrapped
    text, so the end of the signals and the "✓ model: $cost · latency" line were never drawn,
    at any width."""
    app = make_app()
    async with app.run_test(size=size) as pilot:
        routing = await routed_answer(app, pilot)
        decision = routing.query_one("#routing-decision", Static)
        attempts = routing.query_one("#routing-attempts-text", Static)
        assert routing.lines[-1].startswith("✓ ")
        for widget, text in ((decision, routing.decision_text), (attempts, routing.lines)):
            whole = text if isinstance(text, str) else "\n".join(text)
            expected = wrap_at_boundaries(whole, widget.content_region.width).split("\n")
            assert widget.size.height == len(expected)  # a line for every line it wraps to
            # Scrolled to its last line (the pane scrolls when short), that line is drawn.
            if widget is decision:
                end = decision.virtual_region.bottom - routing.scrollable_content_region.height
                routing.scroll_to(y=max(0, end), animate=False, immediate=True)
            else:
                routing.scroll_end(animate=False, immediate=True)
                routing.query_one("#routing-attempts").scroll_end(animate=False, immediate=True)
            await pilot.pause()
            row = widget.region.bottom - 1
            assert routing.region.y <= row < routing.region.bottom
            strips = widget.screen._compositor.render_strips()
            shown = strips[row].text[widget.content_region.x : widget.content_region.right]
            assert shown.strip() == expected[-1].strip()


@pytest.mark.parametrize("size", SIZES)
async def test_routing_decision_breaks_model_ids_only_at_separators(
    make_app: MakeApp, replay: ReplayGateway, size: tuple[int, int]
) -> None:
    """At 80 columns "chosen: deepseek/deepseek-v3.2-exp" was folded as "…v3.2-ex" / "p". Every
    id in the decision and the candidates is drawn whole or broken after a separator."""
    app = make_app()
    async with app.run_test(size=size) as pilot:
        routing = await routed_answer(app, pilot)
        decision = routing.query_one("#routing-decision", Static)
        # A line that ends inside a model id ends at one of its separators, as drawn.
        drawn = [strip.text for strip in decision.render_lines(decision.region.reset_offset)]
        ids = [c.model for c in routing.candidates]
        assert ids and "chosen:" in "".join(drawn)
        assert not ids_broken_mid_name(drawn, ids), drawn


@pytest.mark.parametrize("size", SIZES)
async def test_history_titles_are_shortened_after_a_whole_word(
    make_app: MakeApp, replay: ReplayGateway, size: tuple[int, int]
) -> None:
    """At 80 columns the history table scrolled sideways and cut titles mid-word
    ("a haiku about au")."""
    titles = [
        "how do I reverse a list in Python without copying it twice",
        "a haiku about autumn leaves falling on a quiet pond at dusk",
    ]
    for title in titles:
        seed_request(replay.store, "openai/gpt-4o-mini", "0.0000138", prompt=title)
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await pilot.press("f4")
        await wait_for(
            lambda: isinstance(app.screen, HistoryScreen) and len(app.screen.conversation_ids) == 2,
            pilot,
        )
        await pilot.pause()
        table = app.screen.query_one("#history-table", DataTable)
        assert table.virtual_size.width <= table.scrollable_content_region.width
        shown = {str(table.get_row_at(i)[1]) for i in range(2)}
        for title in titles:
            assert any(whole_or_abbreviated(cell, title) for cell in shown), (shown, title)


def test_gauge_layout_keeps_the_amount_whole() -> None:
    """Money is never shortened: the bar, then the name, give way to the amount."""
    amount = "$0.00317 / $0.0035"
    wide = gauge_layout("total", amount, 60)
    assert wide.bar and wide.name == "total" and wide.name_width == 9
    # Too narrow for the bar: the name stays, the amount whole beside it.
    narrow = gauge_layout("total", amount, 27)
    assert not narrow.bar and narrow.name == "total"
    assert narrow.name_width + 1 + len(amount) <= 27
    # A long name is shortened at a separator before the amount loses a digit.
    key = gauge_layout("openrouter-key", "$74.50 / $100.00", 30)
    assert key.name == "openrouter-…" and key.name_width + 1 + len("$74.50 / $100.00") <= 30
    # ... and put above the amount rather than shown as a bare "…" or left out (QA2 #12e: a
    # bare amount could not be told from the other gauges').
    assert gauge_layout("openrouter-key", "$74.50 / $100.00", 27) == GaugeLayout(
        "openrouter-key", 27, False, False, stacked=True
    )
    assert gauge_layout("session", "$0.0000441 / $0.001", 26).stacked
    assert gauge_layout("total", amount, 21) == GaugeLayout("total", 21, False, False, True)
    # Narrower still, the amount wraps at its spaces, under its name.
    narrowest = gauge_layout("total", amount, 12)
    assert narrowest.wrap_amount and narrowest.stacked and narrowest.name == "total"


async def test_every_budget_gauge_shows_its_name_at_80_columns(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    """QA2 #12e: at 80x24 the session gauge read ` $0.0000441 / $0.001`, no name ("session"
    has no separator to shorten at): its name goes above the amount instead."""
    spent = {"monthly": "0.0137", "daily": "0.0137", "session": "0.0000441"}
    limits = {"monthly": "0.02", "daily": "0.015", "session": "0.001"}
    replay.budgets = [
        BudgetView(
            name=name,
            limit_usd=Decimal(limits[name]),
            spent_usd=Decimal(spent[name]),
            remaining_usd=Decimal(limits[name]) - Decimal(spent[name]),
        )
        for name in spent
    ]
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        gauges = app.dashboard.query_one(BudgetGauges)
        await wait_for(lambda: len(gauges.query(BudgetGauge)) == 3, pilot)
        await pilot.pause()
        for gauge, name in zip(gauges.query(BudgetGauge), spent, strict=True):
            text = " ".join(" ".join(on_screen(gauge)).split())
            assert name in text and f"${spent[name]} / ${limits[name]}" in text, text
        assert gauges.query(BudgetGauge)[2].has_class("-stacked")


@pytest.mark.parametrize("size", SIZES)
async def test_budget_gauge_shows_the_whole_limit(
    make_app: MakeApp, replay: ReplayGateway, size: tuple[int, int]
) -> None:
    """At 80x24 a $0.0035 budget read `$0.00317 / $0.003`: the limit's last digit was cut
    and the budget looked overspent."""
    replay.budgets = [
        BudgetView(
            name="total",
            limit_usd=Decimal("0.0035"),
            spent_usd=Decimal("0.00317"),
            remaining_usd=Decimal("0.00033"),
        ),
        BudgetView(
            name="openrouter-key",
            limit_usd=Decimal("100.00"),
            spent_usd=Decimal("25.50"),
            remaining_usd=Decimal("74.50"),
        ),
    ]
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        gauges = app.dashboard.query_one(BudgetGauges)
        await wait_for(lambda: len(gauges.query(BudgetGauge)) == 2, pilot)
        await pilot.pause()
        for gauge, amount in zip(
            gauges.query(BudgetGauge), ("$0.00317 / $0.0035", "$25.50 / $100.00"), strict=True
        ):
            line = "".join(on_screen(gauge))
            assert amount in line, (line, amount)
            name = gauge.query_one(".budget-name", Label)
            if name.display:
                assert whole_or_abbreviated(str(name.content), gauge.view.name)
        if size[0] >= 160:  # room for everything: the bar and its percentage too
            assert "91%" in "".join(on_screen(gauges.query(BudgetGauge).first()))


def ids_broken_mid_name(lines: list[str], ids: list[str]) -> list[tuple[str, str]]:
    """Pairs of consecutive lines where a model id runs from one into the next without a
    separator at the break (`…deepseek-v3.2-ex` / `p`)."""
    broken = []
    for line, following in itertools.pairwise(lines):
        if not line.split() or not following.split():
            continue
        last, first = line.split()[-1], following.split()[0]
        joined = last + first
        if last[-1] not in "/-_.:" and any(joined in model for model in ids):
            broken.append((line, following))
    return broken


def test_wrapping_when_drawn_keeps_ids_whole_at_any_width() -> None:
    """The pane's text used to be wrapped for the width the pane had when a decision arrived;
    the scrollbar that appeared next took two cells and Rich folded the lines mid-id
    (`deepseek-v3.2-ex` / `p`). `BoundaryWrapped` wraps for the width it is drawn at."""
    console = Console(width=200, color_system=None)
    decision = (
        "chosen: deepseek/deepseek-v3.2-exp\nfallbacks: meta-llama/llama-3.3-70b-instruct:free"
    )
    ids = ["deepseek/deepseek-v3.2-exp", "meta-llama/llama-3.3-70b-instruct:free"]
    for width in range(12, 60):
        with console.capture() as capture:
            console.print(BoundaryWrapped(decision), width=width)
        lines = capture.get().rstrip("\n").split("\n")
        assert all(len(line) <= width for line in lines), (width, lines)
        assert not ids_broken_mid_name(lines, ids), (width, lines)
        # Nothing is lost: only spaces and line breaks differ.
        assert "".join("".join(lines).split()) == "".join(decision.split())


async def test_budget_and_escalation_notes_show_without_scrolling(make_app: MakeApp) -> None:
    """At 80x24 the notes (models the budget ruled out, an escalation's "not stronger than")
    came after the fallbacks and signals, below the routing pane's fold."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        routing = await routed_answer(app, pilot)
        decided = RoutingDecided(
            request_id="r2",
            task_type="analysis",
            complexity="medium",
            signals=tuple(f"signal number {n} with some words" for n in range(8)),
            model="deepseek/deepseek-v3.2-exp",
            candidates=tuple(routing.candidates),
            fallbacks=("qwen/qwen3-coder", "meta-llama/llama-3.3-70b-instruct:free"),
            warnings=(
                "8 of 19 models ruled out: 8 by the budget",
                "7 not stronger than the model that answered first",
            ),
        )
        routing.reset()
        routing.show_decision(decided)
        routing.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        # The pane's border and scrollbar left out, its lines joined.
        lines = [line.strip("│▁▂▃▄▅▆▇█ ") for line in on_screen(routing)]
        shown = " ".join(" ".join(lines).split())
        assert "by the budget" in shown and "not stronger than" in shown, shown


def _seed_escalations(replay: ReplayGateway) -> None:
    """Answers by paid and free Llama, each re-asked with a stronger model (f12)."""
    for model in ("meta-llama/llama-3.3-70b-instruct", "meta-llama/llama-3.3-70b-instruct:free"):
        for n in range(4):
            first, _ = seed_request(replay.store, model, "0.0000101", prompt=f"{model} {n}")
            seed_request(
                replay.store,
                "deepseek/deepseek-v3.2-exp",
                "0.000219",
                latency_ms=4900.0,
                escalation_of=first,
            )


@pytest.mark.parametrize("size", SIZES)
async def test_report_fits_scrolls_and_shows_escalations(
    make_app: MakeApp, replay: ReplayGateway, size: tuple[int, int]
) -> None:
    """Finding 15 and 18: at 80x24 the per-task table was cut sideways (`2.`), the
    recommendation below the fold could not be reached with the keys, and the escalation rate
    `devflow report` prints was missing from the dashboard's report."""
    _seed_escalations(replay)
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await pilot.press("f4")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await wait_for(lambda: screen.report is not None, pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        report = screen.report
        assert report is not None and report.escalations and report.recommendations
        body = screen.query_one("#report-body", VerticalScroll)
        assert app.focused is body
        for table in screen.query(ReportTable):
            if not table.display:
                continue
            # Every column on screen, every figure whole, ids whole or shortened at a boundary.
            assert table.virtual_size.width <= table.region.width, table.id
            keys = [g.key for g in report.by_model + report.by_task] + [
                e.model for e in report.escalations
            ]
            shown = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
            assert len(set(shown)) == len(shown), shown
            for cell in shown:
                assert any(whole_or_abbreviated(cell, key) for key in keys), cell
            for i in range(table.row_count):
                assert not any(str(c).endswith(ELLIPSIS) for c in table.get_row_at(i)[1:])
        # The escalations are the report's own figures, one row per model and task type.
        escalations = screen.query_one("#report-escalations", ReportTable)
        assert escalations.row_count == len(report.escalations) == 2
        rows = [[str(c) for c in escalations.get_row_at(i)] for i in range(2)]
        assert [row[1:] for row in rows] == [list(row[1:]) for row in escalation_rows(report)]
        assert all(row[2:] == ["4", "4", "100%"] for row in rows)
        # The keys scroll the report to its end: the last recommendation is in view, whole.
        for key in ("pagedown", "down", "end"):
            await pilot.press("home")
            await pilot.press(key)
            await pilot.pause()
            if body.max_scroll_y:
                assert body.scroll_y > 0, key
        recommendations = screen.query_one("#report-recommendations", Static)
        assert body.region.contains_region(recommendations.region)
        text = " ".join(" ".join(line.strip() for line in on_screen(recommendations)).split())
        assert report.recommendations[-1] in text


@pytest.mark.parametrize("screen_key", ["f4", "f5"])
async def test_footer_palette_key_covers_the_right_edge(make_app: MakeApp, screen_key: str) -> None:
    """At 80 columns the keys that do not fit ran on under the docked "^p palette" key and
    showed through the one-cell gap its compact margin left at the right edge
    (`^p paletteM`, `^p palettet`)."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await pilot.press(screen_key)
        await pilot.pause()
        footer = app.screen.query_one(Footer)
        palette = next(key for key in footer.query(FooterKey) if key.key == "ctrl+p")
        assert palette.region.right == 80
        assert on_screen(footer)[0].rstrip().endswith("palette")
