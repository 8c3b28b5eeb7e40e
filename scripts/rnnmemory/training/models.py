"""Recurrent networks for sequence regression and classification.

``StackedRecurrentNet`` holds K independent networks (one per seed) as stacked weights and runs
them together with batched matmuls. Its recurrences are written by hand and equal torch.nn's
RNN/GRU/LSTM: same gate order, same biases, same initialisation (each seed's weights are those
that torch.nn would draw under ``torch.manual_seed(seed)``). Their reference, ``TorchNet``, and
IndRNN's plain loop are in reference.py.

Layouts: inputs are stacked (K, I, T, N); hidden states are (K, H, N): samples on the last,
contiguous axis, so a gate slice is a plain view and one ``bmm`` serves all seeds.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnmemory.core.archs import ARCH_RECORDS, ARCHS
from rnnmemory.training import bptt, fused
from rnnmemory.training.reference import (
    LAYER_TENSORS,
    TorchNet,
    nonlinearity_option,
    seeded_torch_net,
)

# bptt: torch ops with the hand-written BPTT; fused: the compiled CPU kernel (fused.py);
# autograd: autograd through the Python time loop (the reference, and the only one that can
# return every state's gradient)
BACKENDS = ("bptt", "fused", "autograd")
LAYER_RUNNERS = {"bptt": bptt.run_layer, "fused": fused.run_layer}


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


# each cell's step under autograd (archs.CELLS; the BPTT layers and the kernel must equal it)
STEPS = {"rnn": rnn_step, "gru": gru_step, "lstm": lstm_step}


def cell_weights(arch: str, w_hh: torch.Tensor) -> torch.Tensor:
    """W_hh as the arch's cell reads it, (K, G*H, H): a diagonal arch's u (K, H) becomes
    diag(u) (autograd takes the gradient's diagonal back to u)."""
    return torch.diag_embed(w_hh) if ARCH_RECORDS[arch].recurrent == "diagonal" else w_hh


class StackedRecurrentNet(nn.Module):
    """K independent recurrent networks with a linear head, trained side by side.

    Parameter ``weight_ih_l{l}`` has shape (K, G*H, I_l), ``weight_hh_l{l}`` (K, G*H, H) (a
    diagonal arch's: (K, G*H)), biases (K, G*H); the head has ``head_weight`` (K, O, H) and
    ``head_bias`` (K, O). The layers run on the arch's cell (archs.Arch.cell).
    """

    def __init__(
        self,
        arch,
        input_size,
        hidden_size,
        num_layers,
        output_size,
        nonlinearity="tanh",
        n_models=1,
        backend="bptt",
    ):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown arch {arch!r}; allowed: {', '.join(ARCHS)}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
        self.arch, self.nonlinearity, self.backend = arch, nonlinearity, backend
        self.cell = ARCH_RECORDS[arch].cell
        self.shape = dict(
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            output_size=output_size,
            **nonlinearity_option(arch, nonlinearity),
        )
        self.hidden_size, self.num_layers, self.n_models = hidden_size, num_layers, n_models
        gh = ARCH_RECORDS[arch].gates * hidden_size
        hh = (gh, hidden_size) if ARCH_RECORDS[arch].recurrent == "matrix" else (gh,)
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size
            sizes = {"weight_ih": (gh, layer_in), "weight_hh": hh}
            sizes.update(bias_ih=(gh,), bias_hh=(gh,))
            for name, size in sizes.items():
                self.register_parameter(
                    f"{name}_l{layer}", nn.Parameter(torch.zeros(n_models, *size))
                )
        self._workspaces = [bptt.Workspace() for _ in range(num_layers)]  # reused buffers
        self.head_weight = nn.Parameter(torch.zeros(n_models, output_size, hidden_size))
        self.head_bias = nn.Parameter(torch.zeros(n_models, output_size))

    # --------------------------------------------------------------- torch.nn interchange

    @classmethod
    def from_seeds(
        cls, seeds, arch, backend="bptt", forget_bias=None, **shape
    ) -> StackedRecurrentNet:
        """Stack the networks torch.nn would initialise under each seed."""
        nets = [seeded_torch_net(s, arch, forget_bias, **shape) for s in seeds]
        return cls.from_torch_nets(nets, arch, backend)

    @classmethod
    def from_torch_nets(
        cls, nets: list[TorchNet], arch: str, backend="bptt"
    ) -> StackedRecurrentNet:
        rnn = nets[0].rnn
        model = cls(
            arch,
            rnn.input_size,
            rnn.hidden_size,
            rnn.num_layers,
            nets[0].head.out_features,
            n_models=len(nets),
            backend=backend,
            **nonlinearity_option(arch, getattr(rnn, "nonlinearity", None)),
        )
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

    def cell_params(self, layer):
        """A layer's tensors as its cell computes with them (W_hh full, see ``cell_weights``)."""
        w_ih, w_hh, b_ih, b_hh = self.layer_params(layer)
        return [w_ih, cell_weights(self.arch, w_hh), b_ih, b_hh]

    def forward(self, x, return_states=False, return_cells=False):
        """x: (K, I, T, N) -> outputs (K, N, O). With ``return_states`` (autograd path only)
        also the top layer's hidden states, a list of T tensors (K, H, N) whose ``.grad`` after
        backward is the full gradient through time; with ``return_cells`` as well the LSTM's
        cell states (an empty list for the other archs)."""
        inputs = x
        relu = self.nonlinearity == "relu"
        return_states = return_states or return_cells
        for layer in range(self.num_layers):
            top = layer + 1 == self.num_layers
            w_ih, w_hh, b_ih, b_hh = self.cell_params(layer)
            if self.backend in LAYER_RUNNERS and not return_states:
                out = LAYER_RUNNERS[self.backend](
                    self.cell,
                    inputs,
                    w_ih,
                    w_hh,
                    b_ih,
                    b_hh,
                    relu,
                    not top,
                    self._workspaces[layer],
                )
                inputs, last = out, out  # (K, H, T, N) below the top, (K, H, N) on top
            else:
                states, cells = self._autograd_layer(inputs, w_ih, w_hh, b_ih, b_hh)
                inputs, last = torch.stack(states, dim=2), states[-1]  # (K, H, T, N)
        out = self.head(last)
        if return_cells:
            return out, states, cells
        return (out, states) if return_states else out

    def losses(self, x, y, loss: str):
        """Each model's mean loss (K,) on inputs x (K, I, T, N) and targets y: what training
        minimises. Equal to ``per_model_loss(self(x), y, loss)``; with the fused backend, a mean
        squared error and gradients wanted, the top layer's backward pass runs inside its forward
        call, and the head's in closed form (``fused.last_state_loss``): for a linear head under
        a squared error the gradient of the last state is affine in it, known before the forward
        pass ends."""
        recurrent = [p for name, p in self.named_parameters() if not name.startswith("head_")]
        if not (
            self._fused_mse(x, loss)
            and torch.is_grad_enabled()
            and any(t.requires_grad for t in (x, *recurrent))
        ):
            return per_model_loss(self(x), y, loss)
        relu, inputs = self.nonlinearity == "relu", x
        for layer in range(self.num_layers - 1):
            inputs = fused.run_layer(self.cell, inputs, *self.cell_params(layer), relu, True)
        top = self.cell_params(self.num_layers - 1)
        return fused.last_state_loss(
            self.cell, inputs, *top, relu, self.head_weight, self.head_bias, y
        )

    def _fused_mse(self, x, loss: str) -> bool:
        return (
            self.backend == "fused"
            and loss == "mse"
            and x.device.type == "cpu"
            and x.dtype in (torch.float32, torch.float64)
        )

    def can_step_directly(self, x, loss: str) -> bool:
        """Whether ``mse_gradients`` applies: the fused backend (its kernel built), a mean
        squared error, one layer and inputs that need no gradient. (Without the kernel,
        ``losses`` raises the error that says why.)"""
        return (
            self._fused_mse(x, loss)
            and self.num_layers == 1
            and not x.requires_grad
            and fused.load() is not None
        )

    @torch.no_grad()
    def mse_gradients(self, x, y, scale=None):
        """A training step's losses and gradients without autograd (``can_step_directly``):
        each model's mean squared error (K,), its gradients written into the parameters'
        ``.grad``, in place where one exists (so Adam's flat buffer stays). ``scale`` (K,): each
        seed's gradients times it (0 masks a diverged seed, as masking its loss does); None: 1.
        The same kernel call as ``losses`` and backward without the autograd graph, its node
        and the gradients' accumulation: about 0.4 ms of a minibatch step (tests check the
        two agree bit for bit)."""
        params = [*self.layer_params(0), self.head_weight, self.head_bias]
        relu = self.nonlinearity == "relu"
        cell = self.cell_params(0)
        losses, _, *grads = fused.train_last(self.cell, x, *cell, relu, *params[4:], y, False)
        if cell[1] is not params[1]:  # a diagonal W_hh: its gradient is the diagonal's
            grads[1] = torch.diagonal(grads[1], dim1=1, dim2=2).contiguous()
        for p, grad in zip(params, grads, strict=True):
            if scale is not None:
                grad.mul_(scale.view(-1, *[1] * (grad.dim() - 1)))
            if p.grad is None:
                p.grad = grad
            else:
                p.grad.copy_(grad)
        return losses

    def head(self, last):
        """The linear head on the last states (K, H, N) -> outputs (K, N, O)."""
        out = torch.baddbmm(self.head_bias.unsqueeze(-1), self.head_weight, last)  # (K, O, N)
        return out.transpose(1, 2)

    def _autograd_layer(self, x, w_ih, w_hh, b_ih, b_hh):
        """One layer as a Python loop under autograd, x (K, I, T, N) -> T states (K, H, N) and,
        for the LSTM, T cell states: the reference that the hand-written BPTT must equal."""
        n_models, _, steps, batch = x.shape
        hidden = self.hidden_size
        xp = torch.bmm(w_ih, x.flatten(2)).view(n_models, -1, steps, batch)  # (K, GH, T, N)
        if self.cell == "gru":  # b_hn stays inside r * (W_hn h + b_hn), as in torch
            folded = b_ih + torch.cat(
                [b_hh[:, : 2 * hidden], torch.zeros_like(b_hh[:, :hidden])], 1
            )
            b_hn = b_hh[:, 2 * hidden :].unsqueeze(-1)  # (K, H, 1)
        else:
            folded, b_hn = b_ih + b_hh, None
        xp = xp + folded[:, :, None, None]
        h = x.new_zeros(n_models, hidden, batch)  # (K, H, N)
        c = torch.zeros_like(h)
        relu = self.nonlinearity == "relu"
        states, cells = [], []
        # unbind once: indexing xp[:, :, t] in the loop makes backward O(T^2)
        step = STEPS[self.cell]
        for xp_t in xp.unbind(2):
            if self.cell == "lstm":
                h, c = step(xp_t, h, c, w_hh)
                cells.append(c)
            else:
                h = step(xp_t, h, w_hh, relu if self.cell == "rnn" else b_hn)
            states.append(h)
        return states, cells


def to_model_layout(x: torch.Tensor) -> torch.Tensor:
    """(K, N, T, I) -> (K, I, T, N), contiguous: the layout ``StackedRecurrentNet`` reads."""
    return x.permute(0, 3, 2, 1).contiguous()


def per_sample_loss(out, y, loss: str):
    """Loss of every sample of each of the K models: out (K, N, O), y (K, N, O) or labels (K, N)
    -> (K, N)."""
    if loss == "mse":
        return (out - y).pow(2).mean(dim=2)
    n_models, batch, n_classes = out.shape
    ce = F.cross_entropy(out.reshape(-1, n_classes), y.reshape(-1), reduction="none")
    return ce.view(n_models, batch)


def per_model_loss(out, y, loss: str):
    """Mean loss of each of the K models: (K, N, O) and targets -> (K,)."""
    return per_sample_loss(out, y, loss).mean(dim=1)


def accuracy(out, labels):
    """Fraction of correct argmax predictions per model: out (K, N, C), labels (K, N) -> (K,)."""
    return (out.argmax(dim=2) == labels).to(out.dtype).mean(dim=1)


def stack_data(datasets: list[dict], split: str, device, dtype):
    """K datasets -> inputs (K, I, T, N) and targets (K, N, O) or labels (K, N)."""
    x = torch.as_tensor(np.stack([d[f"x_{split}"] for d in datasets]), dtype=dtype)
    y = torch.as_tensor(np.stack([d[f"y_{split}"] for d in datasets]))
    y = y.to(dtype) if y.is_floating_point() else y
    return to_model_layout(x).to(device), y.to(device)
