"""The study's definition and its plumbing, torch- and matplotlib-free: the only part of the
library the Snakefile and the rules import. The registries (tasks with their generators,
architectures, tables, figures and probes), the config checks, the results' paths, atomic file
writing, provenance records and the code hash. Imports nothing else of rnnmemory."""
