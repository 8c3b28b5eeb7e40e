"""Probes of trained networks: gradients through time, per-step outputs, other lengths."""

import numpy as np
import pytest
import torch

from rnnmemory.core.archs import ARCHS
from rnnmemory.core.tasks import make_dataset
from rnnmemory.probing.probes import (
    gradients_through_time,
    length_generalisation,
    prediction_samples,
    stepwise_outputs,
)
from rnnmemory.training.models import StackedRecurrentNet, per_model_loss, stack_data
from rnnmemory.training.trainer import TrainSettings, train_cell


def linear_regime_rnn(n_models=2, hidden=3, seed=0):
    """A ReLU Elman network whose pre-activations are all positive for positive inputs, so it is
    exactly the linear RNN h_t = W h_{t-1} + U x_t + b."""
    gen = torch.Generator().manual_seed(seed)
    model = StackedRecurrentNet("rnn", 1, hidden, 1, 1, nonlinearity="relu", n_models=n_models)
    model = model.double()
    with torch.no_grad():
        model.weight_ih_l0.copy_(0.1 + 0.4 * torch.rand(n_models, hidden, 1, generator=gen))
        model.weight_hh_l0.copy_(0.3 * torch.rand(n_models, hidden, hidden, generator=gen))
        model.bias_ih_l0.fill_(0.1)
        model.bias_hh_l0.fill_(0.05)
        model.head_weight.copy_(torch.randn(n_models, 1, hidden, generator=gen))
        model.head_bias.fill_(-0.2)
    return model


def test_gradient_norms_equal_the_closed_form_of_a_linear_rnn():
    """For h_t = W h_{t-1} + U x_t + b and loss_n = (v.h_T-1 + c - y_n)^2:
    dloss_n/dh_t = (W^T)^(T-1-t) 2 r_n v and dloss_n/dx_t = U^T dloss_n/dh_t."""
    n_models, steps, batch = 2, 9, 16
    model = linear_regime_rnn(n_models)
    gen = torch.Generator().manual_seed(1)
    x = 0.1 + torch.rand(n_models, 1, steps, batch, generator=gen, dtype=torch.float64)
    y = torch.randn(n_models, batch, 1, generator=gen, dtype=torch.float64)
    norms = gradients_through_time(model, x, y, "mse")
    for k in range(n_models):
        w = model.weight_hh_l0[k].detach().numpy()  # (H, H)
        u = model.weight_ih_l0[k].detach().numpy()  # (H, 1)
        v = model.head_weight[k, 0].detach().numpy()  # (H,)
        h = np.zeros((3, batch))
        for t in range(steps):
            pre = w @ h + u @ x[k, :, t].numpy() + 0.15
            assert (pre > 0).all()  # the linear regime holds
            h = pre
        residual = v @ h - 0.2 - y[k, :, 0].numpy()  # (N,)
        grad = 2 * v[:, None] * residual[None, :]  # (H, N) at t = T-1
        expected_h, expected_x = [], []
        for _ in range(steps):
            expected_h.append(np.linalg.norm(grad, axis=0).mean())
            expected_x.append(np.linalg.norm(u.T @ grad, axis=0).mean())
            grad = w.T @ grad
        np.testing.assert_allclose(norms["grad_h"][k], expected_h[::-1], rtol=1e-12)
        np.testing.assert_allclose(norms["grad_x"][k], expected_x[::-1], rtol=1e-12)
    assert (np.diff(norms["grad_h"][0]) > 0).all()  # W's radius < 1: the signal decays going back


def test_gradient_probe_leaves_the_model_alone_and_sees_below_float32():
    """The probe runs in float64 on a copy: no parameter or .grad changes, and a tanh RNN's
    gradient 300 steps back is far below float32's smallest normal number yet not zero."""
    model = StackedRecurrentNet.from_seeds(
        [0], "rnn", hidden_size=10, input_size=1, num_layers=1, output_size=1
    )
    before = [p.detach().clone() for p in model.parameters()]
    data = [make_dataset("first_plus_last", 300, 0, 8, 8)]
    x, y = stack_data(data, "test", "cpu", torch.float32)
    norms = gradients_through_time(model, x, y, "mse")
    assert 0 < norms["grad_h"][0, 0] < 1e-38
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("arch", ARCHS)
def test_the_last_stepwise_output_is_the_network_output(arch):
    model = StackedRecurrentNet.from_seeds(
        [0, 1], arch, hidden_size=5, input_size=3, num_layers=2, output_size=4
    ).double()
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64)
    steps = stepwise_outputs(model, x)  # (K, N, T, O)
    assert steps.shape == (2, 6, 7, 4)
    torch.testing.assert_close(steps[:, :, -1], model(x), rtol=1e-12, atol=1e-12)
    # and step t is the output for the sequence cut after t
    torch.testing.assert_close(steps[:, :, 3], model(x[:, :, :4]), rtol=1e-12, atol=1e-12)


