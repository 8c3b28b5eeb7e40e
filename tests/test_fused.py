"""The fused C++ kernel (rnnmemory/training/fused.py): equal to torch.nn in float64, deterministic,
NaN-propagating, and a clean fallback to torch's ops where it cannot be built. The first run
builds the kernel into the cache (about 40 s); later runs load it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fused_cases import CASES, CELL_CASES, GRADS, sample_data, shape_of, stacked_grads

from rnnmemory.core.archs import ARCHS, CELLS
from rnnmemory.core.tasks import make_dataset
from rnnmemory.training import bptt, fused
from rnnmemory.training.models import StackedRecurrentNet
from rnnmemory.training.reference import seeded_torch_net
from rnnmemory.training.trainer import TrainSettings, train_cell

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
MODEL = {"hidden_size": 6, "num_layers": 1, "nonlinearity": "tanh"}


@pytest.mark.parametrize("arch,nonlinearity", CASES)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("steps", [1, 7, 40])
@pytest.mark.parametrize("n_models", [1, 3])
def test_equals_torch_nn_float64(kernel, arch, nonlinearity, layers, steps, n_models):
    """Outputs and every gradient, the input's included; 37 samples: 3 blocks, the last
    partial, for floats (16 a block) and doubles (8); 40 steps: 2.5 segments of 16."""
    shape = shape_of(arch, layers, nonlinearity)
    nets = [seeded_torch_net(s, arch, **shape).double() for s in range(n_models)]
    stacked = StackedRecurrentNet.from_torch_nets(nets, arch, backend="fused")
    x, target = sample_data(n_models, 37, steps, torch.float64)
    out, grads, x_grad = stacked_grads(stacked, x, target)
    for k, net in enumerate(nets):
        xk = x[k].clone().requires_grad_()
        ref = net(xk)
        ((ref - target[k]) ** 2).sum().backward()
        torch.testing.assert_close(out[k], ref, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(x_grad[k], xk.grad, rtol=1e-10, atol=1e-12)
        reference = dict(net.named_parameters())
        for name, grad in grads.items():
            expected = reference[StackedRecurrentNet._torch_name(name)].grad
            torch.testing.assert_close(grad[k], expected, rtol=1e-10, atol=1e-12, msg=name)


def test_lstm_with_forget_bias_equals_torch_nn(kernel):
    shape = shape_of("lstm", 2, None)
    stacked = StackedRecurrentNet.from_seeds([4, 5], "lstm", "fused", forget_bias=1.0, **shape)
    stacked = stacked.double()
    x, target = sample_data(2, 21, 9, torch.float64)
    out, grads, _ = stacked_grads(stacked, x, target)
    for k in range(2):
        net = stacked.torch_net(k).double()
        ref = net(x[k])
        ((ref - target[k]) ** 2).sum().backward()
        torch.testing.assert_close(out[k], ref, rtol=1e-10, atol=1e-12)
        for name, param in net.named_parameters():
            own = grads[name.replace("rnn.", "").replace("head.", "head_")]
            torch.testing.assert_close(own[k], param.grad, rtol=1e-10, atol=1e-12, msg=name)


@pytest.mark.parametrize("arch,nonlinearity", CASES)
def test_float32_is_close_to_float64(kernel, arch, nonlinearity):
    """Found: outputs and gradients within 2e-6 of the float64 result, relative to each
    tensor's largest value; the check allows 1e-4."""
    shape = shape_of(arch, 2, nonlinearity)
    results = []
    for dtype in (torch.float64, torch.float32):
        model = StackedRecurrentNet.from_seeds([0, 1], arch, "fused", **shape).to(dtype)
        results.append(stacked_grads(model, *sample_data(2, 40, 20, dtype)))
    (out64, grads64, x64), (out32, grads32, x32) = results
    pairs = [(out32, out64), (x32, x64)] + [(grads32[n], grads64[n]) for n in grads64]
    for low, high in pairs:
        assert (low.double() - high).abs().max() <= 1e-4 * high.abs().max()


def _cell(seeds, seq_len=6):
    return [make_dataset("first_plus_last", seq_len, s, 64, 32) for s in seeds]


def _train(seeds, arch, backend, dtype=torch.float32, **settings):
    settings = TrainSettings(**{"epochs": 30, "eval_every": 10, **settings})
    return train_cell(
        _cell(seeds),
        seeds,
        arch,
        MODEL,
        settings,
        dtype=dtype,
        log=lambda line: None,
        backend=backend,
    )


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_training_with_minibatches_follows_bptt(kernel, arch, dtype, rtol):
    """30 epochs, minibatches of 16. Found: test losses within 2.4e-15 (float64) and 2.3e-7
    (float32) of the torch-ops trainer's (the two sum in different orders); checks allow 25x."""
    fast = _train([0, 1], arch, "fused", dtype, batch_size=16)
    slow = _train([0, 1], arch, "bptt", dtype, batch_size=16)
    assert fast.backend == "fused"
    for a, b in zip(fast.history, slow.history, strict=True):
        assert a["test_loss"] == pytest.approx(b["test_loss"], rel=rtol)
    assert fast.history[-1]["train_loss"] < 0.9 * fast.history[0]["train_loss"]


