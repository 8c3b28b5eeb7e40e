"""Snakemake entry point: the report's first page, written from the tables."""

from pathlib import Path

import pandas as pd
import yaml

from rnnmemory.docs import budget_convergence, variant_comparison
from rnnmemory.headline import headline_rst
from rnnmemory.io import atomic_path, log_to

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = log_to(smk.log[0])
WORKFLOW = Path(smk.scriptdir).parent  # the checkout holding the Snakefile
figures = {
    task: (Path(png).read_bytes(), smk.params.figure_paths[task])
    for task, png in zip(smk.params.tasks, smk.input.figures, strict=True)
}
horizon = pd.read_parquet(smk.input.horizon)


def other_study(config_file):
    """(horizon table, config, where) of another study when it has been run, else None."""
    source = WORKFLOW / config_file
    config = yaml.safe_load(source.read_text()) if source.exists() else {}
    table = Path(config.get("results_dir", "?")) / "tables" / "horizon.parquet"
    if not table.exists():
        return None, config, f"{source.name}, results not found at {table}"
    return pd.read_parquet(table), config, f"{source.name} ({table})"


def budget_check():
    """T50 at every budget: this study's own budget variants, else the budget study's tables
    when that study has been run (None when not)."""
    if smk.params.budgets:
        return budget_convergence(horizon, smk.params.budgets), "this study"
    table, config, source = other_study(smk.params.budget_check)
    budgets = (config.get("analysis") or {}).get("budget_variants")
    if table is None or not budgets:
        return None, source
    return budget_convergence(table, budgets), source


convergence, source = budget_check()
remedies, _, remedies_source = other_study(smk.params.remedies_check)
text = headline_rst(
    horizon, pd.read_parquet(smk.input.summary), figures,
    runs=pd.read_parquet(smk.input.runs), convergence=convergence, budget_source=source,
    anchors=yaml.safe_load((WORKFLOW / smk.params.anchors).read_text())["anchors"],
    remedies=None if remedies is None else variant_comparison(remedies),
    remedies_source=remedies_source,
)  # fmt: skip
with atomic_path(smk.output[0]) as tmp:
    Path(tmp).write_text(text)
print(f"{len(text)} characters -> {smk.output[0]}", file=log)
