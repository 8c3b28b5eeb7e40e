"""Snakemake entry point: the report's first page, written from the tables."""

from pathlib import Path

import pandas as pd

from rnnmemory.headline import headline_rst
from rnnmemory.io import atomic_path, log_to

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = log_to(smk.log[0])
figures = {
    task: (Path(png).read_bytes(), smk.params.figure_paths[task])
    for task, png in zip(smk.params.tasks, smk.input.figures, strict=True)
}
text = headline_rst(pd.read_parquet(smk.input.horizon), pd.read_parquet(smk.input.summary),
                    figures)  # fmt: skip
with atomic_path(smk.output[0]) as tmp:
    Path(tmp).write_text(text)
print(f"{len(text)} characters -> {smk.output[0]}", file=log)
