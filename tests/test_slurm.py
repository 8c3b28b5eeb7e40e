"""The tiny study on a real single-node SLURM cluster (loopback, Debian's packages), through
`snakemake --profile profiles/slurm`. Runs in CI (root, packages installed by .ci/run);
elsewhere it is skipped with the reason."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from helpers import ROOT, TINY, copy_project, load_yaml, runs_without_timing, snakemake

pytestmark = pytest.mark.slow  # `make test` runs a file on one xdist worker: one cluster

CLUSTER = ROOT / "tests" / "slurm" / "cluster.sh"
# poll the test cluster often: jobs here take seconds, not hours
FAST_POLLING = [
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--seconds-between-status-checks",
    "2",
]
NEEDED = ["slurmctld", "slurmd", "munged", "sbatch", "squeue", "scancel", "sinfo"]


def why_not():
    if os.geteuid() != 0:
        return "needs root to start munged, slurmctld and slurmd"
    missing = [tool for tool in NEEDED if shutil.which(tool) is None]
    if missing:
        return f"SLURM is not installed (missing {', '.join(missing)}); .ci/run installs it"
    return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = why_not()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the SLURM test must run in CI: {reason}")
        pytest.skip(reason)
    state = Path("/tmp/rnnmemory-slurm-test")  # short path: munged checks every parent directory
    up = subprocess.run(["bash", CLUSTER, "up", state], capture_output=True, text=True)
    if up.returncode == 3:  # someone else's SLURM config is in place
        pytest.skip(up.stderr.strip())
    assert up.returncode == 0, up.stdout + up.stderr
    env = dict(os.environ, SLURM_CONF=str(state / "slurm.conf"))
    yield env
    subprocess.run(["bash", CLUSTER, "down", state], capture_output=True)


def test_bring_up_is_idempotent(cluster):
    state = Path(cluster["SLURM_CONF"]).parent
    pids = {p: p.read_text() for p in state.rglob("*.pid")}
    again = subprocess.run(["bash", CLUSTER, "up", state], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert {p: p.read_text() for p in state.rglob("*.pid")} == pids  # same daemons kept


def test_tiny_study_on_slurm_equals_a_local_run(cluster, tmp_path, tiny_study):
    """One task of the tiny study (each cell's runs do not depend on the others): every job
    a SLURM job, and the same runs as the local tiny study's rows of that task."""
    slurm_dir = copy_project(tmp_path / "slurm")
    proc = snakemake(
        slurm_dir,
        "--profile",
        "profiles/slurm",
        "--configfile",
        "tests/tiny.yaml",
        *FAST_POLLING,
        "--config",
        "tasks=[first_plus_last]",
        env=cluster,
    )
    # every train job went through SLURM: one submission with its SLURM job id per cell
    submitted = re.findall(
        r"has been submitted with SLURM jobid (\d+) \(log: \S+/rule_train_cell/(\w+)/",
        proc.stdout + proc.stderr,
    )
    assert len({cell for _, cell in submitted}) == 2 * 2
    assert len({job_id for job_id, _ in submitted}) == len(submitted)

    local = runs_without_timing(tiny_study)
    local = local[local["task"] == "first_plus_last"].reset_index(drop=True)
    pd.testing.assert_frame_equal(runs_without_timing(slurm_dir), local, check_exact=True)


def test_failing_train_job_is_retried_and_reported_with_its_log(cluster, tmp_path):
    """device: cuda on a CPU-only node: the check is left to the job on a cluster, so the train
    job fails on the node; it is resubmitted, then the terminal names its log and error. One
    retry here (each costs ~40 s of status polling); the profile's own count is checked too."""
    assert load_yaml("profiles/slurm/config.yaml")["retries"] == 2
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this node has CUDA, so the job would not fail")
    workdir = copy_project(tmp_path)
    proc = snakemake(
        workdir,
        "--profile",
        "profiles/slurm",
        "--configfile",
        "tests/tiny.yaml",
        *FAST_POLLING,
        "--config",
        "device=cuda",
        "tasks=[first_plus_last]",
        "archs=[rnn]",
        "seq_lens=[5]",
        "--retries",
        "1",
        env=cluster,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    attempts = re.findall(r"submitted with SLURM jobid \d+ \(log: \S+/rule_train_cell/", output)
    assert len(attempts) == 2  # the first try and one retry
    assert len(list((workdir / ".snakemake/slurm_logs/rule_train_cell").rglob("*.log"))) == 2
    assert f"log {TINY}/logs/train/base/first_plus_last/rnn/T5.log: " in output
    log = (workdir / TINY / "logs/train/base/first_plus_last/rnn/T5.log").read_text()
    assert "torch sees no CUDA device" in log + output
