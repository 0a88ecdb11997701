# Lantern: the two commands a new user needs are `make quickstart` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export MLFLOW_DISABLE_TELEMETRY := true
export BENTOML_DO_NOT_TRACK := true
# LightGBM's OpenMP threads spin-wait by default; on a small shared machine that can turn a
# fit of a second into a minute. Passive waiting keeps them steady.
export OMP_WAIT_POLICY := PASSIVE

# Size of the demo partnership; `make quickstart CHILDREN=10000` for a quicker look.
CHILDREN ?= 40000
YEARS ?= 3
SEED ?= 7
DATA ?= data/partnership
PORT ?= 3000

.PHONY: quickstart test bench bench-large lint format venv clean docs browser postgres

venv: $(VENV)/.installed

# Rebuilt only when the dependency pins change. constraints.txt pins every package CI tested.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

quickstart: venv
	$(BIN)/lantern synth --children $(CHILDREN) --years $(YEARS) --seed $(SEED) --out $(DATA) --report
	$(BIN)/lantern validate $(DATA)
	$(BIN)/lantern features $(DATA) --snapshots quarterly --out $(DATA)/features.parquet
	$(BIN)/lantern train $(DATA) --features $(DATA)/features.parquet
	$(BIN)/lantern audit --model exclusion_neet
	$(BIN)/lantern audit --model serious_violence
	@# A refused promotion is shown, with its reasons, and leaves the champion as it was.
	-$(BIN)/lantern promote --model exclusion_neet
	-$(BIN)/lantern promote --model serious_violence
	@# The service, in the foreground: its page, a demo key and an example request are printed.
	$(BIN)/lantern serve --demo-key --features $(DATA)/features.parquet --port $(PORT)

# Headless Chromium for the browser tests (they skip without it); installed only if missing.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq chromium \
	      || echo "could not install chromium (not root?): the browser tests will be skipped"; \
	  else echo "no /usr/bin/chromium and no apt-get: the browser tests will be skipped"; fi; \
	fi

# PostgreSQL server binaries for the serving store's tests (they skip without them); installed
# only if missing. The tests start their own throwaway server; nothing is left running.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq postgresql \
	      || echo "could not install postgresql (not root?): the PostgreSQL tests will be skipped"; \
	  else echo "no PostgreSQL binaries and no apt-get: the PostgreSQL tests will be skipped"; fi; \
	fi

# Two worker processes (the machine has two cores); tests that share an expensive fixture or
# a module's ordered state run in one worker (groups: tests/conftest.py). The ten slowest are listed.
TEST_WORKERS ?= 2

test: venv lint browser postgres
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=10

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: venv
	$(BIN)/lantern contract --out docs/data-contract.md

bench: venv
	$(BIN)/python -m benchmarks --out docs/benchmarks.md

# The pipeline at 40k, 250k and 1M children, pandas beside Dask (about an hour, up to 20 GB).
bench-large: venv
	$(BIN)/python -m benchmarks.scale --out docs/benchmarks-large.md

clean:
	rm -rf $(VENV) data tests/artifacts .pytest_cache .ruff_cache
