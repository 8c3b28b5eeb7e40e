"""docs/results.md and the README's generated blocks (rnnmemory.report.docs) from small constructed
tables: every number in them comes from the tables and the run record, and regenerating gives
the same text."""

from pathlib import Path

import numpy as np
import pandas as pd

from rnnmemory.analysis.horizon import horizon_table
from rnnmemory.analysis.inference import paired_comparisons
from rnnmemory.core import provenance
from rnnmemory.core.provenance import run_record
from rnnmemory.report.docs import (
    Study,
    budget_table,
    readme_blocks,
    replace_block,
    results_markdown,
    t50_text,
)
from rnnmemory.report.docs_backends import backend_comparison, backend_section
from rnnmemory.report.docs_runs import (
    Bench,
    gpu_trainer_summary,
    job_overhead_line,
    read_train_jobs,
    trainer_summary,
)

RECORD = dict(commit="0123456789abcdef", dirty=False, machine="AMD EPYC (2 cores)",
              command="make study", wall_seconds=1234.4, finished="2026-11-26 02:00")  # fmt: skip


def horizon_row(variant, arch, t50, low, high, censored="", fit_note=""):
    return dict(variant=variant, task="adding", arch=arch, t50=t50, t50_low=low, t50_high=high,
                slope=-3.0, n_runs=40, n_solved=20, censored=censored, shortest=5.0,
                longest=40.0, fit_note=fit_note, seed_sd=0.0, seed_sd_low=0.0,
                seed_sd_high=1.5)  # fmt: skip


def study(variants=(), budgets=None):
    rows = [horizon_row("base", "gru", 21.3, 15.2, 30.9),
            horizon_row("base", "lstm", np.nan, 33.0, np.inf, "above")]  # fmt: skip
    for variant, t50, low, high in variants:
        rows.append(horizon_row(variant, "gru", t50, low, high))
    runs = pd.DataFrame(dict(variant="base", task="adding", arch=["gru", "gru", "lstm"],
                             outcome=["solved", "memorised", "solved"]))  # fmt: skip
    config = {"tasks": ["adding"], "analysis": {"budget_variants": budgets or {}}}
    tables = {"horizon": pd.DataFrame(rows), "runs": runs, "summary": pd.DataFrame()}
    return Study("The default study", "config.yaml", config, Path("/nonexistent"), RECORD, tables)


def test_t50_text_says_what_the_data_say():
    """Censored, separated, flat and all-solved fits are said in words, never as a number from
    the slope bound or a tie rule."""
    assert t50_text(horizon_row("base", "gru", 21.3, 15.2, 30.9)) == "21.3 [15.2, 30.9]"
    above = horizon_row("base", "lstm", np.nan, 33.0, np.inf, "above")
    assert t50_text(above) == "> 40 (95% lower bound 33)"
    below = horizon_row("base", "rnn", np.nan, 0.0, 5.0, "below")
    assert t50_text(below) == "< 5 (95% upper bound 5)"
    every = horizon_row("base", "gru", np.nan, 40.0, np.inf, "above", "all_solved")
    assert t50_text(every) == "> 40 (all 40 solved; no upper estimate)"
    gap = horizon_row("base", "gru", np.nan, 10.0, 20.0, "", "separated")
    assert t50_text(gap) == "between 10 and 20 (separated; no point estimate)"
    flat = horizon_row("base", "gru", np.nan, 0.0, np.inf, "", "flat")
    assert t50_text(flat) == "no horizon (success does not fall with T) [open, open]"
    step = horizon_row("base", "gru", 21.3, 19.0, 24.0, "", "slope_cap")
    assert t50_text(step) == "21.3 [19, 24] (as steep as a step)"
    for text in map(t50_text, [above, below, every, gap, flat, step]):
        assert "nan" not in text and "inf" not in text


