"""Snakemake entry point: draw one figure of one task (one variant, or every variant side by
side) as PNG and SVG."""

import pandas as pd

from rnnmemory.io import atomic_path, log_to
from rnnmemory.plots import draw

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = log_to(smk.log[0])
task = smk.wildcards.task
variant = smk.wildcards.get("variant")  # None: the comparison of every variant
figure = smk.wildcards.get("figure", "variants")
query = "task == @task" + (" and variant == @variant" if variant else "")
tables = {name: pd.read_parquet(path).query(query) for name, path in smk.input.items()}
fig = draw(figure, tables, smk.config["solved_below"])
for path in smk.output:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.rsplit(".", 1)[1], dpi=150)
print(f"{figure} for {task} ({variant or 'every variant'}): {', '.join(smk.output)}", file=log)
