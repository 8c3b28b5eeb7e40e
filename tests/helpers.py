"""Helpers of the end-to-end tests: a copy of the project in a temporary directory, Snakemake
run on it as a user would, and readers of what it wrote."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from rnnmemory.analysis.tables import TIMING_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = [
    "Snakefile",
    "config.yaml",
    "workflow",
    "scripts",
    "profiles",
    "studies",
    "tests/tiny.yaml",
]
TINY = "results/tiny"  # tests/tiny.yaml's results_dir
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def copy_project(dest: Path) -> Path:
    for name in PROJECT_FILES:
        src, dst = ROOT / name, dest / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst)
    return dest


def snakemake(workdir, *args, check=True, env=None, cores="2"):
    cmd = [sys.executable, "-m", "snakemake", "--cores", cores, *args]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=900, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def tiny(workdir, *args, targets=(), **kwargs):
    """The tiny study (tests/tiny.yaml), as `snakemake --cores 2 --configfile ...` runs it;
    ``targets``: make only these files (and what they need)."""
    return snakemake(workdir, *targets, "--configfile", "tests/tiny.yaml", *args, **kwargs)


def read_runs(workdir, results=TINY) -> pd.DataFrame:
    return pd.read_csv(Path(workdir) / results / "tables/runs.csv")


def runs_without_timing(workdir, results=TINY) -> pd.DataFrame:
    """The runs table with the columns that measure the machine (time_*, job_*) set aside."""
    return read_runs(workdir, results).drop(columns=TIMING_COLUMNS)


def job_counts(output: str) -> dict:
    """Rule -> job count from Snakemake's 'Job stats' table."""
    table = output.split("Job stats:")[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


def load_yaml(path) -> dict:
    return yaml.safe_load((ROOT / path).read_text())


def copy_study(study, dest):
    """A copy of a finished study with its files' times and Snakemake's records kept, so
    Snakemake sees it as finished."""
    shutil.copytree(study, dest, symlinks=True, dirs_exist_ok=True)
    return dest
