"""The trainer benchmark (benchmarks/trainer.py), run on a small grid as `make bench` runs it:
its tables, record and figure are written, every path is timed and the speed-ups follow from
the times. Timings themselves are not asserted (this shared machine is noisy)."""

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from rnnmemory.core import provenance

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_quick_trainer_benchmark_writes_its_tables_and_record(
    kernel, tmp_path, monkeypatch, capsys
):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import trainer

    threads = torch.get_num_threads()
    try:  # (the benchmark sets the process's threads and flushes denormals, as train jobs do)
        trainer.main(["--quick", "--archs", "rnn", "lstm", "--rounds", "1", "--out", str(tmp_path)])
    finally:
        torch.set_num_threads(threads)
        torch.set_flush_denormal(False)
    assert "round 1/1, 1 thread(s)" in capsys.readouterr().out  # --rounds beats --quick's 2
    table = pd.read_csv(tmp_path / "trainer.csv")
    # (arch, T) rows at T = 10 and 50 full batch, plus the minibatch row at T = 50
    assert len(table) == 6 and set(table["batch"]) == {1000, 50}
    for path in ("reference", "bptt", "fused"):
        assert (table[f"{path}_ms"] > 0).all(), path
    assert table["fused_speedup"].equals(table["reference_ms"] / table["fused_ms"])
    assert (table["fused_best_ms"] <= table["fused_ms"]).all()  # a minimum, not a median
    assert (table["peak_gflops"] > 0).all() and (table["floor_ms"] > 0).all()
    record = json.loads((tmp_path / "trainer.json").read_text())
    assert record["command"].startswith("benchmarks/trainer.py --quick")
    assert record["commit"] == provenance.git("rev-parse", "HEAD") and record["wall_seconds"] > 0
    assert "Minibatches of 50" in (tmp_path / "trainer.md").read_text()
    assert (tmp_path / "trainer.png").stat().st_size > 10_000


def test_rows_pool_their_samples_over_the_rounds(monkeypatch):
    """Each row's numbers are medians (and bests) over all rounds' samples of that row, never
    of another's (time_row replaced by known samples: sample r of the run adds r, rows in grid
    order); its floor comes from the best rates, fused / floor from the kernel's best time."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import trainer

    counter = iter(range(100))

    def known_samples(args, arch, seq_len, batch):
        r, base = next(counter), {"rnn": 100.0, "lstm": 200.0}[arch] + seq_len
        return {
            "reference": [base + r],
            ("fused", 5): [base / 10 + r, base / 10 + r + 2],
            "peak": [50.0 + r],
        }

    monkeypatch.setattr(trainer, "time_row", known_samples)
    bandwidths = iter([10.0, 30.0, 20.0])  # one per round
    monkeypatch.setattr(trainer, "bandwidth_gbs", lambda: next(bandwidths))
    args = argparse.Namespace(
        seq_lens=[10],
        minibatch=0,
        minibatch_seq_len=100,
        device="cpu",
        rounds=3,
        threads=[1],
        archs=["rnn", "lstm"],
        seeds=[5],
        variants=["fused"],
    )
    rows = trainer.run(args).set_index("arch")
    # rnn's samples: r = 0, 2, 4; lstm's: 1, 3, 5
    assert rows.loc["rnn", "reference_ms"] == 112 and rows.loc["lstm", "reference_ms"] == 213
    assert rows.loc["rnn", "fused_ms"] == 14 and rows.loc["lstm", "fused_ms"] == 25
    assert rows.loc["rnn", "fused_best_ms"] == 11 and rows.loc["lstm", "fused_best_ms"] == 22
    assert rows.loc["rnn", "reference_best_ms"] == 110
    assert rows.loc["rnn", "peak_gflops"] == 54 and rows.loc["lstm", "peak_gflops"] == 55
    assert (rows["copy_gbs"] == 30).all()
    floor = [trainer.floor_ms(arch, 10, rows.loc[arch, "peak_gflops"], 30.0) for arch in rows.index]
    assert rows["floor_ms"].tolist() == floor
    assert rows["fused_over_floor"].equals(rows["fused_best_ms"] / rows["floor_ms"])
