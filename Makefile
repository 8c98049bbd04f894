# Every target installs what it needs first; `make test` and `make run` work on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)

# One virtual environment per interpreter: .venv for the default one, .venv-X.Y for PYTHON=...
ifeq ($(origin PYTHON),file)
VENV := .venv
else
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
$(if $(PYTHON_VERSION),,$(error PYTHON=$(PYTHON) does not run as a Python interpreter))
VENV := .venv-$(PYTHON_VERSION)
endif
BIN := $(VENV)/bin

# The locked versions (requirements/*.txt, `make lock`) are installed with uv, much faster
# than pip; where no uv wheel installs (an unusual platform), pip installs the same versions. pip is
# pinned too: infra/build_package.py uses it for the Lambda's wheels.
PIP_VERSION := 26.3
UV_VERSION  := 0.13.9
UV          := $(BIN)/uv
UV_STAMP    := $(VENV)/.uv-$(UV_VERSION)
# `make run` needs the runtime and `local` extras only; the dev tool chain comes with `make test`.
# requirements/dev.txt holds every pin of requirements/local.txt, so installing it covers both.
LOCAL := $(VENV)/.installed-local
DEV   := $(VENV)/.installed-dev
# $(call install_locked,requirements/X.txt); pip's hash checking refuses an editable install, hence two steps.
install_locked = if [ -x $(UV) ]; then $(UV) pip install --python $(BIN)/python -r $(1) -e .; \
	else $(BIN)/python -m pip install --disable-pip-version-check -r $(1) \
	&& $(BIN)/python -m pip install --disable-pip-version-check --no-deps -e .; fi

.PHONY: install test lint format bench run migrate admin clean package deploy events invoke lock

install: $(DEV)

$(UV_STAMP):
	@echo "Installing pip $(PIP_VERSION) and uv $(UV_VERSION) into $(VENV)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check pip==$(PIP_VERSION) uv==$(UV_VERSION) \
		|| { echo "uv $(UV_VERSION) did not install: pip installs the locked versions instead (slower)"; \
		$(BIN)/python -m pip install --disable-pip-version-check pip==$(PIP_VERSION); }
	touch $@

$(LOCAL): requirements/local.txt pyproject.toml | $(UV_STAMP)
	@echo "Installing the runtime and local dependencies (requirements/local.txt) into $(VENV)"
	$(call install_locked,requirements/local.txt)
	touch $@

$(DEV): requirements/dev.txt pyproject.toml | $(UV_STAMP)
	@echo "Installing the runtime, local and dev dependencies (requirements/dev.txt) into $(VENV)"
	$(call install_locked,requirements/dev.txt)
	touch $@ $(LOCAL)

# After a change to the dependencies in pyproject.toml: pins that still fit are kept.
LOCK_OPTIONS := --quiet --universal --python-version 3.11 --generate-hashes --custom-compile-command "make lock"
lock: $(UV_STAMP)
	$(UV) pip compile pyproject.toml --extra dev $(LOCK_OPTIONS) -o requirements/dev.txt
	$(UV) pip compile pyproject.toml --extra local -c requirements/dev.txt $(LOCK_OPTIONS) -o requirements/local.txt

test: $(DEV)
	$(BIN)/pytest

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(DEV)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(DEV)
	$(BIN)/python -m bench

migrate: $(LOCAL)
	$(BIN)/python -m ops.migrate

# e.g. make admin ARGS="check"  (the same as .venv/bin/wa-admin check)
admin: $(LOCAL)
	$(BIN)/python -m admin $(ARGS)

run: $(LOCAL)
	$(BIN)/python -m localrun

# AWS (infra/DEPLOY.md). `make package`: the two Lambda zips, sizes printed, no SAM CLI needed.
# `make deploy`: sam build + sam deploy with infra/samconfig.toml (SAM_ENV=prod for a [prod] section).
SAM_ENV ?= default

package: $(LOCAL)
	$(BIN)/python -m infra.build_package handler --zip build/lambda/handler.zip
	$(BIN)/python -m infra.build_package forwarder --zip build/lambda/forwarder.zip

deploy: $(LOCAL)
	@command -v sam >/dev/null || { echo "make deploy needs the AWS SAM CLI (sam): see infra/DEPLOY.md" >&2; exit 1; }
	cd infra && sam build --config-env $(SAM_ENV) && sam deploy --config-env $(SAM_ENV)

events: $(LOCAL)
	$(BIN)/python -m infra.sample_events list

# e.g. make invoke EVENT=infra/events/envelope-text.json: one sample event through the real
# lambda_handler in this process, against make run's database, with the stand-ins (no Docker).
invoke: $(LOCAL)
	@$(BIN)/python -m localrun.invoke $(EVENT)

clean:
	rm -rf .venv .venv-* build .data/test-postgres
