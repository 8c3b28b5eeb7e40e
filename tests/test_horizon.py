"""The memory horizon T50 (rnnmemory.horizon) on constructed runs: coverage of its 95% interval,
censoring, separated and non-monotone data."""

import numpy as np
import pandas as pd
import pytest

from rnnmemory.horizon import fit_horizon, horizon_table

LENGTHS = np.array([5, 10, 15, 20, 30, 40, 50, 70, 100, 140, 200])


def simulated_study(rng, t50, slope, seeds=20, lengths=LENGTHS):
    seq_lens = np.repeat(lengths, seeds)
    p_solved = 1 / (1 + np.exp(-slope * (np.log(seq_lens) - np.log(t50))))
    return seq_lens, rng.random(len(seq_lens)) < p_solved


@pytest.mark.parametrize(
    "t50, slope", [(40.0, -3.0), pytest.param(120.0, -6.0, marks=pytest.mark.slow)]
)
def test_interval_covers_the_truth_in_most_simulated_studies(t50, slope):
    """200 seeded studies from a known logistic truth: the 95% interval holds it in >= 90%."""
    rng = np.random.default_rng(1)
    fits = [fit_horizon(*simulated_study(rng, t50, slope)) for _ in range(200)]
    covered = np.mean([f["t50_low"] <= t50 <= f["t50_high"] for f in fits])
    assert covered >= 0.9
    # and the estimate is close: the median of 200 fits within 10% of the truth
    assert np.nanmedian([f["t50"] for f in fits]) == pytest.approx(t50, rel=0.1)
    assert np.median([f["slope"] for f in fits]) == pytest.approx(slope, rel=0.35)


def test_all_solved_is_censored_above_with_an_open_upper_end():
    fit = fit_horizon(np.repeat(LENGTHS, 5), np.ones(5 * len(LENGTHS)))
    assert fit["censored"] == "above" and np.isnan(fit["t50"])
    assert 150 <= fit["t50_low"] <= 250 and fit["t50_high"] == np.inf  # near the longest, 200
    assert fit["n_runs"] == 55 and fit["n_solved"] == 55


def test_none_solved_is_censored_below_with_an_open_lower_end():
    fit = fit_horizon(np.repeat(LENGTHS, 5), np.zeros(5 * len(LENGTHS)))
    assert fit["censored"] == "below" and np.isnan(fit["t50"])
    assert fit["t50_low"] == 0 and 4 <= fit["t50_high"] <= 10  # near the shortest, 5


def test_separated_data_put_t50_in_the_gap():
    """Every seed solves 20, none solves 50: no finite unbounded MLE; T50 sits in the gap."""
    fit = fit_horizon([20] * 5 + [50] * 5, [1] * 5 + [0] * 5)
    assert fit["censored"] == "" and fit["t50"] == pytest.approx(np.sqrt(20 * 50), rel=0.05)
    assert 19 <= fit["t50_low"] < fit["t50"] < fit["t50_high"] <= 52  # the gap, 20 to 50


def test_non_monotone_data_give_a_wide_interval_not_a_false_horizon():
    """2/5 at 20 and 3/5 at 50 (the critical length said T* = 50, 'above'): the fit cannot tell
    where success halves, so its interval spans far beyond both lengths."""
    fit = fit_horizon([20] * 5 + [50] * 5, [1, 1, 0, 0, 0] + [1, 1, 1, 0, 0])
    assert fit["slope"] <= 0
    assert fit["t50_low"] < 20 and fit["t50_high"] > 50
    assert fit["t50_high"] / max(fit["t50_low"], 1e-9) > 10


def test_a_diverged_or_missing_solved_flag_counts_as_not_solved():
    a = fit_horizon([10] * 4 + [20] * 4, [1, 1, 1, 0, 1, 0, 0, 0])
    b = fit_horizon([10] * 4 + [20] * 4, [1, 1, 1, np.nan, 1, 0, np.nan, 0])
    assert a == b


def test_horizon_table_has_one_row_per_variant_task_arch():
    rng = np.random.default_rng(0)
    frames = []
    for arch, t50 in [("rnn", 15.0), ("lstm", 60.0)]:
        seq_lens, solved = simulated_study(rng, t50, -4.0)
        frames.append(pd.DataFrame(dict(variant="base", task="adding", arch=arch, seed=0,
                                        seq_len=seq_lens, solved=solved)))  # fmt: skip
    table = horizon_table(pd.concat(frames))
    assert list(table.columns[:9]) == ["variant", "task", "arch", "t50", "t50_low", "t50_high",
                                       "slope", "n_runs", "n_solved"]  # fmt: skip
    assert list(table["arch"]) == ["lstm", "rnn"]
    assert (table["t50_low"] < table["t50"]).all() and (table["t50"] < table["t50_high"]).all()
    assert table.set_index("arch")["t50"]["rnn"] < table.set_index("arch")["t50"]["lstm"]
