"""End-to-end benchmark: a small study through Snakemake against the tutorials' loop doing the
same training, each started afresh in its own process, one core.

The training: first_plus_last at T = 100 for rnn, gru and lstm, 5 seeds each, 300 full-batch
epochs on 1000 sequences, the test loss every 10 epochs. The pipeline runs it as a study of its
own (data, train and probe jobs, the tables; one Snakemake core, one thread per job), once per
backend, so it also runs its probes (gradients, other lengths, predictions): more work than the
loop, which makes its speed-up conservative. The tutorials' loop trains one torch.nn network
per seed after another in one Python process (the seed notebooks' way), on the same datasets.
Wall time of each, start to finish, imports and job starts included; the fused kernel is built
(or found in its cache) before the clock starts:

    .venv/bin/python benchmarks/end_to_end.py     # writes results/benchmarks/end_to_end.csv
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from rnnmemory.core.io import write_json  # noqa: E402
from rnnmemory.core.provenance import run_record  # noqa: E402
from rnnmemory.report.docs_runs import markdown_table  # noqa: E402

TASK, SEQ_LEN, SEEDS, ARCHS, EPOCHS, EVAL_EVERY = "first_plus_last", 100, 5, "rnn gru lstm", 300, 10

# the tutorials' loop on the same work, as one Python program (its imports are timed too)
REFERENCE = f"""
import torch
from rnnmemory.training.reference import TorchNet
from rnnmemory.training.runtime import tune_cpu_runtime
from rnnmemory.core.tasks import make_dataset
tune_cpu_runtime()
torch.set_num_threads(1)
for arch in "{ARCHS}".split():
    for seed in range({SEEDS}):
        d = make_dataset("{TASK}", {SEQ_LEN}, seed, 1000, 200)
        x, y = torch.from_numpy(d["x_train"]), torch.from_numpy(d["y_train"])
        xt, yt = torch.from_numpy(d["x_test"]), torch.from_numpy(d["y_test"])
        torch.manual_seed(seed)
        net = TorchNet(arch, x.shape[2], 10, 1, y.shape[1])
        optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
        loss_fn = torch.nn.MSELoss()
        for epoch in range(1, {EPOCHS} + 1):
            loss = loss_fn(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if epoch % {EVAL_EVERY} == 0:
                with torch.no_grad():
                    test = loss_fn(net(xt), yt).item()
"""


def timed(command, env=None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def pipeline(backend: str, workdir: Path) -> float:
    """Seconds for the study through Snakemake up to its tables, in a fresh results folder."""
    results = workdir / f"study-{backend}"
    config = [
        f"results_dir={results}",
        f"tasks=[{TASK}]",
        f"archs=[{ARCHS.replace(' ', ',')}]",
        f"seq_lens=[{SEQ_LEN}]",
        f"seeds=[{','.join(map(str, range(SEEDS)))}]",
        f"train={{epochs: {EPOCHS}, eval_every: {EVAL_EVERY}}}",
        f"backend={backend}",
        "device=cpu",
    ]
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    target = str(results / "tables" / "runs.csv")
    return timed([snakemake, target, "--cores", "1", "--quiet", "all", "--config", *config])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "results" / "benchmarks"))
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    subprocess.run([sys.executable, "-m", "rnnmemory.training.fused"], env=env, check=True)  # build
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="rnnmemory-e2e-") as tmp:
        for name, run in [
            ("tutorials' loop", lambda: timed([sys.executable, "-c", REFERENCE], env)),
            ("pipeline, bptt", lambda: pipeline("bptt", Path(tmp))),
            ("pipeline, fused", lambda: pipeline("fused", Path(tmp))),
        ]:
            seconds = run()
            rows.append({"path": name, "wall_seconds": seconds})
            print(f"{name}: {seconds:.1f} s", flush=True)
        shutil.rmtree(tmp, ignore_errors=True)
    table = pd.DataFrame(rows)
    table["speedup"] = table["wall_seconds"].iloc[0] / table["wall_seconds"]
    work = (
        f"{TASK}, T = {SEQ_LEN}, {ARCHS.replace(' ', '/')} x {SEEDS} seeds, {EPOCHS} "
        f"full-batch epochs, 1 core"
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "end_to_end.csv", index=False)
    shown = table.assign(
        wall_seconds=table["wall_seconds"].round(1), speedup=table["speedup"].round(2)
    )
    text = f"{work}: wall seconds, start to finish\n\n{markdown_table(shown)}"
    (out / "end_to_end.md").write_text(text + "\n")
    command = shlex.join(["benchmarks/end_to_end.py", *(sys.argv[1:] if argv is None else argv)])
    record = run_record(command, time.perf_counter() - start)
    write_json(record, out / "end_to_end.json")
    print(text)


if __name__ == "__main__":
    main()
