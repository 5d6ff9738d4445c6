"""The simulated OpenRouter server (real HTTP on 127.0.0.1) for the demo and the tests."""

from devflow_tui.sim.config import Fault, FaultKind, SimConfig
from devflow_tui.sim.profiles import ModelProfile
from devflow_tui.sim.server import RecordedRequest, SimServer, serve_forever

__all__ = [
    "Fault",
    "FaultKind",
    "ModelProfile",
    "RecordedRequest",
    "SimConfig",
    "SimServer",
    "serve_forever",
]
