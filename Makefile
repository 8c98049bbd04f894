# Every target installs what it needs first; `make test` and `make run` work on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint format bench run migrate admin clean package deploy events invoke

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
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m bench

migrate: install
	$(BIN)/python -m ops.migrate

# e.g. make admin ARGS="check"  (the same as .venv/bin/wa-admin check)
admin: install
	$(BIN)/python -m admin $(ARGS)

run: install
	$(BIN)/python -m localrun

# AWS (infra/DEPLOY.md). `make package`: the two Lambda zips, sizes printed, no SAM CLI needed.
# `make deploy`: sam build + sam deploy with infra/samconfig.toml (SAM_ENV=prod for a [prod] section).
SAM_ENV ?= default

package: install
	$(BIN)/python -m infra.build_package handler --zip build/lambda/handler.zip
	$(BIN)/python -m infra.build_package forwarder --zip build/lambda/forwarder.zip

deploy: install
	@command -v sam >/dev/null || { echo "make deploy needs the AWS SAM CLI (sam): see infra/DEPLOY.md" >&2; exit 1; }
	cd infra && sam build --config-env $(SAM_ENV) && sam deploy --config-env $(SAM_ENV)

events: install
	$(BIN)/python -m infra.sample_events list

# e.g. make invoke EVENT=infra/events/envelope-text.json: one sample event through the real
# lambda_handler in this process, against make run's database, with the stand-ins (no Docker).
invoke: install
	@$(BIN)/python -m localrun.invoke $(EVENT)

clean:
	rm -rf $(VENV) build .data/test-postgres
