PY ?= python

.PHONY: check format-check lint types test format

check: format-check lint types test

format-check:
	$(PY) -m ruff format --check src tests bench

lint:
	$(PY) -m ruff check src tests bench

types:
	$(PY) -m mypy

test:
	$(PY) -m pytest -q

format:
	$(PY) -m ruff format src tests bench
	$(PY) -m ruff check --fix src tests bench
