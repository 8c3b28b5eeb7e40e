# make study : set up (first time) and run the default study, then build the report
# make test  : set up (first time) and run the test suite
# make bench : the trainer benchmark
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 4
ARGS ?=  # more Snakemake arguments, e.g. ARGS="--configfile my-study.yaml"

.PHONY: venv study report test lint format bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# resumes an interrupted study: finished runs are kept, only what is missing is (re)made
study: venv
	$(BIN)/python scripts/clear_stale_lock.py .
	$(BIN)/snakemake --cores $(CORES) $(ARGS)
	$(BIN)/snakemake --cores $(CORES) $(ARGS) --report results/report.html

report: venv
	$(BIN)/snakemake --report results/report.html

test: venv
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/snakemake --lint

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt Snakefile workflow

bench: venv
	$(BIN)/python benchmarks/trainer.py

clean:
	rm -rf results/data results/runs results/tables results/figures results/logs results/report results/report.html results/benchmarks/jobs
