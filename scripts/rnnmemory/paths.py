"""Every output path of the study, built in one place (templates filled by Snakemake wildcards
or by ``str.format``). All outputs live under ``results/``."""

RESULTS = "results"
DATASET = RESULTS + "/data/{variant}/{task}/T{seq_len}/seed{seed}.npz"
RUN_DIR = RESULTS + "/runs/{variant}/{task}/{arch}/T{seq_len}/seed{seed}"
RUN_FILES = {
    "metrics": RUN_DIR + "/metrics.json",
    "history": RUN_DIR + "/history.csv",  # learning curve
    "gradients": RUN_DIR + "/gradients.csv",  # norms of dL/dh_t, dL/dx_t at init and trained
    "lengths": RUN_DIR + "/lengths.csv",  # loss at other sequence lengths
    "predictions": RUN_DIR + "/predictions.csv",  # predicted vs true, first test sequences
    "model": RUN_DIR + "/model.pt",
}
TABLE = RESULTS + "/tables/{name}.{ext}"
TABLE_NAMES = (
    "runs", "summary", "history", "critical_length", "gradients", "lengths", "predictions",
)  # fmt: skip
HEADLINE = RESULTS + "/report/headline.rst"  # the report's first page, written from the tables
TABLE_FORMATS = ("csv", "parquet")
FIGURE = RESULTS + "/figures/{variant}/{task}/{figure}.{ext}"
COMPARISON = RESULTS + "/figures/variants/{task}.{ext}"  # every variant side by side
FIGURE_FORMATS = ("png", "svg")
LOG = RESULTS + "/logs/{rule}/{name}.log"
JOB_BENCHMARK = RESULTS + "/benchmarks/jobs/{rule}/{name}.tsv"  # Snakemake's wall time, peak RSS