@pytest.mark.parametrize("arch,nonlinearity", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("path", GRADS)
@pytest.mark.parametrize("layers", [1, 2])
def test_a_seed_is_the_same_alone_or_with_others_bit_for_bit(
    kernel, arch, nonlinearity, dtype, path, layers
):
    """Forward and backward of the model (kernel, head, loss), through the forward call or the
    trainer's ``losses`` (one kernel pass): every task works on one seed. 200 steps: the
    one-pass kernel reruns the segments beyond its cache budget."""
    shape = shape_of(arch, layers, nonlinearity)
    x, target = sample_data(3, 37, 200 if path == "losses" else 12, dtype)
    together = StackedRecurrentNet.from_seeds([0, 1, 2], arch, "fused", **shape).to(dtype)
    alone = StackedRecurrentNet.from_seeds([1], arch, "fused", **shape).to(dtype)
    out3, grads3, x3 = GRADS[path](together, x, target)
    out1, grads1, x1 = GRADS[path](alone, x[1:2], target[1:2])
    assert torch.equal(out3[1:2], out1) and torch.equal(x3[1:2], x1)
    for name, grad in grads1.items():
        assert torch.equal(grads3[name][1:2], grad), name


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_a_seed_trains_the_same_alone_or_with_others(kernel, arch, dtype, rtol):
    """As tests/test_training.py's test on the fused path. Not bit for bit: the kernel's and
    the model's numbers are (above), but torch's fused Adam rounds a stacked tensor's elements
    differently from a lone seed's now and then (found: 1 ulp after a few epochs)."""
    together = _train([0, 1, 2], arch, "fused", dtype, batch_size=16)
    alone = _train([1], arch, "fused", dtype, batch_size=16)
    for a, b in zip(together.model.parameters(), alone.model.parameters(), strict=True):
        torch.testing.assert_close(a[1], b[0], rtol=rtol, atol=rtol)


@pytest.mark.parametrize("arch,nonlinearity", CASES)
@pytest.mark.parametrize("path", GRADS)
@pytest.mark.parametrize("layers", [1, 2])
def test_one_or_two_threads_give_the_same_bits(kernel, arch, nonlinearity, path, layers):
    """The trainer's path with one layer also covers the kernel pass without dx."""
    shape = shape_of(arch, layers, nonlinearity)
    threads = torch.get_num_threads()
    results = []
    input_grad = {} if path == "forward" else {"input_grad": layers == 2}
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            model = StackedRecurrentNet.from_seeds([0, 1, 2], arch, "fused", **shape)
            batch = sample_data(3, 200, 150, torch.float32)
            results.append(GRADS[path](model, *batch, **input_grad))
    finally:
        torch.set_num_threads(threads)
    (out1, grads1, x1), (out2, grads2, x2) = results
    assert torch.equal(out1, out2) and (x1 is None or torch.equal(x1, x2))
    for name in grads1:
        assert torch.equal(grads1[name], grads2[name]), name


def _layer(cell, n_models=3, dtype=torch.float32):
    gates = CELLS[cell]
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(n_models, 2, 8, 20, generator=gen, dtype=dtype)  # (K, I, T, N)
    weights = [
        torch.randn(n_models, gates * 4, size, generator=gen, dtype=dtype) for size in (2, 4)
    ] + [torch.randn(n_models, gates * 4, generator=gen, dtype=dtype) for _ in range(2)]
    return x, weights


@pytest.mark.parametrize("arch,nonlinearity", CELL_CASES)
def test_nan_in_weights_or_inputs_propagates(kernel, arch, nonlinearity):
    """Divergence detection needs it: a NaN weight makes its seed's states (so its loss) and
    gradients NaN and leaves the other seeds alone; a NaN input makes its sample's states NaN."""
    relu = nonlinearity == "relu"
    x, weights = _layer(arch)
    clean = fused.run_layer(arch, x, *weights, relu, True)  # (K, H, T, N)
    weights[1] = weights[1].clone()
    weights[1][1, 0, 0] = float("nan")  # seed 1's W_hh
    x = x.clone()
    x[2, 0, 0, 5] = float("nan")  # seed 2, sample 5, step 0
    params = [w.clone().requires_grad_() for w in weights]
    states = fused.run_layer(arch, x, *params, relu, True)
    assert states[1].isnan().any(dim=0).all()  # every step and sample
    assert states[2, :, :, 5].isnan().all()
    assert torch.equal(states[0], clean[0])
    assert torch.equal(states[2, :, :, :5], clean[2, :, :, :5])
    states.sum().backward()
    for p in params:  # relu passes no gradient where its output is NaN (as torch's relu)
        assert (relu or p.grad[1].isnan().any()) and p.grad[0].isfinite().all()


@pytest.mark.parametrize("arch,nonlinearity", CELL_CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_huge_pre_activations_saturate(kernel, arch, nonlinearity, dtype):
    """Inputs of about 1e30: tanh and sigmoid saturate as torch's do, with no NaN from an
    overflowing exp (relu passes them on)."""
    x, weights = _layer(arch, dtype=dtype)
    x = x * 1e30
    relu = nonlinearity == "relu"
    params = [w.clone().requires_grad_() for w in weights]
    states = fused.run_layer(arch, x, *params, relu, True)
    assert states.isfinite().all()
    rtol = 1e-4 if dtype == torch.float32 else 1e-10  # relu: float32 sums of 1e30s
    reference = bptt.run_layer(arch, x, *weights, relu, True)
    torch.testing.assert_close(states, reference, rtol=rtol, atol=1e-6)
    states.sum().backward()
    assert all(p.grad.isfinite().all() for p in params)


def test_the_build_key_covers_every_source(tmp_path, monkeypatch):
    """An edited or a new header in csrc/ gives a new key, i.e. a fresh build (a stale kernel
    would otherwise run with the old code)."""
    copy = tmp_path / "csrc"
    shutil.copytree(fused.CSRC, copy)
    monkeypatch.setattr(fused, "CSRC", copy)
    keys = [fused.build_key()]
    head = copy / "head.h"
    head.write_text(head.read_text() + "// edited\n")
    keys.append(fused.build_key())
    (copy / "extra.h").write_text("// a new header\n")
    keys.append(fused.build_key())
    assert len(set(keys)) == 3


def test_default_backend(kernel):
    assert fused.default_backend("cpu") == "fused"
    assert fused.default_backend(torch.device("cuda")) == "bptt"


def _run(code, **env):
    environ = {**os.environ, "PYTHONPATH": str(SCRIPTS), **env}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=300
    )


@pytest.mark.slow
def test_without_a_compiler_training_falls_back_to_torch_ops(tmp_path):
    code = (
        "from rnnmemory.core.tasks import make_dataset\n"
        "from rnnmemory.training.trainer import TrainSettings, train_cell\n"
        "data = [make_dataset('first_plus_last', 5, 0, 32, 16)]\n"
        "model = {'hidden_size': 4, 'num_layers': 1}\n"
        "r = train_cell(data, [0], 'gru', model, TrainSettings(epochs=20), log=lambda l: None)\n"
        "h = r.history\n"
        "print(r.backend, h[-1]['train_loss'] < h[0]['train_loss'])\n"
    )
    proc = _run(code, CXX=str(tmp_path / "no-such-c++"), RNNMEMORY_KERNEL_CACHE=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["bptt", "True"]
    lines = [line for line in proc.stderr.splitlines() if "fused CPU kernel unavailable" in line]
    assert len(lines) == 1 and "no C++ compiler" in lines[0], proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing built, nothing remembered


def test_warm_command_says_where_and_how_long(kernel):
    proc = subprocess.run(
        [sys.executable, "-m", "rnnmemory.training.fused"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(SCRIPTS)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1 and str(fused.build_dir()) in proc.stdout
    assert (fused.build_dir() / "BUILT").exists()  # the key did not change while building


@pytest.mark.slow
def test_a_large_cell_trains_in_under_1_gib(kernel):
    """20 LSTM seeds, T = 200, 1000 sequences, hidden 10: the job's peak RSS (the kernel saves
    a checkpoint every 16 steps; found 0.37 GiB, torch and the data included)."""
    code = (
        "import resource, torch\n"
        "from rnnmemory.training.runtime import tune_cpu_runtime\n"
        "from rnnmemory.core.tasks import make_dataset\n"
        "from rnnmemory.training.trainer import TrainSettings, train_cell\n"
        "tune_cpu_runtime()\n"
        "seeds = list(range(20))\n"
        "data = [make_dataset('first_plus_last', 200, s, 1000, 200) for s in seeds]\n"
        "model = {'hidden_size': 10, 'num_layers': 1}\n"
        "r = train_cell(data, seeds, 'lstm', model, TrainSettings(epochs=2), log=lambda l: None,\n"
        "               backend='fused')\n"
        "print(r.backend, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    backend, peak_kib = proc.stdout.split()
    assert backend == "fused" and int(peak_kib) < 1024**2
