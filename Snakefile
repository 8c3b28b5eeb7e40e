"""How far back can a vanilla RNN, a GRU and an LSTM remember? Entry point of the study."""

import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

# the study's library (torch-free parts only here: tasks, archs, config checks, paths)
sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))


from rnnmemory.core.config import check_config, check_cuda, coerce_cli_types
from rnnmemory.training.kernelcache import clear_failed_builds


# the project's config.yaml, also when Snakemake runs in another directory (-d)
configfile: str(Path(workflow.basedir) / "config.yaml")


# reject a bad config before any job starts, naming every problem at once
SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
coerce_cli_types(config, SCHEMA)  # --config seeds="[0,1]" arrives as strings
check_config(config, SCHEMA)
validate(config, str(SCHEMA))  # fills in the defaults


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


onstart:
    # a kernel build that failed in an earlier invocation (out of memory, a full disk) is
    # tried again by this one's first train job (kernelcache.py)
    clear_failed_builds()
    # the executor is known only now; on a cluster each train job checks its own node instead
    if (
        config["device"] == "cuda"
        and workflow.executor_plugin.common_settings.local_exec
    ):
        check_cuda(sys.executable)


onerror:
    # the profile's `quiet: rules` also hides Snakemake's error block: name each failed job,
    # its log and the log's last line (the error) here, for local and cluster runs alike
    for line in failed_job_lines(getattr(workflow.scheduler, "failed", ())):
        print(line, file=sys.stderr)


# every file is a target, so a deleted one (a damaged dataset or run file) is rebuilt
rule all:
    default_target: True
    input:
        datasets=all_datasets(),
        runs=[per_cell(P.run_file(kind)) for kind in TRAIN_FILES],
        probes=all_probes(PROBES),
        tables=all_tables(),
        tables_html=expand(
            P.table_html, name=[n for n, t in TABLES.items() if t.in_report]
        ),
        figures=all_figures(),
        headline=P.headline,
