"""What start-up built, kept out of the cyclic garbage collector's way: the one place that says
when devflow freezes the objects it made and why."""

from __future__ import annotations

import gc


def freeze_startup(*, collect: bool = True) -> None:
    """Move everything alive now to the collector's permanent generation. Modules, classes,
    validators, the catalog and settings live until exit, and every full pass of the collector
    would walk them again: 100-300 ms stalls mid-stream in the dashboard, ~15% of a proxied
    request's CPU in `serve`, ~70 ms of a `devflow ask`. Frozen, a pass walks only what was made
    since.

    Call it only when devflow owns its process: inside another program (the tests call the
    commands in-process) it would hide that program's objects from the collector for good.
    `collect` first frees start-up's garbage so that it is not frozen with the rest; a short
    command that paused the collector skips it (its process ends soon, and the pass would cost
    more than the garbage)."""
    if collect:
        gc.collect()
    gc.freeze()
