"""Trainer benchmark: the tutorials' loop, the project's torch-ops trainer and the fused C++
kernel side by side in one process, with this CPU's roofline floor measured in the same run.

For each arch, sequence length T, number of seeds K and thread count it times one training
epoch (forward + backward + Adam over N = 1000 sequences, hidden 10) and reports milliseconds
per seed-epoch (the median of its samples from three rounds over the whole grid, the paths of
a row timed in turns; see run), in one full batch and in minibatches of B = 50 (T = 100),
where it also reports microseconds per sample processed:

- ``reference``: one torch.nn RNN/GRU/LSTM + Linear per seed, trained one after the other with
  torch.optim.Adam, as the seed notebooks do. Its cost per seed does not depend on K, so it is
  timed once per (arch, T, threads, batch) on a single seed;
- ``bptt``: stacked seeds, torch ops with the hand-written BPTT (``backend="bptt"``);
- ``fused``: stacked seeds through the compiled kernel (``backend="fused"``, fused.py);
- ``autograd`` (with ``--variants``): stacked seeds, autograd through the time loop.

The floor is max(FLOPs / peak FMA rate, bytes / memory bandwidth), both measured here at the
row's thread count: the peak from a compiled FMA loop (the kernel's ``fma_gflops``), sampled
in the row's turns like a path, the bandwidth from a 256 MiB copy once per round. FLOPs per
seed-epoch = 3 (forward + 2x backward) x N x T x the forward FLOPs of a step (a sigmoid or
tanh counted as one FLOP), so the floor is a lower bound. A floor is a best case, so it takes
the best rates sampled, and ``fused / floor`` the kernel's best sample (``fused_best_ms``):
the noise of this shared VM only adds time, in slow spells that slowed a whole row's paths
(the tutorials' loop too) 1.5-1.7x between runs while the FMA loop kept its rate, so a median
set against a floor measures the spell as much as the kernel (as Python's timeit notes, the
lowest time bounds what the machine can do, higher ones come from interference; Chen & Revels,
arXiv:1608.04295, argue the minimum the robust estimate). Speed-ups compare medians with
medians, as a user would see them.

    .venv/bin/python benchmarks/trainer.py            # full grid, writes results/benchmarks/
    .venv/bin/python benchmarks/trainer.py --quick    # a small grid for a smoke test
    .venv/bin/python benchmarks/trainer.py --device cuda   # on a GPU: trainer_cuda.*
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402
import torch  # noqa: E402
from bench_steps import (  # noqa: E402
    HIDDEN,
    N,
    bandwidth_gbs,
    bptt_bytes,
    bytes_per_seed_epoch,
    flops_per_seed_epoch,
    peak_gflops,
    reference_step,
    stacked_step,
)

from rnnmemory.core.io import write_json  # noqa: E402
from rnnmemory.core.provenance import run_record  # noqa: E402
from rnnmemory.training import fused  # noqa: E402
from rnnmemory.training.runtime import tune_cpu_runtime  # noqa: E402

BPTT_MEMORY_LIMIT = 6 * 2**30  # skip bptt rows whose buffers would need more (K = 20, T = 1000)


def memory_limit(device):
    """The bptt rows' memory budget: BPTT_MEMORY_LIMIT of RAM, or half the GPU's memory."""
    if device == "cpu":
        return BPTT_MEMORY_LIMIT
    return torch.cuda.get_device_properties(device).total_memory / 2


def repeats_for(seq_len, repeats):
    """Timed calls per row and round: fewer for the long rows, whose epochs take seconds."""
    return repeats if seq_len <= 100 else 1


def time_in_turns(steps: dict, repeats: int) -> dict:
    """ms per seed-epoch of each step {key: (step, seeds)}, ``repeats`` samples each, timed in
    turns: after a warm-up call of each, every turn calls each step once. A slow spell of
    this shared machine then slows every path of a row alike instead of one of them (timed
    one after the other, the tutorials' loop varied 1.5x between two runs of the benchmark)."""
    for step, _ in steps.values():
        step()
    times = {key: [] for key in steps}
    for _ in range(repeats):
        for key, (step, n_seeds) in steps.items():
            start = time.perf_counter()
            step()
            times[key].append((time.perf_counter() - start) * 1e3 / n_seeds)
    return times


def floor_ms(arch, seq_len, gflops, gbs):
    """NaN where not measured (a GPU run)."""
    compute = flops_per_seed_epoch(arch, seq_len) / (gflops * 1e9)
    memory = bytes_per_seed_epoch(seq_len) / (gbs * 1e9)
    return max(compute, memory) * 1e3


def run(args):
    """Every row in ``args.rounds`` rounds over the whole grid, its medians (and the bests that
    fused / floor takes) over all rounds: a slow spell of this shared VM (seconds to a minute,
    seen to slow one row's paths by 1.5x, memory-bound code more than the FMA loop) then moves
    at most one round's samples of a row instead of all of them."""
    shapes = [(t, None) for t in args.seq_lens] + [(args.minibatch_seq_len, args.minibatch)]
    shapes = [s for s in shapes if s[1] is None or args.minibatch]
    on_cpu = args.device == "cpu"
    samples = defaultdict(list)  # (threads, arch, seq_len, batch, path) -> ms or GFLOP/s
    for round_ in range(1, args.rounds + 1):
        for threads in args.threads:
            torch.set_num_threads(threads)  # (on a GPU: the host's side of each epoch)
            # the memory bandwidth at this thread count (the peak FMA rate: per row, time_row)
            gbs = bandwidth_gbs() if on_cpu else math.nan
            samples[threads, "copy_gbs"].append(gbs)
            print(
                f"round {round_}/{args.rounds}, {threads} thread(s): copy {gbs:.1f} GB/s",
                flush=True,
            )
            for arch in args.archs:
                for seq_len, batch in shapes:
                    row = (threads, arch, seq_len, batch)
                    for key, values in time_row(args, arch, seq_len, batch).items():
                        samples[(*row, key)] += values
    rows = []
    for threads in args.threads:
        gbs = max(samples[threads, "copy_gbs"])  # (the floor: the machine's best rates)
        for arch in args.archs:
            for seq_len, batch in shapes:
                mine = {
                    key[-1]: values
                    for key, values in samples.items()
                    if key[:4] == (threads, arch, seq_len, batch)
                }
                gflops = max(mine.pop("peak", [math.nan]))  # (GFLOP/s: the floor's best)
                ms = {key: statistics.median(values) for key, values in mine.items()}
                best = {key: min(values) for key, values in mine.items()}
                for n_seeds in args.seeds:
                    row = dict(
                        arch=arch,
                        seq_len=seq_len,
                        seeds=n_seeds,
                        threads=threads,
                        batch=batch or N,
                        device=args.device,
                        reference_ms=ms["reference"],
                        reference_best_ms=best["reference"],
                        floor_ms=floor_ms(arch, seq_len, gflops, gbs),
                        peak_gflops=gflops,
                        copy_gbs=gbs,
                    )
                    for variant in args.variants:
                        row[f"{variant}_ms"] = ms.get((variant, n_seeds), math.nan)
                        row[f"{variant}_best_ms"] = best.get((variant, n_seeds), math.nan)
                    rows.append(row)
                    print(progress_line(row, args.variants), flush=True)
    return derived(pd.DataFrame(rows), args.variants)


def time_row(args, arch, seq_len, batch) -> dict:
    """One round's samples of a row: each path's ms per seed-epoch and the peak FMA rate
    ("peak", GFLOP/s), sampled in the same turns as the paths."""
    peaks, steps = [], {}
    if args.device == "cpu":  # (a CPU's floor does not bound a GPU's epoch)
        steps["peak"] = (lambda: peaks.append(peak_gflops(5_000_000)), 1)
    steps["reference"] = (reference_step(arch, seq_len, batch, device=args.device), 1)
    for n_seeds in args.seeds:
        for variant in args.variants:
            if variant == "bptt" and bptt_bytes(arch, seq_len, n_seeds) > args.limit:
                continue  # would not fit in memory
            step = stacked_step(arch, seq_len, n_seeds, variant, batch, args.device)
            steps[variant, n_seeds] = (step, n_seeds)
    times = time_in_turns(steps, repeats_for(seq_len, args.repeats))
    if peaks:
        times["peak"] = peaks[1:]  # (the first: time_in_turns' warm-up)
    return times


def progress_line(row, variants):
    times = "  ".join(f"{v} {row[f'{v}_ms']:8.2f}" for v in variants)
    floor = f"  floor {row['floor_ms']:6.3f}" if row["device"] == "cpu" else ""
    return (
        f"  {row['arch']:4} T={row['seq_len']:<4} B={row['batch']:<4} K={row['seeds']:<2} "
        f"reference {row['reference_ms']:8.2f}  {times}{floor} ms"
    )


def derived(table, variants):
    """Speed-ups over the reference, the ratio to the floor, and for the minibatch rows the
    cost per sample processed (us)."""
    for variant in variants:
        table[f"{variant}_speedup"] = table["reference_ms"] / table[f"{variant}_ms"]
    if "fused" in variants:
        table["fused_over_floor"] = table["fused_best_ms"] / table["floor_ms"]
    for name in ["reference"] + list(variants):
        table[f"{name}_us_per_sample"] = table[f"{name}_ms"] * 1e3 / N
    return table


def markdown(table, variants, limit):
    """Two tables: full batch (ms per seed-epoch) and minibatches (us per sample processed);
    ``limit``: the memory budget of the bptt rows, in words (the note on rows not run)."""
    full = table[table["batch"] == N]
    mini = table[table["batch"] != N]
    keys = ["arch", "seq_len", "seeds", "threads"]
    speed = [f"{v}_speedup" for v in variants]
    over = ["fused_over_floor"] if "fused" in variants else []
    floor = ["floor_ms"] if full["floor_ms"].notna().any() else []
    parts = [
        "Full batch, N = 1000: ms per seed-epoch\n",
        _md(
            full,
            keys
            + ["reference_ms"]
            + [f"{v}_ms" for v in variants]
            + ["fused_best_ms"] * len(over)
            + floor
            + speed
            + over,
        ),
    ]
    if len(mini):
        units = [f"{n}_us_per_sample" for n in ["reference"] + list(variants)]
        batch = int(mini["batch"].iloc[0])
        parts += [
            f"\nMinibatches of {batch}: us per sample processed (per seed)\n",
            _md(mini, keys + ["batch"] + units + speed),
        ]
    if table[[f"{v}_ms" for v in variants]].isna().any(axis=None):
        parts.append(
            f"\nnan: not run, torch's ops (bptt) would need more memory for their "
            f"saved buffers than this run allowed ({limit})."
        )
    return "\n".join(parts)


def _md(table, cols):
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in table[cols].iterrows():
        cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def device_name(device):
    return torch.cuda.get_device_name(device) if device.startswith("cuda") else "CPU"


def plot(table, variants, path, device="cpu"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.ticker
    import seaborn as sns

    data = table[(table["threads"] == table["threads"].min()) & (table["batch"] == N)]
    long = data.melt(
        id_vars=["arch", "seq_len", "seeds"],
        value_vars=[f"{v}_speedup" for v in variants],
        var_name="path",
        value_name="speedup",
    )
    long["path"] = long["path"].str.replace("_speedup", "")
    grid = sns.relplot(
        data=long,
        x="seq_len",
        y="speedup",
        hue="arch",
        style="path",
        col="seeds",
        kind="line",
        markers=True,
        height=3.5,
        aspect=1.1,
    )
    ticks = sorted(data["seq_len"].unique())
    for ax in grid.axes.flat:  # log y: a path slower than the loop (below 1) stays readable
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%gx"))
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
        ax.minorticks_off()
        ax.axhline(1, color="0.4", ls="--", lw=1)
        ax.set_xlabel("sequence length T")
        ax.set_ylabel("speed-up over the tutorials' loop (per seed)")
    where = f"{int(data['threads'].iloc[0])} thread" if device == "cpu" else device_name(device)
    grid.figure.suptitle(f"Trainer speed-up, {where}", y=1.03)
    grid.savefig(path, dpi=150, bbox_inches="tight")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", nargs="+", default=["rnn", "gru", "lstm"])
    parser.add_argument("--seq-lens", nargs="+", type=int, default=[10, 100, 400, 1000])
    parser.add_argument("--seeds", nargs="+", type=int, help="default: 5 20 (cuda: 5 20 100)")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--rounds", type=int, help="passes over the whole grid (3; --quick: 2)")
    parser.add_argument("--repeats", type=int, default=2, help="per row and round (T > 100: 1)")
    parser.add_argument("--minibatch", type=int, default=50, help="0: no minibatch rows")
    parser.add_argument("--minibatch-seq-len", type=int, default=100)
    parser.add_argument("--variants", nargs="+", default=["bptt", "fused"])
    parser.add_argument("--limit", type=float, help=argparse.SUPPRESS)  # bytes, see memory_limit
    parser.add_argument("--out", default=str(ROOT / "results" / "benchmarks"))
    parser.add_argument("--quick", action="store_true", help="T 10, 50; K 5; 1 thread; 2 rounds")
    parser.add_argument(
        "--device",
        default="cpu",
        help="cuda: the reference and torch's ops (bptt) on the GPU "
        "(the fused kernel is CPU-only), K up to 100, no floor; writes trainer_cuda.*",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    args.seeds = args.seeds or ([5, 20] if args.device == "cpu" else [5, 20, 100])
    args.limit = args.limit or memory_limit(args.device)
    if args.quick:
        args.seq_lens, args.seeds, args.threads = [10, 50], [5], [1]
        args.rounds = args.rounds or 2
        args.minibatch_seq_len = 50
    args.rounds = args.rounds or 3
    tune_cpu_runtime()  # for every path alike, as the train jobs do
    if args.device != "cpu":
        args.variants = [v for v in args.variants if v != "fused"]
        args.threads = [1]
    elif "fused" in args.variants and fused.load() is None:
        print(f"fused kernel unavailable ({fused.unavailable_reason()}): not timed")
        args.variants.remove("fused")
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, {device_name(args.device)}, N={N}, hidden {HIDDEN}"
    )
    table = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "trainer" if args.device == "cpu" else "trainer_cuda"
    table.to_csv(out / f"{name}.csv", index=False)
    where = "of RAM" if args.device == "cpu" else "on the GPU"
    text = markdown(table, args.variants, f"{args.limit / 2**30:.3g} GiB {where}")
    (out / f"{name}.md").write_text(text + "\n")
    plot(table, args.variants, out / f"{name}.png", args.device)
    command = shlex.join(["benchmarks/trainer.py", *(sys.argv[1:] if argv is None else argv)])
    record = run_record(command, time.perf_counter() - start)
    if args.device != "cpu":
        record["machine"] += f", {device_name(args.device)}"
    write_json(record, out / f"{name}.json")
    print(text)
    print(f"wrote {out}/{name}.csv, .md, .json, .png")


if __name__ == "__main__":
    main()
