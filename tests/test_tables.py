"""Table statistics on hand-made inputs."""

import numpy as np
import pandas as pd
import pytest

from rnnmemory.analysis.tables import (
    PARAMETER_COLUMNS,
    bootstrap_ci,
    runs_table,
    summary_table,
    wilson_ci,
)


def test_wilson_interval_matches_published_values():
    # Newcombe (1998), Table I: 0/10 -> 0 to 0.2775, 5/10 -> 0.2366 to 0.7634; 1/29 by formula
    assert wilson_ci(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_ci(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_ci(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert np.isnan(wilson_ci(0, 0)[0])


def test_wilson_interval_reaches_the_ends_exactly():
    """10 of 10 gave an upper bound a hair below 1, so the error bar below a fraction of 1 was
    negative and matplotlib refused to draw the budget study's horizon figure."""
    for n in range(1, 60):
        assert wilson_ci(n, n)[1] == 1.0 and wilson_ci(0, n)[0] == 0.0
        if n > 1:
            low, high = wilson_ci(n // 2, n)
            assert 0 < low <= n // 2 / n <= high < 1


def test_bootstrap_interval():
    assert bootstrap_ci([0.3, 0.3, 0.3]) == (0.3, 0.3)
    assert bootstrap_ci([2.0]) == (2.0, 2.0)
    values = np.random.default_rng(1).normal(5.0, 2.0, size=400)
    low, high = bootstrap_ci(values)
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))  # normal theory for large n
    assert low == pytest.approx(values.mean() - half, abs=0.05)
    assert high == pytest.approx(values.mean() + half, abs=0.05)
    assert bootstrap_ci(values) == (low, high)  # deterministic


def run(arch, seq_len, seed, loss, solved, diverged=False):
    return dict(
        variant="base",
        task="first_plus_last",
        arch=arch,
        seq_len=seq_len,
        seed=seed,
        hidden_size=10,
        normalised_test_loss=loss,
        solved=solved,
        diverged=diverged,
        baseline_loss=1.0,
        null_loss=2.0,
        task_params={},
        time_cell_seconds=1.0,
    )


def test_runs_table_puts_parameters_first_and_sorts():
    runs = runs_table([run("lstm", 10, 1, 0.5, False), run("gru", 10, 0, 0.05, True)])
    assert list(runs.columns[: len(PARAMETER_COLUMNS)]) == PARAMETER_COLUMNS
    assert list(runs["arch"]) == ["gru", "lstm"]
    assert runs.columns[-1] == "time_cell_seconds"


def test_summary_statistics_and_diverged_runs():
    metrics = [
        run("gru", 10, 0, 0.02, True),
        run("gru", 10, 1, 0.04, True),
        run("gru", 10, 2, 0.90, False),
        run("gru", 10, 3, float("nan"), False, diverged=True),
        run("rnn", 10, 0, 1.0, False),
    ]
    summary = summary_table(runs_table(metrics)).set_index("arch")
    gru = summary.loc["gru"]
    assert gru["n"] == 4 and gru["n_diverged"] == 1 and gru["n_solved"] == 2
    assert gru["mean"] == pytest.approx(np.mean([0.02, 0.04, 0.90]))
    assert gru["median"] == pytest.approx(0.04)
    assert gru["std"] == pytest.approx(np.std([0.02, 0.04, 0.90], ddof=1))
    assert gru["solved_fraction"] == 0.5  # the diverged run counts as not solved
    assert (gru["solved_ci_low"], gru["solved_ci_high"]) == pytest.approx(wilson_ci(2, 4))
    assert 0.02 <= gru["ci_low"] <= gru["mean"] <= gru["ci_high"] <= 0.90
    assert summary.loc["rnn", "null_over_baseline"] == 2.0
    assert isinstance(summary, pd.DataFrame)


def test_outcome_labels_from_what_the_answer_depends_on():
    """Each rule of classify_outcomes; row 'last_only by weights' was 'other' before (#10: the
    labels used the loss ratio only)."""
    from rnnmemory.analysis.tables import classify_outcomes

    rows = {  # label: (test ratio, train ratio, weight on remembered, weight on recent, diverged)
        "solved": (0.05, 0.04, 0.98, 1.0, False),
        "memorised": (1.3, 0.3, 0.05, 0.9, False),  # the LSTMs' train 0.6 / test 1.3 case
        "last_only": (1.5, 1.4, 0.02, 0.95, False),  # a ratio far from 1, weights say last-only
        "nothing": (2.0, 2.0, 0.01, 0.05, False),
        "partial": (0.5, 0.5, 0.5, 1.0, False),
        "other": (0.9, 0.9, 0.3, 0.4, False),
        "diverged": (float("inf"), float("inf"), np.nan, np.nan, True),
    }
    ratio, train, remembered, recent, diverged = zip(*rows.values(), strict=True)
    runs = pd.DataFrame(
        dict(
            normalised_test_loss=ratio,
            final_train_loss=train,
            baseline_loss=1.0,
            coef_remembered=remembered,
            coef_recent=recent,
            diverged=diverged,
        )
    )
    assert list(classify_outcomes(runs, solved_below=0.1)) == list(rows)
    # bounds from the config: a looser last_only band takes the 'other' run
    loose = classify_outcomes(runs, solved_below=0.1, remembered_below=0.35, recent_within=0.7)
    assert loose.iloc[5] == "last_only"
    # tasks without weights (NaN) fall back to the loss ratio
    no_weights = runs.assign(coef_remembered=np.nan, coef_recent=np.nan)
    assert classify_outcomes(no_weights, solved_below=0.1).iloc[2] == "other"


def constructed_runs(solved_by_length):
    """Runs of one (task, arch): {seq_len: [solved flag per seed]}."""
    rows = []
    for seq_len, flags in solved_by_length.items():
        for seed, flag in enumerate(flags):
            rows.append(
                dict(variant="base", task="t", arch="gru", seq_len=seq_len, seed=seed, solved=flag)
            )
    return pd.DataFrame(rows)


def test_critical_length_on_a_constructed_table():
    from rnnmemory.analysis.tables import critical_length_table

    runs = constructed_runs(
        {5: [1, 1, 1, 1], 10: [1, 1, 1, 0], 20: [1, 1, 0, 0], 50: [1, 0, 0, 0], 100: [0, 0, 0, 0]}
    )
    row = critical_length_table(runs).iloc[0]
    assert row["critical_length"] == 20  # half the seeds solve 20, a quarter solve 50
    assert row["ci_low"] <= 20 <= row["ci_high"] and row["censored"] == ""
    assert {row["ci_low"], row["ci_high"]} <= {5.0, 10.0, 20.0, 50.0}
    everything = critical_length_table(constructed_runs({5: [1, 1], 10: [1, 1]})).iloc[0]
    assert everything["critical_length"] == 10 and everything["censored"] == "above"
    nothing = critical_length_table(constructed_runs({5: [0, 0], 10: [1, 0]})).iloc[0]
    assert nothing["critical_length"] == 10  # exactly half counts
    none = critical_length_table(constructed_runs({5: [0, 0], 10: [0, 0]})).iloc[0]
    assert np.isnan(none["critical_length"]) and none["censored"] == "below"


def test_critical_length_bootstrap_keeps_every_resample():
    """#10: resamples in which no length was solved were dropped, so 3/5 at 20 and 0/5 at 50
    gave the interval '20 to 20' although about a third of the resamples fall below 20."""
    from rnnmemory.analysis.tables import critical_length_table

    row = critical_length_table(constructed_runs({20: [1, 1, 1, 0, 0], 50: [0] * 5})).iloc[0]
    assert row["critical_length"] == 20 and row["ci_low"] == 0 and row["ci_high"] == 20
    # non-monotone: 2/5 at 20, 3/5 at 50 gives T* = 50 ('above'); resamples reach both sides
    row = critical_length_table(constructed_runs({20: [1, 1, 0, 0, 0], 50: [1, 1, 1, 0, 0]}))
    row = row.iloc[0]
    assert row["critical_length"] == 50 and row["censored"] == "above"
    assert row["ci_low"] == 0 and row["ci_high"] == 50


def test_learned_weights_recover_known_coefficients():
    from rnnmemory.core.tasks import adding
    from rnnmemory.probing.weights import learned_weights

    rng = np.random.default_rng(0)
    x = rng.standard_normal((5000, 12, 1))
    pred = 0.3 * x[:, 0] + 1.0 * x[:, 11] - 0.5 * x[:, 7] + 0.2  # (N, 1)
    got = learned_weights("first_plus_last", x, pred, {})
    assert got["coef_remembered"] == pytest.approx(0.3, abs=0.03)  # x[7] is noise here
    assert got["coef_recent"] == pytest.approx(1.0, abs=0.03)
    assert got["coef_intercept"] == pytest.approx(0.2, abs=0.03)
    # the control remembers x[T-lag] with the task's lag (#10: analysis hard-coded lag 5)
    lag4 = learned_weights("recent_plus_last", x, x[:, 8] + x[:, 11], {"lag": 4})
    assert lag4["coef_remembered"] == pytest.approx(1.0) and lag4["fit_r2"] == pytest.approx(1)
    lag5 = learned_weights("recent_plus_last", x, -0.5 * x[:, 7] + 0.2, {"lag": 5})
    assert lag5["coef_remembered"] == pytest.approx(-0.5) and lag5["coef_recent"] == pytest.approx(
        0, abs=1e-9
    )
    noisy = learned_weights("first_plus_last", x, x[:, 11] + rng.standard_normal((5000, 1)), {})
    assert abs(noisy["coef_remembered"]) < 0.05 and noisy["fit_r2"] == pytest.approx(0.5, abs=0.05)
    # adding: the weights are on the two marked values
    xa, ya = adding(30, 2000, rng)
    first, second = xa[:, :, 0][xa[:, :, 1] == 1].reshape(-1, 2).T  # marked values, in order
    marked = learned_weights("adding", xa, (0.2 * first + second)[:, None], {})
    assert marked["coef_remembered"] == pytest.approx(0.2) and marked[
        "coef_recent"
    ] == pytest.approx(1)
    exact = learned_weights("adding", xa, ya, {})
    assert exact["coef_remembered"] == pytest.approx(1) and exact["coef_recent"] == pytest.approx(1)
    assert np.isnan(learned_weights("first_plus_last", x, np.full((5000, 1), np.inf), {})["fit_r2"])
    assert np.isnan(learned_weights("sine", x, x[:, 0], {"period": 16.0})["coef_remembered"])
