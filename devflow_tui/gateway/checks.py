"""What makes a prompt unsendable, decided once for every front end (the CLI's `ask` and
`route`, the MCP tool): each front end words the fix in its own terms."""

from __future__ import annotations


def prompt_problem(text: str) -> str | None:
    """What is wrong with `text` as a prompt ("is empty", …), or None if it can be sent."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8 text"
    if "\x00" in text:
        return "contains a NUL byte"
    if not text.strip():
        return "is empty"
    return None
