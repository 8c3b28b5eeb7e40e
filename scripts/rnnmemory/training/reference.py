"""The reference networks: what each arch equals, built as torch.nn builds them under a seed.

``TorchNet`` is the arch's reference layer (torch.nn's RNN/GRU/LSTM, or ``IndRNN``, a plain loop
where torch has none) and a linear head on the last hidden state, as in the tutorials; its state
dicts are what the pipeline saves, and models.StackedRecurrentNet must equal it (outputs and
gradients, float64; tests/test_models.py). ``ElmanLoop`` is seed 000's hand-written form of
``nn.RNN``.
"""

from __future__ import annotations

import importlib

import torch
from torch import nn

from rnnmemory.core.archs import ARCH_RECORDS

LAYER_TENSORS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def reference_class(arch: str) -> type[nn.Module]:
    """The module an arch equals (its record's ``reference``: torch.nn's, or IndRNN below)."""
    module, _, name = ARCH_RECORDS[arch].reference.rpartition(".")
    return getattr(importlib.import_module(module), name)


def nonlinearity_option(arch: str, nonlinearity) -> dict:
    """The ``nonlinearity`` keyword for an arch that has the option, else nothing."""
    return {"nonlinearity": nonlinearity} if "nonlinearity" in ARCH_RECORDS[arch].options else {}


class IndRNN(nn.Module):
    """The IndRNN of Li et al. (2018) as a plain loop over time, the reference of the 'indrnn'
    arch: h_t = act(W_ih x_t + b_ih + u * h_{t-1} + b_hh), one recurrent weight per unit
    (``weight_hh_l{l}`` is u, shape (H,)). torch.nn.RNN's interface and parameter names, so the
    pipeline saves and loads it as it does torch's modules. Initialised as nn.RNN (uniform
    +-1/sqrt(H)), except u ~ U(0, 1): every unit starts with a decay factor in [0, 1), none
    exploding (Li et al. bound |u| by 2^(1/T) during training; that and their init are the
    literature study's settings, not the default)."""

    def __init__(
        self, input_size, hidden_size, num_layers=1, batch_first=True, nonlinearity="tanh"
    ):
        super().__init__()
        if not batch_first:
            raise ValueError("IndRNN reads (N, T, I): batch_first only")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.nonlinearity = nonlinearity
        bound = hidden_size**-0.5
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size
            draws = {
                "weight_ih": torch.empty(hidden_size, layer_in).uniform_(-bound, bound),
                "weight_hh": torch.empty(hidden_size).uniform_(0.0, 1.0),
                "bias_ih": torch.empty(hidden_size).uniform_(-bound, bound),
                "bias_hh": torch.empty(hidden_size).uniform_(-bound, bound),
            }
            for name, value in draws.items():
                self.register_parameter(f"{name}_l{layer}", nn.Parameter(value))

    def forward(self, x):  # x: (N, T, I)
        act = torch.relu if self.nonlinearity == "relu" else torch.tanh
        out = x
        for layer in range(self.num_layers):
            w_ih, u, b_ih, b_hh = (getattr(self, f"{n}_l{layer}") for n in LAYER_TENSORS)
            h = x.new_zeros(x.shape[0], self.hidden_size)  # (N, H)
            states = []
            for x_t in out.unbind(1):  # (N, I_l)
                h = act(x_t @ w_ih.T + b_ih + u * h + b_hh)
                states.append(h)
            out = torch.stack(states, dim=1)  # (N, T, H)
        return out, h


class TorchNet(nn.Module):
    """The reference network: the arch's reference layer (torch.nn's RNN/GRU/LSTM, or IndRNN)
    and a linear head on the last hidden state."""

    def __init__(self, arch, input_size, hidden_size, num_layers, output_size, nonlinearity="tanh"):
        super().__init__()
        self.rnn = reference_class(arch)(
            input_size,
            hidden_size,
            num_layers,
            batch_first=True,
            **nonlinearity_option(arch, nonlinearity),
        )
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x):  # x: (N, T, I)
        out, _ = self.rnn(x)  # (N, T, H)
        return self.head(out[:, -1])  # (N, O)


def seeded_torch_net(seed: int, arch: str, forget_bias=None, **shape) -> TorchNet:
    """The network torch.nn builds right after ``torch.manual_seed(seed)``; for an arch with
    the ``lstm_forget_bias`` option set, every layer's forget-gate bias then starts at that
    value (all of it in b_ih, b_hh's forget part zero), the other weights untouched."""
    torch.manual_seed(seed)
    net = TorchNet(arch, **shape)
    if "lstm_forget_bias" in ARCH_RECORDS[arch].options and forget_bias is not None:
        hidden = net.rnn.hidden_size
        with torch.no_grad():
            for layer in range(net.rnn.num_layers):
                getattr(net.rnn, f"bias_ih_l{layer}")[hidden : 2 * hidden] = forget_bias
                getattr(net.rnn, f"bias_hh_l{layer}")[hidden : 2 * hidden] = 0.0
    return net


class ElmanLoop(nn.Module):
    """Seed 000's hand-written Elman network: input Linear, bias-free recurrent Linear, tanh,
    then a Linear head on the last state. Kept as the tutorial's form of ``nn.RNN``."""

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.input_weights = nn.Linear(input_size, hidden_size)
        self.recurrent_weights = nn.Linear(hidden_size, hidden_size, bias=False)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, xs):  # xs: (N, T, I)
        state = xs.new_zeros(xs.shape[0], self.hidden_size)  # (N, H)
        for t in range(xs.shape[1]):
            state = torch.tanh(self.input_weights(xs[:, t]) + self.recurrent_weights(state))
        return self.fc(state)  # (N, O)
