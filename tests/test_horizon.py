"""The memory horizon T50 (analysis/horizon.py) on constructed runs: what the data cannot say is
said as a note, never as a number from the slope bound or a tie rule; the interval's coverage
on the studies' designs is in test_coverage.py."""

import numpy as np
import pandas as pd
import pytest

import rnnmemory.analysis.horizon as horizon
from rnnmemory.analysis.horizon import fit_counts, fit_horizon, horizon_table
from rnnmemory.analysis.simulate import Truth, simulate_successes

LENGTHS = np.array([5, 10, 20, 40])


def runs(counts, seeds=20, lengths=LENGTHS):
    """(seq_lens, solved) with counts[i] of ``seeds`` runs solved at lengths[i]."""
    seq_lens = np.repeat(lengths, seeds)
    solved = np.concatenate([np.arange(seeds) < k for k in counts])
    return seq_lens, solved


def test_all_solved_says_so_and_its_bound_is_the_longest_length_not_the_slope_bound():
    """Before: '> 40 [42.9, open]', 42.9 from MAX_SLOPE (a cap of 10 gave 50.7)."""
    fit = fit_horizon(*runs([20, 20, 20, 20]))
    assert fit["fit_note"] == "all_solved" and fit["censored"] == "above"
    assert np.isnan(fit["t50"]) and fit["t50_low"] == 40 and fit["t50_high"] == np.inf
    assert fit["n_runs"] == 80 and fit["n_solved"] == 80


def test_a_censored_bound_does_not_move_with_the_slope_bound(monkeypatch):
    """20/20/20/19: beyond the longest length; the inner bound stays at the data's end
    whatever MAX_SLOPE is."""
    bounds = []
    for cap in (10.0, 40.0):
        monkeypatch.setattr(horizon, "SLOPES", -np.concatenate([[0], np.geomspace(0.02, cap, 96)]))
        monkeypatch.setattr(horizon, "MAX_SLOPE", cap)
        bounds.append(fit_horizon(*runs([20, 20, 20, 19]))["t50_low"])
    assert bounds[0] == bounds[1] <= 40


def test_none_solved_says_so():
    fit = fit_horizon(*runs([0, 0, 0, 0]))
    assert fit["fit_note"] == "none_solved" and fit["censored"] == "below"
    assert np.isnan(fit["t50"]) and fit["t50_low"] == 0 and fit["t50_high"] == 5


def test_separated_data_give_the_gap_and_no_point_estimate():
    """Every seed solves 20, none solves 40. Before: T50 = sqrt(20 x 40) by a tie rule."""
    fit = fit_horizon(*runs([20, 20, 0, 0]))
    assert fit["fit_note"] == "separated" and fit["censored"] == ""
    assert np.isnan(fit["t50"]) and (fit["t50_low"], fit["t50_high"]) == (10, 20)


@pytest.mark.parametrize(
    "counts", [[8, 10, 10, 12], [10, 10, 10, 9], [2, 6, 10, 14], [11, 11, 11, 10]]
)
def test_a_flat_or_rising_curve_gives_no_horizon(counts):
    """Success that does not fall with T (at any level). Before: a finite T50 at the grid's
    middle, or '> 40 (95% lower bound 0)'."""
    fit = fit_horizon(*runs(counts))
    assert fit["fit_note"] == "flat" and np.isnan(fit["t50"]) and fit["censored"] == ""
    assert fit["t50_low"] == 0 and fit["t50_high"] == np.inf


def test_a_step_between_two_lengths_is_noted():
    """20/20 at 5, 19/20 at 10, none from 20: the data cannot tell the curve from a step, so
    the estimate depends on MAX_SLOPE; the note says so."""
    assert fit_horizon(*runs([20, 19, 0, 0]))["fit_note"] == "slope_cap"
    assert fit_horizon(*runs([20, 20, 16, 6]))["fit_note"] == ""


def test_runs_that_fail_whatever_t_is_are_a_lapse_not_a_shorter_horizon():
    """2 of 20 fail at every length, the rest solve up to 20 and half at 40: T50 near 40 (the
    lapse absorbs the failures), where a curve without lapse would be pulled shorter."""
    fit = fit_horizon(*runs([18, 18, 18, 9]))
    assert fit["lapse"] > 0 and 30 < fit["t50"] < 45
    assert fit["t50_low"] < fit["t50"] < fit["t50_high"]


def test_a_diverged_or_missing_solved_flag_counts_as_not_solved():
    a = fit_horizon([10] * 4 + [20] * 4, [1, 1, 1, 0, 1, 0, 0, 0])
    b = fit_horizon([10] * 4 + [20] * 4, [1, 1, 1, np.nan, 1, 0, np.nan, 0])
    assert pd.Series(a).equals(pd.Series(b))


def test_many_studies_at_once_equal_one_at_a_time():
    rng = np.random.default_rng(3)
    successes = simulate_successes(rng, Truth(15.0, -4.0, lapse=0.05), LENGTHS, 20, 30)
    together = fit_counts(LENGTHS, np.full(4, 20), successes)
    assert set(together["fit_note"]) <= {"", *horizon.NOTES}
    for m in range(30):
        alone = fit_horizon(*runs(successes[m]))
        for name in ("t50", "t50_low", "t50_high", "slope", "lapse", "fit_note", "censored"):
            assert alone[name] == pytest.approx(together[name][m], nan_ok=True) or (
                alone[name] == together[name][m]
            )


def test_horizon_table_has_one_row_per_variant_task_arch():
    frames = []
    for arch, counts in [("rnn", [20, 15, 5, 0]), ("lstm", [20, 20, 16, 6])]:
        seq_lens, solved = runs(counts)
        frames.append(
            pd.DataFrame(
                dict(
                    variant="base",
                    task="adding",
                    arch=arch,
                    seed=0,
                    seq_len=seq_lens,
                    solved=solved,
                )
            )
        )
    table = horizon_table(pd.concat(frames))
    assert list(table.columns) == horizon.COLUMNS
    assert list(table["arch"]) == ["lstm", "rnn"]
    assert (table["t50_low"] < table["t50"]).all() and (table["t50"] < table["t50_high"]).all()
    assert table.set_index("arch")["t50"]["rnn"] < table.set_index("arch")["t50"]["lstm"]
