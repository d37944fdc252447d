# The README's two commands. Each sets up .venv on first use (about 2 minutes), then runs.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.txdata-installed

BENCH_STAMP := $(VENV)/.txdata-bench-installed

.PHONY: demo test lint bench

demo: $(STAMP)
	$(BIN)/txdata show --mode mlm
	$(BIN)/txdata show --mode seq2seq
	$(BIN)/txdata show --mode clm
	$(BIN)/txdata show --mode all
	$(BIN)/txdata train --mode seq2seq --out runs/demo-seq2seq --overwrite
	$(BIN)/txdata predict --run runs/demo-seq2seq "0 1 0 1 0 1 0 1 0 1"

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q -n 2

# Every benchmark, against the reference tools; `make bench QUICK=--quick` for a short run.
bench: $(BENCH_STAMP)
	mkdir -p bench/results
	for script in collate step converge scale generate backprop ddp cli_startup; do \
		$(BIN)/python bench/$$script.py $(QUICK) | tee bench/results/$$script.txt || exit 1; \
	done

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test,bench]"
	touch $(BENCH_STAMP)

# constraints.txt pins what the tests ran with, torch among them: its CPU wheel, not CUDA's.
$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test]"
	touch $(STAMP)