def test_char_predictions_target_the_next_character_at_every_step():
    data = [make_dataset("chars", 6, 0, 16, 8)]
    model = StackedRecurrentNet.from_seeds(
        [0],
        "gru",
        hidden_size=4,
        input_size=data[0]["x_train"].shape[2],
        num_layers=1,
        output_size=data[0]["n_classes"],
    )
    x, y = stack_data(data, "test", "cpu", torch.float32)
    (frame,) = prediction_samples(model, x, y, "cross_entropy", n_samples=5)
    assert len(frame) == 5 * 6
    codes = data[0]["x_test"][:5].argmax(axis=2)  # (n, T) characters read
    for row in frame.itertuples():
        expected = (
            codes[row.sample, row.step + 1] if row.step < 5 else data[0]["y_test"][row.sample]
        )
        assert row.target == expected


def test_regression_predictions_are_the_final_outputs():
    data = [make_dataset("trajectory", 5, s, 16, 12) for s in (0, 1)]
    model = StackedRecurrentNet.from_seeds(
        [0, 1], "lstm", hidden_size=4, input_size=2, num_layers=1, output_size=2
    )
    x, y = stack_data(data, "test", "cpu", torch.float32)
    frames = prediction_samples(model, x, y, "mse", n_samples=10)
    out = model(x).detach().numpy()
    for k, frame in enumerate(frames):
        assert len(frame) == 10 * 2 and (frame["step"] == 4).all()
        # 10 samples vs the full batch: float32 kernels may round the last bit differently
        np.testing.assert_allclose(
            frame["predicted"].to_numpy().reshape(10, 2), out[k, :10], rtol=1e-6, atol=1e-7
        )
        np.testing.assert_array_equal(frame["target"].to_numpy().reshape(10, 2), y[k, :10])


def test_length_generalisation_at_factor_one_is_the_test_loss():
    """Factor 1 reproduces the trained cell's test loss; a length the task cannot make is
    skipped (recent_plus_last needs T >= 5, half of 6 is 3); 2 T tests on 12 steps."""
    seeds, data = [0, 1], {"n_train": 32, "n_test": 16}
    datasets = [make_dataset("recent_plus_last", 6, s, **data) for s in seeds]
    result = train_cell(
        datasets,
        seeds,
        "gru",
        {"hidden_size": 4, "num_layers": 1},
        TrainSettings(epochs=5),
        log=lambda line: None,
    )
    rows = length_generalisation(result.model, "recent_plus_last", 6, seeds, [0.5, 2], data)
    assert sorted({r["eval_len"] for r in rows}) == [6, 12]
    for row in rows:
        if row["factor"] == 1:
            k = seeds.index(row["seed"])
            assert row["test_loss"] == pytest.approx(result.final["test_loss"][k], rel=1e-6)
    long = [make_dataset("recent_plus_last", 12, s, **data) for s in seeds]
    x, y = stack_data(long, "test", "cpu", torch.float32)
    expected = per_model_loss(result.model(x), y, "mse").tolist()
    got = [r["test_loss"] for r in rows if r["eval_len"] == 12]
    assert got == pytest.approx(expected, rel=1e-6)


def test_the_trained_length_keeps_its_row_when_another_factor_rounds_to_it():
    """seq_len 2, factors 0.75 and 2: round(0.75 * 2) = 2 is the trained length; the row must
    be factor 1's (it was 0.75's, and factor 1 was missing)."""
    seeds, data = [0], {"n_train": 8, "n_test": 8}
    datasets = [make_dataset("first_plus_last", 2, 0, **data)]
    result = train_cell(
        datasets,
        seeds,
        "rnn",
        {"hidden_size": 3, "num_layers": 1},
        TrainSettings(epochs=1),
        log=lambda line: None,
    )
    rows = length_generalisation(result.model, "first_plus_last", 2, seeds, [0.75, 2], data)
    assert {(r["factor"], r["eval_len"]) for r in rows} == {(1.0, 2), (2.0, 4)}


def test_the_lstm_state_gradient_includes_the_cell_path():
    """An LSTM with W_hh = 0 and its forget gate held open (bias 20) carries x[0] to the end
    through the cell state only: dL/dh_0 is exactly 0, yet the error signal reaches step 0
    through c undiminished. The probe's state gradient is that of (h_t, c_t)."""
    model = StackedRecurrentNet.from_seeds(
        [0], "lstm", hidden_size=4, input_size=1, num_layers=1, output_size=1
    ).double()
    with torch.no_grad():
        model.weight_hh_l0.zero_()
        model.bias_ih_l0[:, 4:8] = 20.0  # forget gate: sigmoid(20) = 1 - 2e-9
    x = torch.randn(1, 1, 12, 32, dtype=torch.float64)
    y = torch.randn(1, 32, 1, dtype=torch.float64)
    grad = gradients_through_time(model, x, y, "mse")["grad_h"][0]  # (T,)
    assert grad[0] > 0.2 * grad[-1] > 0
    out, states = model(x, return_states=True)
    (h_only,) = torch.autograd.grad(((out - y) ** 2).sum(), states[0])
    assert torch.count_nonzero(h_only) == 0  # what an h-only probe reported at step 0
