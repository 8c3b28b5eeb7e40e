"""What a study produces, defined once: the files of a training job, the probes, the tables and
the figures. Torch- and matplotlib-free, so the Snakefile, the scripts and the tests all read
it. Adding a probe, a table or a figure is one record here plus its code (and a test); the
rules, the report and the tests follow from these records.
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
    "weights": Probe("least-squares weights of each run's test predictions on the inputs its "
                     "target needs (what the answer depends on)"),
    "gradients": Probe("norms of dL/dh_t (LSTM: of (h_t, c_t)) and dL/dx_t per step, at "
                       "initialisation and after training"),
    "lengths": Probe("loss of each trained network at other sequence lengths"),
    "predictions": Probe("predicted vs true on the first test sequences"),
}  # fmt: skip


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


@dataclass(frozen=True)
class Figure:
    """A figure per (variant, task), drawn by ``rnnmemory.plots.FIGURES[name]`` from the tables
    it names; ``title`` is its entry in the report's menu. Its caption is
    ``workflow/report/figures/<name>.rst``."""

    title: str
    tables: tuple[str, ...]


# In the order the report lists them: the answer first, then why.
FIGURES = {
    "horizon": Figure("memory horizon T50", ("runs", "horizon")),
    "memory_curve": Figure("memory curve", ("runs", "summary")),
    "fraction_solved": Figure("fraction solved", ("runs", "summary")),
    "heatmap": Figure("arch x length heatmap", ("runs", "summary")),
    "learned_weights": Figure("what the answer depends on", ("runs",)),
    "gradients": Figure("gradients through time", ("runs", "gradients")),
    "learning_curves": Figure("learning curves", ("runs", "history")),
    "length_generalisation": Figure("other lengths", ("runs", "lengths")),
    "predictions": Figure("predicted vs true", ("runs", "predictions")),
    "critical_length": Figure("critical length T*", ("runs", "critical_length")),
}
# Drawn per task across every variant, when the config has variants.
COMPARISONS = {
    "variants": Figure("variants side by side", ("runs", "summary", "horizon")),
}
# every figure is written in each (the PNG is the report's; any matplotlib format, e.g. "pdf")
FIGURE_FORMATS = ("png", "svg")


def menu_title(name: str) -> str:
    """'01 memory horizon': the report sorts its menu by name, so the number keeps our order."""
    order = [*FIGURES, *COMPARISONS]
    record = {**FIGURES, **COMPARISONS}[name]
    return f"{order.index(name) + 1:02d} {record.title}"
