"""What a study's jobs produce, defined once: the files of a training job, the probes and the
tables (the figures: core/figures.py). Torch-free, so the Snakefile, the scripts and the tests
all read it. Adding a probe or a table is one record here plus its code (and a test); the
rules, the report and the tests follow from these records. (The figures have a module of their
own so that adding one changes no probe's or table's code hash: codehash.py.)
"""

from __future__ import annotations

from dataclasses import dataclass

# One training job per (variant, task, arch, seq_len) cell writes these, for all its seeds.
TRAIN_FILES = {
    "model": "model.pt",  # every seed's weights, loadable into torch.nn modules
    "history": "history.csv",  # learning curves: seed, epoch, train_loss, test_loss
    "metrics": "metrics.json",  # one record per seed: parameters, final losses, environment
}


@dataclass(frozen=True)
class Probe:
    """A measurement of trained networks, made by a job of its own that reads ``model.pt`` and
    the datasets (a new probe never retrains a network). Each writes one CSV per (variant,
    task, arch) whose rows carry seq_len and seed; collect_tables gathers it into a table of
    the same name."""

    description: str


PROBES = {
    "weights": Probe(
        "least-squares weights of each run's test predictions on the inputs its "
        "target needs (what the answer depends on)"
    ),
    "gradients": Probe(
        "norms of dL/dh_t (LSTM: of (h_t, c_t)) and dL/dx_t per step, at "
        "initialisation and after training"
    ),
    "lengths": Probe("loss of each trained network at other sequence lengths"),
    "predictions": Probe("predicted vs true on the first test sequences"),
}


@dataclass(frozen=True)
class Table:
    description: str
    in_report: bool = False  # shown (as HTML, with the CSV to download) in the report


# Tidy tables under tables/, each as CSV and Parquet. Parameter columns first.
TABLES = {
    "runs": Table("one row per run: parameters, losses, outcome, learned weights", True),
    "summary": Table("per (variant, task, arch, seq_len): loss statistics, fraction solved", True),
    "horizon": Table(
        "memory horizon T50 per (variant, task, arch): 95% interval, fit note, seed effect", True
    ),
    "comparisons": Table(
        "every variant against the base per (task, arch): McNemar's exact "
        "paired test, Holm, T50 ratio with its 95% interval",
        True,
    ),
    "critical_length": Table("T*: the longest length half the seeds solve, bootstrap interval"),
    "history": Table("every learning curve"),
    **{name: Table(probe.description) for name, probe in PROBES.items() if name != "weights"},
}
TABLE_FORMATS = ("csv", "parquet")
