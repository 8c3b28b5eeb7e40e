"""Recurrent networks for sequence regression and classification.

``StackedRecurrentNet`` holds K independent networks (one per seed) as stacked weights and runs
them together with batched matmuls. Its recurrences are written by hand and equal torch.nn's
RNN/GRU/LSTM: same gate order, same biases, same initialisation (each seed's weights are those
that torch.nn would draw under ``torch.manual_seed(seed)``). ``TorchNet`` is the plain torch.nn
version (recurrent layer + linear head on the last hidden state, as in the tutorials); its
state dicts are what the pipeline saves.

Layouts: inputs are time-major and stacked, (T, K, I, N); hidden states are (K, H, N), so a
gate slice is contiguous memory and one ``bmm`` serves all seeds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import bptt
from .archs import ARCHS, GATES

TORCH_RECURRENT = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
LAYER_TENSORS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class TorchNet(nn.Module):
    """torch.nn reference: a recurrent layer and a linear head on the last hidden state."""

    def __init__(self, arch, input_size, hidden_size, num_layers, output_size, nonlinearity="tanh"):
        super().__init__()
        extra = {"nonlinearity": nonlinearity} if arch == "rnn" else {}
        self.rnn = TORCH_RECURRENT[arch](
            input_size, hidden_size, num_layers, batch_first=True, **extra
        )
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x):  # x: (N, T, I)
        out, _ = self.rnn(x)  # (N, T, H)
        return self.head(out[:, -1])  # (N, O)


def seeded_torch_net(seed: int, arch: str, **shape) -> TorchNet:
    """The network torch.nn builds right after ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return TorchNet(arch, **shape)


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


def rnn_step(xp_t, h, w_hh, relu=False):
    """Elman step: h' = act(x W_ih^T + b + W_hh h), biases already folded into xp_t."""
    pre = torch.baddbmm(xp_t, w_hh, h)  # (K, H, N)
    return torch.relu(pre) if relu else torch.tanh(pre)


def gru_step(xp_t, h, w_hh, b_hn):
    """GRU step in torch's gate order (r, z, n); b_hn stays inside r * (.) as torch does."""
    hidden = h.shape[1]
    gh = torch.bmm(w_hh, h)  # (K, 3H, N)
    rz = torch.sigmoid(xp_t[:, : 2 * hidden] + gh[:, : 2 * hidden])  # (K, 2H, N)
    r, z = rz[:, :hidden], rz[:, hidden:]
    n = torch.tanh(xp_t[:, 2 * hidden :] + r * (gh[:, 2 * hidden :] + b_hn))  # (K, H, N)
    return n + z * (h - n)


