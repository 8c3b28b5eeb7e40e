"""Remedies at initialisation (model.init): the weights each produces, torch's elsewhere."""

import math

import pytest
import torch

from rnnmemory.core.archs import ARCH_RECORDS, ARCHS
from rnnmemory.core.tasks import make_dataset, run_seed
from rnnmemory.training.inits import INITS, applied_init
from rnnmemory.training.reference import seeded_torch_net
from rnnmemory.training.trainer import _fresh_sets, initial_model

MODEL = {"hidden_size": 6, "num_layers": 2, "nonlinearity": "relu", "lstm_forget_bias": None}


def nets(arch, init, seeds=(3, 4), seq_len=30):
    datasets = [make_dataset("first_plus_last", seq_len, s, 4, 4) for s in seeds]
    model = initial_model(datasets, list(seeds), arch, {**MODEL, "init": init})
    return [model.torch_net(k).state_dict() for k in range(len(seeds))]


def torch_default(arch, seed, seq_len=30):
    """torch.nn's network under the run's seed (tasks.run_seed), as nets() builds at T 30."""
    shape = dict(input_size=1, hidden_size=6, num_layers=2, output_size=1)
    if "nonlinearity" in ARCH_RECORDS[arch].options:
        shape["nonlinearity"] = "relu"
    return seeded_torch_net(run_seed("first_plus_last", seq_len, seed), arch, **shape).state_dict()


def changed(state, reference):
    return {name for name in state if not torch.equal(state[name], reference[name])}


@pytest.mark.parametrize("arch", ARCHS)
def test_default_is_torch_nn_under_the_seed(arch):
    for state, seed in zip(nets(arch, "default"), (3, 4), strict=True):
        assert changed(state, torch_default(arch, seed)) == set()


def test_a_seed_starts_from_another_network_at_every_length_and_task():
    """Runs at different lengths are independent trials (horizon.py): a seed's initial weights
    differ between lengths and tasks, and are the same again for the same (task, T, seed)."""
    at_30, again = nets("gru", "default", seq_len=30), nets("gru", "default", seq_len=30)
    at_31 = nets("gru", "default", seq_len=31)
    assert changed(at_30[0], again[0]) == set()
    assert changed(at_30[0], at_31[0]) == set(at_30[0])
    assert len({run_seed(t, n, 0) for t in ("adding", "first_plus_last") for n in (5, 10)}) == 4


@pytest.mark.parametrize("arch,gates", [("rnn", 1), ("gru", 3), ("lstm", 4)])
def test_orthogonal_makes_each_gate_block_of_w_hh_orthogonal(arch, gates):
    first, second = nets(arch, "orthogonal")
    assert changed(first, torch_default(arch, 3)) == {"rnn.weight_hh_l0", "rnn.weight_hh_l1"}
    for block in first["rnn.weight_hh_l0"].split(6):
        torch.testing.assert_close(block.T @ block, torch.eye(6), atol=1e-5, rtol=0)
    assert not torch.equal(first["rnn.weight_hh_l0"], second["rnn.weight_hh_l0"])  # per seed
    assert first["rnn.weight_hh_l0"].shape == (gates * 6, 6)


def test_identity_is_the_irnn_and_leaves_gated_archs_alone():
    (state, _) = nets("rnn", "identity")
    for layer in (0, 1):
        assert torch.equal(state[f"rnn.weight_hh_l{layer}"], torch.eye(6))
        assert not state[f"rnn.bias_ih_l{layer}"].any() and not state[f"rnn.bias_hh_l{layer}"].any()
    assert torch.equal(state["rnn.weight_ih_l0"], torch_default("rnn", 3)["rnn.weight_ih_l0"])
    assert changed(nets("gru", "identity")[0], torch_default("gru", 3)) == set()


def test_chrono_spreads_forget_times_over_the_sequence_length():
    seq_len = 30
    (state, other) = nets("lstm", "chrono", seq_len=seq_len)
    forget, inputs = slice(6, 12), slice(0, 6)
    bias = state["rnn.bias_ih_l0"][forget]
    assert (bias >= 0).all() and (bias <= math.log(seq_len - 1)).all()
    assert torch.equal(state["rnn.bias_ih_l0"][inputs], -bias)
    assert not state["rnn.bias_hh_l0"][:12].any()
    reference = torch_default("lstm", 3)
    assert torch.equal(state["rnn.bias_ih_l0"][12:], reference["rnn.bias_ih_l0"][12:])
    assert changed(state, reference) == {f"rnn.bias_{w}_l{i}" for w in ("ih", "hh") for i in (0, 1)}
    assert not torch.equal(bias, other["rnn.bias_ih_l0"][forget])  # drawn per seed
    gru = nets("gru", "chrono", seq_len=seq_len)[0]["rnn.bias_ih_l0"][6:12]  # update gate z
    assert (gru >= 0).all() and (gru <= math.log(seq_len - 1)).all()
    assert changed(nets("rnn", "chrono")[0], torch_default("rnn", 3)) == set()


def test_fresh_sets_are_new_every_epoch_and_a_seed_draws_its_own():
    fresh = {"task": "first_plus_last", "params": {}}
    datasets = [make_dataset("first_plus_last", 7, s, 16, 4) for s in (0, 1)]
    together = _fresh_sets(fresh, datasets, [0, 1])
    first, second = next(together), next(together)
    assert not (first[1]["x_train"] == second[1]["x_train"]).any()  # a new set each epoch
    assert not (first[1]["x_train"] == datasets[1]["x_train"]).any()  # not the stored one
    y = first[1]["x_train"][:, 0] + first[1]["x_train"][:, -1]
    assert abs(first[1]["y_train"] - y).max() < 1e-6  # the task's own targets
    alone = next(_fresh_sets(fresh, datasets[1:], [1]))
    assert (alone[0]["x_train"] == first[1]["x_train"]).all()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("init", INITS)
def test_an_init_that_does_not_apply_leaves_torch_default(arch, init):
    """Each arch's record lists the inits that apply to it; any other gives the default."""
    if init == applied_init(init, arch):
        assert init in ARCH_RECORDS[arch].inits
        return
    for state, seed in zip(nets(arch, init), (3, 4), strict=True):
        assert changed(state, torch_default(arch, seed)) == set()
