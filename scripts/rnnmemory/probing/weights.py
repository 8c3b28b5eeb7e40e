"""What a trained network learned, read off its test predictions (numpy only)."""

from __future__ import annotations

import numpy as np

from rnnmemory.core.tasks import TASKS

COLUMNS = ("coef_remembered", "coef_recent", "coef_intercept", "fit_r2")


def learned_weights(task: str, x: np.ndarray, predictions: np.ndarray, params: dict) -> dict:
    """Least-squares fit of the predictions on the two inputs the task's target sums
    (``Task.memory_inputs``): prediction ~ a remembered + b recent + c, with the fit's R^2.

    A network that solved the task has a ~ b ~ 1; one that kept only the recent input has
    a ~ 0, b ~ 1 (first_plus_last: remembered x[0], recent x[T-1]; recent_plus_last: x[T-lag]
    with the task's lag; adding: the first and the second marked value). NaN for tasks without
    memory inputs and for non-finite predictions. x: (N, T, I), predictions: (N, 1)."""
    nan = dict.fromkeys(COLUMNS, float("nan"))
    inputs = TASKS[task].memory_inputs
    y = predictions.reshape(len(x), -1).astype(float)
    if inputs is None or y.shape[1] != 1 or not np.all(np.isfinite(y)):
        return nan
    y = y[:, 0]
    remembered, recent = inputs(x, **params)  # (N,), (N,)
    design = np.column_stack([remembered, recent, np.ones(len(y))]).astype(float)  # (N, 3)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    total = ((y - y.mean()) ** 2).sum()
    r2 = float(1 - (residual**2).sum() / total) if total > 0 else float("nan")
    return dict(zip(COLUMNS, [*map(float, coef), r2], strict=True))
