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


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


onstart:
    # the executor is known only now; on a cluster each train job checks its own node instead
    if (
        config["device"] == "cuda"
        and workflow.executor_plugin.common_settings.local_exec
    ):
        check_cuda(sys.executable)


# every file is a target, so a deleted one (a damaged dataset or run file) is rebuilt
rule all:
    default_target: True
    input:
        datasets=all_datasets(),
        runs=[all_runs(kind) for kind in paths.RUN_FILES],
        tables=all_tables(),
        figures=all_figures(),
        headline=paths.HEADLINE,
