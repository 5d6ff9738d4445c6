"""Command palette entries (ctrl+p) for every dashboard action."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from devflow_tui.tui.actions import ACTIONS, Action


class DevflowCommands(Provider):
    """One palette entry per action in `ACTIONS`, runnable from any screen."""

    def _offered(self) -> list[Action]:
        """The actions the app offers now (F10 only with team members, for one)."""
        return [a for a in ACTIONS if self.app.check_action(a.name, ()) is not False]

    async def discover(self) -> Hits:
        for action in self._offered():
            yield DiscoveryHit(
                f"{action.title} ({action.key})",
                partial(self.app.run_action, action.name),
                help=action.description,
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action in self._offered():
            text = f"{action.title} ({action.key})"
            score = max(matcher.match(text), matcher.match(action.description))
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(text),
                    partial(self.app.run_action, action.name),
                    help=action.description,
                )
