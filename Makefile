# Two commands: `make run` starts everything, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEPS := $(VENV)/.deps-installed
ARGS ?=

.PHONY: run test bench bench-host bench-gallery load worker dashboard clean

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

## Class-burst benchmark: notebook way vs grouped generate vs engine vs end to end (see README, Benchmarks).
bench: $(DEPS)
	PYTHONPATH=. $(PY) -m bench.class_burst $(ARGS)

## Engine per-step host time at 64/256/1024 rows with a stand-in model, before and after (see README, Benchmarks).
bench-host: $(DEPS)
	PYTHONPATH=. $(PY) -m bench.host $(ARGS)

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
