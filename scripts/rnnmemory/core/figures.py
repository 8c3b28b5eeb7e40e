"""The figures of a study, defined once: each one's menu title and the tables it reads, and the
formats every figure is written in. Matplotlib-free, so the Snakefile reads it. Adding a figure
is one record here, its function (of the same name) in report/plots/, its caption
workflow/report/figures/<name>.rst and a test; it redraws, retrains and reprobes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """A figure per (variant, task), drawn by the function of that name in ``report/plots/``
    from the tables it names; ``title`` is its entry in the report's menu. Its caption is
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
