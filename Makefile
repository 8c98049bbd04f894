# Every target installs what it needs first; `make test` and `make run` work on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint format bench run migrate admin clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m bench

migrate: install
	$(BIN)/python -m shared.migrate

# e.g. make admin ARGS="check"  (the same as .venv/bin/wa-admin check)
admin: install
	$(BIN)/python -m admin $(ARGS)

run: install
	$(BIN)/python -m localrun

clean:
	rm -rf $(VENV) build .data/test-postgres
