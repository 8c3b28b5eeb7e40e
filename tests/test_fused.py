"""The fused C++ kernel (rnnmemory/fused.py): equal to torch.nn in float64, deterministic,
NaN-propagating, and a clean fallback to torch's ops where it cannot be built. The first run
builds the kernel into the cache (about 40 s); later runs load it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnmemory import bptt, fused
from rnnmemory.models import StackedRecurrentNet, seeded_torch_net, to_model_layout
from rnnmemory.tasks import make_dataset
from rnnmemory.training import TrainSettings, train_cell

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
SHAPE = dict(input_size=3, hidden_size=5, output_size=2)
CASES = [("rnn", "tanh"), ("rnn", "relu"), ("gru", None), ("lstm", None)]
MODEL = {"hidden_size": 6, "num_layers": 1, "nonlinearity": "tanh"}


@pytest.fixture(scope="module")
def kernel():
    if fused.load() is None:
        pytest.skip(f"fused kernel unavailable: {fused.unavailable_reason()}")
    return fused.load()


def _shape(arch, layers, nonlinearity):
    shape = dict(SHAPE, num_layers=layers)
    if arch == "rnn":
        shape["nonlinearity"] = nonlinearity
    return shape


def _data(n_models, batch, steps, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n_models, batch, steps, 3, generator=gen, dtype=torch.float64)  # (K,N,T,I)
    return x.to(dtype), torch.randn(n_models, batch, 2, generator=gen).to(dtype)


def _stacked_grads(model, x, target):
    """Outputs, parameter gradients and the input gradient (K, N, T, I) of the summed MSE."""
    xm = to_model_layout(x).requires_grad_()
    out = model(xm)
    ((out - target) ** 2).sum().backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    return out.detach(), grads, xm.grad.permute(0, 3, 2, 1)


@pytest.mark.parametrize("arch,nonlinearity", CASES)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("steps", [1, 7, 40])
@pytest.mark.parametrize("n_models", [1, 3])
def test_equals_torch_nn_float64(kernel, arch, nonlinearity, layers, steps, n_models):
    """Outputs and every gradient, the input's included; 37 samples: 3 blocks, the last
    partial, for floats (16 a block) and doubles (8); 40 steps: 2.5 segments of 16."""
    shape = _shape(arch, layers, nonlinearity)
    nets = [seeded_torch_net(s, arch, **shape).double() for s in range(n_models)]
    stacked = StackedRecurrentNet.from_torch_nets(nets, arch, backend="fused")
    x, target = _data(n_models, 37, steps, torch.float64)
    out, grads, x_grad = _stacked_grads(stacked, x, target)
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
    shape = _shape("lstm", 2, None)
    stacked = StackedRecurrentNet.from_seeds([4, 5], "lstm", "fused", forget_bias=1.0, **shape)
    stacked = stacked.double()
    x, target = _data(2, 21, 9, torch.float64)
    out, grads, _ = _stacked_grads(stacked, x, target)
    for k in range(2):
        net = stacked.torch_net(k).double()
        ref = net(x[k])
        ((ref - target[k]) ** 2).sum().backward()
        torch.testing.assert_close(out[k], ref, rtol=1e-10, atol=1e-12)
        for name, param in net.named_parameters():
            own = grads[name.replace("rnn.", "").replace("head.", "head_")]
            torch.testing.assert_close(own[k], param.grad, rtol=1e-10, atol=1e-12, msg=name)


def _graph_has(tensor, name):
    """Whether ``name`` is among the autograd nodes that produced ``tensor``."""
    todo, seen = [tensor.grad_fn], set()
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if type(node).__name__ == name:
            return True
        todo += [parent for parent, _ in node.next_functions]
    return False


def _weighted_losses(losses):
    """Seeds weighted 1, 0.5, 0 (the last as a diverged seed is masked), summed."""
    weights = torch.tensor([1.0, 0.5, 0.0], dtype=losses.dtype)
    return (losses * weights[: len(losses)]).sum()


@pytest.mark.parametrize("arch,nonlinearity", CASES + [("lstm", "forget_bias")])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("steps", [1, 7, 40])
def test_training_losses_equal_torch_nn_float64(kernel, arch, nonlinearity, layers, steps):
    """``losses``, the trainer's call: with the fused backend and a squared error the top layer
    trains in one kernel pass (``fused.last_state_loss``). Loss values, every gradient and the
    input's equal torch.nn's, with the seeds' losses weighted (a zero weight as for a diverged
    seed)."""
    forget_bias = 1.0 if nonlinearity == "forget_bias" else None
    shape = _shape(arch, layers, "tanh" if forget_bias else nonlinearity)
    stacked = StackedRecurrentNet.from_seeds([0, 1, 2], arch, "fused", forget_bias, **shape)
    stacked = stacked.double()
    nets = [stacked.torch_net(k).double() for k in range(3)]
    x, target = _data(3, 37, steps, torch.float64)
    xm = to_model_layout(x).requires_grad_()
    losses = stacked.losses(xm, target, "mse")
    assert _graph_has(losses, "FusedLastStateBackward")  # the one-pass path, not a fallback
    _weighted_losses(losses).backward()
    x_grad = xm.grad.permute(0, 3, 2, 1)
    for k, net in enumerate(nets):
        xk = x[k].clone().requires_grad_()
        ref = ((net(xk) - target[k]) ** 2).mean()
        (ref * [1.0, 0.5, 0.0][k]).backward()
        torch.testing.assert_close(losses[k], ref, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(x_grad[k], xk.grad, rtol=1e-10, atol=1e-12)
        for name, param in net.named_parameters():
            own = dict(stacked.named_parameters())[
                name.replace("rnn.", "").replace("head.", "head_")
            ]
            torch.testing.assert_close(own.grad[k], param.grad, rtol=1e-10, atol=1e-12, msg=name)


@pytest.mark.parametrize("arch,nonlinearity", CASES)
@pytest.mark.parametrize("steps", [1, 40, 600])
@pytest.mark.parametrize("kept", [0, 1, 2, -1])
def test_one_pass_equals_forward_then_backward(kernel, arch, nonlinearity, steps, kept):
    """The one-pass kernel keeps the last ``kept`` 16-step segments whole and reruns the others
    from checkpoints (-1: as many as its cache budget holds, which at 600 steps is fewer than
    all): every mix gives the gradients of the two-call path (forward, then backward from
    checkpoints) through an autograd head, in float64."""
    relu, gates = nonlinearity == "relu", {"rnn": 1, "gru": 3, "lstm": 4}[arch]
    gen = torch.Generator().manual_seed(steps + kept)
    x = torch.randn(2, 3, steps, 21, generator=gen, dtype=torch.float64)
    params = [
        (torch.randn(2, gates * 5, *size, generator=gen, dtype=torch.float64) * 0.4)
        for size in [(3,), (5,), (), ()]
    ]  # w_ih, w_hh, b_ih, b_hh
    head_w = torch.randn(2, 2, 5, generator=gen, dtype=torch.float64)
    head_b = torch.randn(2, 2, generator=gen, dtype=torch.float64)
    target = torch.randn(2, 21, 2, generator=gen, dtype=torch.float64)

    def grads(one_pass):
        inputs = [t.clone().requires_grad_() for t in [x, *params]]
        if one_pass:
            scale = 2.0 / (21 * 2)
            head_a = torch.bmm(head_w.transpose(1, 2), head_w) * scale
            head_c = torch.bmm(
                head_w.transpose(1, 2), head_b.unsqueeze(-1) - target.transpose(1, 2)
            )
            zeros, last = fused.last_state_loss(arch, *inputs, relu, head_a, head_c * scale, kept)
        else:
            last, zeros = fused.run_layer(arch, *inputs, relu, False), 0
        out = torch.baddbmm(head_b.unsqueeze(-1), head_w, last).transpose(1, 2)  # (K, N, O)
        losses = ((out - target) ** 2).mean(dim=(1, 2)) + zeros
        _weighted_losses(losses).backward()
        return [t.grad for t in inputs]

    for one, two in zip(grads(True), grads(False), strict=True):
        torch.testing.assert_close(one, two, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("arch,nonlinearity", CASES)
def test_float32_is_close_to_float64(kernel, arch, nonlinearity):
    """Found: outputs and gradients within 2e-6 of the float64 result, relative to each
    tensor's largest value; the check allows 1e-4."""
    shape = _shape(arch, 2, nonlinearity)
    results = []
    for dtype in (torch.float64, torch.float32):
        model = StackedRecurrentNet.from_seeds([0, 1], arch, "fused", **shape).to(dtype)
        results.append(_stacked_grads(model, *_data(2, 40, 20, dtype)))
    (out64, grads64, x64), (out32, grads32, x32) = results
    pairs = [(out32, out64), (x32, x64)] + [(grads32[n], grads64[n]) for n in grads64]
    for low, high in pairs:
        assert (low.double() - high).abs().max() <= 1e-4 * high.abs().max()


