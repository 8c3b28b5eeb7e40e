"""Every registered figure draws from small synthetic tables, and the figures show what their
captions say: medians over seeds, the fitted horizon, the weights the task needs, solved and
failed runs apart. Fast: no training, tables made here."""

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from rnnmemory.analysis.tables import summary_table
from rnnmemory.core import figures
from rnnmemory.core.figures import COMPARISONS, FIGURES
from rnnmemory.report.plots import draw

ARCHS = ["rnn", "gru", "lstm"]
LENGTHS = [5, 20, 50, 200]
SEEDS = [1, 2, 3, 4, 5]
SOLVED = {"rnn": [2, 0, 0, 0], "gru": [5, 5, 3, 1], "lstm": [5, 5, 5, 4]}  # seeds per length
DIVERGED = ("rnn", 200, 5)  # (arch, seq_len, seed)
HIDDEN = {"rnn": 64, "gru": 36, "lstm": 32}
SOLVED_BELOW = 0.05
# T50 (low, high, slope, censored) per arch: rnn below the shortest length (open low end), gru
# inside, lstm above the longest with a finite extrapolated T50 and an open high end
HORIZONS = {
    "rnn": (np.nan, 0.0, 6.2, np.nan, "below"),
    "gru": (55.0, 30.0, 110.0, -2.5, ""),
    "lstm": (400.0, 150.0, np.inf, -3.0, "above"),
}


def _run(variant, task, arch, seq_len, seed, rng):
    solved = seed <= SOLVED[arch][LENGTHS.index(seq_len)]
    diverged = (arch, seq_len, seed) == DIVERGED
    ratio = np.nan if diverged else 10 ** (-2.8 + 0.1 * seed) if solved else 1.0 + 0.02 * seed
    weights = task != "chars" and not diverged
    scale = 2 if variant == "wide" else 1
    return dict(
        variant=variant,
        task=task,
        arch=arch,
        seq_len=seq_len,
        seed=seed,
        hidden_size=HIDDEN[arch] * scale,
        n_params=HIDDEN[arch] ** 2 * scale * 4,
        normalised_test_loss=ratio,
        solved=solved,
        diverged=diverged,
        outcome="diverged" if diverged else "solved" if solved else "last_only",
        final_train_loss=ratio,
        final_test_loss=ratio,
        baseline_loss=1.0,
        null_loss=2.0,
        coef_remembered=(0.95 if solved else 0.05) + 0.01 * seed if weights else np.nan,
        coef_recent=1.0 - 0.01 * seed if weights else np.nan,
        coef_first=7.0 if weights else np.nan,  # a value no other column has
        fit_r2=0.9 if weights else np.nan,
        test_accuracy=0.5 + 0.05 * solved if task == "chars" else np.nan,
        task_params=json.dumps({"lag": 5} if task == "recent_plus_last" else {}),
    )


def _per_run(runs, rng, task):
    """history, gradients, lengths, predictions: a few rows per run."""
    history, grads, lengths, samples = [], [], [], []
    for run in runs.to_dict("records"):
        key = {k: run[k] for k in ("variant", "task", "arch", "seq_len", "seed")}
        ratio, solved, seq_len = run["normalised_test_loss"], run["solved"], run["seq_len"]
        for epoch in range(6):
            loss = ratio + (1 - ratio) * np.exp(-epoch)
            history.append(dict(key, epoch=epoch, train_loss=loss, test_loss=loss))
        distance = np.arange(seq_len)[::-1]
        pace = {"rnn": 1.5, "gru": 1.0, "lstm": 0.7}[run["arch"]]  # the archs' lines apart
        for phase, rate in (("init", 0.2 * pace), ("trained", (0.01 if solved else 0.3) * pace)):
            decay = np.exp(-rate * distance) if np.isfinite(ratio) else np.full(seq_len, np.nan)
            grads.append(
                pd.DataFrame(
                    dict(
                        key,
                        phase=phase,
                        step=np.arange(seq_len),
                        distance=distance,
                        grad_h_norm=0.5 * decay,
                        grad_x_norm=0.2 * decay,
                    )
                )
            )
        for factor in (0.5, 1.0, 2.0):
            loss = ratio * (1 if factor == 1 else 1.5)
            row = dict(factor=factor, eval_len=round(factor * seq_len), test_loss=loss)
            lengths.append(dict(key, **row, baseline_loss=1.0, normalised_test_loss=loss))
        n = 20
        if task == "chars":  # the class after every step
            target = rng.integers(0, 5, size=(n, seq_len))
            predicted = np.where(rng.random((n, seq_len)) < 0.6, target, 0)
            sample, step = np.repeat(np.arange(n), seq_len), np.tile(np.arange(seq_len), n)
        else:  # the final prediction only
            target = rng.normal(size=n)
            predicted = target * (1.0 if solved else 0.5) + rng.normal(scale=0.1, size=n)
            sample, step = np.arange(n), seq_len - 1
        columns = dict(sample=sample, step=step, output=0)
        samples.append(
            pd.DataFrame(dict(key, **columns, target=target.ravel(), predicted=predicted.ravel()))
        )
    return dict(
        history=pd.DataFrame(history),
        gradients=pd.concat(grads, ignore_index=True),
        lengths=pd.DataFrame(lengths),
        predictions=pd.concat(samples, ignore_index=True),
    )


