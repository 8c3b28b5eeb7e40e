"""Paired comparisons, the budget check and the seed effect (rnnmemory.analysis.inference), on
constructed runs: the published cases the overlap rule called 'same', a budget check that can
fail, and a test that keeps its error rate."""

import numpy as np
import pandas as pd
import pytest

from rnnmemory.analysis.horizon import fit_horizon
from rnnmemory.analysis.inference import (
    budget_convergence,
    holm,
    mcnemar,
    paired_comparisons,
    seed_effect,
)
from rnnmemory.analysis.simulate import Truth, simulate_runs


def arm(variant, counts, lengths, seeds, arch="rnn", task="first_plus_last"):
    """Runs of one arm: at lengths[i], seeds 0 .. counts[i]-1 solved, so an arm with more
    solved at every length solves a superset of the other's seeds (pairs agree where they
    can)."""
    rows = [
        dict(variant=variant, task=task, arch=arch, seq_len=t, seed=s, solved=s < k)
        for t, k in zip(lengths, counts, strict=True)
        for s in range(seeds)
    ]
    return pd.DataFrame(rows)


def overlap(a, b):
    return max(a["t50_low"], b["t50_low"]) <= min(a["t50_high"], b["t50_high"])


@pytest.mark.parametrize(
    "arch, base, variant",
    [
        ("rnn", [11, 10, 2, 0], [12, 12, 6, 0]),  # orthogonal RNN, first_plus_last
        ("lstm", [12, 12, 12, 5], [12, 12, 12, 12]),  # chrono LSTM, adding (12/12 vs 5/12)
    ],
)
def test_the_published_cases_called_same_are_significant_when_paired(arch, base, variant):
    """The remedies study printed both 'same' (their 95% intervals overlap); paired, the
    variant solves 7 more runs and loses none: McNemar p = 2 / 2^7."""
    lengths = [10, 20, 40, 80]
    runs = pd.concat([arm("base", base, lengths, 12, arch), arm("v", variant, lengths, 12, arch)])
    fits = [fit_horizon(r["seq_len"], r["solved"]) for _, r in runs.groupby("variant")]
    assert overlap(*fits)  # what the old rule read as 'same'
    row = paired_comparisons(runs).iloc[0]
    assert (row["gained"], row["lost"], row["pairs"]) == (7, 0, 48)
    assert row["p"] == pytest.approx(2 / 2**7) and row["p_holm"] == row["p"]
    assert row["verdict"].startswith("longer (ratio ") and "p = 0.016" in row["verdict"]
    assert row["ratio_low"] <= row["ratio_high"] and row["ratio_high"] > 1


def test_no_difference_is_worded_with_the_ratio_interval():
    lengths = [10, 20, 40, 80]
    runs = pd.concat(
        [arm("base", [12, 9, 5, 1], lengths, 12), arm("v", [12, 9, 5, 1], lengths, 12)]
    )
    row = paired_comparisons(runs).iloc[0]
    assert row["p"] == 1 and row["verdict"].startswith("no detectable difference (ratio interval [")
    assert row["ratio"] == pytest.approx(1, abs=0.02)
    assert row["ratio_low"] < 1 < row["ratio_high"]


def test_mcnemar_and_holm():
    base = np.array([1, 1, 0, 0, 1, 0], dtype=bool)
    assert mcnemar(base, base) == (0, 0, 1.0)
    gained, lost, p = mcnemar(base, np.array([1, 1, 1, 1, 0, 1], dtype=bool))
    assert (gained, lost) == (3, 1) and p == pytest.approx(0.625)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # step-down: never below an earlier one


def test_the_paired_test_keeps_its_error_rate_when_nothing_differs():
    """300 simulated remedies-like comparisons with the same truth in both arms and a shared
    offset per pair (same dataset and initial stream): rejections at 0.05 stay near 5%."""
    rng = np.random.default_rng(0)
    lengths = np.array([10, 20, 40, 80])
    truth = Truth(25.0, -3.0)
    rejected = []
    for _ in range(300):
        shared = rng.standard_normal((12, 4))  # pair effects: what a shared dataset gives
        p = 1 / (1 + np.exp(-(truth.slope * np.log(lengths / truth.centre) + shared)))
        base, variant = rng.random((12, 4)) < p, rng.random((12, 4)) < p
        rejected.append(mcnemar(base.ravel(), variant.ravel())[2] < 0.05)
    assert np.mean(rejected) <= 0.07


def budget_runs(t50s, seeds=16, lengths=(10, 20, 40, 80), rng_seed=0):
    """Runs of a budget study from a known T50 per budget variant (slope -4)."""
    rng = np.random.default_rng(rng_seed)
    frames = []
    for variant, t50 in t50s.items():
        solved = simulate_runs(rng, Truth(t50, -4.0), lengths, seeds, 1)[0]  # (K, L)
        seed = np.repeat(range(seeds), len(lengths))  # solved is (seed, length), row-major
        frames.append(
            pd.DataFrame(
                dict(
                    variant=variant,
                    task="first_plus_last",
                    arch="lstm",
                    seed=seed,
                    seq_len=np.tile(lengths, seeds),
                    solved=solved.ravel(),
                )
            )
        )
    return pd.concat(frames)


