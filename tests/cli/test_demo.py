"""Demo mode is one mode for every command: the same database the dashboard uses in demo mode
($DEVFLOW_HOME/demo/), whether `--demo` comes before the command or after it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest

from devflow_tui.cli import main
from devflow_tui.sim import SimServer
from tests.cli.conftest import Invoke


def _requests(devflow: Invoke, *args: str) -> int:
    result = devflow(*args, "report", "--json", "--since", "all")
    assert result.exit_code == 0, result.stderr
    totals: dict[str, Any] = json.loads(result.stdout)["totals"]
    return int(totals["requests"])


@pytest.mark.parametrize("where", ["before", "after"])
def test_report_sees_the_demo_traffic(devflow: Invoke, sim: SimServer, where: str) -> None:
    for prompt in ("hello there", "write a haiku about rain"):
        assert devflow("--demo", "ask", prompt).exit_code == 0
    demo = ["--demo"] if where == "before" else []
    result = devflow(*demo, "report", "--json", "--since", "all", *([] if demo else ["--demo"]))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["requests"] == 2  # before: 0
    assert _requests(devflow) == 0  # the real database saw none of it
    assert not [r for r in sim.requests if r.path == "/chat/completions"]  # no real traffic


def test_notes_are_sent_in_demo_mode(devflow: Invoke) -> None:
    assert devflow("note", "add", "--demo", "Always answer in haiku").exit_code == 0
    listed = json.loads(devflow("--demo", "note", "list", "--json").stdout)
    assert [n["text"] for n in listed] == ["Always answer in haiku"]
    result = devflow("--demo", "ask", "--json", "hello")
    assert result.exit_code == 0, result.stderr
    assert any(c["kind"] == "note" for c in json.loads(result.stdout)["context"])
    assert devflow("note", "list").stdout.startswith("No notes")  # modes keep their own notes
    note_id = str(listed[0]["id"])
    assert devflow("note", "rm", "--demo", note_id).exit_code == 0


def test_demo_reconcile_does_not_claim_unknown_generations_are_billed(devflow: Invoke) -> None:
    assert devflow("--demo", "ask", "hello").exit_code == 0  # served by that run's simulator
    result = devflow("--demo", "reconcile")
    assert result.exit_code == 0, result.stderr
    assert "1 request(s) not reconciled" in result.stdout
    assert "every recent request" not in result.stdout  # before: "... is billed"


@pytest.mark.parametrize(
    "command",
    [
        ["route", "hello"],
        ["models"],
        ["context", "show", "hello"],
        ["report"],
        ["reconcile"],
        ["note", "list"],
    ],
)
def test_every_data_command_takes_demo_after_it(devflow: Invoke, command: list[str]) -> None:
    result = devflow(*command, "--demo", key=False)
    assert result.exit_code == 0, result.stderr
    assert "no such option" not in result.stderr


def _leaf_commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _leaf_commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


def test_every_command_takes_demo_after_its_name() -> None:
    """As the README says: --demo before or after the name, for every command (auth takes it
    only to refuse it with a reason, see below)."""
    commands = _leaf_commands(main)
    assert ("ask",) in commands and ("auth", "clear") in commands and ("sim",) in commands
    for path in commands:
        command: click.Command = main
        for name in path:
            assert isinstance(command, click.Group)
            command = command.commands[name]
        assert "--demo" in [opt for p in command.params for opt in p.opts], path


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("command", [["auth", "status"], ["auth", "clear"], ["auth", "set"]])
def test_auth_refuses_demo_and_says_why(
    devflow: Invoke, isolated_env: Path, fake_key: str, command: list[str], where: str
) -> None:
    stored = devflow("auth", "set", "--key", fake_key, key=False)
    assert stored.exit_code == 0, stored.output
    args = ["--demo", *command] if where == "before" else [*command, "--demo"]
    result = devflow(*args, "--key", fake_key) if command[-1] == "set" else devflow(*args)
    assert result.exit_code == 2, result.output
    assert "does not take --demo" in result.stderr and "real OpenRouter key" in result.stderr
    assert "Traceback" not in result.output
    # Nothing was done to the real key: `auth --demo clear` used to remove it.
    assert devflow("auth", "status", key=False).exit_code == 0


def test_serve_takes_demo_after_its_name(devflow: Invoke) -> None:
    result = devflow("serve", "--print-env", "--demo", key=False)
    assert result.exit_code == 0, result.output
    assert "ANTHROPIC_BASE_URL" in result.stdout