def _horizon(runs):
    rows = []
    for (variant, task, arch), group in runs.groupby(["variant", "task", "arch"]):
        t50, low, high, slope, censored = HORIZONS[arch]
        shift = 1.5 if variant == "wide" else 1.0  # the wide variant remembers further back
        rows.append(
            dict(
                variant=variant,
                task=task,
                arch=arch,
                t50=t50 * shift,
                t50_low=low * shift,
                t50_high=high * shift,
                slope=slope,
                n_runs=len(group),
                n_solved=int(group["solved"].sum()),
                censored=censored,
            )
        )
    return pd.DataFrame(rows)


def _critical_length(runs):
    # rnn: below the shortest length; gru: lower bound 0 (below the shortest); lstm: above
    values = {
        "rnn": (np.nan, np.nan, np.nan, "below"),
        "gru": (50, 0, 200, ""),
        "lstm": (200, 50, 200, "above"),
    }
    return pd.DataFrame(
        [
            dict(
                variant=v,
                task=t,
                arch=a,
                critical_length=values[a][0],
                ci_low=values[a][1],
                ci_high=values[a][2],
                n_seeds=len(SEEDS),
                shortest=min(LENGTHS),
                longest=max(LENGTHS),
                censored=values[a][3],
            )
            for v, t, a in runs[["variant", "task", "arch"]]
            .drop_duplicates()
            .itertuples(index=False)
        ]
    )


def make_tables(task="first_plus_last", variants=("base",)):
    """A consistent set of every table for one task: 3 archs, 4 lengths, 5 seeds, one diverged
    run, NaN coefficients for chars and for the diverged run, censored horizons."""
    rng = np.random.default_rng(0)
    runs = pd.DataFrame(
        [
            _run(v, task, a, t, s, rng)
            for v in variants
            for a in ARCHS
            for t in LENGTHS
            for s in SEEDS
        ]
    )
    return dict(
        runs=runs,
        summary=summary_table(runs),
        horizon=_horizon(runs),
        critical_length=_critical_length(runs),
        **_per_run(runs, rng, task),
    )


@pytest.fixture(scope="module")
def tables():
    return make_tables()


def _draw(name, tables):
    """Like plot_figures.py: only the tables the registry names for the figure."""
    record = {**figures.FIGURES, **figures.COMPARISONS}[name]
    return draw(name, {t: tables[t] for t in record.tables}, SOLVED_BELOW)


def _lines(fig, prefix):
    return {
        line.get_gid(): line
        for ax in fig.axes
        for line in ax.get_lines()
        if (line.get_gid() or "").startswith(prefix)
    }


def test_every_registered_figure_has_its_function():
    from rnnmemory.report.plots import DRAW

    assert DRAW.keys() == {*figures.FIGURES, *figures.COMPARISONS}
    assert all(DRAW[name].__name__ == name for name in DRAW)


@pytest.mark.parametrize("task", ["first_plus_last", pytest.param("chars", marks=pytest.mark.slow)])
def test_every_figure_draws(task, tmp_path):
    tables = make_tables(task)
    both = make_tables(task, variants=("base", "wide"))
    for name in [*FIGURES, *COMPARISONS]:
        fig = _draw(name, both if name in COMPARISONS else tables)
        path = tmp_path / f"{name}.png"
        fig.savefig(path, dpi=50)
        plt.close(fig)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 2000


