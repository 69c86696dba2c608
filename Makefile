# Set-up and the two commands the README promises: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Install, generate the default model offline, index the example reports, ask two questions.
demo: $(STAMP)
	$(BIN)/simkit models install
	$(BIN)/simkit build examples/reports --index indexes/demo
	$(BIN)/simkit search "在乡镇推行一支队伍管执法的综合执法改革" --index indexes/demo
	$(BIN)/simkit search "bundle related services so people apply once at one window" --index indexes/demo --json

## Install what the tests need and run the whole suite (slow tests included) and the linter.
test: $(STAMP)
	$(BIN)/ruff check simkit tests scripts
	$(BIN)/lint-imports
	HF_HUB_OFFLINE=1 $(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python scripts/bench_embed.py

clean:
	rm -rf $(VENV) indexes/demo
