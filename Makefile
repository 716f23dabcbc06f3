# Reliability Studio: `make run` (embedded default) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?= -n 2

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

run: migrate
	DEBUG=$${DEBUG:-1} $(PY) manage.py ensure_demo_admin
	@echo "Serving on http://127.0.0.1:8000 (Ctrl-C stops it)"
	DEBUG=$${DEBUG:-1} $(PY) manage.py serve --host 127.0.0.1 --port 8000

test: venv
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

bench: venv
	@set -e; for script in bench/*.py; do echo "== $$script"; $(PY) $$script; done
