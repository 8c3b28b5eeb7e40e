"""What a study concludes from its runs, beyond one horizon: how strongly a seed's luck carries
across lengths, whether a variant moves T50 (a paired test, not overlapping intervals), and
whether T50 has converged in the training budget (an equivalence check that can fail).
numpy, scipy and pandas; deterministic.

- **Seed effect** (``seed_effect``): a random-intercept logistic, logit P(solved | T, seed j) =
  slope (log T - log t50) + b_j with b_j ~ N(0, sd^2), fitted by maximum likelihood
  (Gauss-Hermite quadrature over b), sd with its 95% profile-likelihood interval. Runs get their
  own random streams per (seed, task, T), so sd should come out near 0; a large sd would mean
  the runs at different lengths are not independent trials and the T50 interval too narrow.
- **Paired comparison** (``paired_comparisons``): a variant and the base share datasets and
  initial streams at every (task, T, seed), so the test is McNemar's exact test on the
  discordant pairs pooled over lengths (variant solved where the base did not, and the reverse;
  the matched-pairs Cochran-Mantel-Haenszel test), Holm-corrected over the table's comparisons
  that can reach p < 0.05 at all (at least MIN_DISCORDANT discordant pairs; Tarone 1990).
  The effect size is T50(variant) / T50(base) with its 95% profile-likelihood interval.
- **Budget check** (``budget_convergence``): T50 is budget-converged only when the 95% interval
  of T50(largest) / T50(second largest budget) lies inside [0.8, 1.25]; else 'not shown'. And
  the slope of log T50 against log budget, with its interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats

from rnnmemory.analysis.horizon import CUTOFF, centre_grid, counts, fit_horizon, profiles

BASE = "base"  # the config itself (config.BASE; not imported: config needs the registries)
EQUIVALENCE = (0.8, 1.25)  # T50 ratios this close to 1 count as 'the same horizon'
MIN_DISCORDANT = 6  # McNemar's smallest two-sided p with n discordant pairs is 2 / 2^n
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(21)
_LOG_WEIGHTS = np.log(_WEIGHTS / _WEIGHTS.sum())
SEED_SDS = np.linspace(0.0, 5.0, 101)  # the seed effect's profile grid; 5: the grid's open end


def _seed_loglik(params, sd, log_t, solved):
    """Minus the marginal log-likelihood of the random-intercept logistic. log_t, solved:
    (K, L) per seed and length."""
    centre, slope = params
    z = slope * (log_t - centre)[..., None] + sd * _NODES  # (K, L, Q)
    log_p = -np.logaddexp(0.0, -z)
    log_q = -np.logaddexp(0.0, z)
    per_node = np.where(solved[..., None], log_p, log_q).sum(axis=1)  # (K, Q)
    return -float(np.logaddexp.reduce(per_node + _LOG_WEIGHTS, axis=1).sum())


def seed_effect(runs: pd.DataFrame) -> dict:
    """seed_sd with seed_sd_low, seed_sd_high (inf: the grid's open end) of one set of runs
    (columns seed, seq_len, solved); NaN where no seed ran at two lengths or where every run
    or none solved (nothing varies)."""
    nan = dict(seed_sd=np.nan, seed_sd_low=np.nan, seed_sd_high=np.nan)
    wide = runs.pivot_table(index="seed", columns="seq_len", values="solved", aggfunc="first")
    wide = wide.dropna()
    solved = wide.to_numpy(dtype=float)
    if wide.shape[1] < 2 or len(wide) < 2 or solved.min() == solved.max():
        return nan
    log_t = np.broadcast_to(np.log(wide.columns.to_numpy(dtype=float)), solved.shape)
    solved = solved.astype(bool)
    start = np.array([np.log(np.median(wide.columns)), -1.0])
    bounds = [(log_t.min() - 5, log_t.max() + 5), (-40.0, 0.0)]
    profile = []
    for sd in SEED_SDS:  # each fit starts from the previous sd's: the profile is smooth
        fit = optimize.minimize(
            _seed_loglik, start, args=(sd, log_t, solved), method="L-BFGS-B", bounds=bounds
        )
        start = fit.x
        profile.append(-fit.fun)
    profile = np.array(profile)
    inside = np.flatnonzero(profile >= profile.max() - CUTOFF / 2)
    end = len(SEED_SDS) - 1
    high = np.inf if inside[-1] == end else SEED_SDS[inside[-1]]
    # a best fit at the grid's end is the grid's bound, not an estimate (steep curves let a
    # steeper slope and a larger sd trade off without end)
    best = profile.argmax()
    estimate = np.nan if best == end or profile[best] - profile[end] < 1e-6 else SEED_SDS[best]
    return dict(
        seed_sd=float(estimate), seed_sd_low=float(SEED_SDS[inside[0]]), seed_sd_high=float(high)
    )


def seed_effect_table(runs: pd.DataFrame) -> pd.DataFrame:
    """seed_sd, seed_sd_low, seed_sd_high per (variant, task, arch)."""
    keys = ["variant", "task", "arch"]
    rows = [
        dict(zip(keys, key, strict=True), **seed_effect(group))
        for key, group in runs.groupby(keys, sort=True)
    ]
    return pd.DataFrame(rows, columns=[*keys, "seed_sd", "seed_sd_low", "seed_sd_high"])


def _profile(runs: pd.DataFrame, centres: np.ndarray) -> np.ndarray:
    """Profile log-likelihood of log t50 of one set of runs on the given grid."""
    lengths, trials, successes = counts(runs["seq_len"], runs["solved"])
    return profiles(lengths, trials, successes[None], centres)[0][0]


def _interval(grid, profile) -> tuple[float, float, float]:
    """(estimate, low, high) of a profile over a grid: the middle of the tied maximum, the
    ends where the profile falls by CUTOFF / 2 (horizon.py); NaN estimate where the maximum is an
    open end, an open end of the interval is -inf / inf."""
    top = profile.max()
    tied = np.flatnonzero(profile >= top - 1e-9)
    inside = np.flatnonzero(profile >= top - CUTOFF / 2)
    end = len(grid) - 1
    estimate = np.nan if tied[0] == 0 or tied[-1] == end else grid[tied[len(tied) // 2]]
    low = -np.inf if inside[0] == 0 else grid[inside[0]]
    high = np.inf if inside[-1] == end else grid[inside[-1]]
    return float(estimate), float(low), float(high)


def log_ratio(one: pd.DataFrame, other: pd.DataFrame) -> tuple[float, float, float]:
    """log T50(other) - log T50(one): estimate and 95% profile-likelihood interval (the two
    sets of runs fitted with their own slopes and lapses)."""
    lengths = np.union1d(one["seq_len"].unique(), other["seq_len"].unique())
    centres = centre_grid(lengths, n_grid=601)
    step = centres[1] - centres[0]
    a, b = _profile(one, centres), _profile(other, centres)
    n = len(centres)
    # beyond the grid a profile stays at its end value: what an open end means
    b = np.concatenate([np.full(n, b[0]), b, np.full(n, b[-1])])
    shifts = np.arange(-(n - 1), n)
    # profile of rho = u_other - u_one: max over u of a(u) + b(u + rho)
    joint = np.array([(a + b[n + s : 2 * n + s]).max() for s in shifts])
    return _interval(shifts * step, joint)


def _has_estimate(runs: pd.DataFrame) -> bool:
    """Whether a set of runs has a T50 point estimate that no bound set by convention drives
    (horizon.fit_horizon: not censored, separated, flat or as steep as the slope bound)."""
    fit = fit_horizon(runs["seq_len"], runs["solved"])
    return bool(np.isfinite(fit["t50"])) and fit["fit_note"] != "slope_cap"


def mcnemar(base: np.ndarray, variant: np.ndarray) -> tuple[int, int, float]:
    """Discordant pairs (variant only, base only) and McNemar's exact two-sided p-value."""
    gained = int((variant & ~base).sum())
    lost = int((base & ~variant).sum())
    if gained + lost == 0:
        return gained, lost, 1.0
    p = stats.binomtest(gained, gained + lost, 0.5).pvalue
    return gained, lost, float(p)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error over the given tests)."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def verdict(row) -> str:
    """'longer (ratio 1.5 [1.2, 1.9], p = 0.004)' or 'no detectable difference (ratio interval
    [0.8, 1.3])', from the Holm-adjusted p-value at 0.05. The test asks whether the variant
    solves more runs at the same (T, seed), the ratio where half the seeds solve; with curves of
    one shape they agree, and where the ratio's interval excludes 1 without the test the
    verdict says so instead of 'no difference'."""
    ratio = ratio_text(row["ratio"], row["ratio_low"], row["ratio_high"])
    if row["p_holm"] < 0.05:
        word = "longer" if row["gained"] > row["lost"] else "shorter"
        return f"{word} (ratio {ratio}, p = {row['p_holm']:.2g})"
    if row["ratio_low"] > 1 or row["ratio_high"] < 1:
        return f"T50 ratio {ratio}, not confirmed by the paired test (p = {row['p_holm']:.2g})"
    interval = ratio_text(np.nan, row["ratio_low"], row["ratio_high"])
    return f"no detectable difference (ratio interval {interval})"


