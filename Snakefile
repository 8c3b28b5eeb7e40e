"""How far back can a vanilla RNN, a GRU and an LSTM remember? Entry point of the study."""

import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

# the study's library (torch-free parts only here: tasks, archs, config checks, paths)
sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))


from rnnmemory.config import check_config, check_cuda, coerce_cli_types


configfile: "config.yaml"


# reject a bad config before any job starts, naming each bad key and what is allowed
coerce_cli_types(config)  # --config seeds="[0,1]" arrives as strings
check_config(config)
validate(config, "workflow/schemas/config.schema.yaml")  # fills in the defaults
if config["device"] == "cuda" and workflow.local_exec and workflow.is_main_process:
    check_cuda(sys.executable)  # on a cluster the train job checks its own node


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
