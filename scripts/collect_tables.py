"""Snakemake entry point: gather every run's metrics and history into tidy tables."""

import pandas as pd

from rnnmemory.io import log_to, read_json
from rnnmemory.tables import (
    classify_outcomes,
    critical_length_table,
    per_run_table,
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
keys = [{k: m[k] for k in ("variant", "task", "arch", "seq_len", "seed")} for m in metrics]


def read_per_run(kind):
    """Every run's ``kind``.csv, in the order of the metrics."""
    frames = []
    for path in smk.input[kind]:
        try:
            frames.append(pd.read_csv(path))
        except Exception as err:
            raise ValueError(f"{path}: unreadable {kind} ({err}); delete it and rerun") from err
    return per_run_table(frames, keys)


tables = {"runs": runs, "summary": summary, "critical_length": critical}
for kind in ("history", "gradients", "lengths", "predictions"):
    tables[kind] = read_per_run(kind)
for name, table in tables.items():
    write_table(table, smk.params.stems[name])
    print(f"{name}: {len(table)} rows, {table.shape[1]} columns", file=log)
