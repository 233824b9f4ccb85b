# The two commands: `make demo` and `make test`. Everything else is for operators.
SHELL := /bin/bash
export DAGSTER_HOME ?= $(CURDIR)/.dagster
# uv from PATH, else as a module (pip may have put it outside PATH).
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)

.PHONY: setup demo test check check-tests lint format ui run bench clean

# Bytecode is compiled once here: with PYTHONDONTWRITEBYTECODE set (as on these machines)
# every process would otherwise compile its imports again, about 3 s per start.
setup:
	@if ! command -v uv >/dev/null 2>&1 && ! python3 -m uv --version >/dev/null 2>&1; then \
		echo "Installing uv with pip..."; \
		python3 -m pip install --quiet uv 2>/dev/null || \
		python3 -m pip install --quiet --user --break-system-packages uv; \
	fi
	@$(UV) sync --locked --quiet --compile-bytecode
	@$(UV) run --quiet python -m compileall -q pipeline

demo: setup
	$(UV) run pipeline demo

# The house rules: lint, format, types, the import layers and Dagster's own check of the definitions.
lint: setup
	$(UV) run ruff check pipeline tests
	$(UV) run ruff format --check pipeline tests
	$(UV) run mypy
	$(UV) run lint-imports
	$(UV) run dg check defs

format: setup
	$(UV) run ruff check --fix pipeline tests
	$(UV) run ruff format pipeline tests

# A developer's loop: the house rules, then the fast tier of the tests (no slow ones, small Hypothesis budgets).
check: lint check-tests

# Everything, at the full Hypothesis budgets, on two workers (pytest-xdist; tests that share a
# server or a shared run stay on one worker through xdist_group, see pyproject.toml).
test: setup
	HYPOTHESIS_PROFILE=ci $(UV) run pytest -n 2

# The fast tier alone (no lint): unit and in-process integration tests, small Hypothesis budgets.
check-tests: setup
	HYPOTHESIS_PROFILE=dev $(UV) run pytest -m "not slow" -n 2

ui: setup
	$(UV) run dagster dev -w workspace.yaml

run: setup
	$(UV) run pipeline run $(if $(MONTH),--month $(MONTH))

bench: setup
	$(UV) run pipeline bench

clean:
	rm -rf data .dagster
