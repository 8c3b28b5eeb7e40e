"""The memory horizon T50: the sequence length at which half the seeds solve the task.

Per (variant, task, arch), every run is one Bernoulli trial (solved or not; a diverged run is not
solved) and P(solved | T) is fitted as a logistic curve in log T,

    P(solved | T) = 1 / (1 + exp(-slope (log T - log t50))),        slope <= 0,

by maximum likelihood. The 95% interval is the profile-likelihood interval of t50: every t50
whose best fit (over the slope) is within chi2_1(0.95) / 2 log-likelihood units of the best fit
overall. Decisions, with the reasons:

- **The slope is constrained to memory that does not improve with T** (slope <= 0). Success
  that rises with T is noise around a flat curve for a memory task; the constrained fit then
  sits near the flat curve and its interval is wide, which is the honest answer.
- **The slope is bounded by MAX_SLOPE** (a step between two lengths 10% apart). Without a bound,
  data that are separated (all seeds solve up to 20, none from 30) have no finite maximum; with
  it, t50 lands in the middle of the gap in log T and the interval spans the gap.
- **Censoring instead of extrapolation.** When the best t50 lies beyond the longest length studied
  ('above') or before the shortest ('below'), t50 is NaN and only the interval's inner bound is
  a number; an interval reaching the end of the search range is open (t50_low 0, t50_high inf).

numpy only; deterministic (a fixed grid, no random numbers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CHI2_95 = 3.841458820694124  # chi-square, 1 degree of freedom, 95th percentile
MAX_SLOPE = 40.0  # per unit of log T: odds change e^4 between lengths 10% apart
SEARCH_FACTOR = 30.0  # t50 is searched from shortest / 30 to longest * 30
GROUP = ["variant", "task", "arch"]
COLUMNS = [*GROUP, "t50", "t50_low", "t50_high", "slope", "n_runs", "n_solved", "censored",
           "shortest", "longest"]  # fmt: skip


def _log_likelihood(log_t, successes, trials, centres, slopes):
    """Binomial log-likelihood of every (centre, slope) pair: (C, S) for C centres in log T and
    S slopes; log_t, successes, trials: (L,) per length studied."""
    z = slopes[None, :, None] * (log_t[None, None, :] - centres[:, None, None])  # (C, S, L)
    log_p = -(np.maximum(-z, 0.0) + np.log1p(np.exp(-np.abs(z))))  # log sigmoid(z), stable
    # log(1 - sigmoid(z)) = log sigmoid(z) - z
    return (trials * log_p - (trials - successes) * z).sum(axis=2)  # (C, S)


def fit_horizon(seq_lens, solved, n_grid=481, n_slopes=97) -> dict:
    """T50, its 95% profile-likelihood interval, the slope and the censoring of one set of runs.

    seq_lens, solved: one entry per run (solved is boolean; NaN counts as not solved)."""
    seq_lens = np.asarray(seq_lens, dtype=float)
    solved = np.nan_to_num(np.asarray(solved, dtype=float), nan=0.0)
    lengths = np.unique(seq_lens)
    trials = np.array([(seq_lens == t).sum() for t in lengths], dtype=float)
    successes = np.array([solved[seq_lens == t].sum() for t in lengths])
    log_t = np.log(lengths)
    # the ends of the grid are the open ends of the interval
    centres = np.linspace(log_t[0] - np.log(SEARCH_FACTOR), log_t[-1] + np.log(SEARCH_FACTOR),
                          n_grid)  # fmt: skip
    slopes = -np.concatenate([[0.0], np.geomspace(0.02, MAX_SLOPE, n_slopes - 1)])
    loglik = _log_likelihood(log_t, successes, trials, centres, slopes)  # (C, S)
    best_slope = loglik.argmax(axis=1)
    profile = loglik[np.arange(n_grid), best_slope]  # (C,) best over the slope, per t50
    # ties (a flat profile, e.g. separated data): the middle of the tied stretch
    tied = np.flatnonzero(profile >= profile.max() - 1e-9)
    best = tied[len(tied) // 2]
    inside = np.flatnonzero(profile >= profile.max() - CHI2_95 / 2)
    low = 0.0 if inside[0] == 0 else float(np.exp(centres[inside[0]]))
    high = np.inf if inside[-1] == n_grid - 1 else float(np.exp(centres[inside[-1]]))
    t50 = float(np.exp(centres[best]))
    censored = "above" if t50 > lengths[-1] else "below" if t50 < lengths[0] else ""
    return dict(
        t50=np.nan if censored else t50, t50_low=low, t50_high=high,
        slope=float(slopes[best_slope[best]]), n_runs=int(trials.sum()),
        n_solved=int(successes.sum()), censored=censored, shortest=float(lengths[0]),
        longest=float(lengths[-1]),
    )  # fmt: skip


def horizon_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, task, arch) of the runs table: t50, t50_low, t50_high, slope,
    n_runs, n_solved, censored ('above', 'below' or ''), shortest, longest."""
    rows = [
        dict(zip(GROUP, key, strict=True), **fit_horizon(group["seq_len"], group["solved"]))
        for key, group in runs.groupby(GROUP, sort=True)
    ]
    return pd.DataFrame(rows, columns=COLUMNS)