def test_results_page_and_readme_blocks_come_from_the_tables():
    default = study()
    text = results_markdown([default], [], ["horizon"])
    assert "| adding | gru | base | 21.3 [15.2, 30.9] | 20 / 40 | 0 [0, 1.5] |" in text
    assert "| adding | lstm | base | > 40 (95% lower bound 33) | 20 / 40 | 0 [0, 1.5] |" in text
    assert ("commit `0123456789` (last clean), AMD EPYC (2 cores), 1 invocation of "
            "`scripts/study.py` took 20 min 34 s in all") in text  # fmt: skip
    assert results_markdown([default], [], ["horizon"]) == text  # the same tables, the same text
    readme = "intro\n<!-- results:start -->\nold\n<!-- results:end -->\n<!-- bench:start -->\n" \
             "<!-- bench:end -->\n"  # fmt: skip
    for name, block in readme_blocks([default], []).items():
        readme = replace_block(readme, name, block)
    assert "old" not in readme and "| adding | gru | 21.3 [15.2, 30.9] | 20 / 40 |" in readme
    again = readme
    for name, block in readme_blocks([default], []).items():
        again = replace_block(again, name, block)
    assert again == readme  # regenerating changes nothing


def arm(variant, counts, lengths=(10, 20, 40, 80), seeds=12, arch="gru"):
    """Runs of one arm: at lengths[i], seeds 0 .. counts[i]-1 solved."""
    return pd.DataFrame([dict(variant=variant, task="adding", arch=arch, seq_len=t, seed=s,
                              solved=s < k, outcome="solved" if s < k else "last_only")
                         for t, k in zip(lengths, counts, strict=True)
                         for s in range(seeds)])  # fmt: skip


def with_runs(default, arms):
    runs = pd.concat(arms, ignore_index=True)
    default.tables["runs"] = runs
    default.tables["horizon"] = horizon_table(runs)
    default.tables["comparisons"] = paired_comparisons(runs)  # as collect_tables writes it
    return default


def test_budget_check_and_remedies_are_judged_by_paired_runs():
    budgets = {"updates_4x": 4, "updates_16x": 16}
    same = [12, 9, 5, 1]
    arms = [arm("base", [12, 10, 3, 0]), arm("updates_4x", same), arm("updates_16x", same)]
    budget = with_runs(study(budgets=budgets), arms)
    table = budget_table(budget.tables["runs"], budget.tables["horizon"], budgets)
    row = table.set_index("arch").loc["gru"]
    # 12 seeds: the ratio interval is far wider than the equivalence margin
    assert row["converged"] == "not shown" and "T50 ratio updates_16x / updates_4x" in table
    assert "Budget check" in results_markdown([budget], [], [])
    remedies = with_runs(study(), [arm("base", [11, 10, 2, 0]), arm("orthogonal", [12, 12, 6, 0]),
                                   arm("grad_clip_1", [11, 10, 2, 0])])  # fmt: skip
    text = results_markdown([remedies], [], [])
    # the published orthogonal RNN (12/12/6/0 against 11/10/2/0), 'same' by the overlap rule
    # 12/12/6/0 cannot be told from a step: its T50 depends on the slope bound, and so would
    # a ratio estimate; only the interval is given
    orthogonal = "| orthogonal | 40.2 [32.8, 48.4] (as steep as a step) | 7 / 0 of 48 pairs | "
    # grad_clip_1 (no discordant pair) cannot reject, so it is not in the Holm family
    assert orthogonal + "longer (ratio [0.88, 1.9], p = 0.016) |" in text
    clipped = "| grad_clip_1 | 29.9 [21, 40.2] | 0 / 0 of 48 pairs | no detectable difference"
    assert clipped in text