def lstm_step(xp_t, h, c, w_hh):
    """LSTM step in torch's gate order (i, f, g, o)."""
    hidden = h.shape[1]
    gates = torch.baddbmm(xp_t, w_hh, h)  # (K, 4H, N)
    i, f, g, o = gates.split(hidden, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # (K, H, N)
    return torch.sigmoid(o) * torch.tanh(c), c


class StackedRecurrentNet(nn.Module):
    """K independent recurrent networks with a linear head, trained side by side.

    Parameter ``weight_ih_l{l}`` has shape (K, G*H, I_l), ``weight_hh_l{l}`` (K, G*H, H), biases
    (K, G*H); the head has ``head_weight`` (K, O, H) and ``head_bias`` (K, O).
    """

    def __init__(
        self, arch, input_size, hidden_size, num_layers, output_size, nonlinearity="tanh",
        n_models=1,
        backend="bptt",
    ):  # fmt: skip
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown arch {arch!r}; allowed: {', '.join(ARCHS)}")
        if backend not in ("bptt", "autograd"):
            raise ValueError(f"unknown backend {backend!r}; allowed: bptt, autograd")
        self.arch, self.nonlinearity, self.backend = arch, nonlinearity, backend
        self.shape = dict(
            input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
            output_size=output_size,
        )  # fmt: skip
        if arch == "rnn":
            self.shape["nonlinearity"] = nonlinearity
        self.hidden_size, self.num_layers, self.n_models = hidden_size, num_layers, n_models
        gh = GATES[arch] * hidden_size
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size
            sizes = {"weight_ih": (gh, layer_in), "weight_hh": (gh, hidden_size)}
            sizes.update(bias_ih=(gh,), bias_hh=(gh,))
            for name, size in sizes.items():
                self.register_parameter(
                    f"{name}_l{layer}", nn.Parameter(torch.zeros(n_models, *size))
                )
        self.head_weight = nn.Parameter(torch.zeros(n_models, output_size, hidden_size))
        self.head_bias = nn.Parameter(torch.zeros(n_models, output_size))

    # --------------------------------------------------------------- torch.nn interchange

    @classmethod
    def from_seeds(cls, seeds, arch, backend="bptt", **shape) -> StackedRecurrentNet:
        """Stack the networks torch.nn would initialise under each seed."""
        nets = [seeded_torch_net(s, arch, **shape) for s in seeds]
        return cls.from_torch_nets(nets, arch, backend)

    @classmethod
    def from_torch_nets(
        cls, nets: list[TorchNet], arch: str, backend="bptt"
    ) -> StackedRecurrentNet:
        rnn = nets[0].rnn
        extra = {"nonlinearity": rnn.nonlinearity} if arch == "rnn" else {}
        model = cls(
            arch, rnn.input_size, rnn.hidden_size, rnn.num_layers, nets[0].head.out_features,
            n_models=len(nets), backend=backend, **extra,
        )  # fmt: skip
        sources = [net.state_dict() for net in nets]
        with torch.no_grad():
            for name, param in model.named_parameters():
                param.copy_(torch.stack([sd[model._torch_name(name)] for sd in sources]))
        return model.to(nets[0].head.weight.dtype)

    @staticmethod
    def _torch_name(name: str) -> str:
        if name.startswith("head_"):
            return "head." + name[len("head_") :]
        return "rnn." + name

    def torch_net(self, k: int) -> TorchNet:
        """Seed k's network as a plain torch.nn module (on the CPU)."""
        net = TorchNet(self.arch, **self.shape).to(
            self.head_weight.dtype
        )  # fresh, then overwritten
        net.load_state_dict(
            {self._torch_name(n): p[k].detach().cpu() for n, p in self.named_parameters()}
        )
        return net

    def params_per_model(self) -> int:
        return sum(p[0].numel() for p in self.parameters())

    # --------------------------------------------------------------------------- forward

    def layer_params(self, layer):
        return [getattr(self, f"{name}_l{layer}") for name in LAYER_TENSORS]

    def forward(self, x, return_states=False):
        """x: (T, K, I, N) -> outputs (K, N, O). With ``return_states`` (autograd path only)
        also the top layer's hidden states, a list of T tensors (K, H, N) whose ``.grad`` after
        backward is the full gradient through time."""
        inputs = x
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self.layer_params(layer)
            xp = torch.matmul(w_ih.unsqueeze(0), inputs)  # (T, K, GH, N)
            xp, b_hn = self._fold_biases(xp, b_ih, b_hh)
            if self.backend == "bptt" and not return_states:
                relu = self.nonlinearity == "relu"
                inputs = bptt.run_layer(self.arch, xp, w_hh, b_hn, relu)  # (T, K, H, N)
                last = inputs[-1]
            else:
                states = self._autograd_layer(xp, w_hh, b_hn)
                last = states[-1]
                if layer + 1 < self.num_layers:
                    inputs = torch.stack(states)  # (T, K, H, N)
        out = torch.baddbmm(self.head_bias.unsqueeze(-1), self.head_weight, last)  # (K, O, N)
        out = out.transpose(1, 2)  # (K, N, O)
        return (out, states) if return_states else out

    def _fold_biases(self, xp, b_ih, b_hh):
        """Add the biases that sit outside the gate nonlinearities to xp (T, K, GH, N); the GRU's
        b_hn stays apart (K, H, 1) because torch applies it inside r * (W_hn h + b_hn)."""
        hidden = self.hidden_size
        if self.arch == "gru":
            zeros = b_hh.new_zeros(b_hh.shape[0], hidden)
            folded = b_ih + torch.cat([b_hh[:, : 2 * hidden], zeros], 1)
            return xp + folded.unsqueeze(-1), b_hh[:, 2 * hidden :].unsqueeze(-1)
        return xp + (b_ih + b_hh).unsqueeze(-1), None

    def _autograd_layer(self, xp, w_hh, b_hn):
        """One layer as a Python loop under autograd: the reference the fast path must equal."""
        n_models, batch = xp.shape[1], xp.shape[3]
        h = xp.new_zeros(n_models, self.hidden_size, batch)  # (K, H, N)
        c = torch.zeros_like(h)
        relu = self.nonlinearity == "relu"
        states = []
        # unbind once: indexing xp[t] in the loop makes backward O(T^2)
        for xp_t in xp.unbind(0):
            if self.arch == "rnn":
                h = rnn_step(xp_t, h, w_hh, relu)
            elif self.arch == "gru":
                h = gru_step(xp_t, h, w_hh, b_hn)
            else:
                h, c = lstm_step(xp_t, h, c, w_hh)
            states.append(h)
        return states


def to_time_major(x: torch.Tensor) -> torch.Tensor:
    """(K, N, T, I) -> (T, K, I, N), contiguous: the layout ``StackedRecurrentNet`` reads."""
    return x.permute(2, 0, 3, 1).contiguous()


def per_model_loss(out, y, loss: str):
    """Mean loss of each of the K models: out (K, N, O), y (K, N, O) or labels (K, N) -> (K,)."""
    if loss == "mse":
        return (out - y).pow(2).mean(dim=(1, 2))
    n_models, batch, n_classes = out.shape
    ce = F.cross_entropy(out.reshape(-1, n_classes), y.reshape(-1), reduction="none")
    return ce.view(n_models, batch).mean(dim=1)
