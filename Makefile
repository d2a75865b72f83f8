# One set of commands for developers and CI. Each target installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
DEMO   ?= demo
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Parallel workers for the test suite (pytest-xdist), one per core: the suite is CPU-bound
# (four workers on two cores measured slower). `worksteal` hands the slow tests' leftovers
# to idle workers.
WORKERS ?= auto

.PHONY: demo test check bench install install-dev clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Runtime install: re-run only when pyproject.toml changes.
.stamp-install: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	@touch $@

.stamp-dev: pyproject.toml .stamp-install
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

install: .stamp-install
install-dev: .stamp-dev

## demo: create a demo CRM on SQLite with sample data and serve it on http://127.0.0.1:8000
demo: .stamp-install
	$(BIN)/ficha demo $(DEMO) --host $(HOST) --port $(PORT)

## test: the whole test suite on SQLite, PostgreSQL and MariaDB, and in Chromium
test: .stamp-dev
	$(BIN)/pytest -n $(WORKERS) --dist worksteal $(PYTEST_ARGS)

## check: lint and types
check: .stamp-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## bench: the benchmarks, with their raw-SQL floor, printed as tables
bench: .stamp-dev
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .stamp-install .stamp-dev build *.egg-info
