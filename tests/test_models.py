"""Hand-written recurrences against torch.nn: initialisation, outputs and gradients (float64)."""

import pytest
import torch
from fused_cases import CASES as ARCH_CASES
from fused_cases import SHAPE
from fused_cases import shape_of as _shape
from torch import nn

from rnnmemory.core.archs import ARCHS, matched_hidden_size, param_count
from rnnmemory.training.models import StackedRecurrentNet, to_model_layout
from rnnmemory.training.reference import ElmanLoop, IndRNN, TorchNet, seeded_torch_net

CASES = [(arch, layers, nonlinearity) for arch, nonlinearity in ARCH_CASES for layers in (1, 2)]


@pytest.mark.parametrize("arch,layers,nonlinearity", CASES)
def test_init_equals_torch_nn_under_the_same_seed(arch, layers, nonlinearity):
    shape = _shape(arch, layers, nonlinearity)
    stacked = StackedRecurrentNet.from_seeds([3, 7], arch, **shape)
    for k, seed in enumerate([3, 7]):
        torch.manual_seed(seed)
        reference = TorchNet(arch, **shape)
        got = stacked.torch_net(k).state_dict()
        for name, value in reference.state_dict().items():
            assert torch.equal(got[name], value), name
    # and the two seeds really differ
    assert not torch.equal(stacked.weight_hh_l0[0], stacked.weight_hh_l0[1])


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
@pytest.mark.parametrize("backend", ["bptt", "autograd"])
@pytest.mark.parametrize("arch,layers,nonlinearity", CASES)
@pytest.mark.parametrize("steps", [1, 7])
def test_forward_and_backward_equal_torch_nn_float64(
    arch, layers, nonlinearity, backend, steps, device
):
    shape = _shape(arch, layers, nonlinearity)
    seeds, batch = [0, 1, 2], 4
    nets = [seeded_torch_net(s, arch, **shape).double().to(device) for s in seeds]
    stacked = StackedRecurrentNet.from_torch_nets(nets, arch, backend).to(device)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(len(seeds), batch, steps, 3, generator=gen, dtype=torch.float64)  # (K,N,T,I)
    target = torch.randn(len(seeds), batch, 2, generator=gen, dtype=torch.float64)
    x, target = x.to(device), target.to(device)

    out = stacked(to_model_layout(x))  # (K, N, O)
    ((out - target) ** 2).sum().backward()
    for k, net in enumerate(nets):
        ref = net(x[k])
        torch.testing.assert_close(out[k], ref, rtol=1e-12, atol=1e-12)
        ((ref - target[k]) ** 2).sum().backward()
        grads = dict(net.named_parameters())
        for name, param in stacked.named_parameters():
            expected = grads[StackedRecurrentNet._torch_name(name)].grad
            torch.testing.assert_close(param.grad[k], expected, rtol=1e-10, atol=1e-12)


def test_seed000_elman_loop_equals_nn_rnn():
    torch.manual_seed(0)
    loop = ElmanLoop(1, 5, 1).double()
    net = TorchNet("rnn", input_size=1, hidden_size=5, num_layers=1, output_size=1).double()
    with torch.no_grad():
        net.rnn.weight_ih_l0.copy_(loop.input_weights.weight)
        net.rnn.bias_ih_l0.copy_(loop.input_weights.bias)
        net.rnn.weight_hh_l0.copy_(loop.recurrent_weights.weight)
        net.rnn.bias_hh_l0.zero_()  # the loop's recurrent Linear has no bias
        net.head.load_state_dict(loop.fc.state_dict())
    xs = torch.randn(16, 9, 1, dtype=torch.float64)
    torch.testing.assert_close(loop(xs), net(xs), rtol=1e-12, atol=1e-12)
    loop(xs).sum().backward()
    net(xs).sum().backward()
    torch.testing.assert_close(loop.recurrent_weights.weight.grad, net.rnn.weight_hh_l0.grad)
    torch.testing.assert_close(loop.input_weights.bias.grad, net.rnn.bias_ih_l0.grad)


def test_params_per_model_counts_one_seed():
    stacked = StackedRecurrentNet.from_seeds([0, 1], "lstm", **_shape("lstm", 1, None))
    assert stacked.params_per_model() == sum(p.numel() for p in stacked.torch_net(0).parameters())


