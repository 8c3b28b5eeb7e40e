"""Snakemake entry point: gather every run's metrics and history into tidy tables."""

import pandas as pd

from rnnmemory.io import log_to, read_json
from rnnmemory.tables import (
    classify_outcomes,
    critical_length_table,
    history_table,
    runs_table,
    summary_table,
    write_table,
)

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = log_to(smk.log[0])
metrics = [read_json(path) for path in smk.input.metrics]
runs = runs_table(metrics)
runs["outcome"] = classify_outcomes(runs, smk.params.solved_below, **smk.params.outcomes)
summary = summary_table(runs)
critical = critical_length_table(runs)
keys = [{k: m[k] for k in ("task", "arch", "seq_len", "seed")} for m in metrics]
histories = []
for path in smk.input.histories:
    try:
        histories.append(pd.read_csv(path))
    except Exception as err:
        raise ValueError(f"{path}: unreadable history ({err}); delete it and rerun") from err
history = history_table(histories, keys)
tables = {"runs": runs, "summary": summary, "history": history, "critical_length": critical}
for name, table in tables.items():
    write_table(table, smk.params.stems[name])
    print(f"{name}: {len(table)} rows, {table.shape[1]} columns", file=log)
