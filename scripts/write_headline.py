"""Snakemake entry point: the report's first page, a few sentences written from the tables."""

import pandas as pd

from rnnmemory.io import atomic_path, log_to
from rnnmemory.tables import headline_rst

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = log_to(smk.log[0])
text = headline_rst(pd.read_parquet(smk.input.critical), pd.read_parquet(smk.input.summary))
with atomic_path(smk.output[0]) as tmp:
    open(tmp, "w").write(text)
print(text, file=log)
