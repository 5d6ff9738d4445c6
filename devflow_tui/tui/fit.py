"""Text that fits a column: shown whole, or abbreviated at a boundary with an ellipsis.

A table cell that is too narrow must not cut a word, a model id or a path in the middle:
these shorten text at a word, id or path boundary and say so with "…".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.measure import Measurement
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from textual.widgets import DataTable

ELLIPSIS = "…"
# Where a model id or a name may be shortened: after a separator ("google/", "gemini-2.5-").
_ID_BREAKS = re.compile(r"(?<=[/\-_.:])")
_WORD_BREAKS = re.compile(r"(?<=\s)")


def _cut(text: str, width: int, breaks: re.Pattern[str]) -> str:
    """The longest prefix of `text` ending at a boundary that fits `width` with "…"."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    best = ""
    for match in breaks.finditer(text):
        # No dangling separator ("a ·…") and no half of a bracket ("(146…").
        prefix = text[: match.start()].rstrip(" ·,;")
        if prefix.count("(") != prefix.count(")"):
            continue
        if prefix and cell_len(prefix) + 1 <= width:
            best = prefix
    return best + ELLIPSIS if best else ELLIPSIS


def fit_words(text: str, width: int) -> str:
    """`text` whole, or cut after a whole word (or list item) with "…"."""
    return _cut(text, width, _WORD_BREAKS)


def fit_id(text: str, width: int) -> str:
    """A model id whole, or cut after a separator (`/`, `-`, `.`, `:`) with "…". A variant
    (`:free`, `:beta`) is a different model at a different price: it is kept at the end
    (`meta-llama/llama-…:free`) while there is room for more than it."""
    base, colon, variant = text.rpartition(":")
    if colon and "/" not in variant and cell_len(text) > width:
        shown = _cut(base, width - cell_len(colon + variant), _ID_BREAKS)
        if shown != ELLIPSIS:
            return shown + colon + variant
    return _cut(text, width, _ID_BREAKS)


_TAIL_BREAKS = re.compile(r"[/\-_:]")


def _tail(text: str, pieces: int) -> str | None:
    """The last `pieces` separator-delimited pieces of `text` with their separators."""
    seps = [m.start() for m in _TAIL_BREAKS.finditer(text) if m.start() > 0]
    return text[seps[-pieces] :] if len(seps) >= pieces else None


def _with_tail(text: str, width: int, tail: str) -> str:
    """`text` shortened in its middle: its start cut at a separator, "…", then `tail`
    (`google/gemini-…-09-2025`, or `…-haiku-4.5` with no room for the vendor); "…" when even
    that does not fit."""
    if width - cell_len(tail) < 1:
        return ELLIPSIS
    return _cut(text[: len(text) - len(tail)], width - cell_len(tail), _ID_BREAKS) + tail


def fit_ids(ids: Sequence[str], width: int) -> list[str]:
    """`fit_id` for a column of ids, keeping distinct ids distinguishable: ids that would read
    the same keep the shortest end that tells them apart (`anthropic/…-haiku-4.5`,
    `google/gemini-…-2025`) while that fits `width`."""
    shown = [fit_id(model, width) for model in ids]
    groups: dict[str, list[str]] = {}
    for model, text in zip(ids, shown, strict=True):
        groups.setdefault(text, []).append(model)
    taken = set(shown)
    for i, model in enumerate(ids):
        others = [other for other in groups[shown[i]] if other != model]
        if not others:
            continue
        pieces = 1
        while (tail := _tail(model, pieces)) is not None:
            pieces += 1
            if any(other.endswith(tail) for other in others):
                continue  # this end does not tell them apart
            candidate = _with_tail(model, width, tail)
            if candidate != ELLIPSIS and candidate not in taken:
                taken.add(candidate)
                shown[i] = candidate
            break
    return shown


