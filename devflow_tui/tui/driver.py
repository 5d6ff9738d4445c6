"""Textual's Linux driver, told what to do when its terminal goes away.

When the terminal goes away (a tmux server killed, an ssh session dropped, a window closed) the
tty hangs up: reads return end-of-file (or fail with EIO) and writes fail with EIO. Textual 8's
input thread then reads end-of-file in a loop forever, a core's worth of CPU
(Textualize/textual#6690, unmerged, only stops that loop); its output thread dies on the first
failed write, after which the app blocks on the thread's full queue; and the SIGCONT the kernel
sends with a hang-up's SIGHUP makes it start a second pair of threads on the dead terminal. A
dashboard that SIGHUP does not reach (it ignores it, or it is not the process the kernel tells)
never leaves.

This driver notices the hang-up itself (a thread waiting for POLLHUP on the terminal, a failed
write, a failed read), points the dead standard streams at /dev/null so that nothing written
afterwards fails (the last frames, the exit message, Python's final flush), and tells the app
with a `TerminalLost` message; the app leaves through its quit path. Linux only: macOS's poll()
does not support terminals (the app's SIGHUP and SIGTERM handling works there too).
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, cast

from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver

from devflow_tui.tui.messages import TerminalLost

if TYPE_CHECKING:
    from textual.app import App

# What poll() reports for a terminal that went away, whatever events were asked for.
_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL


def hung_up(fd: int) -> bool:
    """True when `fd` is a terminal (or pipe) whose other end has gone; never blocks."""
    poller = select.poll()
    poller.register(fd, 0)
    return any(mask & _GONE for _fd, mask in poller.poll(0))


def silence_dead_streams(fds: tuple[int, ...] = (0, 1, 2)) -> list[int]:
    """Point each of `fds` that has hung up at /dev/null (reads: end-of-file, writes: discarded);
    returns the ones replaced. A redirected stream (a file, a live pipe) is left alone."""
    dead = [fd for fd in fds if hung_up(fd)]
    if dead:
        null = os.open(os.devnull, os.O_RDWR)
        try:
            for fd in dead:
                os.dup2(null, fd)
        finally:
            os.close(null)
    return dead


class TerminalOutput:
    """The terminal stream Textual's output thread writes to: a failed write or flush reports the
    terminal gone instead of raising (which would end the thread and block the app)."""

    def __init__(self, stream: IO[str], gone: Callable[[], None]) -> None:
        self._stream = stream
        self._gone = gone

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError:
            self._gone()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError:
            self._gone()

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()


class HangupAwareDriver(LinuxDriver):
    """`LinuxDriver` that reports a terminal that went away to the app, once, as `TerminalLost`."""

    def __init__(self, app: App[Any], **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._lost = False
        self._lost_lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        if self._file is not None:
            # Duck-typed: the output thread only writes, flushes and asks for the fileno.
            self._file = cast(Any, TerminalOutput(self._file, self.terminal_lost))

    def terminal_lost(self) -> None:
        """The terminal hung up (called from any thread): silence it and tell the app, once."""
        with self._lost_lock:
            if self._lost:
                return
            self._lost = True
        silence_dead_streams()
        self._app.post_message(TerminalLost())

    def start_application_mode(self) -> None:
        super().start_application_mode()  # type: ignore[no-untyped-call]  # (Textual's)
        if self._watcher is None and os.isatty(self.fileno):
            # A daemon: it waits in poll() for the hang-up and is not joined at exit.
            self._watcher = threading.Thread(
                target=self._wait_for_hangup, name="devflow-hangup", daemon=True
            )
            self._watcher.start()

    def _wait_for_hangup(self) -> None:
        poller = select.poll()
        poller.register(self.fileno, 0)  # no events asked for: poll() still reports a hang-up
        while not any(mask & _GONE for _fd, mask in poller.poll()):
            pass
        self.terminal_lost()

    def run_input_thread(self) -> None:
        try:
            super().run_input_thread()
        except OSError:  # EIO: reading a terminal that went away (Textual would panic)
            self.terminal_lost()

    def _sigcont_application(self, *args: Any) -> None:
        # The kernel sends SIGCONT along with a hang-up's SIGHUP: resume only after a suspend
        # (ctrl+z), else Textual would start a second input thread on the dead terminal.
        if self._must_signal_resume:
            super()._sigcont_application(*args)


def driver_for(default: type[Driver]) -> type[Driver]:
    """The driver the dashboard runs with: ours in place of Textual's Linux driver, any other
    (a TEXTUAL_DRIVER override) as it is."""
    return HangupAwareDriver if default is LinuxDriver else default
