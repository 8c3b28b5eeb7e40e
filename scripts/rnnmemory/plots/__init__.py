"""Figures of one task, drawn from the tidy tables: ``draw(name, tables, solved_below)`` with
``tables`` the tables that ``rnnmemory.registry`` names for the figure, filtered to one task (and
one variant, except for a comparison). One module per family of figures; each figure's caption
is ``workflow/report/figures/<name>.rst`` and says what the figure must show."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # before any submodule imports pyplot: figures are files, never windows

import seaborn as sns  # noqa: E402

from .. import registry  # noqa: E402
from .horizon import critical_length, horizon, variants  # noqa: E402, F401
from .losses import fraction_solved, heatmap, learning_curves, memory_curve  # noqa: E402, F401
from .probes import (  # noqa: E402, F401
    gradients,
    learned_weights,
    length_generalisation,
    predictions,
)

# the registry decides what is drawn and from which tables; a figure's function has its name
# (a record without one fails here, at import)
DRAW = {name: globals()[name] for name in [*registry.FIGURES, *registry.COMPARISONS]}


def draw(name: str, tables: dict, solved_below: float):
    """Figure ``name`` from one task's tables (a matplotlib Figure; the caller closes it)."""
    with sns.axes_style("whitegrid"):
        return DRAW[name](tables, solved_below)
