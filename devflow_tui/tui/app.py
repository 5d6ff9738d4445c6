"""The Textual app and its factory, shared by `devflow` (the CLI) and the tests.

First paint never waits for the network or the database: the gateway is opened in a worker
while the dashboard shows "connecting…", and history is read in a thread worker afterwards. Nor
does it wait for modules only later work needs: the other screens are imported when opened, the
gateway's modules are imported for types only, and the plotext charts mount after the first frame.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.resources
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from platformdirs import user_downloads_path
from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.driver import Driver
from textual.theme import Theme

from devflow_tui.config import Settings
from devflow_tui.errors import DevflowError
from devflow_tui.memory import freeze_startup
from devflow_tui.stopping import (
    HANGUP,
    HeldStop,
    exit_code,
    held_stops,
    install_stop_handlers,
    stopped_by,
)
from devflow_tui.tui.actions import bindings
from devflow_tui.tui.commands import DevflowCommands
from devflow_tui.tui.fit import for_toast
from devflow_tui.tui.gateway_port import (
    REQUEST_GROUPS,
    DashboardGateway,
    ProxyStarter,
    RunningProxy,
)
from devflow_tui.tui.messages import GatewayOpened, GatewayUnavailable, TeamChecked, TerminalLost
from devflow_tui.tui.screens.dashboard import DashboardScreen
from devflow_tui.tui.ui_state import UiState, load_ui_state, save_ui_state
from devflow_tui.tui.widgets.prompt_editor import PromptEditor

if TYPE_CHECKING:
    from devflow_tui.gateway.pipeline import GatewayRequest

GatewayFactory = Callable[..., Awaitable[DashboardGateway]]

COMPACT_BELOW = 110  # columns
# The full layout forced (F6) below COMPACT_BELOW takes the -narrow pane sizes (app.tcss), whose
# minimums add up to this; with the usual ones (shares of the width) it needed 92-94 columns.
# Below it the full layout cannot fit, and F6 says so. (tests/tui/test_full_layout.py checks.)
NARROW_FULL_NEEDS = 80
STYLES = importlib.resources.files("devflow_tui.styles")


def _style_paths() -> list[str | Path]:
    return [Path(str(STYLES / "app.tcss")), Path(str(STYLES / "screens.tcss"))]


# What `open_gateway` imports on its way; loaded in a thread so the event loop keeps painting.
WARM_MODULES = (
    "devflow_tui.compose",
    "devflow_tui.gateway.pipeline",
    "devflow_tui.accounting.store",
    "devflow_tui.accounting.budget",
    "devflow_tui.accounting.cache",
    "devflow_tui.accounting.reports",
    "devflow_tui.openrouter.client",
    "devflow_tui.routing.catalog",
    "devflow_tui.routing.classifier",
    "devflow_tui.routing.selector",
    "devflow_tui.routing.health",
    "devflow_tui.context.files",
    "devflow_tui.keystore",
    "devflow_tui.sim.server",
)


def warm_imports(modules: tuple[str, ...] = WARM_MODULES) -> int:
    """Import the gateway's modules; returns how many loaded (a missing one is not an error here:
    opening the gateway reports it properly)."""
    loaded = 0
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        loaded += 1
    return loaded


async def default_gateway_factory(
    settings: Settings, *, demo: bool | None = None
) -> DashboardGateway:
    """`open_gateway` from the composition root, imported late so the first paint does not
    wait for it."""
    await asyncio.to_thread(warm_imports)
    from devflow_tui.compose import open_gateway

    return await open_gateway(settings, demo=demo)


def default_request_builder(**fields: Any) -> GatewayRequest:
    """A `GatewayRequest` for the pipeline (imported late: the first paint does not wait)."""
    from devflow_tui.gateway.pipeline import GatewayRequest

    return GatewayRequest(**{"client": "dashboard", **fields})


RECONCILE_EVERY_S = 120.0
# How often the dashboard looks for team members (added with `devflow team add` anywhere).
TEAM_CHECK_S = 15.0


class DevflowApp(App[None]):
    """devflow's dashboard."""

    TITLE = "devflow"
    SUB_TITLE = "cost-aware model routing"
    CSS_PATH: ClassVar[Any] = _style_paths()
    COMMANDS: ClassVar[Any] = {*App.COMMANDS, DevflowCommands}
    BINDINGS: ClassVar[Any] = [
        *bindings(),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        gateway_factory: GatewayFactory = default_gateway_factory,
        demo: bool | None = None,
        request_builder: Callable[..., GatewayRequest] = default_request_builder,
        compact: bool | None = None,
        claude_session: str | None = None,
        project_dir: Path | None = None,
        proxy_starter: ProxyStarter | None = None,
    ) -> None:
        super().__init__()
        self._proxy_starter = proxy_starter
        self.settings = settings
        self.gateway: DashboardGateway | None = None
        self.gateway_error: str | None = None  # why the gateway could not open, if it failed
        self.gateway_hint: str | None = None
        self.build_request = request_builder
        self._gateway_factory = gateway_factory
        self._demo = demo
        self._compact_forced = compact
        self.compact = False
        self.project_dir = project_dir
        self.claude_session = claude_session
        self.dashboard = DashboardScreen(claude_session=claude_session)
        self.proxy: RunningProxy | None = None  # the proxy running inside the dashboard
        self.has_team = False  # the database has team members: F10 shows their spend
        # Set by `run` (the app owns its process): see `settle_memory` and `stop_for`.
        self.freeze_after_start = False
        self.memory_settled = False
        self.stops_on_signals = False
        # Why the app left when it did not quit by itself ("stopped by SIGTERM."), for the CLI.
        self.stop_reason: str | None = None
        self._held_stop: HeldStop | None = None  # signals that came before the app mounted

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run the app as its own process (what `devflow` does); tests use `run_test`.

        A termination signal before the app has mounted (Textual loading, the terminal being
        set up) is held and acted on at mount, through the quit path that restores the
        terminal; from then on the loop's handlers take them (`_stop_on_signals`)."""
        self.freeze_after_start = True
        self.stops_on_signals = True
        with held_stops() as self._held_stop:
            return super().run(*args, **kwargs)

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver, but on Linux one that notices a terminal that went away (see
        tui/driver.py; it waits in poll(), which macOS does not support on a terminal)."""
        driver = super().get_driver_class()
        if not sys.platform.startswith("linux"):
            return driver
        from devflow_tui.tui.driver import driver_for

        return driver_for(driver)

    def stop_for(self, number: int, reason: str | None = None) -> None:
        """Leave because of signal `number` (or a terminal that went away: SIGHUP), without
        asking: the quit path, so a streaming answer is cancelled and recorded as cancelled,
        and the database closed. The exit status is 128 + `number`, as for `devflow ask`."""
        if self.stop_reason is not None:
            return  # a hang-up comes as SIGHUP and as a dead terminal: the first one says why
        self.stop_reason = reason or stopped_by(number)
        self.exit(return_code=exit_code(number))

    def _stop_on_signals(self) -> bool:
        """The loop handles termination signals from now on; True when one came before (the
        app is leaving)."""
        install_stop_handlers(asyncio.get_running_loop(), self.stop_for)
        held = self._held_stop.number if self._held_stop is not None else None
        if held is None:
            return False
        self.stop_for(held)
        return True

    def on_terminal_lost(self, _message: TerminalLost) -> None:
        self.stop_for(HANGUP, "the terminal went away.")

    def settle_memory(self) -> None:
        """Once start-up is done (gateway open, history shown), collect once and freeze what
        start-up built: modules, classes, the catalog and settings live until exit, and every
        full pass of Python's cyclic collector would walk them again (100-300 ms, a visible
        stall mid-stream). Frozen, a full pass walks only what was made since. Only when the
        app owns its process: in a test run it would pin other tests' objects."""
        if not self.freeze_after_start or self.memory_settled:
            return
        self.memory_settled = True
        freeze_startup()

    def on_mount(self) -> None:
        if self.stops_on_signals and self._stop_on_signals():
            return  # stopped while starting: nothing more to start
        saved = load_ui_state(self.settings.home).theme
        if saved in self.available_themes:
            self.theme = saved
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.push_screen(self.dashboard)
        self._apply_compact(self.size.width)
        # Paint first; the gateway (network, database, maybe the simulator) opens afterwards.
        self.call_after_refresh(self._open_gateway)
        if self.claude_session:
            self._summarise_session(self.claude_session)

    @work(thread=True, exclusive=True, group="handoff")
    def _summarise_session(self, spec: str) -> None:
        """Read the handed-over session off the event loop, then show its summary."""
        from devflow_tui.context.claude_sessions import claude_root, parse_session, resolve_session

        try:
            path = resolve_session(spec, (self.project_dir or Path.cwd()).resolve(), claude_root())
            summary = parse_session(path).summary()
        except DevflowError as exc:
            self.call_from_thread(
                self.notify, str(exc), title="Claude Code session", severity="error", timeout=20
            )
            return
        from devflow_tui.tui.screens.handoff import HandoffScreen

        self.call_from_thread(self.push_screen, HandoffScreen(summary))

    async def on_unmount(self) -> None:
        # Leaving cancels a request still running (quit mid-stream, a signal, a lost terminal)
        # along with its screen; it records itself as cancelled before the database closes.
        running = [w for w in self.workers if w.group in REQUEST_GROUPS and not w.is_finished]
        for worker in running:
            if not worker.is_cancelled:
                worker.cancel()
        if running:  # (an empty list would mean every worker)
            await self.workers.wait_for_complete(running)
        if self.proxy is not None:
            await self.proxy.stop()
        if self.gateway is not None:
            gateway, self.gateway = self.gateway, None
            try:
                await gateway.aclose()
            except Exception:  # closing is best effort; the user is already leaving
                self.log.warning("gateway did not close cleanly")

    @work(exclusive=True, group="gateway")
    async def _open_gateway(self) -> None:
        try:
            gateway = await self._gateway_factory(self.settings, demo=self._demo)
        except DevflowError as exc:
            self.post_message(GatewayUnavailable(exc.message, exc.hint))
            return
        except Exception as exc:  # e.g. a port clash starting the demo server
            self.post_message(GatewayUnavailable(f"Could not start: {exc}", None))
            return
        self.post_message(GatewayOpened(gateway))

    def on_gateway_opened(self, message: GatewayOpened) -> None:
        self.gateway = message.gateway
        self.dashboard.gateway_ready(message.gateway)
        self.check_model_names()
        # Background reconciliation: record what OpenRouter actually billed.
        self.set_interval(RECONCILE_EVERY_S, self.reconcile_billing)
        self.check_team()
        self.set_interval(TEAM_CHECK_S, self.check_team)
        if self.settings.serve.embedded:
            self.call_later(self.start_proxy)

    def check_model_names(self) -> None:
        """A model name in the settings that matches nothing is a settings error, said as
        such (connected, not offline): requests stop with it until it is fixed, and the
        models screen (f5) lists the catalog's ids to fix it with."""
        if self.gateway is None:
            return
        try:
            self.gateway.model_names()
        except DevflowError as exc:
            self.notify(
                f"{exc}\nf5 lists the catalog's ids.",
                title="Settings error",
                severity="error",
                timeout=30,
            )

    @work(exclusive=True, group="reconcile")
    async def reconcile_billing(self) -> None:
        """Fetch the billed cost of recent requests (/generation); failures are only logged."""
        if self.gateway is None:
            return
        try:
            drifts = await self.gateway.reconcile(limit=20)
        except DevflowError as exc:
            self.log.warning(f"reconcile skipped: {exc}")
            return
        if drifts:
            self.log.info(f"reconciled {len(drifts)} requests with OpenRouter's bill")

    @work(thread=True, exclusive=True, group="team-check")
    def check_team(self) -> None:
        """Look for team members in the database (blocking: a thread worker)."""
        gateway = self.gateway
        if gateway is None:
            return
        from devflow_tui.tui.team_spend import has_members

        try:
            found = has_members(gateway.store)
        except Exception as exc:  # an unreachable database is reported by the screens using it
            self.log.warning(f"team members not read: {exc}")
            return
        self.post_message(TeamChecked(found))

    def on_team_checked(self, message: TeamChecked) -> None:
        if message.has_members != self.has_team:
            self.has_team = message.has_members
            self.refresh_bindings()

    def not_connected(self) -> None:
        """Say why a request cannot start yet: still connecting, or never going to (the
        database or the settings failed; it said "Still connecting" for ever)."""
        if self.gateway_error is None:
            self.notify("Still connecting; try again in a moment.", severity="warning")
            return
        self.notify(
            f"{self.gateway_error}\n{self.gateway_hint or 'Fix it, then restart devflow.'}",
            title="Not connected",
            severity="error",
            timeout=30,
        )

    def on_gateway_unavailable(self, message: GatewayUnavailable) -> None:
        self.gateway_error = message.message
        self.gateway_hint = message.hint
        self.dashboard.gateway_unavailable(message.message)
        text = message.message + (f"\n{message.hint}" if message.hint else "")
        self.notify(text, title="Not connected", severity="error", timeout=30)

    # ------------------------------------------------------------ layout

    def on_resize(self, event: events.Resize) -> None:
        self._apply_compact(event.size.width)

    def _apply_compact(self, width: int) -> None:
        forced = self._compact_forced
        compact = forced if forced is not None else width < COMPACT_BELOW
        # The full layout asked for in a terminal too narrow for it: compact until it is wide
        # enough again (F6 said why).
        self.compact = compact or width < NARROW_FULL_NEEDS
        self.dashboard.set_class(self.compact, "-compact")
        self.dashboard.set_class(not self.compact and width < COMPACT_BELOW, "-narrow")

    # ------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """On the dashboard, esc (cancel) is offered only while an answer streams and F12 (a
        stronger model) only when none does; F12 belongs to the dashboard alone. The footer
        shows what can be done now. F10 (team) is offered when the database has team members
        (and on the team screen, to close it)."""
        if action == "team":
            return self.has_team or bool(self.screen_stack and self.screen.id == "team")
        if action not in ("cancel", "escalate"):
            return True
        dashboard: DashboardScreen | None = getattr(self, "dashboard", None)
        if dashboard is None or not self.screen_stack or self.screen is not dashboard:
            return action == "cancel"  # elsewhere esc closes the screen on top
        return dashboard.streaming if action == "cancel" else not dashboard.streaming

    async def action_cancel(self) -> None:
        if self.screen is self.dashboard:
            if self.dashboard.cancel_stream():
                self.notify("Cancelled; the partial answer is kept.")
        elif len(self.screen_stack) > 1:
            self.pop_screen()

    async def action_retry(self) -> None:
        await self.dashboard.retry()

    async def action_escalate(self) -> None:
        await self.dashboard.escalate()

    def action_copy_answer(self) -> None:
        self.dashboard.copy_answer()

    def action_copy_code(self) -> None:
        self.dashboard.copy_code()

    def action_history(self) -> None:
        """Open the screen, or close it when it is already showing (the key toggles)."""
        from devflow_tui.tui.screens.history import HistoryScreen

        if isinstance(self.screen, HistoryScreen):
            self.pop_screen()
        else:
            self.push_screen(HistoryScreen())

    def action_models(self) -> None:
        """Open the screen, or close it when it is already showing (the key toggles)."""
        from devflow_tui.tui.screens.models import ModelsScreen

        if isinstance(self.screen, ModelsScreen):
            self.pop_screen()
        else:
            self.push_screen(ModelsScreen())

    def action_proxy(self) -> None:
        """Open the proxy traffic screen, or close it (the key toggles)."""
        from devflow_tui.tui.screens.proxy import ProxyScreen

        if isinstance(self.screen, ProxyScreen):
            self.pop_screen()
        else:
            self.push_screen(ProxyScreen())

    def action_team(self) -> None:
        """Open the team spend screen, or close it (the key toggles)."""
        from devflow_tui.tui.screens.team import TeamScreen

        if isinstance(self.screen, TeamScreen):
            self.pop_screen()
        else:
            self.push_screen(TeamScreen())

    async def toggle_proxy(self) -> None:
        """Start the proxy inside the dashboard (with its gateway), or stop it."""
        if self.proxy is not None:
            proxy, self.proxy = self.proxy, None
            await proxy.stop()
            self.notify("Proxy stopped.")
            return
        await self.start_proxy()

    async def start_proxy(self) -> None:
        if self._proxy_starter is None:
            self.notify("This dashboard cannot run the proxy; use `devflow serve`.")
            return
        if self.gateway is None:
            self.notify("The gateway is not open yet.", severity="warning")
            return
        try:
            self.proxy = await self._proxy_starter(self.settings, self.gateway)
        except (DevflowError, OSError, SystemExit) as exc:
            self.notify(f"The proxy could not start: {exc}", severity="error", timeout=20)
            return
        # The port it got (serve.port 0 is any free one): --print-env alone would refuse it.
        exports = f"devflow serve --print-env --port {self.proxy.port}"
        self.notify(f"Proxy at {self.proxy.url}; `{exports}` gives the exports.")

    def action_compare(self) -> None:
        """Open compare mode with the prompt being typed (the key toggles)."""
        from devflow_tui.tui.screens.compare import CompareScreen

        if isinstance(self.screen, CompareScreen):
            self.run_worker(self.screen.action_back())
            return
        editor = self.dashboard.query_one(PromptEditor)
        prompt = editor.text.strip() or self.dashboard.last_prompt
        self.push_screen(CompareScreen(prompt))

    def action_help(self) -> None:
        """Open the screen, or close it when it is already showing (the key toggles)."""
        from devflow_tui.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
        else:
            self.push_screen(HelpScreen())

    def action_toggle_compact(self) -> None:
        width = self.size.width
        if self.compact and width < NARROW_FULL_NEEDS:
            self.notify(
                f"The full layout needs {NARROW_FULL_NEEDS} columns; this terminal has {width}. "
                "Widen the window (or make the font smaller), then press f6 again.",
                title="Full layout",
                severity="warning",
            )
            return
        self._compact_forced = not self.compact
        self._apply_compact(width)

    async def action_new_conversation(self) -> None:
        await self.dashboard.new_conversation()

    def action_focus_prompt(self) -> None:
        self.dashboard.query_one("#prompt").focus()

    def action_focus_overrides(self) -> None:
        self._focus_left_pane("#override-model", "overrides")

    def action_focus_context(self) -> None:
        self._focus_left_pane("#context-input", "context")

    def _focus_left_pane(self, selector: str, pane: str) -> None:
        """Focus a field of the left column. Compact mode hides that column, and what was typed
        next went into it unseen (a prompt became a context "file"): the keys switch to the
        full layout first, where it fits, or say why they cannot."""
        if self.compact:
            width = self.size.width
            if width < NARROW_FULL_NEEDS:
                self.notify(
                    f"The {pane} pane needs the full layout: {NARROW_FULL_NEEDS} columns, this "
                    f"terminal has {width}. Widen the window, then try again.",
                    title=f"{pane.capitalize()} hidden",
                    severity="warning",
                )
                return
            self._compact_forced = False
            self._apply_compact(width)
            self.notify(f"Full layout, for the {pane} pane (f6 goes back to compact).")
            # Once laid out: a field still hidden cannot take the focus.
            self.call_after_refresh(self.dashboard.query_one(selector).focus)
            return
        self.dashboard.query_one(selector).focus()

    def _remember_theme(self, theme: Theme) -> None:
        problem = save_ui_state(self.settings.home, UiState(theme=theme.name))
        if problem:
            self.notify(problem, title="Theme not saved", severity="warning")

    async def action_quit(self) -> None:
        """Quit; while an answer streams, ask first (its partial text would be lost)."""
        if not self.dashboard.streaming:
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        from devflow_tui.tui.screens.dialogs import ConfirmDialog

        self.push_screen(
            ConfirmDialog("An answer is still streaming. Quit anyway?", id="confirm-quit"),
            answered,
        )

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """Save an SVG of the screen: in the Downloads folder when there is one, else under
        DEVFLOW_HOME/screenshots; the notification says where, or why it could not."""
        if path is None:
            downloads = user_downloads_path()
            folder = downloads if downloads.is_dir() else self.settings.home / "screenshots"
        else:
            folder = Path(path)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            saved = self.save_screenshot(filename, str(folder), time_format)
        except OSError as exc:
            why = f"Cannot save a screenshot in {folder}: {exc.strerror}."
            self.notify(
                for_toast(why, self.size.width),
                title="Screenshot",
                severity="error",
            )
            return None
        self.notify(for_toast(f"Saved to {saved}", self.size.width), title="Screenshot")
        return saved

    def action_add_note(self) -> None:
        """Ask for a note and keep it for this project (sent as context with every prompt)."""
        gateway = self.gateway
        if gateway is None:
            self.not_connected()
            return

        def save(text: str | None) -> None:
            if not text:
                return
            from devflow_tui.context.notes import project_key

            project = project_key((self.project_dir or Path.cwd()).resolve())
            try:
                note_id = gateway.store.add_note(text, project)
            except DevflowError as exc:
                self.notify(exc.message, title="Note not saved", severity="error")
                return
            self.notify(f"Note #{note_id} saved; it goes with every prompt of this project.")
            self.dashboard.recount_context()

        from devflow_tui.tui.screens.dialogs import TextDialog

        self.push_screen(
            TextDialog("Add a note (sent as context with this project's prompts)", id="note"),
            save,
        )

    def action_next_theme(self) -> None:
        names = sorted(self.available_themes)
        index = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(index + 1) % len(names)]
        self.notify(f"Theme: {self.theme}")


def dashboard_exit(app: App[Any]) -> tuple[int, str | None]:
    """After `app.run()`: the process's exit status and, when it was stopped from outside (a
    signal, a lost terminal), why. 0 when the user quit; 1 (or Textual's code) when it crashed.
    (`getattr`: a test runs another App here.)"""
    reason: str | None = getattr(app, "stop_reason", None)
    if reason:
        return app.return_code or 1, reason
    return app.return_code or 0, None


def create_app(
    settings: Settings,
    *,
    gateway_factory: GatewayFactory = default_gateway_factory,
    demo: bool | None = None,
    claude_session: str | None = None,
    project_dir: Path | None = None,
    proxy_starter: ProxyStarter | None = None,
) -> DevflowApp:
    """The dashboard for these settings; `demo=None` means demo mode when no API key is set.

    `claude_session` ("latest", an id or a .jsonl path) is attached as context from the start;
    `project_dir` is the project whose files, notes and Claude sessions are used.
    """
    return DevflowApp(
        settings,
        gateway_factory=gateway_factory,
        demo=demo,
        claude_session=claude_session,
        project_dir=project_dir,
        proxy_starter=proxy_starter,
    )
