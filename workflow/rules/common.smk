"""Helpers shared by the rules: the study grid, each variant's settings and every path."""

from pathlib import Path
from types import SimpleNamespace

from rnnmemory.core.archs import ARCH_RECORDS
from rnnmemory.core.codehash import code_hash
from rnnmemory.core.config import variant_archs, variant_config, variant_names
from rnnmemory.core.paths import StudyPaths
from rnnmemory.core.figures import COMPARISONS, FIGURE_FORMATS, FIGURES, menu_title
from rnnmemory.core.registry import PROBES, TABLE_FORMATS, TABLES, TRAIN_FILES
from rnnmemory.core.tasks import task_params

P = StudyPaths(config["results_dir"])
VARIANTS = variant_names(config)
TASKS = config["tasks"]
ARCHS = config["archs"]
SEQ_LENS = config["seq_lens"]
SEEDS = config["seeds"]
VARIANT_ARCHS = {variant: variant_archs(config, variant) for variant in VARIANTS}
# every (variant, task, arch) row the study trains, at every seq_len: the cells
ROWS = [
    dict(variant=variant, task=task, arch=arch)
    for variant in VARIANTS
    for task in TASKS
    for arch in VARIANT_ARCHS[variant]
]
CELLS = [dict(row, seq_len=seq_len) for row in ROWS for seq_len in SEQ_LENS]


wildcard_constraints:
    variant="|".join(VARIANTS),
    task="|".join(TASKS),
    arch="|".join(ARCHS),
    seq_len=r"\d+",
    name="|".join(TABLES),


_CODE = {}


def code_of(script):
    """The hash of a rule's script and the library code it imports (codehash.py): a rule's
    param, so that an edit reruns exactly the jobs whose code changed."""
    if script not in _CODE:
        _CODE[script] = code_hash(Path(workflow.basedir) / "scripts" / script)
    return _CODE[script]


def params_of(wildcards):
    """The task's knobs: registry defaults, updated by task_params.<task> from the config."""
    return task_params(wildcards.task, config["task_params"].get(wildcards.task))


def setup_of(wildcards):
    """The variant's model, data and train settings (the base config's for 'base')."""
    return variant_config(config, wildcards.variant)


def data_of(wildcards):
    return setup_of(wildcards)["data"]


def data_variant(variant):
    """Whose datasets a variant trains on: its own if it changes data settings, else base's
    (the same sequences, drawn once)."""
    changes_data = variant != "base" and "data" in (config["variants"][variant] or {})
    return variant if changes_data else "base"


def dataset_of(wildcards, seq_len=None):
    return P.dataset.format(
        variant=data_variant(wildcards.variant),
        task=wildcards.task,
        seq_len=seq_len or wildcards.seq_len,
    )


def all_datasets():
    own = sorted({data_variant(variant) for variant in VARIANTS})
    return expand(P.dataset, variant=own, task=TASKS, seq_len=SEQ_LENS)


def per_cell(template, **fixed):
    return [template.format(**cell, **fixed) for cell in CELLS]


def row_models(wildcards):
    """Every sequence length's model of a (variant, task, arch): what its probe job reads."""
    cell = dict(variant=wildcards.variant, task=wildcards.task, arch=wildcards.arch)
    return expand(P.run_file("model"), **cell, seq_len=SEQ_LENS)


def row_datasets(wildcards):
    return [dataset_of(wildcards, seq_len) for seq_len in SEQ_LENS]


def all_probes(names):
    return [P.probe.format(**row, probe=name) for row in ROWS for name in names]


def all_tables():
    return expand(P.table, name=TABLES, ext=TABLE_FORMATS)


def all_figures():
    per_variant = expand(
        P.figure, variant=VARIANTS, task=TASKS, figure=FIGURES, ext=FIGURE_FORMATS
    )
    if len(VARIANTS) == 1:
        return per_variant
    return per_variant + expand(
        P.comparison, figure=COMPARISONS, task=TASKS, ext=FIGURE_FORMATS
    )


def train_work(wildcards):
    """A cell's training work: epochs x seq_len x seeds x samples x hidden^2, times the arch's
    relative cost (archs.ARCH_RECORDS); 1e5 of it takes about a minute at a pessimistic speed.
    """
    setup = setup_of(wildcards)
    work = setup["train"]["epochs"] * int(wildcards.seq_len) * len(SEEDS)
    work *= setup["data"]["n_train"] / 1000 * (setup["model"]["hidden_size"] / 10) ** 2
    return work * ARCH_RECORDS[wildcards.arch].cost


def train_runtime_minutes(wildcards):
    """An honest time request for a cluster's scheduler."""
    return 5 + int(train_work(wildcards) * 1e-5)


def train_priority(wildcards):
    """Longest cells first, so that the study does not end with one long cell running alone
    while the other cores idle."""
    return train_work(wildcards) * 1e-5


def data_priority(wildcards):
    """A dataset just before the longest cell that trains on it (see train_priority)."""
    cells = [
        SimpleNamespace(variant=row["variant"], task=row["task"], arch=row["arch"],
                        seq_len=wildcards.seq_len)
        for row in ROWS
        if data_variant(row["variant"]) == wildcards.variant and row["task"] == wildcards.task
    ]  # fmt: skip
    return 1 + max((train_priority(cell) for cell in cells), default=0)


def figure_outputs(registry, template, **fixed):
    """Every registered figure in every format of FIGURE_FORMATS, keyed name_ext; the PNG is
    the report's item (with its caption and menu entry)."""
    outputs = {}
    for name in registry:
        for ext in FIGURE_FORMATS:
            path = template.format(**fixed, figure=name, ext=ext)
            outputs[f"{name}_{ext}"] = (
                path
                if ext != "png"
                else report(
                    path,
                    caption=f"../report/figures/{name}.rst",
                    category="{task}",
                    subcategory=menu_title(name),
                    labels={"variant": fixed.get("variant", "all")},
                )
            )
    return outputs


def tables_of(registry):
    """Every table the registry's figures read (Parquet: typed columns)."""
    names = {table for figure in registry.values() for table in figure.tables}
    return {name: P.table_file(name) for name in sorted(names)}


def failed_job_lines(jobs):
    """One line per failed job: rule, wildcards, log file and the log's last line."""
    lines = []
    for job in sorted(jobs, key=str):
        where = "/".join(str(value) for value in job.wildcards)
        for log in job.log or ["(no log)"]:
            last = ""
            if Path(log).is_file():
                tail = Path(log).read_text(errors="replace").strip().splitlines()[-1:]
                last = f": {tail[0][:200]}" if tail else ""
            lines.append(f"failed {job.rule.name} {where}, log {log}{last}")
    return lines
