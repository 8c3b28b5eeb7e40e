"""A cell's trained networks on disk: every seed's weights as plain torch.nn state dicts."""

from __future__ import annotations

import torch

from rnnmemory.core.io import atomic_path
from rnnmemory.training.models import StackedRecurrentNet
from rnnmemory.training.reference import TorchNet


def save_model(model: StackedRecurrentNet, seeds: list[int], path) -> None:
    """Every seed's network as torch.nn state dicts (``rnn`` and ``head``: they load into
    ``nn.RNN/GRU/LSTM`` and ``nn.Linear``), with the arch and layer sizes to rebuild them."""
    nets = [model.torch_net(k) for k in range(len(seeds))]
    state = {
        "arch": model.arch,
        "shape": model.shape,
        "seeds": list(seeds),
        "nets": [{"rnn": n.rnn.state_dict(), "head": n.head.state_dict()} for n in nets],
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_model(path) -> tuple[list[int], StackedRecurrentNet]:
    """The seeds and their stacked networks of a file written by ``save_model``."""
    try:
        state = torch.load(path, weights_only=True)
    except Exception as err:
        raise ValueError(f"{path}: unreadable model ({err}); delete it and rerun") from err
    nets = []
    for saved in state["nets"]:
        net = TorchNet(state["arch"], **state["shape"])
        net.rnn.load_state_dict(saved["rnn"])
        net.head.load_state_dict(saved["head"])
        nets.append(net)
    return state["seeds"], StackedRecurrentNet.from_torch_nets(nets, state["arch"])
