# The two commands of the quick start: `make serve` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# pytest-xdist workers: one more than the cores, as much of the suite's time is spent waiting
# on the servers it starts. Each test file runs whole on one worker (--dist loadfile).
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))

.PHONY: serve demo test lint check clean

serve: $(VENV)/.server-installed  ## install keyplane and serve it on SQLite
	$(BIN)/keyplane serve

demo: $(VENV)/.server-installed  ## serve with the gateway in front of keyplane's stand-in upstream
	$(BIN)/keyplane serve --demo

test: $(VENV)/.test-installed  ## install test dependencies, start services, run the suite
	scripts/services.sh
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile

lint: $(VENV)/.test-installed  ## ruff, mypy and the package layers, as CI runs them
	$(BIN)/ruff check src tests bench scripts $(wildcard examples)
	$(BIN)/ruff format --check src tests bench scripts $(wildcard examples)
	$(BIN)/mypy src tests
	$(BIN)/lint-imports

check: lint test

$(VENV)/.server-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[server]'
	touch $@

$(VENV)/.test-installed: pyproject.toml scripts/test-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	scripts/test-deps.sh
	touch $(VENV)/.server-installed $@

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
