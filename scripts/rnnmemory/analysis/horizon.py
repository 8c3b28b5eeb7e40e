"""The memory horizon T50: the sequence length at which half the seeds solve the task.

Per (variant, task, arch), every run is one Bernoulli trial (solved or not; a diverged run is not
solved). Runs at different lengths are independent: each (seed, task, T) has its own dataset,
initial weights and shuffles (``tasks.run_seed``), so no seed carries its luck from one length
to the next (``inference.seed_effect`` measures what is left of such an effect). P(solved | T)
is a logistic curve in log T with a lapse rate lam (runs that fail whatever T is: a bad start,
a divergence),

    P(solved | T) = (1 - lam) * sigmoid(slope * (log T - log t50) + d(lam)),    slope <= 0,

where d(lam) = log(0.5 / (0.5 - lam)) puts P(t50) = 1/2 exactly: t50 is where half the seeds
still solve, whatever the lapse. It is fitted by maximum likelihood, and the 95% interval is the
profile-likelihood interval of t50: every t50 whose best fit over slope and lapse is within
CUTOFF / 2 log-likelihood units of the best fit overall. CUTOFF is chi2_1(0.97), not the
asymptotic chi2_1(0.95): with 10-20 seeds per length the outcomes are too discrete for the
asymptotics, and the 0.95 cutoff covered the truth in only 0.91-0.93 of simulated studies of the
default design; the 0.97 cutoff brings every case tested to >= 0.93 (tests/test_coverage.py,
on the designs the studies use). What the data cannot say is said in words,
never as a number that looks measured (``fit_note``):

- ``all_solved`` / ``none_solved``: every run solved (none): t50 is beyond the longest (below
  the shortest) length studied, with no estimate; the bound is that length, not a fit.
- ``separated``: every run solved up to one length and none from the next: t50 lies between
  the two (monotone memory), with no point estimate; the old tie rule put it at their middle.
- ``flat``: the interval is open at both ends (or the best curve does not fall with T): no
  horizon can be read off, and no estimate is given.
- ``slope_cap``: the steepest slope allowed (MAX_SLOPE) is inside the slope's confidence region:
  the data cannot tell the curve from a step, so estimate and interval depend on the bound.
- ``above`` / ``below`` (in ``censored``): the best t50 lies beyond the lengths studied; t50 is
  NaN and only the interval's inner bound is a number (an interval reaching past the lengths
  studied is cut at the longest/shortest length, where the data end, not at the slope bound).

numpy only; deterministic (fixed grids, no random numbers). ``fit_counts`` fits many studies
of one design at once (one matrix product), which is what the coverage tests use.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CUTOFF = 4.709292246885103  # chi-square, 1 degree of freedom, 97th percentile (calibrated)
MAX_SLOPE = 40.0  # per unit of log T: odds change e^4 between lengths 10% apart
SEARCH_FACTOR = 30.0  # t50 is searched from shortest / 30 to longest * 30
SLOPES = -np.concatenate([[0.0], np.geomspace(0.02, MAX_SLOPE, 96)])
LAPSES = np.array([0.0, 0.025, 0.05, 0.1, 0.15])  # runs that fail whatever T is
GROUP = ["variant", "task", "arch"]
NOTES = ("all_solved", "none_solved", "separated", "flat", "slope_cap")
COLUMNS = [
    *GROUP,
    "t50",
    "t50_low",
    "t50_high",
    "slope",
    "lapse",
    "fit_note",
    "n_runs",
    "n_solved",
    "censored",
    "shortest",
    "longest",
]


def centre_grid(lengths, n_grid=481) -> np.ndarray:
    """log t50 values searched: from shortest / SEARCH_FACTOR to longest * SEARCH_FACTOR; the
    ends of the grid are the open ends of an interval."""
    log_t = np.log(np.asarray(lengths, dtype=float))
    wide = np.log(SEARCH_FACTOR)
    return np.linspace(log_t.min() - wide, log_t.max() + wide, n_grid)


def _terms(lengths, trials, centres) -> tuple[np.ndarray, np.ndarray]:
    """The log-likelihood of every (centre, slope, lapse) fit is linear in the solved counts:
    loglik = successes @ per_success + constant. Returns per_success (C, F, L) and constant
    (C, F) for the C centres, F = S x A fits (slope-major) and L lengths."""
    log_t = np.log(np.asarray(lengths, dtype=float))
    trials = np.asarray(trials, dtype=float)
    shift = np.log(0.5 / (0.5 - LAPSES))  # d(lam): P(t50) = 1/2
    z = (
        SLOPES[None, :, None, None] * (log_t - centres[:, None, None, None])
        + shift[None, None, :, None]
    )  # (C, S, A, L)
    log_sig = -(np.maximum(-z, 0.0) + np.log1p(np.exp(-np.abs(z))))  # log sigmoid(z), stable
    log_keep = np.log1p(-LAPSES)[None, None, :, None]
    log_p = log_keep + log_sig  # log P(solved)
    # log(1 - (1 - lam) sigmoid(z)) = log(lam + (1 - lam) sigmoid(-z))
    log_q = np.logaddexp(
        np.log(np.maximum(LAPSES, 1e-300))[None, None, :, None], log_keep + log_sig - z
    )
    n_fits = z.shape[1] * z.shape[2]
    per_success = (log_p - log_q).reshape(len(centres), n_fits, -1)  # (C, F, L)
    constant = (log_q * trials).sum(axis=3).reshape(len(centres), n_fits)  # (C, F)
    return per_success, constant


def profiles(lengths, trials, successes, centres) -> tuple[np.ndarray, np.ndarray]:
    """Profile log-likelihood of log t50 for M studies of one design, and the index of the
    best (slope, lapse) per centre.

    lengths, trials: (L,); successes: (M, L); centres: (C,) in log T. Returns (M, C) profile
    log-likelihoods and (M, C) flat indices into (SLOPES, LAPSES)."""
    successes = np.atleast_2d(np.asarray(successes, dtype=float))  # (M, L)
    per_success, constant = _terms(lengths, trials, centres)
    flat = per_success.reshape(-1, per_success.shape[2])  # (C*F, L)
    out = np.empty((len(successes), len(centres)))
    best = np.empty((len(successes), len(centres)), dtype=int)
    step = max(1, 2**22 // flat.shape[0])  # studies per chunk: bounded memory
    for i in range(0, len(successes), step):
        loglik = (successes[i : i + step] @ flat.T + constant.reshape(-1)).reshape(
            -1, *constant.shape
        )  # (m, C, F)
        best[i : i + step] = loglik.argmax(axis=2)
        out[i : i + step] = np.take_along_axis(loglik, best[i : i + step, :, None], 2)[..., 0]
    return out, best


def _cap_plausible(lengths, trials, successes, centre) -> np.ndarray:
    """Per study: whether the steepest slope allowed (MAX_SLOPE) is inside the slope's
    confidence region at the best centre: the data cannot tell the curve from a step, so the
    estimate and its interval depend on the bound. centre: (M,) in log T."""
    per_success, constant = _terms(lengths, trials, centre)  # (M, F, L), (M, F)
    loglik = np.einsum("mfl,ml->mf", per_success, successes) + constant
    by_slope = loglik.reshape(len(centre), len(SLOPES), len(LAPSES)).max(axis=2)  # (M, S)
    return by_slope[:, -1] >= by_slope.max(axis=1) - CUTOFF / 2


def _separation(successes, trials):
    """Per study: the index of the last length where every run solved and of the first where
    none did, when the data are separated (solved up to a length, none from the next), else
    -1. successes: (M, L)."""
    full = successes == trials
    empty = successes == 0
    n = successes.shape[1]
    if n < 2:
        none = np.full(len(successes), -1)
        return none, none
    # separated: lengths 0..j all full, j+1..n-1 all empty, for some 0 <= j < n - 1
    prefix_full = np.cumprod(full, axis=1).astype(bool)  # (M, L)
    suffix_empty = np.cumprod(empty[:, ::-1], axis=1)[:, ::-1].astype(bool)
    split = prefix_full[:, :-1] & suffix_empty[:, 1:]  # (M, L-1): split after length j
    last_full = np.where(split.any(axis=1), split.argmax(axis=1), -1)
    return last_full, np.where(last_full >= 0, last_full + 1, -1)


def fit_counts(lengths, trials, successes, n_grid=481) -> dict:
    """T50 fits of M studies of one design: lengths, trials (L,), successes (M, L). Returns
    arrays (M,): t50, t50_low, t50_high, slope, lapse, fit_note, censored."""
    lengths = np.asarray(lengths, dtype=float)
    trials = np.asarray(trials, dtype=float)
    successes = np.atleast_2d(np.asarray(successes, dtype=float))
    centres = centre_grid(lengths, n_grid)
    # studies with the same counts have the same fit: fit each count vector once
    successes, study = np.unique(successes, axis=0, return_inverse=True)
    profile, best_fit = profiles(lengths, trials, successes, centres)  # (U, C)
    top = profile.max(axis=1, keepdims=True)
    # ties (a flat profile): the middle of the tied stretch
    tied = profile >= top - 1e-9
    first, last = tied.argmax(axis=1), n_grid - 1 - tied[:, ::-1].argmax(axis=1)
    best = (first + last) // 2
    inside = profile >= top - CUTOFF / 2
    lo_i, hi_i = inside.argmax(axis=1), n_grid - 1 - inside[:, ::-1].argmax(axis=1)
    # the grid points just outside the region: a bound never narrower than the interval
    low = np.where(lo_i == 0, 0.0, np.exp(centres[np.maximum(lo_i - 1, 0)]))
    high = np.where(hi_i == n_grid - 1, np.inf, np.exp(centres[np.minimum(hi_i + 1, n_grid - 1)]))
    # no end bounded: the curve does not fall enough with T to place a horizon
    flat = (lo_i == 0) & (hi_i == n_grid - 1)
    rows = np.arange(len(successes))
    s_i, a_i = np.divmod(best_fit[rows, best], len(LAPSES))
    slope, lapse = SLOPES[s_i], LAPSES[a_i]
    t50 = np.exp(centres[best])
    shortest, longest = lengths[0], lengths[-1]
    flat |= slope == 0
    censored = np.where(
        flat, "", np.where(t50 > longest, "above", np.where(t50 < shortest, "below", ""))
    )
    # the data end at the lengths studied: an inner bound past them is the slope bound's
    low = np.where(censored == "above", np.minimum(low, longest), low)
    high = np.where(censored == "below", np.maximum(high, shortest), high)
    note = np.full(len(successes), "", dtype=object)
    note[_cap_plausible(lengths, trials, successes, centres[best])] = "slope_cap"
    note[flat] = "flat"
    last_full, first_empty = _separation(successes, trials)
    separated = last_full >= 0
    note[separated] = "separated"
    low = np.where(separated, lengths[np.maximum(last_full, 0)], low)
    high = np.where(separated, lengths[np.maximum(first_empty, 0)], high)
    all_solved = (successes == trials).all(axis=1)
    none_solved = (successes == 0).all(axis=1)
    note[all_solved], note[none_solved] = "all_solved", "none_solved"
    censored = np.where(all_solved, "above", np.where(none_solved, "below", censored))
    low = np.where(all_solved, longest, np.where(none_solved, 0.0, low))
    high = np.where(all_solved, np.inf, np.where(none_solved, shortest, high))
    no_estimate = (censored != "") | separated | flat
    fits = dict(
        t50=np.where(no_estimate, np.nan, t50),
        t50_low=low,
        t50_high=high,
        slope=slope,
        lapse=lapse,
        fit_note=note,
        censored=censored,
    )
    return {name: values[study.reshape(-1)] for name, values in fits.items()}


def counts(seq_lens, solved) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lengths, trials, successes) per length studied of one set of runs (NaN: not solved)."""
    seq_lens = np.asarray(seq_lens, dtype=float)
    solved = np.nan_to_num(np.asarray(solved, dtype=float), nan=0.0)
    lengths = np.unique(seq_lens)
    trials = np.array([(seq_lens == t).sum() for t in lengths], dtype=float)
    successes = np.array([solved[seq_lens == t].sum() for t in lengths])
    return lengths, trials, successes


def fit_horizon(seq_lens, solved, n_grid=481) -> dict:
    """T50, its 95% profile-likelihood interval, slope, lapse, fit_note and censoring of one
    set of runs. seq_lens, solved: one entry per run (solved is boolean; NaN: not solved)."""
    lengths, trials, successes = counts(seq_lens, solved)
    fit = {k: v[0] for k, v in fit_counts(lengths, trials, successes, n_grid).items()}
    return dict(
        t50=float(fit["t50"]),
        t50_low=float(fit["t50_low"]),
        t50_high=float(fit["t50_high"]),
        slope=float(fit["slope"]),
        lapse=float(fit["lapse"]),
        fit_note=str(fit["fit_note"]),
        n_runs=int(trials.sum()),
        n_solved=int(successes.sum()),
        censored=str(fit["censored"]),
        shortest=float(lengths[0]),
        longest=float(lengths[-1]),
    )


def horizon_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, task, arch) of the runs table: the columns of ``fit_horizon``."""
    rows = [
        dict(zip(GROUP, key, strict=True), **fit_horizon(group["seq_len"], group["solved"]))
        for key, group in runs.groupby(GROUP, sort=True)
    ]
    return pd.DataFrame(rows, columns=COLUMNS)
