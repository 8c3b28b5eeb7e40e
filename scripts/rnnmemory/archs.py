"""The architecture registry (torch-free, so the workflow can validate names and size jobs):
one record per arch, and parameter counting for 'fair arms' (every arch sized to about the same
number of parameters). The torch side of an arch, its step and its BPTT layer, is registered
under the same name in ``models.STEPS`` and ``bptt.LAYERS`` (a test checks they agree)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Arch:
    gates: int  # gate blocks stacked in W_ih and W_hh (torch.nn's layout)
    torch_class: str  # the torch.nn module it equals
    cost: float  # CPU time per step relative to the RNN (sizes a cluster job's time request)
    description: str


ARCH_RECORDS = {
    "rnn": Arch(1, "RNN", 1.0, "Elman network, tanh or relu"),
    "gru": Arch(3, "GRU", 3.0, "gated recurrent unit (Cho et al. 2014)"),
    "lstm": Arch(4, "LSTM", 3.0, "long short-term memory (Hochreiter & Schmidhuber 1997)"),
}
ARCHS = tuple(ARCH_RECORDS)
GATES = {name: arch.gates for name, arch in ARCH_RECORDS.items()}


def param_count(arch, hidden_size, input_size, output_size, num_layers=1) -> int:
    """Parameters of torch.nn's RNN/GRU/LSTM plus a linear head: each layer has G gate blocks
    of W_ih (H x I_l), W_hh (H x H), b_ih and b_hh (H each); the head O x H weights, O biases."""
    recurrent = sum(
        GATES[arch] * hidden_size * ((input_size if layer == 0 else hidden_size) + hidden_size + 2)
        for layer in range(num_layers)
    )
    return recurrent + output_size * (hidden_size + 1)


def matched_hidden_size(arch, reference, hidden_size, input_size, output_size, num_layers=1):
    """The hidden size at which ``arch`` has the parameter count closest to that of
    ``reference`` at ``hidden_size`` (the smaller size on a tie)."""
    shape = dict(input_size=input_size, output_size=output_size, num_layers=num_layers)
    target = param_count(reference, hidden_size, **shape)
    sizes = range(1, 4 * hidden_size * GATES[reference] + 2)  # the RNN needs at most ~sqrt(G) H
    return min(sizes, key=lambda h: (abs(param_count(arch, h, **shape) - target), h))
