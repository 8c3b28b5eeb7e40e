"""What benchmarks/trainer.py times: one training epoch of each path, and this CPU's roofline.

An epoch is forward + backward + Adam over N sequences, in one full batch or in minibatches of
B (each seed shuffled on its own, as the trainer does); hidden 10, one input, one output.
"""

from __future__ import annotations

import statistics
import time

import torch

from rnnmemory.core.archs import ARCH_RECORDS
from rnnmemory.training import fused
from rnnmemory.training.models import StackedRecurrentNet, to_model_layout
from rnnmemory.training.optim import Adam
from rnnmemory.training.reference import TorchNet
from rnnmemory.training.trainer import minibatches, train_step

HIDDEN, INPUT, N = 10, 1, 1000
# elementwise FLOPs per hidden unit and step besides the matmuls (gate math; a sigmoid or tanh
# counts as one FLOP, so the floor is a lower bound)
ELEMENTWISE = {"rnn": 2, "gru": 13, "lstm": 13}


def flops_per_seed_epoch(arch, seq_len, batch=N, hidden=HIDDEN, inputs=INPUT):
    """Forward FLOPs x 3 (the backward pass does twice the forward's matmul work)."""
    gates = ARCH_RECORDS[arch].gates * hidden
    per_step = 2 * gates * (hidden + inputs) + ELEMENTWISE[arch] * hidden
    return 3 * batch * seq_len * per_step


def bytes_per_seed_epoch(seq_len, batch=N, inputs=INPUT):
    """What any trainer must move at least: the inputs, read forward and backward (float32)."""
    return 2 * 4 * batch * seq_len * inputs


def peak_gflops(iters=20_000_000):
    """Float32 FMA throughput at torch's thread count, one sample: the kernel's FMA loop of
    ``iters`` rounds where it is built (about 0.1 s at the default), else one large sgemm
    (which reaches about 75% of it here; ``iters`` then plays no part)."""
    ext = fused.load()
    if ext is not None:
        return ext.fma_gflops(iters)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    return 2 * 2048**3 / time_call(lambda: a @ b, 1) / 1e9


def bandwidth_gbs():
    """Memory bandwidth of a 256 MiB copy (bytes read + written per second)."""
    src = torch.randn(64 * 2**20)
    dst = torch.empty_like(src)
    return 2 * src.numel() * 4 / time_call(lambda: dst.copy_(src), 5) / 1e9


def time_call(fn, repeats, warmup=1):
    """Median seconds of ``fn`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def synchronize(device):
    """Waits for the GPU's queued work, so that a timed epoch includes it."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def reference_step(arch, seq_len, batch_size=None, seed=0, device="cpu"):
    """The tutorials' loop for one seed: torch.nn module + Linear head, MSE, Adam; an epoch
    in minibatches of ``batch_size`` (None: the full batch)."""
    torch.manual_seed(seed)
    net = TorchNet(arch, INPUT, HIDDEN, 1, 1).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    x, y = torch.randn(N, seq_len, INPUT, device=device), torch.randn(N, 1, device=device)
    loss_fn = torch.nn.MSELoss()
    size = batch_size or N

    def step():
        order = torch.randperm(N, device=device) if batch_size else torch.arange(N)
        for start in range(0, N, size):
            idx = order[start : start + size]
            xb, yb = (x, y) if size == N else (x[idx], y[idx])
            loss = loss_fn(net(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        synchronize(device)

    return step


def stacked_step(arch, seq_len, n_seeds, backend, batch_size=None, device="cpu"):
    """The project's trainer loop (stacked seeds, its own Adam) with the given layer backend."""
    model = StackedRecurrentNet.from_seeds(
        range(n_seeds),
        arch,
        backend=backend,
        input_size=INPUT,
        hidden_size=HIDDEN,
        num_layers=1,
        output_size=1,
    ).to(device)
    optimizer = Adam(model.parameters(), lr=0.01)
    x = to_model_layout(torch.randn(n_seeds, N, seq_len, INPUT, device=device))  # (K, I, T, N)
    y = torch.randn(n_seeds, N, 1, device=device)
    generators = [torch.Generator().manual_seed(s) for s in range(n_seeds)]
    active = torch.ones(n_seeds, dtype=torch.bool, device=device)

    def step():
        for xb, yb in minibatches(x, y, generators, batch_size or N):
            train_step(model, optimizer, xb, yb, "mse", active)  # as train_cell steps
        synchronize(device)

    return step


def bptt_bytes(arch, seq_len, n_seeds, batch=N):
    """Rough peak memory of the bptt backend's saved buffers (float32): it keeps inputs,
    states, gates and their gradients for every step."""
    rows = 4 * HIDDEN if arch != "rnn" else HIDDEN
    per_sample_step = (HIDDEN + INPUT) + 2 * rows + 3 * HIDDEN
    return 4 * n_seeds * seq_len * batch * per_sample_step
