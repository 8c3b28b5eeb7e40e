"""Helpers shared by the rules: the study grid, each variant's settings and every path."""

from rnnmemory import paths
from rnnmemory.config import variant_config, variant_names
from rnnmemory.plots import FIGURES
from rnnmemory.tasks import task_params

VARIANTS = variant_names(config)
TASKS = config["tasks"]
ARCHS = config["archs"]
SEQ_LENS = config["seq_lens"]
SEEDS = config["seeds"]
GRID = dict(variant=VARIANTS, task=TASKS, arch=ARCHS, seq_len=SEQ_LENS, seed=SEEDS)


wildcard_constraints:
    variant="|".join(VARIANTS),
    task="|".join(TASKS),
    arch="|".join(ARCHS),
    seq_len=r"\d+",
    seed=r"\d+",
    figure="|".join(FIGURES),


def params_of(wildcards):
    """The task's knobs: registry defaults, updated by task_params.<task> from the config."""
    return task_params(wildcards.task, config["task_params"].get(wildcards.task))


def setup_of(wildcards):
    """The variant's model, data and train settings (the base config's for 'base')."""
    return variant_config(config, wildcards.variant)


def data_of(wildcards):
    return setup_of(wildcards)["data"]


def cell_datasets(wildcards):
    """Every seed's dataset of one (variant, task, seq_len): a train job reads them all."""
    cell = dict(
        variant=wildcards.variant, task=wildcards.task, seq_len=wildcards.seq_len
    )
    return expand(paths.DATASET, **cell, seed=SEEDS)


def cell_outputs(kind):
    """One output file of kind ``kind`` per seed of a (variant, task, arch, seq_len) cell."""
    cell = dict(variant="{variant}", task="{task}", arch="{arch}", seq_len="{seq_len}")
    return [paths.RUN_FILES[kind].format(**cell, seed=seed) for seed in SEEDS]


def all_runs(kind):
    return expand(paths.RUN_FILES[kind], **GRID)


def all_datasets():
    return expand(
        paths.DATASET, variant=VARIANTS, task=TASKS, seq_len=SEQ_LENS, seed=SEEDS
    )


def table_paths(name):
    return expand(paths.TABLE, name=name, ext=paths.TABLE_FORMATS)


def all_tables():
    return expand(paths.TABLE, name=paths.TABLE_NAMES, ext=paths.TABLE_FORMATS)


def all_figures():
    per_variant = expand(
        paths.FIGURE,
        variant=VARIANTS,
        task=TASKS,
        figure=FIGURES,
        ext=paths.FIGURE_FORMATS,
    )
    if len(VARIANTS) == 1:
        return per_variant
    return per_variant + expand(paths.COMPARISON, task=TASKS, ext=paths.FIGURE_FORMATS)


def train_runtime_minutes(wildcards):
    """An honest time request: epochs x seq_len x seeds x samples at a pessimistic CPU cost."""
    setup = setup_of(wildcards)
    work = setup["train"]["epochs"] * int(wildcards.seq_len) * len(SEEDS)
    work *= setup["data"]["n_train"] / 1000 * (setup["model"]["hidden_size"] / 10) ** 2
    return 5 + int(work * 1e-5 * {"rnn": 1, "gru": 3, "lstm": 3}[wildcards.arch])


def figure_tables():
    """The tables a figure is drawn from (Parquet: typed columns)."""
    return {
        name: paths.TABLE.format(name=name, ext="parquet") for name in paths.TABLE_NAMES
    }
