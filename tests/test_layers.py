"""The import order of the package: a module imports only from its own package or lower layers.

Read from the source with `ast` (every `import`, including those inside functions and under
`TYPE_CHECKING`, since a type-only import is still a dependency), so a new upward import fails
here before it becomes a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "devflow_tui"

# Bottom to top (the "errors/types" bottom is split so its parts are ordered too).
# A module may import its own layer's package and any lower layer.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset(
        {"", "types", "data", "stats", "filekinds", "compile_cache", "usd", "memory", "stopping"}
    ),
    # ("" is the package)
    frozenset({"regex_cache", "dataclass_cache"}),  # compiled start-up code kept across runs
    frozenset({"redaction"}),
    frozenset({"errors"}),
    frozenset({"config"}),
    frozenset({"keystore"}),
    frozenset({"openrouter"}),
    frozenset({"context"}),
    frozenset({"routing"}),
    frozenset({"accounting"}),
    frozenset({"gateway"}),
    frozenset({"compose"}),  # the composition root: the one place that builds a gateway
    frozenset({"tui", "serve"}),
    frozenset({"cli_output"}),  # the CLI's JSON documents
    frozenset({"cli"}),
    frozenset({"program"}),  # the console script's first module: stops, then the CLI
)
# The simulator stands apart: only the bottom layer beneath it, and only the composition root,
# the CLI (and the tests) above it.
SIM = "sim"
SIM_MAY_IMPORT = LAYERS[0] | LAYERS[1] | LAYERS[2] | LAYERS[3]
MAY_IMPORT_SIM = frozenset({"compose", "cli"})


def rank(part: str) -> int:
    for index, layer in enumerate(LAYERS):
        if part in layer:
            return index
    raise AssertionError(f"devflow_tui.{part} has no layer; add it to LAYERS in {__file__}")


def part_of(module: str) -> str:
    """The top-level part of `devflow_tui.x.y` ("x"), "" for the package itself."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else ""


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every `devflow_tui` import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text("utf-8"))
    package = (
        module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    )
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
    return [(line, name) for line, name in found if name.split(".")[0] == "devflow_tui"]


def violations() -> list[str]:
    problems: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = part_of(module_name(path))
        for line, target_module in imported_modules(path):
            target = part_of(target_module)
            if target == source:
                continue
            where = f"{path.relative_to(PACKAGE.parent)}:{line} imports {target_module}"
            if source == SIM:
                if target not in SIM_MAY_IMPORT:
                    problems.append(
                        f"{where}: the simulator may import only {sorted(SIM_MAY_IMPORT)}"
                    )
            elif target == SIM:
                if source not in MAY_IMPORT_SIM:
                    problems.append(
                        f"{where}: only {sorted(MAY_IMPORT_SIM)} may import the simulator"
                    )
            elif rank(target) > rank(source):
                problems.append(f"{where}: {source or 'devflow_tui'} is below {target}")
            elif rank(target) == rank(source):
                problems.append(
                    f"{where}: {source} and {target} are peers and must not import each other"
                )
    return problems


def test_no_module_imports_a_higher_layer() -> None:
    assert violations() == []


def test_every_package_part_has_a_layer() -> None:
    parts = {part_of(module_name(path)) for path in PACKAGE.rglob("*.py")} - {SIM}
    for part in parts:
        rank(part)


@pytest.mark.parametrize(
    ("source", "code", "expected"),
    [
        (
            "accounting/x.py",
            "from devflow_tui.gateway.events import RequestOutcome",
            "is below gateway",
        ),
        (
            "openrouter/x.py",
            "if True:\n    from devflow_tui.accounting import store",
            "below accounting",
        ),
        ("errors.py", "from devflow_tui.config import Settings", "is below config"),
        ("routing/x.py", "from devflow_tui.sim import SimServer", "may import the simulator"),
        (
            "sim/x.py",
            "from devflow_tui.context.tokens import estimate_tokens",
            "simulator may import",
        ),
        ("tui/x.py", "from devflow_tui.serve import app", "are peers"),
        ("gateway/x.py", "from ..cli import main", "is below cli"),
    ],
)
def test_the_checker_catches_upward_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, code: str, expected: str
) -> None:
    fake = tmp_path / "devflow_tui"
    target = fake / source
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(code + "\n", "utf-8")
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    problems = violations()
    assert len(problems) == 1 and expected in problems[0], problems
