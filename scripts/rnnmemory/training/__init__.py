"""Training: the recurrent networks (models), their backward passes (hand-written BPTT, the
fused C++ kernel in csrc/ and its build cache), the initialisations, the optimisers, the trainer
of one cell, model files and the process settings of a train job. Imports core only; this
__init__ imports nothing (the Snakefile imports kernelcache without torch)."""
