"""Shortening text for a column at a boundary, never mid-word."""

from __future__ import annotations

from devflow_tui.tui.fit import column_widths, fit_id, fit_path, fit_words, wrap_at_boundaries


def test_ids_are_cut_after_a_separator() -> None:
    model = "google/gemini-2.5-flash-lite-preview-09-2025"
    assert fit_id(model, 60) == model
    assert fit_id(model, 20) == "google/gemini-2.5-…"
    assert fit_id("meta-llama/llama-3.3-70b-instruct:free", 30) == "meta-llama/llama-3.3-70b-…"
    assert fit_id("abcdefgh", 4) == "…"  # no boundary fits: nothing half-shown
    assert fit_id("abc", 0) == ""


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
