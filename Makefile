# closebook's interface: set up, demo, test, lint, bench, render.
# `make demo` and `make test` are the two commands of the README; .ci/run calls `make test`.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
FIRST ?= 2026-08
THROUGH ?= 2026-10
AS_OF ?= 2026-11-20
SAMPLE := data/sample

export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: setup demo test test-fast test-libreoffice lint format bench bench-shards render libreoffice clean

setup: $(VENV)/.installed

# The runtime lock (what `pip install .` needs) and the development lock (tests, lint,
# the sample generator), then closebook itself, editable. docs/dependencies.md says
# how the locks are made.
$(VENV)/.installed: requirements.lock requirements-dev.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock -r requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# Close the bundled sample months in order, as one backfill run (one temporary
# Prefect server for the three months); exit 3 (held invoices or rejected rows,
# which the sample has on purpose) is a finished close, not a failure.
demo: setup
	@status=0; \
	$(BIN)/closebook close --period $(FIRST) --through $(THROUGH) --input $(SAMPLE) \
		--as-of $(AS_OF) || status=$$?; \
	if [ $$status -ne 0 ] && [ $$status -ne 3 ]; then exit $$status; fi

# Installs LibreOffice as root; as another user without it, stops with the command to run.
libreoffice:
	@bash scripts/install_libreoffice.sh

# Every test: the real Prefect flow, the sharded close on a local Dask cluster, LibreOffice
# recalculation, and the packaging test (the wheel installed in a fresh venv closes the sample).
test: setup libreoffice
	$(BIN)/python -m pytest -q

# Everything but the real Prefect flow, LibreOffice and packaging: the quick loop while coding.
test-fast: setup
	$(BIN)/python -m pytest -q -m "not flow and not libreoffice and not packaging"

test-libreoffice: setup libreoffice
	$(BIN)/python -m pytest -q -m libreoffice

lint: setup
	$(BIN)/ruff check closebook flows sql tests scripts
	$(BIN)/ruff format --check closebook flows sql tests scripts

format: setup
	$(BIN)/ruff format closebook flows sql tests scripts
	$(BIN)/ruff check --fix closebook flows sql tests scripts

bench: setup
	$(BIN)/python scripts/bench.py --accounts 10000

# The sharded build at 1, 2 and 4 shards on a LocalCluster of 2 processes (docs/scale-out.md).
bench-shards: setup
	$(BIN)/python scripts/bench_shards.py --accounts 10000 --shards 1,2,4 --workers 2

# PNG of the first page of each workbook of PERIOD (after `make demo`), to look at.
PERIOD ?= 2026-10
render: setup libreoffice
	$(BIN)/python scripts/render_workbooks.py --period $(PERIOD)

clean:
	rm -rf data/warehouse.duckdb data/warehouse.duckdb.wal data/warehouse.duckdb.lock data/warehouse.duckdb.lock.holder data/warehouse.duckdb.shards reports/20* .bench