def ratio_text(ratio, low, high) -> str:
    """'1.5 [1.2, 1.9]'; an open end (0, inf) as 'open', no estimate (NaN) as nothing."""
    ends = ["open" if not np.isfinite(v) or v == 0 else f"{v:.2g}" for v in (low, high)]
    point = "" if np.isnan(ratio) else f"{ratio:.2g} "
    return f"{point}[{ends[0]}, {ends[1]}]"


def slope_text(slope, low, high) -> str:
    """'0.23 [0.14, 0.41]': 0 is a value here, infinite ends are open."""
    ends = ["open" if not np.isfinite(v) else f"{v:.2g}" for v in (low, high)]
    point = "undetermined" if np.isnan(slope) else f"{slope:.2g}"
    return f"{point} [{ends[0]}, {ends[1]}]"


COMPARISON_COLUMNS = [
    "task",
    "arch",
    "variant",
    "pairs",
    "gained",
    "lost",
    "p",
    "p_holm",
    "ratio",
    "ratio_low",
    "ratio_high",
    "verdict",
]


def paired_comparisons(runs: pd.DataFrame, pairs=None) -> pd.DataFrame:
    """Every (variant, base) pair per (task, arch) of a runs table, on the runs both arms have
    at the same (seq_len, seed). ``pairs``: (variant, reference) to compare, default every
    variant against the base. Columns COMPARISON_COLUMNS; p_holm over all rows."""
    rows = []
    for (task, arch), group in runs.groupby(["task", "arch"], sort=True):
        arms = dict(tuple(group.groupby("variant")))
        wanted = pairs or [(v, BASE) for v in sorted(arms) if v != BASE]
        for variant, reference in wanted:
            if variant not in arms or reference not in arms:
                continue
            joined = arms[reference].merge(
                arms[variant], on=["seq_len", "seed"], suffixes=("_ref", "_var")
            )
            ref_solved = joined["solved_ref"].fillna(False).astype(bool).to_numpy()
            var_solved = joined["solved_var"].fillna(False).astype(bool).to_numpy()
            gained, lost, p = mcnemar(ref_solved, var_solved)
            est, low, high = log_ratio(arms[reference], arms[variant])
            if not all(_has_estimate(arms[a]) for a in (reference, variant)):
                est = np.nan  # an arm without a T50 estimate gives no ratio estimate either
            rows.append(
                dict(
                    task=task,
                    arch=arch,
                    variant=variant,
                    reference=reference,
                    pairs=len(joined),
                    gained=gained,
                    lost=lost,
                    p=p,
                    ratio=np.exp(est),
                    ratio_low=np.exp(low),
                    ratio_high=np.exp(high),
                )
            )
    table = pd.DataFrame(rows, columns=[*COMPARISON_COLUMNS[:-1], "reference"])
    # Holm over the tests that can reach p < 0.05 at all (Tarone 1990): with fewer than
    # MIN_DISCORDANT discordant pairs McNemar's smallest p is above it, so such a test can
    # never reject and only dilutes the others; its p stays unadjusted (and >= 0.0625)
    testable = (table["gained"] + table["lost"] >= MIN_DISCORDANT).to_numpy()
    table["p_holm"] = table["p"]
    if testable.any():
        table.loc[testable, "p_holm"] = holm(table.loc[testable, "p"])
    table["verdict"] = [verdict(r) for _, r in table.iterrows()]
    return table[[*COMPARISON_COLUMNS[:3], "reference", *COMPARISON_COLUMNS[3:]]]


