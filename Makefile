# Two commands on a fresh machine: `make run` and `make test`. Everything they
# need is installed on first use into .venv (and, for tests, Debian packages).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TSC := node_modules/.bin/tsc
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run dev start test lint fmt typecheck build bench system-deps vendor clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# TypeScript (checks the console's typed client), axe-core (the console's accessibility
# tests) and the console's browser libraries, pinned in package-lock.json.
$(TSC): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: $(STAMP)
	$(BIN)/gateway serve --host $(HOST) --port $(PORT)

dev: $(STAMP)
	$(BIN)/watchfiles --filter default '$(BIN)/gateway serve --host $(HOST) --port $(PORT)' gateway config

start: $(STAMP)
	GATEWAY_ENV=production $(BIN)/gateway serve

# Refresh the console's browser libraries (gateway/web/ui/vendor/, committed) from npm.
vendor: $(TSC)
	scripts/vendor-web.sh

system-deps:
	@scripts/ensure-system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check gateway tests benchmarks
	$(BIN)/ruff format --check gateway tests benchmarks
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format gateway tests benchmarks
	$(BIN)/ruff check --fix gateway tests benchmarks

test: $(STAMP) system-deps $(TSC) lint
	$(BIN)/python -m pytest -q

build: $(STAMP)
	$(BIN)/python -m build --outdir dist .

bench: $(STAMP) system-deps
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.json_bounds

clean:
	rm -rf $(VENV) node_modules dist build *.egg-info .pytest_cache .mypy_cache .ruff_cache
