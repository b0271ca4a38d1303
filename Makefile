# Two commands: `make run` starts everything, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEPS := $(VENV)/.deps-installed
ARGS ?=

.PHONY: run test bench bench-gallery load load-dashboard chaos worker dashboard clean

$(DEPS): requirements.txt requirements-dashboard.txt requirements-worker.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

## Start Redis (embedded unless REDIS_URL is set), one worker and the dashboard on :8501; Ctrl-C stops them.
run: $(DEPS)
	PYTHONPATH=. $(PY) scripts/run.py $(ARGS)

## Install test dependencies and run the whole suite against a real Redis server.
test: $(DEPS)
	PYTHONPATH=. $(PY) -m pytest $(ARGS)

## Class-burst benchmark: notebook way vs engine vs end to end (see README, Benchmarks).
bench: $(DEPS)
	PYTHONPATH=. $(PY) -m bench.class_burst $(ARGS)

## Gallery speed with a big class (10,000 outputs by default).
bench-gallery: $(DEPS)
	PYTHONPATH=. $(PY) -m bench.gallery $(ARGS)

## Load test: simulated students against a running stack with random-tiny (loopback only, bounded).
load: $(DEPS)
	PYTHONPATH=. $(PY) -m bench.load $(ARGS)

worker: $(DEPS)
	PYTHONPATH=. $(PY) -m worker $(ARGS)

dashboard: $(DEPS)
	PYTHONPATH=. $(PY) -m streamlit run dashboard/app.py --server.headless true --browser.gatherUsageStats false

clean:
	rm -rf $(VENV) .pytest_cache

## Chaos run: a burst of submissions while workers and Redis are SIGKILLed; ends with `chaos: lost=0 duplicated=0`.
chaos: $(DEPS)
	PYTHONPATH=. $(PY) -m bench.chaos $(ARGS)

## Dashboard load test: simulated students in Chromium sessions against one Streamlit server (loopback, bounded).
load-dashboard: $(DEPS)
	PYTHONPATH=. $(PY) -m bench.load_dashboard $(ARGS)
