"""How far back can a vanilla RNN, a GRU and an LSTM remember? Entry point of the study."""

import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

# the study's library (torch-free parts only here: tasks, archs, config checks, paths)
sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        tables=all_tables(),
        figures=all_figures(),
