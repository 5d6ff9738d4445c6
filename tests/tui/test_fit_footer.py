"""The footer at 80 columns: the keys that do not fit were cut under "^p palette", gone without
a word. Now every key drawn is whole, the rest are counted ("+N more") next to the palette, and
each left-out key is still listed (palette, help) and still works."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from textual.pilot import Pilot
from textual.widgets._footer import FooterKey, FooterLabel

from devflow_tui.tui.actions import ACTIONS
from devflow_tui.tui.app import DevflowApp
from devflow_tui.tui.commands import DevflowCommands
from devflow_tui.tui.screens.dialogs import TextDialog
from devflow_tui.tui.screens.help import help_markdown
from devflow_tui.tui.widgets.fit_footer import FitFooter
from tests.tui.test_dashboard import wait_for
from tests.tui.test_widths import on_screen

MakeApp = Callable[..., DevflowApp]


def footer_line(app: DevflowApp) -> str:
    return on_screen(app.screen.query_one(FitFooter))[0]


def drawn(footer: FitFooter) -> list[str]:
    """The footer's items as drawn, left to right (keys as "key description")."""
    items = [
        child
        for child in footer.query_children()
        if child.display and isinstance(child, FooterKey | FooterLabel)
    ]
    items.sort(key=lambda widget: widget.region.x)
    return [
        f"{item.key_display} {item.description}"
        if isinstance(item, FooterKey)
        else str(item.content)
        for item in items
    ]


async def ready(app: DevflowApp, pilot: Pilot[None]) -> FitFooter:
    await wait_for(lambda: app.gateway is not None, pilot)
    await pilot.pause()
    footer = app.screen.query_one(FitFooter)
    await wait_for(lambda: bool(footer.query_children(FooterKey)), pilot)
    await pilot.pause()
    return footer


async def test_at_80_columns_keys_are_whole_and_the_rest_counted(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        footer = await ready(app, pilot)
        line = footer_line(app)
        hidden = footer.hidden_keys
        assert hidden, line  # 80 columns cannot hold them all: some are left out...
        items = drawn(footer)
        assert items[-2:] == [f"+{len(hidden)} more", "^p palette"]
        # ...and what is drawn is each key whole, one after the other, nothing under the palette.
        assert " ".join(line.split()) == " ".join(items[:-1]) + " ▏" + items[-1], line
        shown = [k for k in footer.query_children(FooterKey) if k.display]
        for left, right in itertools.pairwise(shown):
            assert left.region.right < right.region.x
        # The order is the app's: the left-out keys are the last ones, F1 (help) is drawn.
        footer_keys = [a.key for a in ACTIONS if a.show and app.check_action(a.name, ())]
        assert footer_keys[-len(hidden) :] == hidden
        assert "f1" not in hidden
        # Each left-out key is in the help and in the palette, and still works.
        help_text = help_markdown()
        titles = {f"{a.title} ({a.key})" for a in DevflowCommands(app.screen)._offered()}
        for key in hidden:
            action = next(a for a in ACTIONS if a.key == key)
            assert f"`{key}`" in help_text and f"{action.title} ({key})" in titles
        assert "f9" in hidden
        await pilot.press("f9")
        await wait_for(lambda: isinstance(app.screen, TextDialog), pilot)


async def test_a_wide_terminal_shows_every_key_and_no_count(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(200, 50)) as pilot:
        footer = await ready(app, pilot)
        assert footer.hidden_keys == []
        assert "more" not in footer_line(app)
        assert "f9 Note" in footer_line(app)
        await pilot.resize_terminal(80, 24)
        await wait_for(lambda: bool(footer.hidden_keys), pilot)
        await pilot.pause()
        assert f"+{len(footer.hidden_keys)} more ▏^p palette" in " ".join(footer_line(app).split())
        await pilot.resize_terminal(200, 50)
        await wait_for(lambda: not footer.hidden_keys, pilot)
        await pilot.pause()
        assert "more" not in footer_line(app) and "f9 Note" in footer_line(app)


async def test_other_screens_footers_fit_too(make_app: MakeApp) -> None:
    """The models screen has its own keys first; at 80 columns they are whole as well."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press("f5")
        await wait_for(lambda: app.screen.id != "dashboard", pilot)
        footer = await ready(app, pilot)
        line = footer_line(app)
        items = drawn(footer)
        assert " ".join(line.split()) == " ".join(items[:-1]) + " ▏" + items[-1], line
        assert items[0] == "esc Back" and items[-2] == f"+{len(footer.hidden_keys)} more"
