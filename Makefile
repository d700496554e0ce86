PY ?= python

.PHONY: check locked format-check lint types security test format lock

check: locked format-check lint types security test

# The installed versions are the locked ones (constraints.txt); prints them.
locked:
	$(PY) scripts/lock.py --verify

# Resolve pyproject.toml's ranges afresh into constraints.txt (then run the check and commit both).
lock:
	$(PY) scripts/lock.py

format-check:
	$(PY) -m ruff format --check src tests bench

lint:
	$(PY) -m ruff check src tests bench

types:
	$(PY) -m mypy

# bandit: medium severity and above fails; pip-audit: known vulnerabilities in the installed dependencies fail
# (it asks the package index's vulnerability data, so it needs the network; the project itself is skipped).
security:
	$(PY) -m bandit -q -r src -ll
	$(PY) -m pip_audit --skip-editable --progress-spinner off

test:
	$(PY) -m pytest -q

format:
	$(PY) -m ruff format src tests bench
	$(PY) -m ruff check --fix src tests bench
