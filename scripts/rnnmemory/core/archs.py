"""The architecture registry (torch-free, so the workflow can validate names and size jobs).

One record per arch says everything the pipeline needs to know about it: its gate blocks and
recurrent weight's shape, which *cell* computes it, its reference module, which model options
and inits apply, and its relative cost. A cell is a recurrence the trainer implements three
ways (autograd step in models.py, hand-written BPTT in bptt.py, the C++ kernel in csrc/):
rnn, gru and lstm. An arch is a cell with a parametrisation: IndRNN is the rnn cell with a
diagonal recurrent matrix, so it runs on every path of the rnn cell, and its reference, an
independent plain loop (reference.IndRNN), checks that the parametrisation is right. Adding an
arch of an existing cell is one record here plus its reference module (if torch.nn has none)
and its init; ``CELLS`` is what csrc/ reads (fused.py generates the header from it).

Parameter counting is here too, for 'fair arms' (every arch sized to about the same number
of parameters).
"""

from dataclasses import dataclass

# the recurrences the trainer computes, in the kernel's id order, with their gate blocks
CELLS = {"rnn": 1, "gru": 3, "lstm": 4}


@dataclass(frozen=True)
class Arch:
    cell: str  # which recurrence computes it (CELLS)
    recurrent: str  # "matrix": W_hh (G*H, H) as torch.nn; "diagonal": one weight per unit (G*H,)
    reference: str  # dotted path of the module it equals (outputs and gradients, tested)
    cost: float  # CPU time per step relative to the RNN (sizes a cluster job's time request)
    options: tuple[str, ...]  # model settings that apply to it (others are ignored, recorded None)
    inits: tuple[str, ...]  # model.init values that apply (any other leaves it at 'default')
    description: str

    @property
    def gates(self) -> int:
        """Gate blocks stacked in W_ih and W_hh (torch.nn's layout)."""
        return CELLS[self.cell]


ARCH_RECORDS = {
    "rnn": Arch(
        cell="rnn", recurrent="matrix", reference="torch.nn.RNN", cost=1.0,
        options=("nonlinearity",), inits=("default", "orthogonal", "identity"),
        description="Elman network, tanh or relu",
    ),
    "gru": Arch(
        cell="gru", recurrent="matrix", reference="torch.nn.GRU", cost=3.0,
        options=(), inits=("default", "orthogonal", "chrono"),
        description="gated recurrent unit (Cho et al. 2014)",
    ),
    "lstm": Arch(
        cell="lstm", recurrent="matrix", reference="torch.nn.LSTM", cost=3.0,
        options=("lstm_forget_bias",), inits=("default", "orthogonal", "chrono"),
        description="long short-term memory (Hochreiter & Schmidhuber 1997)",
    ),
    "indrnn": Arch(
        cell="rnn", recurrent="diagonal", reference="rnnmemory.training.reference.IndRNN",
        cost=1.0, options=("nonlinearity",), inits=("default",),
        description="independently recurrent network, h' = act(W x + u * h + b) (Li et al. 2018)",
    ),
}  # fmt: skip
ARCHS = tuple(ARCH_RECORDS)


def recurrent_columns(arch: str, hidden_size: int) -> int:
    """Weights per row of W_hh: H for a full matrix, 1 for a diagonal one."""
    return hidden_size if ARCH_RECORDS[arch].recurrent == "matrix" else 1


def param_count(arch, hidden_size, input_size, output_size, num_layers=1) -> int:
    """Parameters of the recurrent layers plus a linear head: each layer has G gate blocks of
    W_ih (H x I_l), W_hh (H x H, or H for a diagonal one), b_ih and b_hh (H each); the head O x H
    weights, O biases."""
    hh = recurrent_columns(arch, hidden_size)
    recurrent = sum(
        ARCH_RECORDS[arch].gates
        * hidden_size
        * ((input_size if layer == 0 else hidden_size) + hh + 2)
        for layer in range(num_layers)
    )
    return recurrent + output_size * (hidden_size + 1)


def matched_hidden_size(arch, reference, hidden_size, input_size, output_size, num_layers=1):
    """The hidden size at which ``arch`` has the parameter count closest to that of
    ``reference`` at ``hidden_size`` (the smaller size on a tie)."""
    shape = dict(input_size=input_size, output_size=output_size, num_layers=num_layers)
    target = param_count(reference, hidden_size, **shape)
    # a diagonal arch grows linearly in H: it may need up to ~G H^2 units to match
    ceiling = 4 * hidden_size * ARCH_RECORDS[reference].gates + 2
    if ARCH_RECORDS[arch].recurrent == "diagonal":
        ceiling = max(ceiling, target + 2)
    return min(range(1, ceiling), key=lambda h: (abs(param_count(arch, h, **shape) - target), h))
