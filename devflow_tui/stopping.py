"""How a devflow process is stopped from outside: the signals it treats like Ctrl-C, and how it
says so. One place, so `ask`, the dashboard and the servers report a stop the same way."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

# SIGTERM: a service manager or `kill`; SIGHUP: the terminal hung up (a window closed, an ssh
# session dropped, a tmux server killed). Windows has neither.
TERMINATION_SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
# A terminal that went away without a signal reaching us exits as if it had hung up.
HANGUP: int = getattr(signal, "SIGHUP", 1)


def exit_code(number: int) -> int:
    """The shell's convention for a process ended by signal `number`: 128 + its number."""
    return 128 + number


def stopped_by(number: int) -> str:
    """The one-line reason, e.g. "stopped by SIGTERM."."""
    return f"stopped by {signal.Signals(number).name}."


def install_stop_handlers(
    loop: asyncio.AbstractEventLoop, callback: Callable[[int], object]
) -> None:
    """Call `callback(number)` on the loop when a termination signal arrives; quietly nothing
    where the platform or thread cannot take signal handlers."""
    for number in TERMINATION_SIGNALS:
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(number, callback, number)
