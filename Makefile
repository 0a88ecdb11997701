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
# The path a partnership takes: agency extracts as held (DATA/raw), linked into LINKED.
LINKED ?= $(DATA)/linked
PORT ?= 3000

.PHONY: quickstart test test-spark spark bench bench-large lint format venv clean docs debian browser postgres

venv: $(VENV)/.installed

# Rebuilt only when the dependency pins change. constraints.txt pins every package CI tested.
# pip byte-compiles what it installs one file at a time (80 s here); compileall does the same on
# every core (about half the time on two).
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -c constraints.txt -e ".[dev]"
	$(BIN)/python -m compileall -q -j 0 $$($(BIN)/python -c "import sysconfig; print(sysconfig.get_path('purelib'))")
	touch $@

DEMO_REASON := make quickstart: a demonstration on a synthetic partnership; the gate's refusal and its reasons are printed above and recorded. Never force a promotion on real data.

quickstart: venv
	$(BIN)/lantern synth --children $(CHILDREN) --years $(YEARS) --seed $(SEED) --out $(DATA) --report --raw
	@# Each agency's extract as it holds it, linked into children (report: LINKED/linkage/report.html).
	$(BIN)/lantern link $(DATA)/raw --out $(LINKED) --truth $(DATA)/ground_truth
	$(BIN)/lantern validate $(LINKED)
	$(BIN)/lantern features $(LINKED) --snapshots quarterly --out $(LINKED)/features.parquet
	$(BIN)/lantern train $(LINKED) --features $(LINKED)/features.parquet
	$(BIN)/lantern audit --model exclusion_neet
	$(BIN)/lantern audit --model serious_violence
	@# A refused promotion is shown, with its reasons. The synthetic partnership's models miss
	@# girls more often than boys at a 2% capacity, so the fairness gate refuses them; to start
	@# the demonstration service the promotion is then forced, and the version records why.
	$(BIN)/lantern promote --model exclusion_neet || $(BIN)/lantern promote --model exclusion_neet --force --reason "$(DEMO_REASON)"
	$(BIN)/lantern promote --model serious_violence || $(BIN)/lantern promote --model serious_violence --force --reason "$(DEMO_REASON)"
	@# The service, in the foreground: its page, a demo key and an example request are printed.
	$(BIN)/lantern serve --demo-key --features $(LINKED)/features.parquet --linkage $(LINKED)/linkage --port $(PORT)

# Debian packages the tests use, installed only if missing, with one apt-get update: headless
# Chromium for the browser tests, and PostgreSQL server binaries for the serving store's tests
# (each starts its own throwaway server; nothing is left running). Without them, those tests skip.
DEBIAN_PACKAGES := chromium:/usr/bin/chromium postgresql:/usr/lib/postgresql/*/bin/initdb

debian:
	@missing=""; for entry in $(DEBIAN_PACKAGES); do \
	  ls $${entry#*:} >/dev/null 2>&1 || missing="$$missing $${entry%%:*}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq $$missing \
	      || echo "could not install$$missing (not root?): their tests will be skipped"; \
	  else echo "no apt-get to install$$missing: their tests will be skipped"; fi; \
	fi

browser postgres: debian

# Two worker processes (the machine has two cores); tests that share an expensive fixture or
# a module's ordered state run in one worker (groups: tests/conftest.py). The ten slowest are listed.
TEST_WORKERS ?= 2

test: venv lint debian
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=10 -m "not spark"

# Splink's Spark backend: pyspark (the `spark` extra) and Java 17 from Debian if missing.
spark: venv
	@command -v java >/dev/null || { apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; }
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,spark]"

# The Spark engine against DuckDB on a small partnership (about two minutes: Spark's start-up
# and its local jobs), kept out of `make test` for the suite's time budget.
test-spark: spark
	$(BIN)/python -m pytest -m spark tests/linkage/test_spark.py

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

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
