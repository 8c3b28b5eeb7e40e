"""The project's optimizers take the same steps as torch.optim's (float64, several steps,
batched parameters), and never import TorchDynamo."""

import subprocess
import sys

import pytest
import torch

from helpers import ROOT
from rnnmemory.core.tasks import make_dataset
from rnnmemory.training.optim import OPTIMIZERS, Adam
from rnnmemory.training.trainer import TrainSettings, train_cell

TORCH = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_steps_equal_torch_optim_in_float64(name):
    gen = torch.Generator().manual_seed(0)
    start = [torch.randn(3, 4, 5, generator=gen, dtype=torch.float64) for _ in range(2)]
    ours = [p.clone().requires_grad_() for p in start]
    theirs = [p.clone().requires_grad_() for p in start]
    opt_ours = OPTIMIZERS[name](ours, lr=0.05)
    opt_theirs = TORCH[name](theirs, lr=0.05, foreach=False)
    for _ in range(5):
        for params, opt in [(ours, opt_ours), (theirs, opt_theirs)]:
            opt.zero_grad()
            sum((p**3).sum() + p.sin().sum() for p in params).backward()
            opt.step()
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-14, atol=1e-14)
        assert not torch.equal(a, start[0]) and not torch.equal(a, start[1])  # they moved


def test_adam_falls_back_when_a_gradient_is_replaced():
    """Adam steps on flat buffers that the parameters and their gradients are views of; a
    gradient set anew (not accumulated into the view) makes it lay the buffers out again,
    m and v carried over, with the same result as torch.optim's."""
    gen = torch.Generator().manual_seed(1)
    start = [torch.randn(3, 4, generator=gen, dtype=torch.float64) for _ in range(3)]
    ours = [p.clone().requires_grad_() for p in start]
    theirs = [p.clone().requires_grad_() for p in start]
    opt_ours, opt_theirs = OPTIMIZERS["adam"](ours, lr=0.05), torch.optim.Adam(theirs, lr=0.05)
    assert ours[1].data_ptr() == opt_ours.flat[0][12:].data_ptr()  # views of one buffer
    for step in range(4):
        for params, opt in [(ours, opt_ours), (theirs, opt_theirs)]:
            opt.zero_grad()
            sum((p**3).sum() for p in params).backward()
            if step == 2:
                params[1].grad = params[1].grad.clone()  # no longer a view
            opt.step()
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-14, atol=1e-14)


def test_a_training_step_leaves_dynamo_unimported():
    code = (
        "import sys, torch\n"
        "from rnnmemory.training.optim import Adam\n"
        "p = torch.zeros(3, requires_grad=True)\n"
        "opt = Adam([p], lr=0.1)\n"
        "(p - 1).pow(2).sum().backward(); opt.step(); opt.zero_grad()\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT / "scripts")},
    ).stdout
    assert out.strip() == "False"


def _lstm_cell_data(n_train=32):
    return [make_dataset("first_plus_last", 5, seed, n_train, 16) for seed in (0, 1)]


def test_adam_steps_on_the_flat_buffers_in_training(monkeypatch):
    """The trainer's loop keeps the parameters and gradients as views of Adam's flat buffers:
    every step takes the one-tensor update (the per-tensor fallback gives the same numbers,
    so only a count shows it)."""
    calls = []
    update_all = Adam.update_all
    monkeypatch.setattr(
        Adam, "update_all", lambda self, ps, *a: calls.append(len(ps)) or update_all(self, ps, *a)
    )
    settings = TrainSettings(epochs=3, batch_size=8, eval_every=1, log_every=1)
    train_cell(
        _lstm_cell_data(),
        [0, 1],
        "lstm",
        {"hidden_size": 4, "num_layers": 1},
        settings,
        log=lambda line: None,
    )
    assert calls == [1] * (3 * 4)  # one tensor a step; 3 epochs of 32 / 8 batches


def test_adam_follows_parameters_that_change_dtype():
    """model.double() after the optimizer exists (the parameters leave the flat buffers): the
    next step lays them out again, m and v carried over in the new dtype, and matches
    torch.optim's steps with its state converted alike (it would fail on the dtype mix)."""
    results = []
    for make in (lambda ps: Adam(ps, lr=0.05), lambda ps: torch.optim.Adam(ps, lr=0.05)):
        torch.manual_seed(0)
        net = torch.nn.Linear(3, 2)
        opt = make(net.parameters())
        x = torch.randn(5, 3)
        for step in range(4):
            if step == 2:
                net.double()
                x = x.double()
                if isinstance(opt, torch.optim.Adam):  # torch's state, converted by hand
                    for state in opt.state.values():
                        state["exp_avg"] = state["exp_avg"].double()
                        state["exp_avg_sq"] = state["exp_avg_sq"].double()
            opt.zero_grad()
            net(x).pow(3).sum().backward()
            opt.step()
        results.append([p.detach().clone() for p in net.parameters()])
    for ours, theirs in zip(*results, strict=True):
        assert ours.dtype == torch.float64
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-7)
