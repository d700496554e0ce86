PY ?= python

.PHONY: check format-check lint types security test format

check: format-check lint types security test

format-check:
	$(PY) -m ruff format --check src tests bench

lint:
	$(PY) -m ruff check src tests bench

types:
	$(PY) -m mypy

# bandit: medium severity and above fails; pip-audit: known vulnerabilities in the installed dependencies fail
# (it asks PyPI's vulnerability data, so it needs to reach pypi.org; the project itself is skipped).
security:
	$(PY) -m bandit -q -r src -ll
	$(PY) -m pip_audit --skip-editable --progress-spinner off

test:
	$(PY) -m pytest -q

format:
	$(PY) -m ruff format src tests bench
	$(PY) -m ruff check --fix src tests bench
