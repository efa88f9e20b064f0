# The two commands: `make run` starts the bot locally, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

run: $(VENV)/.installed
	$(BIN)/python -m bot.worker.local

test: $(VENV)/.installed
	$(BIN)/python -m pytest $(ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .

# Known vulnerabilities in the pinned requirements, through pip-audit and PyPI's advisory data; --strict fails
# when a package could not be checked (the advisory service out of reach), rather than passing unchecked.
audit: $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check pip-audit==2.10.1
	$(BIN)/pip-audit --strict --requirement requirements.txt --requirement requirements-dev.txt

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

.PHONY: run test lint audit
