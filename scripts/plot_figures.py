"""Snakemake entry point: draw the registered figures of one task (of one variant, or every
variant side by side) in every format of figures.FIGURE_FORMATS."""

import matplotlib.pyplot as plt
import pandas as pd

from rnnmemory.core.figures import COMPARISONS, FIGURE_FORMATS, FIGURES
from rnnmemory.core.io import atomic_path, log_to
from rnnmemory.report.plots import draw

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = log_to(smk.log[0])
task = smk.wildcards.task
variant = smk.wildcards.get("variant")  # None: a comparison of every variant
query = "task == @task" + (" and variant == @variant" if variant else "")
tables = {name: pd.read_parquet(path).query(query) for name, path in smk.input.items()}
for name in smk.params.figures:
    needed = {table: tables[table] for table in {**FIGURES, **COMPARISONS}[name].tables}
    fig = draw(name, needed, smk.params.solved_below)
    for ext in FIGURE_FORMATS:
        with atomic_path(smk.output[f"{name}_{ext}"]) as tmp:
            fig.savefig(tmp, format=ext, dpi=150)
    plt.close(fig)
    print(f"{name} for {task} ({variant or 'every variant'})", file=log)
