"""How far back can an RNN, a GRU and an LSTM remember? The study's library, in the order
the pipeline runs (each floor imports only the ones before it):

- ``core``: the study's definition and plumbing, torch-free (the registries of tasks, archs,
  tables, figures and probes; config checks; paths; files; provenance; the code hash). The
  only floor the Snakefile imports.
- ``training``: models, backward passes (BPTT, the fused C++ kernel), inits, optimisers, the
  trainer of one cell.
- ``probing``: probes of trained networks, without retraining.
- ``analysis``: tables, the memory horizon T50, paired comparisons (core only; no torch).
- ``report``: the first page, figures and docs (analysis and core; no torch).

Nothing here knows about Snakemake: thin scripts in scripts/*.py read the ``snakemake`` object
and call these functions.
"""
