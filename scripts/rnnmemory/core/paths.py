"""Every output path of a study, built in one place. All outputs of a study live under its
``results_dir`` (config key, default ``results``), so studies run side by side in one checkout
without touching each other's files. Paths are templates, filled by Snakemake wildcards or by
``str.format``."""

from __future__ import annotations

from rnnmemory.core.registry import TRAIN_FILES

# sub-folders of a results_dir; a study's results_dir must not be named like one of them
SUBFOLDERS = ("data", "runs", "probes", "tables", "figures", "report", "logs", "benchmarks")


class StudyPaths:
    def __init__(self, results_dir: str = "results"):
        root = self.root = str(results_dir).rstrip("/") or "."
        cell = "{variant}/{task}/{arch}/T{seq_len}"
        # every seed of a (variant, task, seq_len) in one file, shared by all archs
        self.dataset = root + "/data/{variant}/{task}/T{seq_len}.npz"
        self.run_dir = f"{root}/runs/{cell}"
        self.probe = root + "/probes/{variant}/{task}/{arch}/{probe}.csv"
        self.table = root + "/tables/{name}.{ext}"
        self.table_html = root + "/report/tables/{name}.html"  # the report's view of a table
        self.headline = root + "/report/headline.rst"  # the report's first page
        # file names carry task and variant: the report links results by file name
        self.figure = root + "/figures/{variant}/{task}/{figure}-{task}-{variant}.{ext}"
        self.comparison = root + "/figures/variants/{figure}-{task}.{ext}"
        self.report = root + "/report.html"
        self.log = root + "/logs/{rule}/{name}.log"
        self.job_benchmark = root + "/benchmarks/jobs/{rule}/{name}.tsv"  # wall time, peak RSS
        self.cell_name = cell

    def run_file(self, kind: str) -> str:
        """Template of one training output (``registry.TRAIN_FILES``) of a cell."""
        return f"{self.run_dir}/{TRAIN_FILES[kind]}"

    def table_file(self, name: str, ext: str = "parquet") -> str:
        return self.table.format(name=name, ext=ext)
