"""Initialisations that are remedies for short memory (config ``model.init``), applied to a
torch.nn network right after torch's own initialisation under the seed. Each changes only the
tensors it names; every other weight stays torch's.

- ``default``: torch's uniform(-1/sqrt(H), 1/sqrt(H)) for every tensor.
- ``orthogonal``: each gate block of W_hh a random orthogonal matrix (Saxe et al. 2014): no
  direction of the state is shrunk or stretched by the recurrent matrix at the start.
- ``identity``: the IRNN of Le et al. (2015): a ReLU Elman network with W_hh = I and zero
  biases, so the state is carried unchanged until learning says otherwise. Applies to
  the RNN only (the config check asks for nonlinearity relu); GRU and LSTM keep torch's init.
- ``chrono``: Tallec & Ollivier (2018): gate biases drawn so that the characteristic
  forgetting times are spread over 1..T_max - 1: LSTM forget bias b_f = log(u), input bias
  b_i = -b_f; GRU update-gate bias b_z = log(u) (z keeps the old state in torch's GRU), with
  u ~ U(1, T_max - 1) and T_max the sequence length. Applies to GRU and LSTM; the RNN keeps
  torch's init.

Which init applies to which arch is the arch's record (``archs.Arch.inits``).
"""

from __future__ import annotations

import torch

from rnnmemory.core.archs import ARCH_RECORDS

INITS = ("default", "orthogonal", "identity", "chrono")


def _generator(seed: int, name: str) -> torch.Generator:
    """A stream of its own per (seed, init): torch's global stream stays as nn drew it."""
    return torch.Generator().manual_seed(seed * 1_000_003 + INITS.index(name))


def _orthogonal(size: int, gen: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(size, size, generator=gen, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).float()  # Haar-distributed (Mezzadri 2007)


def applied_init(name: str, arch: str) -> str:
    """The init an arch really gets: ``name``, or 'default' where it does not apply."""
    return name if name in ARCH_RECORDS[arch].inits else "default"


def apply_init(net, arch: str, name: str, seed: int, seq_len: int) -> str:
    """Apply init ``name`` to ``net`` (a ``models.TorchNet``) in place; return the init that
    was applied to this arch ('default' where ``name`` does not apply to it)."""
    if applied_init(name, arch) == "default":
        return "default"
    rnn, hidden = net.rnn, net.rnn.hidden_size
    gen = _generator(seed, name)
    with torch.no_grad():
        for layer in range(rnn.num_layers):
            w_hh = getattr(rnn, f"weight_hh_l{layer}")  # (G*H, H)
            b_ih, b_hh = getattr(rnn, f"bias_ih_l{layer}"), getattr(rnn, f"bias_hh_l{layer}")
            if name == "orthogonal":
                for block in range(w_hh.shape[0] // hidden):
                    w_hh[block * hidden : (block + 1) * hidden] = _orthogonal(hidden, gen)
            elif name == "identity":
                w_hh.copy_(torch.eye(hidden))
                b_ih.zero_()
                b_hh.zero_()
            elif name == "chrono":
                times = 1 + (max(seq_len, 3) - 2) * torch.rand(hidden, generator=gen)
                bias = torch.log(times)  # u ~ U(1, T_max - 1)
                # torch's gate order: LSTM (i, f, g, o), GRU (r, z, n); b_hh's part set to 0
                keep = slice(hidden, 2 * hidden)
                b_ih[keep], b_hh[keep] = bias, 0.0
                if ARCH_RECORDS[arch].cell == "lstm":
                    b_ih[:hidden], b_hh[:hidden] = -bias, 0.0
    return name
