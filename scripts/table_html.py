"""Snakemake entry point: one table as an HTML page for the report."""

from pathlib import Path

import pandas as pd

from rnnmemory.core.io import atomic_path, log_to
from rnnmemory.report.pages import table_page

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = log_to(smk.log[0])
csv_text = Path(smk.input[0]).read_text()
frame = pd.read_csv(smk.input[0])
page = table_page(frame, smk.wildcards.name, smk.params.description, csv_text)
with atomic_path(smk.output[0]) as tmp:
    Path(tmp).write_text(page)
print(f"{smk.wildcards.name}: {len(frame)} rows -> {smk.output[0]}", file=log)
