"""One-pass training (``StackedRecurrentNet.losses`` -> ``fused.last_state_loss``): the top
layer's forward and backward in one kernel call, each block walking back while its last
segments are still in cache. Equal to torch.nn, and to the two-call path for every mix of kept
and rerun segments, in float64; NaN stays in its seed."""

import pytest
import torch
from fused_cases import CASES, CELL_CASES, graph_has, sample_data, shape_of, weighted_losses

from rnnmemory.core.archs import CELLS
from rnnmemory.training import fused
from rnnmemory.training.models import StackedRecurrentNet, to_model_layout
from rnnmemory.training.optim import Adam
from rnnmemory.training.trainer import train_step


@pytest.mark.parametrize("arch,nonlinearity", CASES + [("lstm", "forget_bias")])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("steps", [1, 7, 40])
def test_training_losses_equal_torch_nn_float64(kernel, arch, nonlinearity, layers, steps):
    """``losses``, the trainer's call: with the fused backend and a squared error the top layer
    trains in one kernel pass (``fused.last_state_loss``). Loss values, every gradient and the
    input's equal torch.nn's, with the seeds' losses weighted (a zero weight as for a diverged
    seed)."""
    forget_bias = 1.0 if nonlinearity == "forget_bias" else None
    shape = shape_of(arch, layers, "tanh" if forget_bias else nonlinearity)
    stacked = StackedRecurrentNet.from_seeds([0, 1, 2], arch, "fused", forget_bias, **shape)
    stacked = stacked.double()
    nets = [stacked.torch_net(k).double() for k in range(3)]
    x, target = sample_data(3, 37, steps, torch.float64)
    xm = to_model_layout(x).requires_grad_()
    losses = stacked.losses(xm, target, "mse")
    assert graph_has(losses, "FusedLastStateBackward")  # the one-pass path, not a fallback
    weighted_losses(losses).backward()
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


