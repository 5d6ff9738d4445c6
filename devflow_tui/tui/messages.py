"""Textual messages that carry gateway events and worker results to the widgets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from devflow_tui.accounting.reports import Report
    from devflow_tui.gateway.events import GatewayEvent, RequestOutcome
    from devflow_tui.openrouter.wire import Credits, KeyInfo
    from devflow_tui.tui.gateway_port import DashboardGateway


class GatewayEventPosted(Message):
    """One event from `Gateway.run`, delivered on the app's message queue."""

    def __init__(self, event: GatewayEvent) -> None:
        super().__init__()
        self.event = event


class GatewayOpened(Message):
    """The gateway (catalog, store, budgets) is ready."""

    def __init__(self, gateway: DashboardGateway) -> None:
        super().__init__()
        self.gateway = gateway


class GatewayUnavailable(Message):
    """Opening the gateway failed; the message says what to do."""

    def __init__(self, message: str, hint: str | None) -> None:
        super().__init__()
        self.message = message
        self.hint = hint


class RequestEnded(Message):
    """The stream worker finished: an outcome, a refusal/error, or a cancellation."""

    def __init__(
        self,
        request_id: str,
        outcome: RequestOutcome | None,
        *,
        error: str | None = None,
        hint: str | None = None,
        category: str | None = None,
        cancelled: bool = False,
    ) -> None:
        super().__init__()
        self.request_id = request_id
        self.outcome = outcome
        self.error = error
        self.hint = hint
        self.category = category
        self.cancelled = cancelled


class ChartsLoaded(Message):
    """The dashboard charts' accounting report for their window, built in a thread worker."""

    def __init__(self, report: Report) -> None:
        super().__init__()
        self.report = report


class CreditsLoaded(Message):
    """The key's OpenRouter limits and credit balance, when the service reports them."""

    def __init__(self, key: KeyInfo | None, credits: Credits | None) -> None:
        super().__init__()
        self.key = key
        self.credits = credits


class ReportReady(Message):
    """The accounting report, built in a thread worker."""

    def __init__(self, report: Report | None, error: str | None = None) -> None:
        super().__init__()
        self.report = report
        self.error = error


class TeamChecked(Message):
    """Whether the database has team members (`devflow team add`), read in a thread worker."""

    def __init__(self, has_members: bool) -> None:
        super().__init__()
        self.has_members = has_members


class TerminalLost(Message):
    """The terminal went away (hung up) without a SIGHUP reaching the app: time to leave."""