# Where a word too long for a whole line may break, best first: after a vendor's "/", then
# after "-", "_", "." or ":".
_WORD_SPLITS = (re.compile(r"(?<=/)"), _ID_BREAKS)


def _greedy(pieces: list[str], width: int, sep: str) -> list[str]:
    """Pieces joined by `sep` into lines of at most `width` (a piece longer stays whole)."""
    lines: list[str] = []
    for piece in pieces:
        if lines and cell_len(lines[-1] + sep + piece) <= width:
            lines[-1] += sep + piece
        else:
            lines.append(piece)
    return lines


def _split_word(word: str, width: int, level: int = 0) -> list[str]:
    if cell_len(word) <= width or level == len(_WORD_SPLITS):
        return [word]
    parts = [p for p in _WORD_SPLITS[level].split(word) if p]
    lines = _greedy(parts, width, "")
    return [piece for line in lines for piece in _split_word(line, width, level + 1)]


def wrap_at_boundaries(text: str, width: int) -> str:
    """Each line of `text` wrapped to `width` at spaces; a word longer than a whole line (a
    model id in a narrow pane) breaks after its vendor's "/", else after "-", ".", ":",
    never in the middle of a name. A piece with no boundary inside `width` stays whole (the
    widget folds it)."""
    if width <= 0:
        return text
    out: list[str] = []
    for line in text.split("\n"):
        words = [piece for word in line.split(" ") for piece in _split_word(word, width)]
        out.extend(_greedy(words, width, " ") or [""])
    return "\n".join(out)


def wrap_text_at_boundaries(text: Text, width: int) -> Text:
    """`wrap_at_boundaries` for styled text: the same breaks, each piece keeping its styles."""
    lines: list[Text] = []
    for line in text.split("\n", allow_blank=True):
        plain = line.plain
        wrapped = wrap_at_boundaries(plain, width)
        # The wrapped string is `plain` with some spaces turned into line breaks and some
        # breaks added after separators: walk both to find where each piece starts and ends.
        start = i = 0
        for char in wrapped:
            if i < len(plain) and char == plain[i]:
                i += 1
            elif char == "\n":
                lines.append(line[start:i])
                if i < len(plain) and plain[i] == " ":
                    i += 1  # the space the break took the place of
                start = i
        lines.append(line[start:])
    # The text's own end (a newline by default): Textual sizes a Static of auto height by the
    # newlines it draws, so a last line without one was left out (QA2 #1: the routing pane's
    # last line, the attempts log's "✓ model: $cost", never showed; one line got no height).
    return Text("\n", end=text.end).join(lines)


# Textual's toast (a notification): 60 cells wide, at most half the screen, less its border and
# padding (and a cell to spare).
_TOAST_WIDTH = 60
_TOAST_GUTTER = 4