def test_lstm_forget_bias_sets_only_the_forget_gate():
    shape = _shape("lstm", 2, None)
    plain = seeded_torch_net(4, "lstm", **shape).state_dict()
    biased = StackedRecurrentNet.from_seeds([4], "lstm", forget_bias=1.0, **shape).torch_net(0)
    hidden = SHAPE["hidden_size"]
    forget = slice(hidden, 2 * hidden)
    for name, value in biased.state_dict().items():
        if name.startswith("rnn.bias_ih"):
            assert torch.all(value[forget] == 1.0)
        elif name.startswith("rnn.bias_hh"):
            assert torch.all(value[forget] == 0.0)
        if name.startswith("rnn.bias"):  # the input, cell and output gates keep torch's init
            keep = torch.ones(4 * hidden, dtype=torch.bool)
            keep[forget] = False
            assert torch.equal(value[keep], plain[name][keep])
        else:
            assert torch.equal(value, plain[name]), name
    # other archs ignore it
    gru = StackedRecurrentNet.from_seeds([4], "gru", forget_bias=1.0, **_shape("gru", 1, None))
    assert torch.equal(
        gru.torch_net(0).state_dict()["rnn.bias_ih_l0"],
        seeded_torch_net(4, "gru", **_shape("gru", 1, None)).state_dict()["rnn.bias_ih_l0"],
    )


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("layers", [1, 2])
def test_param_count_is_torch_nn_count(arch, layers):
    net = TorchNet(arch, input_size=3, hidden_size=7, num_layers=layers, output_size=2)
    assert param_count(arch, 7, 3, 2, layers) == sum(p.numel() for p in net.parameters())


def test_matched_hidden_sizes_give_about_equal_parameter_counts():
    """Against an LSTM of hidden size 10 (531 parameters, first_plus_last's 1 in, 1 out): a GRU
    of 12 (553), an Elman RNN of 21 (526) and an IndRNN of 106 (531: 5 H + 1) are the closest;
    every arch within 5%."""
    sizes = {a: matched_hidden_size(a, "lstm", 10, 1, 1) for a in ARCHS}
    assert sizes == {"rnn": 21, "gru": 12, "lstm": 10, "indrnn": 106}
    target = param_count("lstm", 10, 1, 1)
    for arch, size in sizes.items():
        count = param_count(arch, size, 1, 1)
        assert abs(count - target) <= 0.05 * target
        for other in (size - 1, size + 1):  # no neighbour is closer
            assert abs(param_count(arch, other, 1, 1) - target) >= abs(count - target)


def test_every_arch_record_has_its_torch_side():
    """An arch is one record in archs.py: its cell has a step, a BPTT layer and a kernel id,
    and its reference module exists."""
    from rnnmemory.core.archs import ARCH_RECORDS, CELLS
    from rnnmemory.training import bptt, fused
    from rnnmemory.training.models import STEPS
    from rnnmemory.training.reference import reference_class

    assert set(STEPS) == set(bptt.LAYERS) == set(fused.CELL_IDS) == set(CELLS)
    assert "enum Cell { kRNN = 0, kGRU = 1, kLSTM = 2 }" in fused.cell_header()
    for name, record in ARCH_RECORDS.items():
        assert record.cell in CELLS, name
        assert issubclass(reference_class(name), nn.Module), name
    with pytest.raises(ValueError, match="no BPTT layer for cell 'transformer'"):
        bptt.run_layer("transformer", *[torch.zeros(1, 1, 1, 1)] * 5)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_indrnn_reference_is_an_elman_network_with_a_diagonal_recurrent_matrix(nonlinearity):
    """The IndRNN loop against torch's nn.RNN with W_hh = diag(u): the reference of the
    'indrnn' arch is itself checked against torch (outputs and gradients, float64)."""
    torch.manual_seed(0)
    ind = IndRNN(3, 6, num_layers=2, nonlinearity=nonlinearity).double()
    rnn = nn.RNN(3, 6, num_layers=2, batch_first=True, nonlinearity=nonlinearity).double()
    with torch.no_grad():
        for name, param in ind.named_parameters():
            value = torch.diag(param) if name.startswith("weight_hh") else param
            getattr(rnn, name).copy_(value)
    x = torch.randn(4, 9, 3, dtype=torch.float64)
    (out_ind, h_ind), (out_rnn, _) = ind(x), rnn(x)
    torch.testing.assert_close(out_ind, out_rnn, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_ind, out_rnn[:, -1])
    out_ind.pow(2).sum().backward()
    out_rnn.pow(2).sum().backward()
    for name, param in ind.named_parameters():
        expected = getattr(rnn, name).grad
        expected = torch.diagonal(expected) if name.startswith("weight_hh") else expected
        torch.testing.assert_close(param.grad, expected, rtol=1e-10, atol=1e-12)
    # its init: u in [0, 1), the rest as nn.RNN's bound
    assert ((ind.weight_hh_l0 >= 0) & (ind.weight_hh_l0 < 1)).all()
    assert ind.weight_ih_l0.abs().max() <= 6**-0.5
