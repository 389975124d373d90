# Everything runs from a local virtual environment, made on first use.
# PYTHON picks the interpreter it is made from, VENV where it goes (CI makes one per Python):
#   make test PYTHON=~/.pyenv/versions/3.10.13/bin/python3 VENV=.venv-3.10
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/mapfold count 2x5
	@echo "mapfold is installed in $(VENV): run $(BIN)/mapfold, or 'source $(BIN)/activate' first to type just mapfold"

# Two test processes: most tests are compiles and single-threaded walks, so two halve the wait on 2 cores.
test: $(STAMP)
	$(BIN)/pytest -q -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check mapfold tests benchmarks
	$(BIN)/ruff format --check mapfold tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format mapfold tests benchmarks
	$(BIN)/ruff check --fix mapfold tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) .venv-* build *.egg-info .pytest_cache .ruff_cache
