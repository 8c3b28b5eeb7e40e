"""Snakemake entry point: draw one figure of one task as PNG and SVG."""

import pandas as pd

from rnnmemory.io import atomic_path, log_to
from rnnmemory.plots import draw

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = log_to(smk.log[0])
task = smk.wildcards.task
tables = {name: pd.read_parquet(path).query("task == @task") for name, path in smk.input.items()}
fig = draw(smk.wildcards.figure, tables, smk.config["solved_below"])
for path in smk.output:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.rsplit(".", 1)[1], dpi=150)
print(f"{smk.wildcards.figure} for {task}: {', '.join(smk.output)}", file=log)
