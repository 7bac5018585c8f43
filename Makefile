# tidegauge — `make help` lists the targets.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
NAB_OUT ?= bench/out/nab

.DEFAULT_GOAL := help
.PHONY: help install browser demo test check lint types audit format format-check bench-collect bench-detect \
        bench-nab bench-detect-family bench-detect-speed bench-lineage bench-metadata bench-web \
        bench-scale bench-store bench-fanout bench-demo-hours bench-batch-replay dbt-matrix bench-cli bench-streams clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install tidegauge with every extra the tests need

browser: ## install Debian's chromium for the browser tests (needs root or sudo)
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@command -v chromium

DEMO_STAMP := $(VENV)/.demo-installed

# the demo installs tidegauge and the `demo` extra only (no dbt, dagster, celery, browser:
# those are the test suite's); uv prints its progress
$(DEMO_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "== installing tidegauge and what the demo needs into $(VENV)"
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade uv
	$(BIN)/uv pip install --python $(BIN)/python -e '.[demo]'
	@touch $(DEMO_STAMP)

demo: $(DEMO_STAMP) ## install only what the demo needs, build its warehouse, monitor it, serve the UI
	@echo "== building the demo warehouse and replaying six runs over its last 30 hours (about two minutes)"
	$(BIN)/tidegauge demo $(DEMO_ARGS)

test: $(STAMP) browser ## run the test suite (servers: PostgreSQL, MariaDB on localhost)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff
	$(BIN)/ruff check tidegauge tests bench tools

types: $(STAMP) ## mypy over the package (strict on core/) and the tests (not strict)
	$(BIN)/mypy tidegauge tests

audit: $(STAMP) ## known vulnerabilities in installed dependencies (pip-audit; STRICT=1 fails if unchecked)
	$(BIN)/python tools/audit.py $(if $(STRICT),--strict)

format: $(STAMP) ## ruff format (rewrites files)
	$(BIN)/ruff format tidegauge tests bench tools

format-check: $(STAMP) ## ruff format --check: fails on any file the formatter would change
	$(BIN)/ruff format --check tidegauge tests bench tools

check: lint format-check types test ## lint, format, types and tests (what CI runs)

bench/.venv-%/.installed: bench/reference_tools.py
	$(BIN)/python bench/reference_tools.py --setup $*
	@test -x bench/.venv-$*/bin/python && touch $@ || true

bench-collect: $(STAMP) bench/.venv-soda/.installed bench/.venv-gx/.installed ## 10M rows: tidegauge's first and steady runs vs a hand-written scan, Soda Core, GX (JSON)
	$(BIN)/python bench/collect.py $(BENCH_ARGS)

bench-detect: $(STAMP) ## warehouse incident-injection suite: recall, false alarms, delay (JSON)
	$(BIN)/python -m bench.detect --seed 1001 --tables 6 $(BENCH_ARGS)

bench-detect-family: $(STAMP) ## false alerts per 100 clean table-days at 5 and 500 tables, per-point vs run-controlled (JSON)
	$(BIN)/python -m bench.detect_family --seed 2001 --tables 5,500 $(BENCH_ARGS)

bench-detect-speed: $(STAMP) ## live scoring speed on 500 hourly series (JSON)
	$(BIN)/python -m bench.detect_speed --series 500 $(BENCH_ARGS)

bench-nab: $(STAMP) ## Numenta Anomaly Benchmark, results written to NAB_OUT (JSON)
	$(BIN)/python -m bench.nab --out $(NAB_OUT) --jobs 2 $(BENCH_ARGS)

bench-lineage: $(STAMP) ## 5,000-model dbt project: parse + column lineage, impact query (JSON)
	$(BIN)/python bench/lineage.py $(BENCH_ARGS)

bench-metadata: $(STAMP) ## metadata-only path over 1,000 tables per engine (JSON)
	$(BIN)/python -m bench.metadata_path $(BENCH_ARGS)

bench-web: $(STAMP) ## 5,000 tables / 1M points: page p95 and API p99 at 50 clients (JSON)
	$(BIN)/python bench/web.py --workers 1,2 $(BENCH_ARGS)

bench-scale: $(STAMP) ## metadata-only path over 10,000 tables, DuckDB and PostgreSQL (JSON)
	$(BIN)/python -m bench.scale --tables 10000 $(BENCH_ARGS)

bench-store: $(STAMP) ## metric history at 100M points on PostgreSQL vs 1M: reads, upsert, prune (JSON)
	$(BIN)/python -m bench.store_history --points 100000000 --compare 1000000 $(BENCH_ARGS)

bench-cli: $(STAMP) ## start-up of the CLI: --help/--version vs importing typer, status on the demo (JSON)
	$(BIN)/python -m bench.cli $(BENCH_ARGS)

bench-demo-hours: $(STAMP) ## the demo with its data ending at each hour of a day: found, missed, extra (JSON)
	$(BIN)/python -m bench.demo_hours $(BENCH_ARGS)

bench-batch-replay: $(STAMP) ## nightly-batch shop replayed day by day: injected problems found, extra incidents (JSON)
	$(BIN)/python -m bench.batch_replay $(BENCH_ARGS)

bench-streams: $(STAMP) ## one stream poll over 1,000 topics x 12 partitions, 200 groups on Tansu; probe overhead; sampling (JSON)
	$(BIN)/python -m bench.streams $(BENCH_ARGS)

bench-fanout: $(STAMP) ## Celery fan-out: tables/s with 1, 2 and 4 workers vs one process (JSON)
	$(BIN)/python -m bench.fanout $(BENCH_ARGS)

dbt-matrix: $(STAMP) ## rebuild tests/fixtures/manifests with every dbt-core from 1.0 on, one venv each (.venv-dbt/)
	$(BIN)/python tests/fixtures/dbt_matrix.py --uv $(BIN)/uv $(DBT_MATRIX_ARGS)

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-output
