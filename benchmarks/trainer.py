"""Trainer benchmark: the tutorials' loop against the project's trainer, side by side in one
process, with the arithmetic floor measured on the same machine in the same run.

For each arch, sequence length T, number of seeds K and thread count it times one training
epoch (forward + backward + Adam, full batch of N sequences, hidden 10) and reports
milliseconds per seed-epoch (median of repeats):

- ``reference``: one torch.nn RNN/GRU/LSTM + Linear per seed, trained one after the other with
  torch.optim.Adam, as the seed notebooks do. Its cost per seed does not depend on K, so it is
  timed once per (arch, T, threads) on a single seed;
- ``stacked-autograd``: the project's stacked-seed model with autograd through the time loop;
- ``project``: what the pipeline trains with (stacked seeds, hand-written BPTT, fused Adam).

The floor is FLOPs / (this machine's batched-matmul GFLOP/s at this thread count), FLOPs per
seed-epoch = 3 (forward + 2x backward) x N x T x per-step FLOPs.

    .venv/bin/python benchmarks/trainer.py            # full grid, writes results/benchmarks/
    .venv/bin/python benchmarks/trainer.py --quick    # a small grid for a smoke test
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from rnnmemory.archs import GATES  # noqa: E402
from rnnmemory.models import StackedRecurrentNet, TorchNet, per_model_loss, to_model_layout  # noqa: E402
from rnnmemory.runtime import tune_cpu_runtime  # noqa: E402

HIDDEN, INPUT, N = 10, 1, 1000
# elementwise FLOPs per hidden unit and step besides the matmuls (gate math, activations)
ELEMENTWISE = {"rnn": 2, "gru": 13, "lstm": 13}


def flops_per_seed_epoch(arch, seq_len, batch=N, hidden=HIDDEN, inputs=INPUT):
    gates = GATES[arch] * hidden
    per_step = 2 * gates * (hidden + inputs) + ELEMENTWISE[arch] * hidden
    return 3 * batch * seq_len * per_step


def matmul_gflops(repeats=20):
    """Batched float32 matmul throughput at the current thread count (GFLOP/s)."""
    a, b = torch.randn(64, 256, 256), torch.randn(64, 256, 256)
    torch.bmm(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.bmm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * 64 * 256**3 / statistics.median(times) / 1e9


def time_epochs(step, epochs, warmup=2):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def reference_step(arch, seq_len, seed=0):
    """The seeds' loop: torch.nn module + Linear head, MSE, Adam, full batch."""
    torch.manual_seed(seed)
    net = TorchNet(arch, INPUT, HIDDEN, 1, 1)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    x, y = torch.randn(N, seq_len, INPUT), torch.randn(N, 1)
    loss_fn = torch.nn.MSELoss()

    def step():
        loss = loss_fn(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def stacked_step(arch, seq_len, n_seeds, backend):
    model = StackedRecurrentNet.from_seeds(
        range(n_seeds), arch, backend=backend, input_size=INPUT, hidden_size=HIDDEN,
        num_layers=1, output_size=1,
    )  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, fused=True)
    x = to_model_layout(torch.randn(n_seeds, N, seq_len, INPUT))
    y = torch.randn(n_seeds, N, 1)

    def step():
        loss = per_model_loss(model(x), y, "mse").sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def run(archs, seq_lens, seed_counts, thread_counts, repeats, variants):
    rows = []
    for threads in thread_counts:
        torch.set_num_threads(threads)
        gflops = matmul_gflops()
        print(f"threads {threads}: batched matmul {gflops:.1f} GFLOP/s", flush=True)
        for arch in archs:
            for seq_len in seq_lens:
                floor_ms = flops_per_seed_epoch(arch, seq_len) / (gflops * 1e9) * 1e3
                ref_ms = time_epochs(reference_step(arch, seq_len), repeats) * 1e3
                for n_seeds in seed_counts:
                    row = dict(
                        arch=arch, seq_len=seq_len, seeds=n_seeds, threads=threads,
                        reference_ms=ref_ms, floor_ms=floor_ms, matmul_gflops=gflops,
                    )  # fmt: skip
                    for variant in variants:
                        step = stacked_step(arch, seq_len, n_seeds, backend=variant)
                        ms = time_epochs(step, repeats) * 1e3 / n_seeds
                        row[f"{VARIANT_NAMES[variant]}_ms"] = ms
                    rows.append(row)
                    print(
                        f"  {arch:4} T={seq_len:<4} K={n_seeds:<3} reference {ref_ms:7.2f} ms  "
                        + "  ".join(
                            f"{VARIANT_NAMES[v]} {row[f'{VARIANT_NAMES[v]}_ms']:7.2f} ms"
                            for v in variants
                        )
                        + f"  floor {floor_ms:6.3f} ms",
                        flush=True,
                    )
    table = pd.DataFrame(rows)
    table["speedup"] = table["reference_ms"] / table["project_ms"]
    table["over_floor"] = table["project_ms"] / table["floor_ms"]
    return table


VARIANT_NAMES = {"autograd": "stacked_autograd", "bptt": "project"}


def markdown(table):
    cols = ["arch", "seq_len", "seeds", "threads", "reference_ms"]
    cols += [c for c in table if c.endswith("_ms") and c not in cols + ["floor_ms"]]
    cols += ["floor_ms", "speedup", "over_floor"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in table[cols].iterrows():
        cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(table, path):
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    data = table[table["threads"] == table["threads"].min()]
    grid = sns.relplot(
        data=data, x="seq_len", y="speedup", hue="arch", style="seeds", kind="line",
        markers=True, height=3.5, aspect=1.3,
    )  # fmt: skip
    for ax in grid.axes.flat:
        ax.set_xscale("log")
        ax.set_xticks(sorted(data["seq_len"].unique()))
        ax.set_xticklabels([str(t) for t in sorted(data["seq_len"].unique())])
        ax.minorticks_off()
        ax.axhline(1, color="0.4", ls="--", lw=1)
        ax.axhline(5, color="tab:green", ls=":", lw=1)
        ax.set_xlabel("sequence length T")
        ax.set_ylabel("speed-up over the tutorials' loop (per seed)")
    grid.figure.suptitle(f"Trainer speed-up, {int(data['threads'].iloc[0])} thread", y=1.03)
    grid.savefig(path, dpi=150, bbox_inches="tight")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", nargs="+", default=["rnn", "gru", "lstm"])
    parser.add_argument("--seq-lens", nargs="+", type=int, default=[10, 100, 400])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 5, 20])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--variants", nargs="+", default=["autograd", "bptt"])
    parser.add_argument("--out", default=str(ROOT / "results" / "benchmarks"))
    parser.add_argument("--quick", action="store_true", help="T 10, 50; K 1, 5; 1 thread")
    args = parser.parse_args(argv)
    if args.quick:
        args.seq_lens, args.seeds, args.threads, args.repeats = [10, 50], [1, 5], [1], 3
    tune_cpu_runtime()  # for every variant alike, as the train jobs do
    if "bptt" not in args.variants:
        args.variants.append("bptt")
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, N={N}, hidden {HIDDEN}")  # fmt: skip
    table = run(args.archs, args.seq_lens, args.seeds, args.threads, args.repeats, args.variants)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "trainer.csv", index=False)
    (out / "trainer.md").write_text(markdown(table) + "\n")
    plot(table, out / "trainer.png")
    print(markdown(table))
    print(f"wrote {out}/trainer.csv, trainer.md, trainer.png")


if __name__ == "__main__":
    main()
