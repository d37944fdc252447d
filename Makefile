# The README's two commands. Each sets up .venv on first use (about 2 minutes), then runs.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.txdata-installed

.PHONY: demo test lint

demo: $(STAMP)
	$(BIN)/txdata show --mode mlm
	$(BIN)/txdata show --mode seq2seq
	$(BIN)/txdata train --mode seq2seq --out runs/demo-seq2seq --overwrite
	$(BIN)/txdata predict --run runs/demo-seq2seq "0 1 0 1 0 1 0 1 0 1"

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q -n 2

# constraints.txt pins what the tests ran with, torch among them: its CPU wheel, not CUDA's.
$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test]"
	touch $(STAMP)
