"""The connection badge: connecting, DEMO on the simulated server, or live OpenRouter."""

from __future__ import annotations

from textual.widgets import Static

DEMO_TEXT = "DEMO — simulated OpenRouter"
DEMO_HINT = "set OPENROUTER_API_KEY or run `devflow auth set` to use the real service"


class DemoIndicator(Static):
    """Shows which service the dashboard talks to."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("connecting…", id=id, classes="-connecting", markup=False)
        self.mode = "connecting"

    def show_demo(self) -> None:
        self.mode = "demo"
        self.set_classes("-demo")
        self.update(f"{DEMO_TEXT} · {DEMO_HINT}")

    def show_live(self, base_url: str) -> None:
        self.mode = "live"
        self.set_classes("-live")
        self.update(f"LIVE · {base_url}")

    def show_offline(self, message: str) -> None:
        self.mode = "offline"
        self.set_classes("-offline")
        self.update(f"OFFLINE · {message}")
