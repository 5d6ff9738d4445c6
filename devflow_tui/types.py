"""Literals shared by every layer: the bottom of the import order, importing nothing of ours.

A value that several layers store, compare or print (how a cost was obtained, how a request
ended, what kind of task it was) is spelled once here, so the wire client, accounting, the
gateway and the front ends cannot drift apart.
"""

from __future__ import annotations

from typing import Literal

CostSource = Literal["reported", "estimated", "unknown"]
Status = Literal["ok", "error", "cancelled", "interrupted", "refused"]
TaskType = Literal["coding", "analysis", "creative", "reasoning", "chat"]
TASK_TYPES: tuple[TaskType, ...] = ("coding", "analysis", "creative", "reasoning", "chat")
