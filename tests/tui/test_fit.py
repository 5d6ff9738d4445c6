"""Shortening text for a column at a boundary, never mid-word."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from devflow_tui.tui.fit import (
    BoundaryWrapped,
    column_widths,
    first_that_fits,
    fit_id,
    fit_ids,
    fit_list,
    fit_path,
    fit_words,
    wrap_at_boundaries,
)


def test_ids_are_cut_after_a_separator() -> None:
    model = "google/gemini-2.5-flash-lite-preview-09-2025"
    assert fit_id(model, 60) == model
    assert fit_id(model, 20) == "google/gemini-2.5-…"
    # The variant is a different model at another price: it stays (was "…llama-3.3-70b-…",
    # the same as the paid model's shortened id).
    assert fit_id("meta-llama/llama-3.3-70b-instruct:free", 30) == "meta-llama/llama-3.3-…:free"
    assert fit_id("meta-llama/llama-3.3-70b-instruct:free", 8) == "meta-…"  # no room for both
    assert fit_id("abcdefgh", 4) == "…"  # no boundary fits: nothing half-shown
    assert fit_id("abc", 0) == ""


def test_a_column_of_ids_stays_distinguishable() -> None:
    ids = [
        "google/gemini-2.5-flash-lite-preview-09-2025",
        "google/gemini-2.5-flash-lite",
        "meta-llama/llama-3.3-70b-instruct",
        "meta-llama/llama-3.3-70b-instruct:free",
        "anthropic/claude-haiku-4.5",
        "anthropic/claude-sonnet-4.5",
    ]
    for width in (12, 16, 20, 22, 26, 30):
        shown = fit_ids(ids, width)
        assert len(set(shown)) == len(ids), (width, shown)
        assert all(len(text) <= width for text in shown), (width, shown)
    assert fit_ids(ids, 26)[:2] == ["google/gemini-2.5-…-2025", "google/gemini-2.5-…-lite"]
    # The end that tells them apart is kept, not one they share ("…-4.5").
    assert fit_ids(ids, 22)[-2:] == ["anthropic/…-haiku-4.5", "anthropic/…-sonnet-4.5"]
    assert fit_ids(ids, 16)[-2:] == ["…-haiku-4.5", "…-sonnet-4.5"]


def test_a_list_is_cut_after_an_item_or_inside_the_first() -> None:
    assert fit_list("reasoning, structured_output, tools", 14) == "reasoning…"
    assert fit_list("structured_output, tools", 12) == "structured_…"  # not a bare "…"


def test_words_are_cut_whole_with_no_dangling_separator() -> None:
    assert fit_words("tools, vision, reasoning, json", 16) == "tools, vision…"
    assert fit_words("98% ok · 840 ms · n=12", 12) == "98% ok…"
    assert fit_words("short", 10) == "short"


def test_paths_keep_their_file_name() -> None:
    name = "file devflow_tui/tui/widgets/context_list.py (146 lines)"
    assert fit_path(name, 80) == name
    assert fit_path(name, 42) == "file …/widgets/context_list.py (146 lines)"
    assert fit_path(name, 40) == "file …/context_list.py (146 lines)"
    assert fit_path(name, 30) == "file …/context_list.py…"  # no half "(146"
    assert fit_path("claude:latest session (1,234 messages)", 20) == "claude:latest…"


def test_column_widths_keep_numbers_and_share_the_rest() -> None:
    natural = [2, 44, 20, 7, 7, 9, 30]
    flexible = {1: (16, 3), 6: (8, 1), 2: (8, 1)}
    assert column_widths(natural, flexible, 200) == natural  # everything fits
    widths = column_widths(natural, flexible, 66)
    assert widths[0] == 2 and widths[3:6] == [7, 7, 9]
    assert sum(widths) == 66 and widths[1] >= 16 and widths[2] >= 8 and widths[6] >= 8
    # Minimums above a column's share are taken back from the others: the total still fits
    # (the models table at 80 columns was 3 cells too wide and scrolled sideways).
    tight = column_widths([0, 44, 22, 6, 7, 9, 43], {1: (16, 3), 6: (12, 1), 2: (8, 1)}, 64)
    assert sum(tight) == 64 and tight[6] == 12 and tight[2] == 8 and tight[1] == 22


def test_long_ids_wrap_after_the_vendor_then_at_separators() -> None:
    assert wrap_at_boundaries("chosen: deepseek/deepseek-v3.2-exp", 26) == (
        "chosen:\ndeepseek/deepseek-v3.2-exp"
    )
    assert wrap_at_boundaries("chosen: meta-llama/llama-3.3-70b-instruct:free", 26) == (
        "chosen: meta-llama/\nllama-3.3-70b-instruct:\nfree"
    )
    assert wrap_at_boundaries("task coding · complexity medium", 26) == (
        "task coding · complexity\nmedium"
    )
    assert wrap_at_boundaries("a b\nc", 80) == "a b\nc"  # fits: unchanged
    assert wrap_at_boundaries("abcdefgh", 4) == "abcdefgh"  # no boundary: left to fold


def test_first_that_fits_takes_the_most_helpful_hint_that_is_drawn_whole() -> None:
    hints = ("add file/glob, or claude:latest", "add file or glob", "file/glob")
    assert first_that_fits(hints, 40) == hints[0]
    assert first_that_fits(hints, 20) == hints[1]  # the first would be cut at "or"
    assert first_that_fits(hints, 16) == hints[1]
    assert first_that_fits(hints, 15) == hints[2]
    assert first_that_fits(hints, 3) == hints[2]  # none fits: the shortest
    # On several lines: wrapped at words, as the editor wraps its placeholder.
    prompts = ("Ask anything (enter sends, ctrl+j new line)", "Ask anything (enter sends)")
    assert first_that_fits(prompts, 24, lines=2) == prompts[0]
    assert first_that_fits(prompts, 20, lines=2) == prompts[1]


class Wrapped(App[None]):
    CSS = "Static { height: auto; width: 20; }"

    def __init__(self, *texts: Text | str) -> None:
        super().__init__()
        self.texts = texts

    def compose(self) -> ComposeResult:
        for text in self.texts:
            yield Static(BoundaryWrapped(text))


async def test_boundary_wrapped_text_gets_the_height_of_every_line_it_draws() -> None:
    """QA2 #1: a `Static(BoundaryWrapped(...))` of auto height was one line short, so the last
    line (the routing decision's end, the attempts log's "✓ model: $cost") was never drawn; a
    single line got no height at all."""
    texts: list[Text | str] = [
        Text("#1 → x\nfirst token\n✓ done"),
        "one two three four five six seven eight nine ten eleven",
        "single",
        "meta-llama/llama-3.3-70b-instruct:free",
    ]
    app = Wrapped(*texts)
    async with app.run_test(size=(40, 20)) as pilot:
        await pilot.pause()
        for static, text in zip(app.query(Static).results(Static), texts, strict=True):
            plain = text.plain if isinstance(text, Text) else text
            expected = wrap_at_boundaries(plain, 20).split("\n")
            assert static.size.height == len(expected), plain
            strips = app.screen._compositor.render_strips()
            box = static.region
            drawn = [strip.text[box.x : box.right].rstrip() for strip in strips[box.y : box.bottom]]
            assert drawn == expected