@pytest.mark.parametrize("arch,nonlinearity", CELL_CASES)
@pytest.mark.parametrize("steps", [1, 40, 600])
@pytest.mark.parametrize("kept", [0, 1, 2, -1])
def test_one_pass_equals_forward_then_backward(kernel, arch, nonlinearity, steps, kept):
    """The one-pass kernel keeps the last ``kept`` 16-step segments whole and reruns the others
    from checkpoints (-1: as many as its cache budget holds, which at 600 steps is fewer than
    all): every mix gives the gradients of the two-call path (forward, then backward from
    checkpoints) through an autograd head, and its losses, in float64."""
    relu, gates = nonlinearity == "relu", CELLS[arch]
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
        inputs = [t.clone().requires_grad_() for t in [x, *params, head_w, head_b]]
        if one_pass:
            losses = fused.last_state_loss(arch, *inputs[:5], relu, *inputs[5:], target, kept)
        else:
            last = fused.run_layer(arch, *inputs[:5], relu, False)
            out = torch.baddbmm(inputs[6].unsqueeze(-1), inputs[5], last).transpose(1, 2)
            losses = ((out - target) ** 2).mean(dim=(1, 2))  # (K,)
        weighted_losses(losses).backward()
        return [losses.detach()] + [t.grad for t in inputs]

    for one, two in zip(grads(True), grads(False), strict=True):
        torch.testing.assert_close(one, two, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("arch,nonlinearity", CELL_CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("batch", [2, 13, 50, 51])
def test_packed_tails_change_no_number(kernel, arch, nonlinearity, dtype, batch):
    """Where a batch is no multiple of the vector width, train_last packs the seeds' part-filled
    last blocks into shared vectors, each lane with its own seed's weights (csrc/pack.h): the
    losses, dx and every gradient equal those of the call without packs, bit for bit. Five
    seeds: packs of 2 to 4 seeds and a part-filled last one (tails of more than half a vector,
    13 in float32 and 51 in float64 with AVX2's vectors, stay unpacked)."""
    relu, gates = nonlinearity == "relu", CELLS[arch]
    gen = torch.Generator().manual_seed(batch)
    rand = lambda *size: torch.randn(*size, generator=gen, dtype=dtype)  # noqa: E731
    x = rand(5, 3, 40, batch)  # (K, I, T, N)
    layer = [
        rand(5, gates * 5, 3) * 0.4,
        rand(5, gates * 5, 5) * 0.4,
        rand(5, gates * 5) * 0.1,
        rand(5, gates * 5) * 0.1,
    ]
    head, target = [rand(5, 2, 5), rand(5, 2)], rand(5, batch, 2)
    packs = fused.load().tail_packs(5, batch, x.element_size())
    lanes = 32 // x.element_size()  # AVX2's (with AVX-512's scalar weights, no packs)
    per = lanes // (batch % lanes) if batch % lanes else 0
    assert packs in (0, -(-5 // per) if per >= 2 else 0)
    calls = [
        fused.train_last(arch, x, *layer, relu, *head, target, True, pack=pack)
        for pack in (True, False)
    ]
    for name, a, b in zip(
        ["losses", "dx", *"w_ih w_hh b_ih b_hh head_w head_b".split()], *calls, strict=True
    ):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("arch,nonlinearity", CASES)
@pytest.mark.parametrize("batch", [37, 50])
def test_a_nan_weight_stays_in_its_seed(kernel, arch, nonlinearity, batch):
    """Divergence detection needs it: a NaN in seed 1's W_hh makes its loss and gradients NaN;
    seeds 0 and 2 get the losses and gradients of a run without it, bit for bit (batch 50:
    the three seeds' last blocks share a packed vector, lane by lane)."""
    shape = shape_of(arch, 1, nonlinearity)
    x, target = sample_data(3, batch, 50, torch.float32)
    results = []
    for poisoned in (False, True):
        model = StackedRecurrentNet.from_seeds([0, 1, 2], arch, "fused", **shape)
        if poisoned:
            with torch.no_grad():
                model.weight_hh_l0[1, 0].fill_(float("nan"))  # a row of W_hh, or u_0
        losses = model.losses(to_model_layout(x), target, "mse")
        losses.sum().backward()
        results.append((losses.detach(), [p.grad for p in model.parameters()]))
    (clean, clean_grads), (losses, grads) = results
    assert losses[1].isnan() and torch.equal(losses[[0, 2]], clean[[0, 2]])
    for grad, reference in zip(grads, clean_grads, strict=True):
        assert torch.equal(grad[[0, 2]], reference[[0, 2]])
        assert nonlinearity == "relu" or grad[1].isnan().any()


@pytest.mark.parametrize("arch,nonlinearity", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("grad_clip", [None, 0.05])
def test_the_direct_step_equals_losses_and_backward(kernel, arch, nonlinearity, dtype, grad_clip):
    """``train_step`` with ``direct`` (``mse_gradients``: the kernel's gradients without
    autograd) and without it, from the same start: the same losses and parameters bit for bit
    over 4 steps of Adam, the direct step's gradients written into Adam's flat buffer. From the
    third, seed 1 is masked as diverged (``active``: the direct step scales its gradients by
    0, the autograd step masks its loss; Adam's momentum still moves it), and in the fourth
    its inputs hold a NaN, which stays in its slice."""
    make = lambda: StackedRecurrentNet.from_seeds(  # noqa: E731
        [0, 1, 2], arch, "fused", **shape_of(arch, 1, nonlinearity)
    ).to(dtype)
    models = {direct: make() for direct in (True, False)}
    optimizers = {direct: Adam(m.parameters(), lr=0.05) for direct, m in models.items()}
    x, target = sample_data(3, 37, 9, dtype)
    xm = to_model_layout(x)
    assert models[True].can_step_directly(xm, "mse") and not models[True].can_step_directly(
        xm.requires_grad_(), "mse"
    )
    xm = xm.detach()
    active = torch.ones(3, dtype=torch.bool)
    grad_buffer = optimizers[True].flat[1].data_ptr()
    for step in range(4):
        if step == 2:
            active[1] = False
        if step == 3:
            xm[1, 0, 0, 0] = float("nan")
        losses = {
            direct: train_step(
                models[direct], optimizers[direct], xm, target, "mse", active, grad_clip, direct
            )
            for direct in (True, False)
        }
        # in place: Adam never had to lay its buffers out again
        assert optimizers[True].flat[1].data_ptr() == grad_buffer
        kept = [0, 1, 2] if step < 3 else [0, 2]
        assert torch.equal(losses[True][kept], losses[False][kept])
        assert losses[True][1].isnan() == (step == 3)
        pairs = zip(models[True].named_parameters(), models[False].parameters(), strict=True)
        for (name, a), b in pairs:
            assert torch.equal(a[kept], b[kept]), (step, name)
            assert torch.equal(a[1].isnan(), b[1].isnan()), (step, name)
