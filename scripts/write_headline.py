"""Snakemake entry point: the report's first page, written from the tables."""

from pathlib import Path

import pandas as pd
import yaml

from rnnmemory.analysis.inference import budget_convergence
from rnnmemory.core.io import atomic_path, log_to
from rnnmemory.report.docs import variant_comparison
from rnnmemory.report.headline import headline_rst

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = log_to(smk.log[0])
WORKFLOW = Path(smk.scriptdir).parent  # the checkout holding the Snakefile
figures = {
    task: (Path(png).read_bytes(), smk.params.figure_paths[task])
    for task, png in zip(smk.params.tasks, smk.input.figures, strict=True)
}
horizon = pd.read_parquet(smk.input.horizon)


def other_study(config_file):
    """(tables {horizon, runs}, config, where) of another study when it has been run, else
    (None, config, a note saying what was looked for)."""
    source = WORKFLOW / config_file
    config = yaml.safe_load(source.read_text()) if source.exists() else {}
    folder = Path(config.get("results_dir", "?")) / "tables"
    if not (folder / "horizon.parquet").exists():
        return None, config, f"{source.name} has no results at {folder}"
    tables = {
        name: pd.read_parquet(folder / f"{name}.parquet")
        for name in ("horizon", "runs", "comparisons")
    }
    return tables, config, f"{source.name} ({folder})"


def budget_check():
    """The budget check of this study's own budget variants, else of the budget study's
    tables when that study has been run (None when not)."""
    if smk.params.budgets:
        return budget_convergence(runs, smk.params.budgets), "this study"
    tables, config, source = other_study(smk.params.budget_check)
    budgets = (config.get("analysis") or {}).get("budget_variants")
    if tables is None or not budgets:
        return None, source
    return budget_convergence(tables["runs"], budgets), source


def remedies_check():
    """The remedies study's paired comparisons (None when it has not been run)."""
    tables, _, source = other_study(smk.params.remedies_check)
    if tables is None:
        return None, source
    return variant_comparison(tables["comparisons"], tables["horizon"]), source


runs = pd.read_parquet(smk.input.runs)
convergence, source = budget_check()
remedies, remedies_source = remedies_check()
text = headline_rst(
    horizon,
    pd.read_parquet(smk.input.summary),
    figures,
    runs=runs,
    convergence=convergence,
    budget_source=source,
    anchors=yaml.safe_load((WORKFLOW / smk.params.anchors).read_text())["anchors"],
    remedies=remedies,
    remedies_source=remedies_source,
)
with atomic_path(smk.output[0]) as tmp:
    Path(tmp).write_text(text)
print(f"{len(text)} characters -> {smk.output[0]}", file=log)
