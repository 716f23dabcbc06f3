# Reliability Studio: `make run` (embedded default) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?= -n 2
DEMO_PORT ?= 8001
PROMETHEUS_PORT ?= 9091
RUN_ENV = DEBUG=$${DEBUG:-1} DETECTION_INTERVAL_SECONDS=$${DETECTION_INTERVAL_SECONDS:-10} \
	DEMO_URL=http://127.0.0.1:$(DEMO_PORT) PROMETHEUS_URL=http://127.0.0.1:$(PROMETHEUS_PORT)

.PHONY: run test lint bench venv migrate

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	@touch $@

venv: $(VENV)/.installed

migrate: venv
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput

# The studio, the demo shop and Prometheus, all on the embedded default; Ctrl-C stops them all.
run: migrate
	@$(RUN_ENV) $(PY) manage.py ensure_demo_admin
	$(RUN_ENV) $(PY) manage.py studio --host 127.0.0.1 --port 8000

test: venv
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

bench: venv
	$(PY) bench/report.py