def _cell(seeds, seq_len=6):
    return [make_dataset("first_plus_last", seq_len, s, 64, 32) for s in seeds]


def _train(seeds, arch, backend, dtype=torch.float32, **settings):
    settings = TrainSettings(**{"epochs": 30, "eval_every": 10, **settings})
    return train_cell(
        _cell(seeds), seeds, arch, MODEL, settings, dtype=dtype, log=lambda line: None,
        backend=backend,
    )  # fmt: skip


@pytest.mark.parametrize("arch", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_training_with_minibatches_follows_bptt(kernel, arch, dtype, rtol):
    """30 epochs, minibatches of 16. Found: test losses within 3e-15 (float64) and 4e-7
    (float32) of the torch-ops trainer's (the two sum in different orders); checks allow 25x."""
    fast = _train([0, 1], arch, "fused", dtype, batch_size=16)
    slow = _train([0, 1], arch, "bptt", dtype, batch_size=16)
    assert fast.backend == "fused"
    for a, b in zip(fast.history, slow.history, strict=True):
        assert a["test_loss"] == pytest.approx(b["test_loss"], rel=rtol)
    assert fast.history[-1]["train_loss"] < 0.9 * fast.history[0]["train_loss"]


@pytest.mark.parametrize("arch,nonlinearity", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_seed_is_the_same_alone_or_with_others_bit_for_bit(kernel, arch, nonlinearity, dtype):
    """Forward and backward of the model (kernel, head, loss): every task works on one seed."""
    shape = _shape(arch, 2, nonlinearity)
    x, target = _data(3, 37, 12, dtype)
    together = StackedRecurrentNet.from_seeds([0, 1, 2], arch, "fused", **shape).to(dtype)
    alone = StackedRecurrentNet.from_seeds([1], arch, "fused", **shape).to(dtype)
    out3, grads3, x3 = _stacked_grads(together, x, target)
    out1, grads1, x1 = _stacked_grads(alone, x[1:2], target[1:2])
    assert torch.equal(out3[1:2], out1) and torch.equal(x3[1:2], x1)
    for name, grad in grads1.items():
        assert torch.equal(grads3[name][1:2], grad), name


@pytest.mark.parametrize("arch", ["rnn", "gru", "lstm"])
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
def test_one_or_two_threads_give_the_same_bits(kernel, arch, nonlinearity):
    shape = _shape(arch, 2, nonlinearity)
    threads = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            model = StackedRecurrentNet.from_seeds([0, 1, 2], arch, "fused", **shape)
            results.append(_stacked_grads(model, *_data(3, 200, 15, torch.float32)))
    finally:
        torch.set_num_threads(threads)
    (out1, grads1, x1), (out2, grads2, x2) = results
    assert torch.equal(out1, out2) and torch.equal(x1, x2)
    for name in grads1:
        assert torch.equal(grads1[name], grads2[name]), name


def _layer(arch, n_models=3, dtype=torch.float32):
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[arch]
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(n_models, 2, 8, 20, generator=gen, dtype=dtype)  # (K, I, T, N)
    weights = [
        torch.randn(n_models, gates * 4, size, generator=gen, dtype=dtype) for size in (2, 4)
    ] + [torch.randn(n_models, gates * 4, generator=gen, dtype=dtype) for _ in range(2)]
    return x, weights


@pytest.mark.parametrize("arch,nonlinearity", CASES)
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


@pytest.mark.parametrize("arch,nonlinearity", CASES)
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
        "from rnnmemory.tasks import make_dataset\n"
        "from rnnmemory.training import TrainSettings, train_cell\n"
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
        [sys.executable, "-m", "rnnmemory.fused"], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(SCRIPTS)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1 and str(fused.build_dir()) in proc.stdout
    assert (fused.build_dir() / "BUILT").exists()  # the key did not change while building


@pytest.mark.slow
def test_a_large_cell_trains_in_under_1_gib(kernel):
    """20 LSTM seeds, T = 200, 1000 sequences, hidden 10: the job's peak RSS (the kernel saves
    a checkpoint every 16 steps; found 0.37 GiB, torch and the data included)."""
    code = (
        "import resource, torch\n"
        "from rnnmemory.runtime import tune_cpu_runtime\n"
        "from rnnmemory.tasks import make_dataset\n"
        "from rnnmemory.training import TrainSettings, train_cell\n"
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
