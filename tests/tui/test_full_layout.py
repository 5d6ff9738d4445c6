"""The full layout (F6) in a small terminal. Its panes' minimum widths added up to 92 columns,
so at 80 the right pane was cut off; now it fits down to 80 columns with narrower side panes,
nothing cut, and below that F6 says why it cannot and what to do."""

from __future__ import annotations

from collections.abc import Callable

from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, Label, Static, Tabs

from devflow_tui.tui.app import COMPACT_BELOW, NARROW_FULL_NEEDS, DevflowApp
from devflow_tui.tui.widgets.context_list import CONTEXT_HINTS
from devflow_tui.tui.widgets.prompt_editor import PLACEHOLDERS, PromptEditor
from tests.tui.test_dashboard import wait_for
from tests.tui.test_widths import on_screen

MakeApp = Callable[..., DevflowApp]
PANES = ("#left", "#center", "#right")


async def full_layout(app: DevflowApp, pilot: Pilot[None]) -> list[Widget]:
    await wait_for(lambda: app.gateway is not None, pilot)
    if app.compact:
        await pilot.press("f6")
    await pilot.pause()
    assert not app.compact
    return [app.dashboard.query_one(pane) for pane in PANES]


def drawn(widget: Widget, *, inside: bool = False) -> str:
    """What `widget` shows on screen (`inside`: within its border and padding), its lines
    joined by a space."""
    if inside:
        strips = widget.screen._compositor.render_strips()
        box = widget.content_region
        lines = [strip.text[box.x : box.right] for strip in strips[box.y : box.bottom]]
    else:
        lines = on_screen(widget)
    return " ".join(" ".join(line.split()) for line in lines if line.strip())


def min_widths(panes: list[Widget]) -> int:
    total = 0
    for pane in panes:
        assert pane.styles.min_width is not None
        total += int(pane.styles.min_width.value)
    return total


async def test_f6_at_80_columns_fits_the_three_panes_with_nothing_cut(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.compact
        left, center, right = await full_layout(app, pilot)
        assert app.dashboard.has_class("-narrow")
        # Side by side, edge to edge, inside the 80 columns.
        assert left.region.x == 0 and left.region.right == center.region.x
        assert center.region.right == right.region.x and right.region.right == 80
        assert min(p.region.width for p in (left, center, right)) >= 24
        assert min_widths([left, center, right]) == NARROW_FULL_NEEDS
        # Every label, hint and tab drawn whole (wrapped at a word at most).
        for label in app.dashboard.query("#overrides Label").results(Label):
            assert drawn(label) == str(label.content), drawn(label)
        legend = app.dashboard.query_one("#latency-legend", Static)
        assert drawn(legend) == str(legend.content)
        assert "Latency Tokens/s Spend" in drawn(app.dashboard.query_one("#charts Tabs", Tabs))
        field = app.dashboard.query_one("#context-input", Input)
        assert field.placeholder in CONTEXT_HINTS
        assert drawn(field, inside=True) == field.placeholder
        editor = app.dashboard.query_one(PromptEditor)
        assert editor.placeholder in PLACEHOLDERS
        assert drawn(editor, inside=True) == editor.placeholder
        routing = app.dashboard.query_one("#routing")
        assert "Send a prompt to see how it is routed." in drawn(routing, inside=True)


async def test_the_full_layout_fits_at_every_width_from_80_columns(make_app: MakeApp) -> None:
    """Forced below COMPACT_BELOW it takes the narrow sizes; from there on its own shares."""
    app = make_app()
    async with app.run_test(size=(NARROW_FULL_NEEDS, 30)) as pilot:
        left, center, right = await full_layout(app, pilot)
        for width in (80, 85, 91, 92, 93, 94, 100, COMPACT_BELOW - 1, COMPACT_BELOW, 121):
            await pilot.resize_terminal(width, 30)
            await wait_for(lambda: app.size.width == width, pilot)  # noqa: B023
            await pilot.pause()
            assert not app.compact
            assert app.dashboard.has_class("-narrow") == (width < COMPACT_BELOW)
            assert left.region.x == 0 and left.region.right == center.region.x, width
            assert center.region.right == right.region.x and right.region.right == width, width


async def test_f6_below_80_columns_says_why_and_what_to_do(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(70, 24)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await pilot.press("f6")
        await pilot.pause()
        assert app.compact and not app.dashboard.has_class("-narrow")
        said = [n.message for n in app._notifications]
        assert any("needs 80 columns; this terminal has 70" in m and "Widen" in m for m in said)
        # Asked for at 80 and then narrowed to 70: compact until it is wide enough again.
        await pilot.resize_terminal(80, 24)
        await pilot.press("f6")
        await wait_for(lambda: not app.compact, pilot)
        await pilot.resize_terminal(70, 24)
        await wait_for(lambda: app.compact, pilot)
        await pilot.resize_terminal(80, 24)
        await wait_for(lambda: not app.compact, pilot)


async def test_context_and_overrides_keys_show_their_pane_in_compact_mode(
    make_app: MakeApp,
) -> None:
    """QA2 #8: at 80x24 (compact) ctrl+g and ctrl+o focused the hidden left column, and what
    was typed next went into it unseen. They switch to the full layout, whose pane shows."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        for key, selector in (("ctrl+g", "#context-input"), ("ctrl+o", "#override-model")):
            if not app.compact:  # back to compact after the first key
                await pilot.press("f6")
            assert app.compact
            await pilot.press(key)
            field = app.dashboard.query_one(selector)
            await wait_for(lambda: app.focused is field, pilot)  # noqa: B023
            assert not app.compact
            assert field.region.width > 0 and app.screen.region.contains_region(field.region)


async def test_context_and_overrides_keys_say_why_when_the_pane_cannot_show(
    make_app: MakeApp,
) -> None:
    app = make_app()
    async with app.run_test(size=(70, 24)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        editor = app.dashboard.query_one(PromptEditor)
        for key in ("ctrl+g", "ctrl+o"):
            await pilot.press(key)
            await pilot.pause()
            assert app.compact and app.focused is editor
        said = [n.message for n in app._notifications]
        why = "needs the full layout: 80 columns, this terminal has 70"
        assert sum(why in message for message in said) == 2
