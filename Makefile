# The two commands: `make demo` and `make test`. Everything else is for operators.
SHELL := /bin/bash
export DAGSTER_HOME ?= $(CURDIR)/.dagster
# uv from PATH, else as a module (pip may have put it outside PATH).
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)

.PHONY: setup demo test ui run bench clean

setup:
	@if ! command -v uv >/dev/null 2>&1 && ! python3 -m uv --version >/dev/null 2>&1; then \
		echo "Installing uv with pip..."; \
		python3 -m pip install --quiet uv 2>/dev/null || \
		python3 -m pip install --quiet --user --break-system-packages uv; \
	fi
	@$(UV) sync --locked --quiet

demo: setup
	$(UV) run pipeline demo

test: setup
	$(UV) run pytest

ui: setup
	$(UV) run dagster dev -w workspace.yaml

run: setup
	$(UV) run pipeline run $(if $(MONTH),--month $(MONTH))

bench: setup
	$(UV) run pipeline bench

clean:
	rm -rf data .dagster
