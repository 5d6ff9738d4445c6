"""How a devflow process is stopped from outside: the signals it treats like Ctrl-C, and how it
says so. One place, so `ask`, the dashboard and the servers report a stop the same way."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # (the program's first module imports this one: nothing slow before it)
    import asyncio

T = TypeVar("T")

# SIGTERM: a service manager or `kill`; SIGHUP: the terminal hung up (a window closed, an ssh
# session dropped, a tmux server killed). Windows has neither.
TERMINATION_SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
# A terminal that went away without a signal reaching us exits as if it had hung up.
HANGUP: int = getattr(signal, "SIGHUP", 1)


def ignored(number: int) -> bool:
    """Whether the user had the signal ignored (`nohup` ignores SIGHUP): it stays ignored."""
    with contextlib.suppress(ValueError):
        return signal.getsignal(number) is signal.SIG_IGN
    return False


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
        if ignored(number):
            continue
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(number, callback, number)


class Stopped(BaseException):
    """A termination signal that arrived while no event loop was there to take it (start-up,
    shut-down): it unwinds the program as KeyboardInterrupt does for Ctrl-C (a BaseException,
    so no `except Exception` swallows it); `run_stoppable` turns it into the exit."""

    def __init__(self, number: int) -> None:
        super().__init__(stopped_by(number))
        self.number = number


def _raise_stopped(number: int, _frame: object) -> None:
    raise Stopped(number)


def raise_on_stop() -> None:
    """From now on a termination signal raises `Stopped` in the main thread (until an event
    loop installs its own handlers). Nothing outside the main thread, where Python allows no
    signal handler."""
    for number in TERMINATION_SIGNALS:
        if ignored(number):  # `nohup devflow serve`: a hang-up must not stop it
            continue
        with contextlib.suppress(ValueError):
            signal.signal(number, _raise_stopped)


def run_stoppable(body: Callable[[], T], program: str = "devflow") -> T:
    """Run a program (its start-up, work and shut-down) so that a termination signal at any
    moment ends it cleanly: `finally` blocks run, the reason is one line on stderr ("devflow:
    stopped by SIGTERM.") and the exit status is 128 + the signal's number. Without this a
    SIGTERM in the first second (imports, settings, Textual starting) killed it outright."""
    raise_on_stop()
    try:
        return body()
    except Stopped as stop:
        sys.stderr.write(f"{program}: {stop}\n")
        sys.stderr.flush()
        sys.exit(exit_code(stop.number))


class HeldStop:
    """The first termination signal that arrived while `held_stops` held them, if any."""

    def __init__(self) -> None:
        self.number: int | None = None

    def keep(self, number: int, _frame: object) -> None:
        if self.number is None:
            self.number = number


@contextlib.contextmanager
def held_stops() -> Iterator[HeldStop]:
    """Hold termination signals while something runs that must not be cut half-way (Textual
    setting up the terminal), for it to act on when it can (`HeldStop.number`); the handlers
    there were before are back afterwards."""
    held = HeldStop()
    previous: dict[int, Any] = {}
    for number in TERMINATION_SIGNALS:
        if ignored(number):
            continue
        with contextlib.suppress(ValueError):  # not the main thread: nothing to hold
            previous[number] = signal.signal(number, held.keep)
    try:
        yield held
    finally:
        for number, handler in previous.items():
            if handler is not None:  # (None: a handler not set from Python; left as it is)
                signal.signal(number, handler)