BUDGETS = {"updates_4x": 4, "updates_16x": 16}


def test_the_budget_check_says_converged_only_inside_the_equivalence_margin():
    same = budget_convergence(
        budget_runs({"base": 30, "updates_4x": 30, "updates_16x": 30}, seeds=400), BUDGETS
    ).iloc[0]
    assert same["converged"] == "yes" and 0.8 <= same["ratio_low"] <= same["ratio_high"] <= 1.25
    assert same["slope_low"] < 0 < same["slope_high"]
    doubled = budget_convergence(
        budget_runs({"base": 15, "updates_4x": 20, "updates_16x": 40}, seeds=400), BUDGETS
    ).iloc[0]
    assert doubled["converged"] == "not shown" and doubled["ratio_low"] > 1.25
    assert doubled["slope_low"] > 0


def test_an_open_interval_is_not_converged():
    """Before: an interval with an open end overlapped everything, so 'converged: yes'."""
    lengths = [10, 30]
    runs = pd.concat(
        [arm(v, [10, 10], lengths, 10, "gru") for v in ("base", "updates_4x")]
        + [arm("updates_16x", [10, 9], lengths, 10, "gru")]
    )
    row = budget_convergence(runs, BUDGETS).iloc[0]
    assert row["converged"] == "not shown" and row["ratio_high"] == np.inf


def test_the_seed_effect_is_found_when_seeds_carry_across_lengths_and_not_otherwise():
    rng = np.random.default_rng(1)
    lengths = np.array([5, 10, 20, 40, 80])

    def runs(seed_sd):
        solved = simulate_runs(rng, Truth(20.0, -3.0, seed_sd), lengths, 60, 1)[0]
        return pd.DataFrame(
            dict(seed=np.repeat(range(60), 5), seq_len=np.tile(lengths, 60), solved=solved.ravel())
        )

    independent, shared = seed_effect(runs(0.0)), seed_effect(runs(3.0))
    assert independent["seed_sd_low"] == 0 and independent["seed_sd"] < 1.5
    assert shared["seed_sd_low"] > 1 and shared["seed_sd_low"] <= 3 <= shared["seed_sd_high"]
    everything = pd.DataFrame(dict(seed=[0, 0, 1, 1], seq_len=[5, 10] * 2, solved=[True] * 4))
    assert np.isnan(seed_effect(everything)["seed_sd"])


def test_comparisons_that_cannot_reject_do_not_dilute_the_others():
    """Holm runs over the comparisons with at least 6 discordant pairs (fewer cannot reach
    p < 0.05: Tarone 1990); the others keep their raw p."""
    lengths = [10, 20, 40, 80]
    runs = pd.concat(
        [
            arm("base", [11, 10, 2, 0], lengths, 12),
            arm("a", [12, 12, 6, 0], lengths, 12),
            arm("b", [11, 10, 3, 0], lengths, 12),
            arm("c", [11, 10, 2, 0], lengths, 12),
        ]
    )
    table = paired_comparisons(runs).set_index("variant")
    assert table.loc["a", "p_holm"] == table.loc["a", "p"] == pytest.approx(2 / 2**7)
    assert table.loc["b", "p_holm"] == table.loc["b", "p"] == 1.0  # 1 discordant pair
    assert table.loc["c", "gained"] + table.loc["c", "lost"] == 0


def test_a_ratio_the_paired_test_does_not_confirm_is_not_called_no_difference():
    """Runs solved as often (16 each, spread differently) while the ratio's interval excludes 1:
    the verdict names the ratio and that the paired test does not confirm it."""
    lengths = [10, 20, 40, 80]
    runs = pd.concat(
        [arm("base", [4, 4, 4, 4], lengths, 12), arm("v", [12, 10, 2, 0], lengths, 12)]
    )
    row = paired_comparisons(runs).iloc[0]
    assert row["p"] > 0.05 and (row["ratio_low"] > 1 or row["ratio_high"] < 1)
    assert "not confirmed by the paired test" in row["verdict"]


def test_arms_without_a_t50_estimate_give_no_ratio_estimate():
    """Two separated arms (all solved up to 20 vs up to 40): each has only a gap, so a ratio
    '2' would be the old tie rule again; the interval stays."""
    lengths = [10, 20, 40, 80]
    runs = pd.concat(
        [arm("base", [12, 12, 0, 0], lengths, 12), arm("v", [12, 12, 12, 0], lengths, 12)]
    )
    row = paired_comparisons(runs).iloc[0]
    assert np.isnan(row["ratio"]) and row["ratio_low"] > 1
    assert row["verdict"].startswith("longer (ratio [")
