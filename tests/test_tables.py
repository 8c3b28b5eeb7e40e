"""Table statistics on hand-made inputs."""

import numpy as np
import pandas as pd
import pytest

from rnnmemory.tables import (
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
        variant="base", task="first_plus_last", arch=arch, seq_len=seq_len, seed=seed,
        hidden_size=10, normalised_test_loss=loss, solved=solved, diverged=diverged,
        baseline_loss=1.0, null_loss=2.0, task_params={}, time_cell_seconds=1.0,
    )  # fmt: skip


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


def test_outcome_labels_from_the_loss_ratio():
    from rnnmemory.tables import classify_outcomes

    ratios = [0.05, 0.5, 0.9, 1.2, 2.1, 1.6, 3.5, float("inf")]
    runs = pd.DataFrame(
        dict(normalised_test_loss=ratios, null_loss=2.0, baseline_loss=1.0,
             diverged=[False] * 7 + [True])
    )  # fmt: skip
    got = list(classify_outcomes(runs, solved_below=0.1))
    assert got == [
        "solved", "partial", "last_only", "last_only", "nothing", "nothing", "other", "diverged",
    ]  # fmt: skip
    # where predicting nothing is the memoryless baseline (adding problem), it is 'nothing'
    adding = pd.DataFrame(dict(normalised_test_loss=[1.0], null_loss=1 / 6, baseline_loss=1 / 6,
                               diverged=[False]))  # fmt: skip
    assert list(classify_outcomes(adding, solved_below=0.1)) == ["nothing"]


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
    from rnnmemory.tables import critical_length_table

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


def test_headline_states_one_sentence_per_arch():
    from rnnmemory.tables import critical_length_table, headline_rst

    runs = constructed_runs({5: [1, 1, 1, 1], 10: [1, 1, 0, 0], 20: [0, 0, 0, 0]})
    summary = pd.DataFrame(
        dict(variant="base", task="t", arch="gru", seq_len=[5, 10, 20], n=4, n_solved=[4, 2, 0])
    )
    text = headline_rst(critical_length_table(runs), summary)
    assert "**gru** remembers up to T* = 10" in text and "at T = 20 it solves 0 of 4" in text
    # a variant gets its own paragraph, after the base config's
    wide = constructed_runs({5: [1, 1, 1, 1], 10: [1, 1, 1, 1], 20: [1, 1, 0, 0]})
    runs = pd.concat([wide.assign(variant="equal_params"), runs])
    summary = pd.concat([summary, summary.assign(variant="equal_params", n_solved=[4, 4, 2])])
    text = headline_rst(critical_length_table(runs), summary)
    base, variant = text.split("``t``, variant ``equal_params``:")
    assert "T* = 10" in base and "T* >= 20" in variant and "solves 2 of 4" in variant


def test_learned_weights_recover_known_coefficients():
    from rnnmemory.analysis import learned_weights

    rng = np.random.default_rng(0)
    x = rng.standard_normal((5000, 12, 1))
    pred = 0.3 * x[:, 0] + 1.0 * x[:, 11] - 0.5 * x[:, 7] + 0.2  # (N, 1): x[T-5] = x[7]
    got = learned_weights(x, pred)
    assert got["coef_first"] == pytest.approx(0.3)
    assert got["coef_last"] == pytest.approx(1.0)
    assert got["coef_recent"] == pytest.approx(-0.5)
    assert got["coef_intercept"] == pytest.approx(0.2)
    assert got["fit_r2"] == pytest.approx(1.0)
    noisy = learned_weights(x, x[:, 11] + rng.standard_normal((5000, 1)))  # a last-only model
    assert abs(noisy["coef_first"]) < 0.05 and noisy["coef_last"] == pytest.approx(1, abs=0.05)
    assert noisy["fit_r2"] == pytest.approx(0.5, abs=0.05)
    short = learned_weights(x[:, :4], x[:, 0] + x[:, 3])  # T < 5: no recent column
    assert np.isnan(short["coef_recent"]) and short["coef_first"] == pytest.approx(1)
    assert np.isnan(learned_weights(x, np.full((5000, 1), np.inf))["fit_r2"])
    assert np.isnan(learned_weights(rng.random((10, 4, 2)), rng.random((10, 1)))["coef_first"])
