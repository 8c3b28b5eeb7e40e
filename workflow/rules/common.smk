"""Helpers shared by the rules: config checks, the study grid and every path, built once."""

from rnnmemory import paths
from rnnmemory.plots import FIGURES
from rnnmemory.tasks import task_params

TASKS = config["tasks"]
ARCHS = config["archs"]
SEQ_LENS = config["seq_lens"]
SEEDS = config["seeds"]


wildcard_constraints:
    task="|".join(TASKS),
    arch="|".join(ARCHS),
    seq_len=r"\d+",
    seed=r"\d+",
    figure="|".join(FIGURES),


def params_of(wildcards):
    """The task's knobs: registry defaults, updated by task_params.<task> from the config."""
    return task_params(wildcards.task, config["task_params"].get(wildcards.task))


def cell_datasets(wildcards):
    """Every seed's dataset of one (task, seq_len): a train job reads them all."""
    return expand(
        paths.DATASET, task=wildcards.task, seq_len=wildcards.seq_len, seed=SEEDS
    )


def cell_outputs(kind):
    """One output file of kind ``kind`` per seed of a (task, arch, seq_len) cell."""
    cell = dict(task="{task}", arch="{arch}", seq_len="{seq_len}")
    return [paths.RUN_FILES[kind].format(**cell, seed=seed) for seed in SEEDS]


def all_runs(kind):
    return expand(
        paths.RUN_FILES[kind], task=TASKS, arch=ARCHS, seq_len=SEQ_LENS, seed=SEEDS
    )


def all_datasets():
    return expand(paths.DATASET, task=TASKS, seq_len=SEQ_LENS, seed=SEEDS)


def table_paths(name):
    return expand(paths.TABLE, name=name, ext=paths.TABLE_FORMATS)


def all_tables():
    return expand(paths.TABLE, name=paths.TABLE_NAMES, ext=paths.TABLE_FORMATS)


def all_figures():
    return expand(paths.FIGURE, task=TASKS, figure=FIGURES, ext=paths.FIGURE_FORMATS)


def train_runtime_minutes(wildcards):
    """An honest time request: epochs x seq_len x seeds at a pessimistic CPU step cost."""
    work = config["train"]["epochs"] * int(wildcards.seq_len) * len(SEEDS)
    return 5 + int(work * 1e-5 * {"rnn": 1, "gru": 3, "lstm": 3}[wildcards.arch])
