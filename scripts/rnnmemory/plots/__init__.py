"""Figures of one task, drawn from the tidy tables: ``draw(name, tables, solved_below)`` with
``tables`` the tables that ``rnnmemory.registry`` names for the figure, filtered to one task (and
one variant, except for a comparison). One module per family of figures; each figure's caption
is ``workflow/report/figures/<name>.rst`` and says what the figure must show."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # before any submodule imports pyplot: figures are files, never windows

import seaborn as sns  # noqa: E402

from .. import registry  # noqa: E402
from .horizon import critical_length, horizon, variants  # noqa: E402
from .losses import fraction_solved, heatmap, learning_curves, memory_curve  # noqa: E402
from .probes import gradients, learned_weights, length_generalisation, predictions  # noqa: E402

FIGURES = {
    "horizon": horizon,
    "memory_curve": memory_curve,
    "fraction_solved": fraction_solved,
    "heatmap": heatmap,
    "learned_weights": learned_weights,
    "gradients": gradients,
    "learning_curves": learning_curves,
    "length_generalisation": length_generalisation,
    "predictions": predictions,
    "critical_length": critical_length,
}
COMPARISONS = {"variants": variants}  # figures across variants, drawn when there are several

# the registry decides what is drawn and from which tables: every record needs its function here
assert FIGURES.keys() == registry.FIGURES.keys(), "plots.FIGURES != registry.FIGURES"
assert COMPARISONS.keys() == registry.COMPARISONS.keys(), "plots.COMPARISONS != registry"


def draw(name: str, tables: dict, solved_below: float):
    """Figure ``name`` from one task's tables (a matplotlib Figure; the caller closes it)."""
    with sns.axes_style("whitegrid"):
        return {**FIGURES, **COMPARISONS}[name](tables, solved_below)
