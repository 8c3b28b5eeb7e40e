"""Training a cell of seeds together: each seed's result is its own."""

import math

import pytest
import torch

from rnnmemory.core.archs import ARCHS
from rnnmemory.core.tasks import make_dataset
from rnnmemory.training.trainer import TrainSettings, run_metrics, train_cell

MODEL = {"hidden_size": 6, "num_layers": 1, "nonlinearity": "tanh"}


def cell(task, seeds, seq_len=6, n_train=64, n_test=32):
    return [make_dataset(task, seq_len, s, n_train, n_test) for s in seeds]


def train(datasets, seeds, arch, dtype=torch.float32, backend="bptt", device="cpu", **settings):
    settings = TrainSettings(**{"epochs": 30, "eval_every": 10, **settings})
    return train_cell(
        datasets,
        seeds,
        arch,
        MODEL,
        settings,
        device=device,
        dtype=dtype,
        log=lambda line: None,
        backend=backend,
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("batch_size", [None, 16])
def test_cuda_trains_like_the_cpu_in_float64(arch, batch_size):
    """The CUDA path (auto: torch's ops there) against the CPU (auto: the fused kernel where
    it builds), 30 epochs of Adam in float64: the same learning curves up to rounding."""
    datasets = cell("first_plus_last", [0, 1, 2], seq_len=12)
    runs = {
        device: train(
            datasets, [0, 1, 2], arch, torch.float64, "auto", device, batch_size=batch_size
        )
        for device in ("cpu", "cuda")
    }
    assert runs["cuda"].backend == "bptt"
    for a, b in zip(runs["cpu"].history, runs["cuda"].history, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-9)
        assert a["test_loss"] == pytest.approx(b["test_loss"], rel=1e-9)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_fast_trainer_follows_the_autograd_trainer(arch, dtype, rtol):
    """60 epochs of Adam, hand-written BPTT vs autograd through the same recurrence. Found: test
    losses agree to 5e-14 relative in float64 and to 2e-6 in float32 (the two paths sum in a
    different order, and Adam's normalised steps carry the rounding on); the checks allow 50x."""
    datasets = cell("first_plus_last", [0, 1], seq_len=12)
    fast = train(datasets, [0, 1], arch, dtype=dtype, epochs=60)
    slow = train(datasets, [0, 1], arch, dtype=dtype, epochs=60, backend="autograd")
    for a, b in zip(fast.history, slow.history, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=rtol)
        assert a["test_loss"] == pytest.approx(b["test_loss"], rel=rtol)
    assert fast.history[-1]["train_loss"] < 0.9 * fast.history[0]["train_loss"]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("batch_size", [None, 16])
@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_a_seed_trains_the_same_alone_or_with_others(arch, batch_size, dtype, rtol):
    """Seeds {0, 1, 2} in one job vs seed 1 alone, 30 epochs. Found on this CPU build: equal up
    to rounding, not bit for bit (float32: parameters within 7e-7 absolute, about 1 ulp; float64:
    within 1e-15). The batched kernels for K=3 and K=1 may round differently (vectorised
    bodies vs scalar tails); leakage between seeds would show at the size of the loss itself."""
    together = train(
        cell("first_plus_last", [0, 1, 2]), [0, 1, 2], arch, batch_size=batch_size, dtype=dtype
    )
    alone = train(cell("first_plus_last", [1]), [1], arch, batch_size=batch_size, dtype=dtype)
    assert together.final["test_loss"][1] == pytest.approx(alone.final["test_loss"][0], rel=rtol)
    for (name, a), b in zip(
        together.model.named_parameters(), alone.model.parameters(), strict=True
    ):
        torch.testing.assert_close(a[1], b[0], rtol=rtol, atol=rtol, msg=name)
    curve = [r["test_loss"] for r in together.history if r["seed"] == 1]
    assert curve == pytest.approx([r["test_loss"] for r in alone.history], rel=rtol)


def test_training_lowers_the_loss_and_history_is_recorded():
    result = train(cell("recent_plus_last", [0, 1]), [0, 1], "gru", epochs=60)
    seed0 = [r for r in result.history if r["seed"] == 0]
    assert [r["epoch"] for r in seed0] == [1, 10, 20, 30, 40, 50, 60]
    assert seed0[-1]["train_loss"] < 0.8 * seed0[0]["train_loss"]
    assert len(result.final["test_loss"]) == 2


def test_classification_task_reports_accuracy():
    datasets = cell("chars", [0], seq_len=4)
    result = train(datasets, [0], "lstm", epochs=40, lr=0.05)
    metrics = run_metrics(result, 0, datasets[0], solved_below=0.1)
    assert 0 <= metrics["test_accuracy"] <= 1
    assert metrics["final_train_loss"] < datasets[0]["baseline_loss"]  # beats unigram guessing


def test_a_diverging_seed_is_marked_and_the_others_go_on():
    datasets = cell("ramp", [0, 1], seq_len=20)
    datasets[0] = dict(datasets[0], y_train=datasets[0]["y_train"] * 1e20)  # squares overflow
    result = train(datasets, [0, 1], "rnn", lr=0.01)
    assert result.diverged_epoch[0] == 1 and result.diverged_epoch[1] is None
    good = run_metrics(result, 1, datasets[1], 0.1)
    assert math.isfinite(good["final_test_loss"]) and not good["diverged"]
    assert run_metrics(result, 0, datasets[0], 0.1)["diverged"]


def test_a_diverged_seed_is_masked_alike_by_the_fused_trainer(kernel, monkeypatch):
    """The fused backend's direct step (no autograd) masks a diverged seed's gradients as the
    torch-ops trainer masks its loss: seed 0's overflowing loss marks it diverged at epoch 1;
    from then on Adam only lets its momentum run out, in both (unmasked, its huge gradients
    would keep moving it by about lr a step)."""
    datasets = cell("ramp", [0, 1], seq_len=20)
    datasets[0] = dict(datasets[0], y_train=datasets[0]["y_train"] * 1e20)  # squares overflow
    from rnnmemory.training.models import StackedRecurrentNet

    direct_steps, mse_gradients = [], StackedRecurrentNet.mse_gradients
    monkeypatch.setattr(
        StackedRecurrentNet, "mse_gradients", lambda *a: direct_steps.append(1) or mse_gradients(*a)
    )
    runs = {b: train(datasets, [0, 1], "rnn", lr=0.01, backend=b) for b in ("bptt", "fused")}
    assert runs["fused"].backend == "fused" and len(direct_steps) == 30  # every epoch's step
    for run in runs.values():
        assert run.diverged_epoch == [1, None]
    pairs = zip(runs["fused"].model.parameters(), runs["bptt"].model.parameters(), strict=True)
    for a, b in pairs:
        torch.testing.assert_close(a[0], b[0], rtol=1e-4, atol=1e-5)


def test_gradient_clipping_is_per_seed():
    from rnnmemory.training.models import StackedRecurrentNet
    from rnnmemory.training.trainer import clip_per_model

    model = StackedRecurrentNet.from_seeds(
        [0, 1], "gru", **{**MODEL, "input_size": 1, "output_size": 1}
    )
    for p in model.parameters():
        p.grad = torch.ones_like(p)
        p.grad[1] *= 1e-3  # seed 1's gradient is tiny and must stay as it is

    def norms():
        squares = [p.grad.flatten(1).pow(2).sum(1) for p in model.parameters()]
        return torch.stack(squares).sum(0).sqrt()

    before = norms()
    clip_per_model(model, 1.0)
    after = norms()
    assert after[0] == pytest.approx(1.0, rel=1e-5) and before[0] > 10
    assert after[1] == pytest.approx(before[1].item(), rel=1e-6)


def test_match_params_sizes_the_network_like_the_reference_arch():
    """match_params: lstm gives an Elman RNN 21 units (526 parameters, an LSTM of 10 has 531)."""
    model = {**MODEL, "hidden_size": 10, "match_params": "lstm"}
    settings = TrainSettings(epochs=1)
    result = train_cell(cell("first_plus_last", [0]), [0], "rnn", model, settings, log=print)
    assert result.model.hidden_size == 21 and result.model.params_per_model() == 526


def test_log_lines_follow_log_every_alone():
    """log_every need not be a multiple of eval_every (the log line used to sit inside the
    evaluation's condition, so 7 with eval_every 5 logged only at 35, 70, ...)."""
    lines = []
    settings = TrainSettings(epochs=30, eval_every=5, log_every=7)
    train_cell(cell("first_plus_last", [0]), [0], "rnn", MODEL, settings, log=lines.append)
    logged = [int(line.split()[1].split("/")[0]) for line in lines if line.startswith("epoch")]
    assert logged == [1, 7, 14, 21, 28, 30]


def test_training_leaves_outcomes_to_the_tables():
    """run_metrics used to write an 'outcome' that collect_tables then overwrote."""
    datasets = cell("first_plus_last", [0])
    result = train(datasets, [0], "rnn", epochs=2)
    assert "outcome" not in run_metrics(result, 0, datasets[0], 0.1)
