# Two commands: `make run` starts everything, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEPS := $(VENV)/.deps-installed
ARGS ?=

.PHONY: run test test-fast check bench bench-host bench-gallery load load-dashboard load-lesson chaos worker dashboard clean demo-model demo-check demo-text bench-metrics bench-fairness

$(DEPS): requirements.txt requirements-dashboard.txt requirements-worker.txt requirements-worker-base.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

## Start Redis (embedded unless REDIS_URL is set), one worker and the dashboard on :8501; Ctrl-C stops them.
run: $(DEPS)
	$(PY) -m scripts.run $(ARGS)

## Install test dependencies, lint, type-check the contract and run the whole suite against a real Redis server.
test: $(DEPS) check
	$(PY) -m pytest $(ARGS)

## The fast tier: pure logic, engine and records; no Redis, no worker processes, no browser (a minute or two).
test-fast: $(DEPS)
	$(PY) -m pytest -m fast -q -p no:cacheprovider $(ARGS)

## Lint (ruff) and type-check the contract (mypy --strict on shared/contract).
check: $(DEPS)
	$(PY) -m ruff check .
	$(PY) -m mypy

## Class-burst benchmark: notebook way vs grouped generate vs engine vs end to end (see README, Benchmarks).
bench: $(DEPS)
	$(PY) -m bench.class_burst $(ARGS)

## Engine per-step host time at 64/256/1024 rows with a stand-in model, before and after (see README, Benchmarks).
bench-host: $(DEPS)
	$(PY) -m bench.host $(ARGS)

## Gallery speed with a big class (10,000 outputs by default).
bench-gallery: $(DEPS)
	$(PY) -m bench.gallery $(ARGS)

## Load test: simulated students against a running stack with random-tiny (loopback only, bounded).
load: $(DEPS)
	$(PY) -m bench.load $(ARGS)

# The demo model's text: technical prose in English and Spanish that Debian ships (docs/demo-model.md).
DEMO_PACKAGES := git-doc debian-reference-en debian-reference-es manpages-es

## Install the demo model's text (Debian packages; as root, or prints the sudo command).
demo-text:
	@dpkg -s $(DEMO_PACKAGES) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q $(DEMO_PACKAGES) || { apt-get update -q && apt-get install -y -q $(DEMO_PACKAGES); }; \
	  else echo "run: sudo apt-get install -y $(DEMO_PACKAGES)"; exit 1; fi; }

## Train the demo model offline (8.5 min on 2 CPU cores, all included) into data/models/demo; ARGS="--minutes 30" trains longer.
demo-model: $(DEPS) demo-text
	$(PY) -m pip install -q -r requirements-demo.txt
	$(PY) -m scripts.train_demo_model $(ARGS)

## What the demo model teaches (docs/demo-model.md): exercise 1's table, then exercise 2's ablation and its targets.
demo-check: $(DEPS)
	$(PY) -m bench.demo_teaches $(ARGS)

worker: $(DEPS)
	$(PY) -m worker $(ARGS)

dashboard: $(DEPS)
	$(PY) -m streamlit run dashboard/app.py --server.headless true --browser.gatherUsageStats false

clean:
	rm -rf $(VENV) .pytest_cache

## Chaos run: a burst of submissions while workers and Redis are SIGKILLed; ends with `chaos: lost=0 duplicated=0`.
chaos: $(DEPS)
	$(PY) -m bench.chaos $(ARGS)

## Dashboard load test: simulated students in Chromium sessions against one Streamlit server (loopback, bounded).
load-dashboard: $(DEPS)
	$(PY) -m bench.load_dashboard $(ARGS)

## Lesson load test: 300 students answer one question within 10 s; votes lost/duplicated and the projector's tally delay.
load-lesson: $(DEPS)
	$(PY) -m bench.load_lesson $(ARGS)

## What the worker's Prometheus metrics cost its step loop (docs/operations.md).
bench-metrics: $(DEPS)
	$(PY) -m bench.metrics_cost $(ARGS)

## Fair share and storage: bystanders' p95 alone and beside a maximal job; Redis bytes per stored token (docs/fairness-and-storage.md).
bench-fairness: $(DEPS)
	$(PY) -m bench.fairness $(ARGS)
