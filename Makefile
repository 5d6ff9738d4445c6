# Two commands on a fresh clone: `make run` and `make test`.
# The virtual environment is created on first use and refreshed when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench sim clean tools claude-code postgres

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# tmux lets one test drive the app in a real terminal; installed when apt can do it.
tools:
	@command -v tmux >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && apt-get install -y -qq tmux) >/dev/null 2>&1 \
	      || echo "note: could not install tmux; the real-terminal test will be skipped"; \
	  else echo "note: tmux not installed; the real-terminal test will be skipped"; fi; }

# PostgreSQL, for the tests of the team backend: each test process starts a throw-away
# cluster from these binaries (tests/pg_cluster.py). Without them those tests skip.
postgres:
	@{ command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
	      >/dev/null 2>&1 \
	      || echo "note: could not install PostgreSQL; its tests will be skipped"; \
	  else echo "note: PostgreSQL not installed; its tests will be skipped"; fi; }

# Claude Code, for the test that drives it against `devflow serve`: installed with npm into a
# cache folder outside the repo. Without npm (or a reachable registry) that test skips.
CLAUDE_CODE_DIR ?= $(HOME)/.cache/devflow-tui/claude-code
claude-code:
	@if command -v npm >/dev/null 2>&1; then \
	  ls $(CLAUDE_CODE_DIR)/node_modules/@anthropic-ai/claude-code-linux-*/claude >/dev/null 2>&1 \
	  || npm install --prefix "$(CLAUDE_CODE_DIR)" --no-audit --no-fund --silent \
	       @anthropic-ai/claude-code >/dev/null 2>&1 \
	  || echo "note: could not install Claude Code with npm; its test will be skipped"; \
	else echo "note: npm not found; the Claude Code test will be skipped"; fi

run: $(STAMP)
	$(BIN)/devflow

lint: $(STAMP)
	$(BIN)/ruff check devflow_tui tests benchmarks
	$(BIN)/ruff format --check devflow_tui tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy --strict

pytest: $(STAMP) tools claude-code postgres
	DEVFLOW_CLAUDE_CODE_DIR="$(CLAUDE_CODE_DIR)" $(BIN)/python -m pytest -n 2 --cov=devflow_tui --cov-report=term --cov-fail-under=90

test: lint typecheck pytest

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

sim: $(STAMP)
	$(BIN)/devflow sim

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage .coverage.*
