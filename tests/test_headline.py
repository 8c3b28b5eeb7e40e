"""The report's first page (rnnmemory.headline) from constructed tables: one sentence per arch,
censored horizons, the budget check, failures, anchors; and docutils renders it cleanly (a line
over docutils' 10000-character limit dropped the whole page from the report once)."""

import io

import docutils.core
import numpy as np
import pandas as pd

from rnnmemory.docs import budget_convergence
from rnnmemory.headline import headline_rst
from rnnmemory.horizon import horizon_table


def constructed():
    rng = np.random.default_rng(0)
    rows = []
    for variant, shift in [("base", 1.0), ("updates_16x", 1.0), ("updates_4x", 1.0)]:
        for arch, t50 in [("rnn", 15.0 * shift), ("lstm", 60.0 * shift), ("gru", 1e4)]:
            for seq_len in [5, 10, 20, 50, 100]:
                for seed in range(10):
                    p = 1 / (1 + (seq_len / t50) ** 4)
                    solved = bool(rng.random() < p)
                    rows.append(dict(variant=variant, task="adding", arch=arch, seq_len=seq_len,
                                     seed=seed, solved=solved,
                                     outcome="solved" if solved else "memorised"))  # fmt: skip
    runs = pd.DataFrame(rows)
    summary = (
        runs.groupby(["variant", "task", "arch", "seq_len"])["solved"]
        .agg(n="size", n_solved="sum")
        .reset_index()
    )
    return runs, summary, horizon_table(runs)


def render(text):
    """docutils HTML of the text, with its warnings."""
    warnings = io.StringIO()
    out = docutils.core.publish_string(text, writer="html",
                                       settings_overrides={"warning_stream": warnings})  # fmt: skip
    return out.decode(), warnings.getvalue()


def test_first_page_states_t50_budget_failures_and_anchors():
    runs, summary, horizon = constructed()
    png = b"\x89PNG" + bytes(range(256)) * 200  # 51 kB: longer than a docutils line may be
    figures = {"adding": (png, {"horizon": "figures/base/adding/horizon-adding-base.png"})}
    convergence = budget_convergence(horizon, {"updates_4x": 4, "updates_16x": 16})
    anchors = [dict(source="Arjovsky, Shah & Bengio 2016, uRNN", our_task="adding", task="add",
                    result="lstm -> T=400", differs="1e5 updates")]  # fmt: skip
    text = headline_rst(horizon, summary, figures, runs=runs, convergence=convergence,
                        budget_source="this study", anchors=anchors)  # fmt: skip
    assert max(map(len, text.split("\n"))) < 10_000
    page, warnings = render(text)
    assert warnings == "" and "What the tables say" in page
    lstm = horizon[(horizon["variant"] == "base") & (horizon["arch"] == "lstm")].iloc[0]
    assert f"<strong>lstm</strong> remembers up to T50 = {lstm['t50']:.3g}" in page
    assert "<strong>gru</strong> remembers beyond the longest length studied: T50 &gt; 100" in page
    assert "lstm on adding: budget-converged" in page
    assert "memorised" in page and "Arjovsky" in page and "data:image/png;base64," in page


def test_first_page_says_when_no_budget_check_was_run():
    runs, summary, horizon = constructed()
    text = headline_rst(horizon, summary, {}, runs=runs, budget_source="budget.yaml, not run")
    assert "no budget check found (budget.yaml, not run)" in text
    assert render(text)[1] == ""


def test_first_page_names_the_remedies_that_moved_t50():
    from rnnmemory.docs import variant_comparison

    runs, summary, horizon = constructed()
    orthogonal = horizon[horizon["variant"] == "base"].assign(variant="orthogonal")
    orthogonal.loc[orthogonal["arch"] == "rnn", ["t50", "t50_low", "t50_high"]] = [90, 70, 99]
    remedies = variant_comparison(pd.concat([horizon[horizon["variant"] == "base"], orthogonal]))
    text = headline_rst(horizon, summary, {}, remedies=remedies, remedies_source="remedies.yaml")
    assert "rnn on adding (base T50 " in text and "orthogonal longer (90 [70, 99])" in text
    assert "lstm on adding" in text and "no remedy moved T50; within the base's interval: " \
        "orthogonal" in text  # fmt: skip
    missing = headline_rst(horizon, summary, {}, remedies=None, remedies_source="remedies.yaml")
    assert "no remedies study found (remedies.yaml)" in missing
