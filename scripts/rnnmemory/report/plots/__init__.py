"""Figures of one task, drawn from the tidy tables: ``draw(name, tables, solved_below)`` with
``tables`` the tables that ``rnnmemory.core.figures`` names for the figure, filtered to one
task (and one variant, except for a comparison). One module per family of figures; each
figure's caption is ``workflow/report/figures/<name>.rst`` and says what the figure must show."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # before any submodule imports pyplot: figures are files, never windows

import seaborn as sns  # noqa: E402

from rnnmemory.core import figures  # noqa: E402

# the figures' functions, found by name below
from rnnmemory.report.plots import horizon, losses, probes  # noqa: E402

# core/figures.py decides what is drawn and from which tables; a figure's function has its
# name, in one of these modules (a record without one fails here, at import)
MODULES = (horizon, losses, probes)


def _function(name: str):
    found = [getattr(m, name) for m in MODULES if callable(getattr(m, name, None))]
    if not found:
        raise ImportError(f"figure {name!r} is registered (core/figures.py) but no plots module "
                          f"has a function of that name")  # fmt: skip
    return found[0]


DRAW = {name: _function(name) for name in [*figures.FIGURES, *figures.COMPARISONS]}


def draw(name: str, tables: dict, solved_below: float):
    """Figure ``name`` from one task's tables (a matplotlib Figure; the caller closes it)."""
    with sns.axes_style("whitegrid"):
        return DRAW[name](tables, solved_below)
