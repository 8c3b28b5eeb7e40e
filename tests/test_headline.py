"""The report's first page (report/headline.py) from constructed tables: one sentence per arch,
censored horizons, the budget check, failures, anchors; and docutils renders it cleanly (a line
over docutils' 10000-character limit dropped the whole page from the report once)."""

import io

import docutils.core
import numpy as np
import pandas as pd

from rnnmemory.analysis.horizon import horizon_table
from rnnmemory.analysis.inference import budget_convergence
from rnnmemory.report.anchors import budget_effect
from rnnmemory.report.headline import answer_lines, headline_rst


def constructed():
    rng = np.random.default_rng(0)
    rows = []
    for variant, shift in [("base", 1.0), ("updates_16x", 1.0), ("updates_4x", 1.0)]:
        for arch, t50 in [("rnn", 15.0 * shift), ("lstm", 60.0 * shift), ("gru", 1e4)]:
            for seq_len in [5, 10, 20, 50, 100]:
                for seed in range(10):
                    p = 1 / (1 + (seq_len / t50) ** 4)
                    solved = bool(rng.random() < p)
                    rows.append(
                        dict(
                            variant=variant,
                            task="adding",
                            arch=arch,
                            seq_len=seq_len,
                            seed=seed,
                            solved=solved,
                            outcome="solved" if solved else "memorised",
                        )
                    )
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
    out = docutils.core.publish_string(
        text, writer="html", settings_overrides={"warning_stream": warnings}
    )
    return out.decode(), warnings.getvalue()


def sentences(text):
    """The per-arch sentences of a first page (the lines that start with '- **')."""
    return [line for line in text.split("\n") if line.startswith("- **")]


def test_first_page_states_t50_budget_failures_and_anchors():
    runs, summary, horizon = constructed()
    png = b"\x89PNG" + bytes(range(256)) * 200  # 51 kB: longer than a docutils line may be
    figures = {"adding": (png, {"horizon": "figures/base/adding/horizon-adding-base.png"})}
    convergence = budget_convergence(runs, {"updates_4x": 4, "updates_16x": 16})
    anchors = [
        dict(
            source="Arjovsky, Shah & Bengio 2016, uRNN",
            our_task="adding",
            task="add",
            result="lstm -> T=400",
            differs="1e5 updates",
        )
    ]
    text = headline_rst(
        horizon,
        summary,
        figures,
        runs=runs,
        convergence=convergence,
        budget_source="this study",
        anchors=anchors,
    )
    assert max(map(len, text.split("\n"))) < 10_000
    page, warnings = render(text)
    assert warnings == "" and "What the tables say" in page
    lstm = horizon[(horizon["variant"] == "base") & (horizon["arch"] == "lstm")].iloc[0]
    assert (
        f"<strong>lstm</strong>: half of its seeds still solve adding at T50 = "
        f"{lstm['t50']:.3g} (95% CI "
    ) in page
    assert "<strong>gru</strong>: solves adding in " in page  # T50 1e4: beyond the lengths
    # the answer in words comes before the figure
    assert page.index("<strong>rnn</strong>:") < page.index("data:image/png;base64,")
    for line in sentences(text):
        assert "nan" not in line and "inf" not in line and "(10 seeds per length)" in line
    check = convergence.set_index("arch").loc["lstm"]
    assert f"lstm on adding: {budget_effect(check)} (T50 ratio updates_16x / updates_4x " in page
    assert f"converged: {check['converged']}; slope of log T50 in log budget " in page
    # the anchors' sentence says what the budget check measured, per arch
    assert "The budget check above measured (slope of log T50 in log budget): " in page
    assert f"{budget_effect(check)} for " in page.split("The budget check above measured")[1]
    assert "memorised" in page and "Arjovsky" in page


def test_few_seeds_are_flagged_and_no_bound_contradicts_its_claim():
    runs, _, _ = constructed()
    few = runs[(runs["seed"] < 3) & (runs["variant"] == "base")]
    summary = (
        few.groupby(["variant", "task", "arch", "seq_len"])["solved"]
        .agg(n="size", n_solved="sum")
        .reset_index()
    )
    text = headline_rst(horizon_table(few), summary, {}, runs=few)
    lines = sentences(text)
    assert len(lines) == 3 and all("**caution**: under 10 seeds per length" in x for x in lines)
    for line in lines:  # never 'T50 > 100 (95% CI lower bound 80)'
        assert "T50 >" not in line and "lower bound" not in line


def test_first_page_says_when_no_budget_check_was_run():
    runs, summary, horizon = constructed()
    text = headline_rst(horizon, summary, {}, runs=runs, budget_source="budget.yaml, not run")
    assert "not measured in this checkout: budget.yaml, not run (make study" in text
    assert "no budget check found" not in text
    assert render(text)[1] == ""


def test_first_page_names_the_remedies_that_moved_t50():
    from rnnmemory.analysis.inference import paired_comparisons
    from rnnmemory.report.docs import variant_comparison

    runs, summary, horizon = constructed()
    base = runs[runs["variant"] == "base"]
    orthogonal = base.assign(variant="orthogonal")
    longer = (orthogonal["arch"] == "rnn") & orthogonal["seq_len"].isin([20, 50])
    orthogonal.loc[longer, "solved"] = True
    both = pd.concat([base, orthogonal])
    remedies = variant_comparison(paired_comparisons(both), horizon_table(both))
    text = headline_rst(horizon, summary, {}, remedies=remedies, remedies_source="remedies.yaml")
    assert "rnn on adding (base T50 " in text and "orthogonal longer (ratio " in text
    assert (
        "lstm on adding (base T50 " in text
        and "no remedy moved T50 detectably; no detectable difference: orthogonal" in text
    )
    missing = headline_rst(horizon, summary, {}, remedies=None, remedies_source="remedies.yaml")
    assert "not measured in this checkout: remedies.yaml (make study" in missing


def test_thebudget_effect_is_worded_from_the_check():
    from rnnmemory.report.anchors import budget_effect

    row = dict(converged="not shown", slope_low=0.14, slope_high=0.41)
    assert budget_effect(row) == "T50 grows with the budget"
    assert budget_effect({**row, "slope_low": -0.1}).startswith("no detectable trend")
    assert budget_effect({**row, "converged": "yes"}) == "budget-converged"


def test_make_study_ends_with_the_answer_in_the_tables_words():
    horizon = pd.DataFrame(
        [dict(variant="base", task="adding", arch="lstm", t50=63.0, t50_low=41.0, t50_high=95.0,
              fit_note="", n_runs=80, shortest=5, longest=40, censored=""),
         dict(variant="base", task="adding", arch="gru", t50=float("nan"), t50_low=40.0,
              t50_high=float("inf"), fit_note="all_solved", n_runs=80, shortest=5, longest=40,
              censored="above"),
         dict(variant="fb1", task="adding", arch="lstm", t50=70.0, t50_low=50.0, t50_high=99.0,
              fit_note="", n_runs=80, shortest=5, longest=40, censored="")]
    )  # fmt: skip
    assert answer_lines(horizon) == [
        "adding:",
        "  gru   T50 > 40 (all 80 solved; no upper estimate)",
        "  lstm  T50 63 [41, 95]",
    ]