def test_memory_curve_line_is_the_median_over_seeds(tables):
    fig = _draw("memory_curve", tables)
    runs = tables["runs"].dropna(subset=["normalised_test_loss"])
    lines = _lines(fig, "median:")
    for arch in ARCHS:
        median = runs[runs["arch"] == arch].groupby("seq_len")["normalised_test_loss"].median()
        x, y = lines[f"median:{arch}"].get_data()
        # at each length, set beside its dots as they are (within 10%: equal medians stay apart)
        np.testing.assert_allclose(x, median.index, rtol=0.1)
        assert len(set(np.round(x / median.index.to_numpy(), 6))) == 1
        np.testing.assert_allclose(y, median.to_numpy())
    # gru at T = 50: 3 of 5 seeds solve, so the line sits with them, far below the mean (~0.4)
    gru = runs[runs["arch"] == "gru"].groupby("seq_len")["normalised_test_loss"].median()
    y = lines["median:gru"].get_ydata()[list(gru.index).index(50)]
    assert y < 0.01
    assert "median over seeds" in [t.get_text() for t in fig.legends[0].get_texts()]
    plt.close(fig)


def test_horizon_fit_crosses_one_half_at_t50(tables):
    fig = _draw("horizon", tables)
    lines = _lines(fig, "fit:")
    assert "fit:rnn" not in lines  # its T50 is NaN (censored below): no curve to draw
    x, y = lines["fit:gru"].get_data()
    t50 = HORIZONS["gru"][0]
    assert np.interp(np.log(t50), np.log(x), y) == pytest.approx(0.5, abs=1e-3)
    # the T50 point on the 0.5 line that defines it, in the arch's colour
    marks = [line.get_xydata()[0] for line in fig.axes[0].get_lines() if line.get_marker() == "o"
             and len(line.get_xdata()) == 1]  # fmt: skip
    assert any(tuple(m) == pytest.approx((t50, 0.5)) for m in marks)
    # the intervals in the strip below, one row per arch in the legend's order
    strip = fig.axes[1]
    assert [t.get_text() for t in strip.get_yticklabels()] == ["rnn", "gru", "lstm"]
    texts = [t.get_text() for t in strip.texts]
    assert "T50 < 5" in texts and "T50 > 200" in texts
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "gru: T50 55 [30, 110]" in legend
    plt.close(fig)


def test_learned_weights_left_panel_is_the_remembered_input(tables):
    fig = _draw("learned_weights", tables)
    runs = tables["runs"]
    for ax, column in zip(fig.axes[:2], ["coef_remembered", "coef_recent"], strict=True):
        median = runs[runs["arch"] == "gru"].groupby("seq_len")[column].median()
        line = next(line for line in ax.get_lines() if line.get_gid() == "median:gru")
        np.testing.assert_allclose(line.get_ydata(), median.to_numpy())
        assert 7.0 not in line.get_ydata()  # coef_first's value
    plt.close(fig)


def test_learned_weights_without_a_fit_is_an_empty_figure():
    fig = _draw("learned_weights", make_tables("chars"))
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "no learned-weights fit for this task" in texts
    plt.close(fig)


def test_gradients_show_solved_and_failed_runs_apart(tables):
    fig = _draw("gradients", tables)
    top_t50 = fig.axes[LENGTHS.index(50)]  # top row (dL/dx), T = 50: gru 3 solved, 2 failed
    lines = {line.get_gid(): line for line in top_t50.get_lines()}
    solved, failed = lines["solved:gru:trained"], lines["failed:gru:trained"]
    assert solved.get_linewidth() > failed.get_linewidth()
    assert "solved:gru:init" in lines and "failed:gru:init" in lines
    # the solved line is the median over the solved runs only: its signal barely decays
    assert solved.get_ydata()[-1] == pytest.approx(np.exp(-0.01 * 49))
    assert failed.get_ydata()[-1] == pytest.approx(np.exp(-0.3 * 49))
    plt.close(fig)


def test_heatmap_colour_bar_says_light_is_better(tables):
    fig = _draw("heatmap", tables)
    assert any("light = better" in ax.get_ylabel() for ax in fig.axes)
    plt.close(fig)
