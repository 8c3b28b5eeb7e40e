"""The architecture registry (torch-free, so the workflow can validate names): each arch and
the number of gate blocks its recurrent weight matrices stack."""

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
ARCHS = tuple(GATES)
