"""Snakemake entry point: gather every cell's metrics, learning curves and probe results into
the tidy tables of registry.TABLES (one row per run in ``runs``, parameter columns first)."""

import pandas as pd

from rnnmemory.analysis.horizon import GROUP, horizon_table
from rnnmemory.analysis.inference import paired_comparisons, seed_effect_table
from rnnmemory.analysis.tables import (
    CELL,
    classify_outcomes,
    critical_length_table,
    runs_table,
    summary_table,
    write_table,
)
from rnnmemory.core.io import log_to, read_json
from rnnmemory.core.registry import PROBES, TABLES

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = log_to(smk.log[0])


def read_csvs(paths, kind) -> pd.DataFrame:
    frames = []
    for path in paths:
        try:
            frames.append(pd.read_csv(path))
        except Exception as err:
            raise ValueError(f"{path}: unreadable {kind} ({err}); delete it and rerun") from err
    return pd.concat(frames, ignore_index=True)


records = [run for path in smk.input.metrics for run in read_json(path)["runs"]]
weights = read_csvs(smk.input.weights, "weights").set_index([*CELL, "seed"])
for record in records:  # what each run's answer depends on, from the weights probe
    record.update(weights.loc[tuple(record[k] for k in [*CELL, "seed"])].to_dict())
runs = runs_table(records)
runs["outcome"] = classify_outcomes(runs, smk.params.solved_below, **smk.params.outcomes)
tables = {
    "runs": runs,
    "summary": summary_table(runs),
    "horizon": horizon_table(runs).merge(seed_effect_table(runs), on=GROUP, how="left"),
    "comparisons": paired_comparisons(runs),
    "critical_length": critical_length_table(runs),
    "history": read_csvs(smk.input.history, "history"),
    **{name: read_csvs(smk.input[name], name) for name in PROBES if name in TABLES},
}
missing = set(TABLES) - set(tables)
assert not missing, f"no code makes table(s) {sorted(missing)}"
for name, table in tables.items():
    write_table(table, smk.params.stems[name])
    print(f"{name}: {len(table)} rows, {table.shape[1]} columns", file=log)
