# make study     : set up (first time) and run the default study, then build its report
# make test      : set up (first time) and run the full test suite (what CI runs)
# make test-fast : the unit tests only (under a minute), for everyday work
# make bench     : the trainer benchmarks (per epoch, and end to end through Snakemake)
# make docs      : docs/results.md and the README's numbers, from the finished studies' tables
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# jobs at once: one per core of this machine
CORES ?= $(shell nproc 2>/dev/null || echo 4)
ARGS ?=  # more Snakemake arguments, e.g. ARGS="--configfile my-study.yaml"

.PHONY: venv study test test-fast lint format bench docs clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	PYTHONPATH=scripts $(BIN)/python -m rnnmemory.training.fused  # builds the training kernel once (cached)
	touch $@

# resumes an interrupted study: finished runs are kept, only what is missing is (re)made; the
# report is rebuilt when a result is newer than it (scripts/study.py)
study: venv
	@$(BIN)/python scripts/study.py --cores $(CORES) $(ARGS)

# two workers: one's Snakemake or SLURM waits while the other computes (tests/conftest.py)
test: venv
	$(BIN)/python -m pytest -n 2 --dist loadfile

test-fast: venv
	$(BIN)/python -m pytest -m "not slow"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/snakemake --lint

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt Snakefile workflow

# (the GPU rows only where torch sees one)
bench: venv
	$(BIN)/python benchmarks/trainer.py
	$(BIN)/python benchmarks/end_to_end.py
	if $(BIN)/python -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then \
		$(BIN)/python benchmarks/trainer.py --device cuda; fi

# docs/results.md, its figures and the README's results and speed blocks, from the tables of
# the finished studies (config.yaml, studies/budget.yaml, studies/remedies.yaml) and the bench
docs: venv
	$(BIN)/python scripts/write_docs.py

# removes the default study's results (other studies live in their own results_dir)
clean:
	rm -rf results/data results/runs results/probes results/tables results/figures results/logs results/report results/report.html results/benchmarks/jobs \
		results/benchmarks/study.json