def budget_slope(runs: pd.DataFrame, budgets: dict) -> tuple[float, float, float]:
    """Slope of log T50 against log budget (variant -> multiple of the base's updates), with
    its 95% profile-likelihood interval: every budget's runs fitted with their own slope and
    lapse, their T50s tied by log T50 = a + slope log budget."""
    arms = {v: r for v, r in runs.groupby("variant") if v in budgets}
    centres = centre_grid(runs["seq_len"].unique(), n_grid=601)
    curves = {v: _profile(r, centres) for v, r in arms.items()}
    slopes = np.linspace(-1.5, 1.5, 301)
    joint = []
    for slope in slopes:
        total = sum(
            np.interp(
                centres + slope * np.log(budgets[v]), centres, curve, left=curve[0], right=curve[-1]
            )
            for v, curve in curves.items()
        )
        joint.append(total.max())
    return _interval(slopes, np.array(joint))


def budget_convergence(runs: pd.DataFrame, budgets: dict) -> pd.DataFrame:
    """Per (task, arch): the T50 ratio of the two largest budgets with its interval, whether
    it lies inside EQUIVALENCE ('yes', else 'not shown'), and the slope of log T50 against
    log budget. budgets: variant -> multiple of the base's updates (base is 1)."""
    budgets = {BASE: 1, **budgets}
    present = [v for v in budgets if v in set(runs["variant"])]
    (_, second), (_, largest) = sorted((budgets[v], v) for v in present)[-2:]
    rows = []
    for (task, arch), group in runs.groupby(["task", "arch"], sort=True):
        arms = dict(tuple(group.groupby("variant")))
        if second not in arms or largest not in arms:
            continue
        est, low, high = log_ratio(arms[second], arms[largest])
        converged = EQUIVALENCE[0] <= np.exp(low) and np.exp(high) <= EQUIVALENCE[1]
        slope = budget_slope(group, budgets)
        rows.append(
            dict(
                task=task,
                arch=arch,
                compared=f"{largest} / {second}",
                ratio=np.exp(est),
                ratio_low=np.exp(low),
                ratio_high=np.exp(high),
                converged="yes" if converged else "not shown",
                slope=slope[0],
                slope_low=slope[1],
                slope_high=slope[2],
            )
        )
    return pd.DataFrame(rows)