def test_job_overhead_is_job_wall_time_beyond_the_training_inside(tmp_path):
    cell = dict(variant="base", task="adding", arch="gru")
    for seq_len, seconds, rss in [(10, 40.0, 300.0), (20, 60.0, 500.0)]:
        path = tmp_path / "benchmarks/jobs/train/base/adding/gru" / f"T{seq_len}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = f"s\th:m:s\tmax_rss\tcpu_time\n{seconds}\t0:00:{seconds:.0f}\t{rss}\t{seconds - 3}\n"
        path.write_text(text)
    # two seeds per cell: the cell's training time once, not per seed
    runs = pd.DataFrame([dict(cell, seq_len=t, seed=s, time_cell_seconds=c)
                         for t, c in [(10, 38.0), (20, 57.0)] for s in (0, 1)])  # fmt: skip
    jobs = read_train_jobs(tmp_path, runs)
    assert jobs[["seq_len", "job_seconds", "cpu_seconds"]].values.tolist() == [
        [10, 40.0, 37.0],
        [20, 60.0, 57.0],
    ]
    assert job_overhead_line(runs, jobs) == (
        "Train jobs: 2, 100 s of job wall time, 95 s of it training: 5.0% job overhead (start, "
        "imports, reading and writing files); largest peak RSS 500 MiB."
    )
    # where the jobs recorded their `import torch`: its share of the jobs' wall time
    runs["time_import_torch_seconds"] = [1.5, 1.5, 2.5, 2.5]
    assert job_overhead_line(runs, jobs).endswith(
        "5.0% job overhead (start, imports, reading and writing files), `import torch` alone "
        "4.0% (2.0 s a job, 1.5-2.5 s); largest peak RSS 500 MiB."
    )
    # jobs that measured themselves: their CPU time, plus the benchmark's where a job server's
    # worker ran the job (the benchmark then saw only the waiting process), the larger RSS
    runs["job_server"] = [True, True, False, False]
    runs["job_peak_rss_mib"], runs["job_cpu_seconds"] = [800.0, 800.0, 450.0, 450.0], [30.0] * 4
    jobs = read_train_jobs(tmp_path, runs)
    assert jobs[["max_rss_mib", "cpu_seconds", "cpu_in_job"]].values.tolist() == [
        [800.0, 67.0, True],
        [500.0, 30.0, True],
    ]
    assert job_overhead_line(runs, jobs).endswith(
        "(2.0 s a job, 1.5-2.5 s); 1 of 2 run by the job server; largest peak RSS 800 MiB."
    )


def test_backend_check_compares_aggregates_and_counts_the_runs_that_flipped():
    def trained_by(backend, solved, gru_t50, seconds):
        default = study()
        default.tables["horizon"].loc[0, ["t50", "t50_low", "t50_high"]] = gru_t50
        runs = pd.DataFrame(dict(variant="base", task="adding", arch="gru", seq_len=10,
                                 seed=[0, 1, 2], solved=solved, backend=backend,
                                 time_cell_seconds=seconds))  # fmt: skip
        default.tables["runs"] = runs
        return default

    fused = trained_by("fused", [True, True, False], (21.3, 15.2, 30.9), 40.0)
    torch_ops = trained_by("bptt", [True, False, True], (50.0, 35.0, 70.0), 100.0)
    table = backend_comparison(fused, torch_ops).set_index("arch")
    assert table.loc["gru", "runs that changed label"] == 2
    # one run gained, one lost: no detectable difference, by the paired test
    assert table.loc["gru", "bptt vs fused (paired)"].startswith("no detectable difference")
    assert table.loc["gru", "T50 (bptt)"] == "50 [35, 70]"
    text = results_markdown([fused], [], [], backend_section(fused, torch_ops, "make study ..."))
    assert "## The default study trained by bptt (fused above)" in text
    assert ("Training time of the train jobs (wall), summed: 40 s (fused) against 100 s (bptt): "
            "bptt took 2.50x as long." in text)  # fmt: skip
    for default, cpu in [(fused, 30.0), (torch_ops, 90.0)]:  # benchmark files: CPU time wins
        job = dict(variant="base", task="adding", arch="gru", seq_len=10, job_seconds=cpu + 5)
        default.tables["jobs"] = pd.DataFrame([dict(job, max_rss_mib=300.0, cpu_seconds=cpu)])
    text = results_markdown([fused], [], [], backend_section(fused, torch_ops, "make study ..."))
    assert ("CPU time of the train jobs (Snakemake's benchmark files), summed: 30 s (fused) "
            "against 90 s (bptt): bptt took 3.00x as long." in text)  # fmt: skip
    fused.tables["jobs"]["cpu_in_job"] = True  # exact, against the other's samples: wall time
    assert "Training time of the train jobs (wall), summed: 40 s" in results_markdown(
        [fused], [], [], backend_section(fused, torch_ops, "make study ...")
    )
    torch_ops.tables["jobs"]["cpu_in_job"] = True  # both measured in the job
    assert "CPU time of the train jobs (measured in each job), summed: 30 s (fused)" in (
        results_markdown([fused], [], [], backend_section(fused, torch_ops, "make study ..."))
    )
    same = backend_comparison(fused, fused)  # one backend twice: labelled by role, not merged
    assert {"solved (fused, above)", "solved (fused, check)"} <= set(same.columns)


