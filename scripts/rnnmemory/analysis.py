"""What a trained network learned, read off its test predictions (numpy only)."""

from __future__ import annotations

import numpy as np

LAG = 5  # the control task's recent value, x[T-5]
COLUMNS = ("coef_first", "coef_last", "coef_recent", "coef_intercept", "fit_r2")


def learned_weights(x: np.ndarray, predictions: np.ndarray) -> dict:
    """Least-squares fit of the predictions on x[0], x[T-1] and, where it is a third step,
    x[T-5]: prediction ~ a x[0] + b x[T-1] + c x[T-5] + d, with the fit's R^2.

    A network that solved first_plus_last has a ~ b ~ 1; one that only kept the recent value
    has a ~ 0, b ~ 1. Defined for one input and one output channel; NaN elsewhere and for
    non-finite predictions. x: (N, T, 1), predictions: (N, 1)."""
    nan = dict.fromkeys(COLUMNS, float("nan"))
    if x.ndim != 3 or x.shape[2] != 1 or predictions.reshape(len(x), -1).shape[1] != 1:
        return nan
    y = predictions.reshape(-1).astype(float)
    if not np.all(np.isfinite(y)):
        return nan
    steps = x.shape[1]
    columns = {"coef_first": 0, "coef_last": steps - 1}
    if steps - LAG not in (0, steps - 1) and steps >= LAG:
        columns["coef_recent"] = steps - LAG
    design = np.column_stack([x[:, t, 0] for t in columns.values()] + [np.ones(len(y))])
    coef, *_ = np.linalg.lstsq(design.astype(float), y, rcond=None)
    residual = y - design @ coef
    total = ((y - y.mean()) ** 2).sum()
    out = dict(nan, **dict(zip(columns, coef[:-1].tolist(), strict=True)))
    out["coef_intercept"] = float(coef[-1])
    out["fit_r2"] = float(1 - (residual**2).sum() / total) if total > 0 else float("nan")
    return out
