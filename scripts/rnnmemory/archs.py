"""The architecture registry (torch-free, so the workflow can validate names): each arch and
the number of gate blocks its recurrent weight matrices stack, and parameter counting for
'fair arms' (every arch sized to about the same number of parameters)."""

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
ARCHS = tuple(GATES)


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