def test_speed_block_names_each_benchmark_run():
    table = "| arch | fused_ms |\n| --- | --- |\n| lstm | 7.1 |\n"
    bench = Bench("Trainer", table, dict(RECORD, command="benchmarks/trainer.py"))
    block = readme_blocks([study()], [bench])["bench"]
    assert block.startswith("**Trainer** (`benchmarks/trainer.py`, commit `0123456789` (clean), "
                            "AMD EPYC (2 cores), 20 min 34 s):")  # fmt: skip
    assert "| lstm | 7.1 |" in block
    assert readme_blocks([study()], [])["bench"] == "(run `make bench`)"
    quick = pd.DataFrame([dict(arch="rnn", batch=1000, threads=1, seeds=5, seq_len=50)])
    assert trainer_summary(quick) == ""  # no T = 100 rows (--quick): the full table is shown


def test_readme_speed_rows_are_one_thread_five_seeds_t100():
    rows = [dict(arch=a, batch=b, threads=th, seeds=k, seq_len=t, reference_us_per_sample=100.0,
                 bptt_us_per_sample=40.0, fused_us_per_sample=f, fused_speedup=100.0 / f,
                 fused_over_floor=3.0)
            for a, f in [("rnn", 10.0), ("lstm", 20.0)] for b in (1000, 50) for th in (1, 2)
            for k in (5, 20) for t in (10, 100)]  # fmt: skip
    text = trainer_summary(pd.DataFrame(rows))
    body = [line for line in text.splitlines()[3:] if not line.startswith("| ---")]
    assert body == [
        "| rnn | 1000 | 100.0 | 40.0 | 10.0 | 10.0 | 3.0 |",
        "| lstm | 1000 | 100.0 | 40.0 | 20.0 | 5.0 | 3.0 |",
        "| rnn | 50 | 100.0 | 40.0 | 10.0 | 10.0 | 3.0 |",
        "| lstm | 50 | 100.0 | 40.0 | 20.0 | 5.0 | 3.0 |",
    ]


def test_readme_gpu_rows_are_t100_one_column_per_seed_count_full_batch_first():
    # values that tell the rows apart: arch (rnn 1, lstm 2), batch (x10 for 50), seeds, T
    rows = [dict(arch=a, batch=b, threads=1, seeds=k, seq_len=t,
                 reference_us_per_sample=x * (10 if b == 50 else 1) + t / 1000,
                 bptt_us_per_sample=x * (10 if b == 50 else 1) * 100 / k + t / 1000,
                 bptt_speedup=0.0)
            for a, x in (("rnn", 1.0), ("lstm", 2.0)) for b in (50, 1000) for k in (5, 100)
            for t in (10, 100)]  # fmt: skip
    text = gpu_trainer_summary(pd.DataFrame(rows))
    assert text.startswith("T = 100: µs per sample processed (per seed)")
    lines = text.splitlines()[2:]
    assert lines[0] == "| arch | batch | tutorials' loop | bptt, 5 seeds | bptt, 100 seeds |"
    assert lines[2:] == [
        "| rnn | 1000 | 1.1 | 20.1 | 1.1 |",
        "| lstm | 1000 | 2.1 | 40.1 | 2.1 |",
        "| rnn | 50 | 10.1 | 200.1 | 10.1 |",
        "| lstm | 50 | 20.1 | 400.1 | 20.1 |",
    ]
    assert gpu_trainer_summary(pd.DataFrame(rows).query("seq_len == 10")) == ""