def for_toast(text: str, screen_width: int) -> str:
    """`text` wrapped at boundaries for a notification on a screen `screen_width` wide: the
    toast folds a word longer than its width anywhere (a path became `…/conversation-` /
    `e916014-831.md`, a character lost at the fold); a path breaks after a separator."""
    return wrap_at_boundaries(text, min(_TOAST_WIDTH, screen_width // 2) - _TOAST_GUTTER)


def first_that_fits(texts: Sequence[str], width: int, lines: int = 1) -> str:
    """The first of `texts` (most helpful first) that fits `lines` lines of `width` when wrapped
    at boundaries, else the last: for a placeholder, which a widget cuts where it overflows."""
    for text in texts:
        wrapped = wrap_at_boundaries(text, width).split("\n")
        if len(wrapped) <= lines and all(cell_len(line) <= width for line in wrapped):
            return text
    return texts[-1]


class BoundaryWrapped:
    """A Rich renderable: `text` wrapped by `wrap_text_at_boundaries` for the width it is
    drawn at. Wrapping when drawing, not when the text arrives, keeps ids whole when the
    width changes afterwards (a scrollbar appearing takes two cells)."""

    def __init__(self, text: Text | str) -> None:
        self.text = text if isinstance(text, Text) else Text(text)

    def __str__(self) -> str:
        return self.text.plain

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield wrap_text_at_boundaries(self.text, options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        longest = max((cell_len(line) for line in self.text.plain.split("\n")), default=0)
        return Measurement(min(longest, 1), longest).clamp(max_width=options.max_width)


def fit_list(text: str, width: int) -> str:
    """A list of words (`structured_output, tools`) cut after a whole item with "…"; when not
    even the first item fits, after a separator inside it (`structured_…`)."""
    shown = fit_words(text, width)
    return fit_id(text, width) if shown == ELLIPSIS else shown


def fit_path(text: str, width: int) -> str:
    """A path (or `file a/b/c.py (40 lines)`) whole, or with its leading folders replaced by
    "…/" so the file name stays; a name still too long is cut after a separator."""
    if cell_len(text) <= width:
        return text
    head, slash, tail = text.rpartition("/")
    if slash:
        # Keep whatever comes before the path (a word such as "file ") and the name at its end.
        prefix_match = re.match(r"^(\S+\s+)?", head)
        prefix = prefix_match.group(0) if prefix_match else ""
        folders = head[len(prefix) :].split("/")
        for start in range(1, len(folders) + 1):
            kept = "/".join(folders[start:])
            candidate = f"{prefix}{ELLIPSIS}/{kept + '/' if kept else ''}{tail}"
            if cell_len(candidate) <= width:
                return candidate
        text = f"{prefix}{ELLIPSIS}/{tail}"
    return _cut(text, width, re.compile(r"(?<=[/\-_.:\s])"))


def column_widths(
    natural: Sequence[int], flexible: Mapping[int, tuple[int, int]], room: int
) -> list[int]:
    """Column widths for `room` cells: every column gets its `natural` width when all fit;
    otherwise the columns not in `flexible` keep theirs (numbers are never shortened) and the
    flexible ones share the rest, each at least its narrowest width, in proportion to its
    share, then what is left goes to them in the order given (the first matters most)."""
    widths = list(natural)
    rest = room - sum(w for i, w in enumerate(natural) if i not in flexible)
    if sum(natural[i] for i in flexible) <= rest:
        return widths
    shares = sum(share for _, share in flexible.values()) or 1
    for i, (narrowest, share) in flexible.items():
        widths[i] = min(natural[i], max(narrowest, rest * share // shares))
    # Minimums raised some shares above the rest: take it back from the others, least first.
    over = sum(widths[i] for i in flexible) - rest
    for i in reversed(list(flexible)):
        cut = max(0, min(over, widths[i] - flexible[i][0]))
        widths[i] -= cut
        over -= cut
    spare = rest - sum(widths[i] for i in flexible)
    for i in flexible:
        extra = max(0, min(spare, natural[i] - widths[i]))
        widths[i] += extra
        spare -= extra
    return widths


def natural_widths(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """Each column's width with nothing shortened: its widest cell or its header."""
    return [
        max([cell_len(header)] + [cell_len(row[i]) for row in rows])
        for i, header in enumerate(headers)
    ]


def sized_columns(
    table: DataTable[Any],
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    flexible: Mapping[int, tuple[int, int]],
    width: int,
) -> list[int]:
    """Clear `table` and give it `headers` as columns sized by `column_widths` to fit `width`
    cells (its cell padding taken off); returns the widths, for fitting each row's cells.
    A flexible column is never narrower than its header (a header is not shortened)."""
    room = width - 2 * table.cell_padding * len(headers)
    flexible = {
        i: (max(narrowest, cell_len(headers[i])), share)
        for i, (narrowest, share) in flexible.items()
    }
    widths = column_widths(natural_widths(headers, rows), flexible, room)
    table.clear(columns=True)
    for header, column_width in zip(headers, widths, strict=True):
        table.add_column(header, width=column_width)
    return widths
