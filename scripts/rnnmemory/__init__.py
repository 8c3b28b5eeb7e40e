"""How far back can an RNN, a GRU and an LSTM remember? The study's library.

Pure functions and small classes: tasks, models, training, tables, plots. Nothing here knows
about Snakemake; ``tasks``, ``config`` and ``paths`` import no torch, so the workflow can use them.
"""