def test_run_record_names_the_commit_given_for_a_copied_tree(monkeypatch):
    """A tree sent to a GPU machine may carry a stale .git, or none: RNNMEMORY_COMMIT, as `git
    describe --always --dirty --abbrev=40` prints it where the tree came from, names the commit
    and whether it had uncommitted changes."""
    answers = {"rev-parse": "a" * 40, "status": " M README.md"}  # git here: stale and dirty
    monkeypatch.setattr(provenance, "git", lambda *args: answers[args[0]])
    monkeypatch.delenv("RNNMEMORY_COMMIT", raising=False)
    here = run_record("make bench", 1.0)
    assert (here["commit"], here["dirty"]) == ("a" * 40, True)
    for named, dirty in [("f" * 40, False), ("f" * 40 + "-dirty", True)]:
        monkeypatch.setenv("RNNMEMORY_COMMIT", named)
        record = run_record("make bench", 1.0)
        assert record | {"finished": ""} == here | {
            "commit": "f" * 40, "dirty": dirty, "finished": ""}  # fmt: skip


def test_changed_verdicts_say_whether_the_test_or_the_runs_changed_them():
    from rnnmemory.report.docs import verdict_changes

    runs = pd.concat([arm("base", [11, 10, 2, 0]), arm("orthogonal", [12, 12, 6, 0]),
                      arm("chrono", [12, 12, 12, 12]), arm("irnn", [11, 10, 2, 0])])  # fmt: skip
    horizon = horizon_table(runs)
    old = pd.DataFrame([dict(task="adding", arch="gru", variant=v, verdict=w)
                        for v, w in [("orthogonal", "same"), ("chrono", "same"),
                                     ("irnn", "same")]])  # fmt: skip
    changes = verdict_changes(old, paired_comparisons(runs), horizon).set_index("variant")
    assert "irnn" not in changes.index  # 'same' and 'no detectable difference': unchanged
    # the overlap rule still says 'same' for orthogonal on these runs: the test changed it
    assert changes.loc["orthogonal", "overlap rule, new runs"] == "same"
    assert changes.loc["orthogonal", "why"].startswith("the paired test")
    # chrono solves everything: the intervals separate too, so these runs changed it
    assert changes.loc["chrono", "overlap rule, new runs"] == "longer"
    assert changes.loc["chrono", "why"].startswith("the new runs")


def test_the_seed_effect_of_the_old_streams_is_measured_beside_the_new():
    default = with_runs(study(), [arm("base", [12, 10, 3, 0])])
    default.tables["horizon"] = default.tables["horizon"].assign(
        seed_sd=0.2, seed_sd_low=0.0, seed_sd_high=2.1
    )
    # the old streams: the same 4 seeds solve at every length, the others never
    old = arm("base", [4, 4, 4, 4])
    old.attrs["source"] = "docs/data/old.csv"
    default.old_streams = old
    text = results_markdown([default], [], [])
    assert "runs in\n`docs/data/old.csv`, which names their commit" in text
    assert "| adding | gru | not determined [" in text and "| 0.2 [0, 2.1] |" in text


def test_changed_budget_verdicts_are_listed():
    budgets = {"updates_4x": 4, "updates_16x": 16}
    arms = [arm("base", [12, 10, 3, 0]), arm("updates_4x", [12, 9, 5, 1]),
            arm("updates_16x", [12, 9, 5, 1])]  # fmt: skip
    budget = with_runs(study(budgets=budgets), arms)
    budget.old_verdicts = pd.DataFrame([dict(task="adding", arch="gru", verdict="yes")])
    budget.old_verdicts.attrs["source"] = "docs/data/old.csv"
    text = results_markdown([budget], [], [])
    assert "| adding | gru | yes | not shown |" in text and "`docs/data/old.csv`" in text
