# newsflow's front door. `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV ?= $(BIN)/uv
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install run up test test-fast lint fmt lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(STAMP) ## create .venv with the hash-pinned dependencies, newsflow and its gazetteer

$(STAMP): requirements/dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("newsflow needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/newsflow gazetteer build
	touch $(STAMP)

run: install ## start the pipeline (embedded server unless NEWSFLOW_REDIS_URL), push the sample, print its event
	$(BIN)/newsflow up --push data/samples --once

up: install ## start the pipeline and keep it running (Ctrl-C stops)
	$(BIN)/newsflow up

test: install ## the whole suite against a real Redis (NEWSFLOW_REDIS_URL, or one the tests start)
	$(BIN)/pytest

test-fast: install ## unit tests and the stages on an in-memory Redis (no server needed)
	$(BIN)/pytest tests/unit tests/fast

lint: install ## ruff and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install ## format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lock: install ## re-pin requirements/*.lock from requirements/*.in
	$(UV) pip compile -q --no-header --generate-hashes --universal --python-version 3.11 requirements/runtime.in -o requirements/runtime.lock
	$(UV) pip compile -q --no-header --generate-hashes --universal --python-version 3.11 requirements/dev.in -o requirements/dev.lock

clean: ## remove the environment and local state
	rm -rf $(VENV) .newsflow .pytest_cache .mypy_cache .ruff_cache
