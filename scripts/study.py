"""`make study`: run a study with Snakemake, then build its HTML report if a result is newer.

    python scripts/study.py [snakemake arguments, e.g. --cores 4 --configfile studies/knobs.yaml]

- The report is rebuilt only when it is missing or older than a table, figure or the first
  page (a rerun with nothing to do costs a second, not the ~20 s of `snakemake --report`).
- Ctrl-C ends with one line that says how to resume (Snakemake's own traceback goes to its
  log in .snakemake/log/); a rerun of the same command finishes the rest.
- The terminal stays short: Snakemake's plan (job counts), one line per finished train job
  with the progress count ("[ 37/152] trained base/first_plus_last/gru/T50: 14/20 seeds
  solved, 42 s"), progress every 10 %, and every warning or error in full. Snakemake's own
  per-job lines stay in its log (.snakemake/log/).
- A lock left by a hard-killed run is cleared first (scripts/clear_stale_lock.py).
"""

from __future__ import annotations

import io
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import yaml
from snakemake.cli import get_argument_parser, parse_config

from rnnmemory.core.io import read_json, write_json
from rnnmemory.core.provenance import run_record

ROOT = Path(__file__).resolve().parents[1]


def results_dir(args: list[str]) -> Path:
    """The study's results_dir as Snakemake will see it: config.yaml, then each --configfile,
    then --config results_dir=..., read with Snakemake's own argument parser."""
    options, _ = get_argument_parser().parse_known_args(args)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for path in options.configfile or []:
        config.update(yaml.safe_load(Path(path).read_text()) or {})
    config.update(parse_config(options.config))
    return Path(config.get("results_dir", "results"))


def report_is_stale(results: Path) -> bool:
    report = results / "report.html"
    if not report.exists():
        return True
    built = report.stat().st_mtime
    sources = [p for d in ("tables", "figures", "report") for p in (results / d).rglob("*")]
    return any(p.is_file() and p.stat().st_mtime > built for p in sources)


def record_run(results: Path, args: list[str], seconds: float) -> None:
    """Add this invocation to results/benchmarks/study.json: the commit, the machine and the
    wall time that docs/results.md names for the study's numbers. Every invocation that ran
    jobs adds up (a resumed run, a rerun of a figure, one that failed half way): the wall time
    is what the study's results cost, and ``commits`` lists every commit that wrote some."""
    path = results / "benchmarks" / "study.json"
    previous = read_json(path) if path.exists() else {}
    record = run_record(shlex.join(["scripts/study.py", *args]), seconds)  # what `make study` runs
    record.update(
        wall_seconds=seconds + previous.get("wall_seconds", 0),
        invocations=1 + previous.get("invocations", 0),
        commits=sorted({*previous.get("commits", []), record["commit"][:10]}),
    )
    write_json(record, path)  # atomic: an interrupted write leaves the old record


# Snakemake's per-job chatter, kept in its log but not shown
NOISE = re.compile(
    r"^(Select jobs to execute\.\.\.|Execute \d+ jobs\.\.\.|\[\w{3} \w{3} .*\d{4}\]|"
    r"Finished jobid: .*|Using shell: .*|Provided cores: .*|Rules claiming more threads.*|"
    r"Conda environments: ignored|Assuming unrestricted shared filesystem usage\.|"
    r"Building DAG of jobs\.\.\.|Using workflow specific profile .*|Complete log\(s\): .*|"
    r"Config file .* is extended by additional config .*|host: .*)$"
)
PROGRESS = re.compile(r"^(\d+) of (\d+) steps \((\d+)%\) done$")
PLANNED = re.compile(r"^total\s+(\d+)$")  # the last row of Snakemake's job table
FAILED_JOB = re.compile(r"^Error in rule \w+:$")


class Terminal:
    """Filters Snakemake's output into the short form described at the top."""

    def __init__(self, out=sys.stdout):
        self.out, self.done, self.total, self.shown, self.failed = out, 0, 0, -1, 0

    @property
    def ran_jobs(self) -> bool:
        """Whether any job ran to its end, finished or failed (else nothing is to be recorded)."""
        return self.done > 0 or self.failed > 0

    def line(self, text: str) -> None:
        text = text.rstrip("\n")
        if (match := PLANNED.match(text)) and not self.total:
            self.total = int(match[1])  # known before the first job ends: no "[1/0]"
        self.failed += bool(FAILED_JOB.match(text))
        if match := PROGRESS.match(text):
            self.done, self.total = int(match[1]), int(match[2])
            decile = int(match[3]) // 10
            if decile > self.shown:  # every 10 %, and the end
                self.shown = decile
                self.out.write(f"[{self.done:>{len(match[2])}}/{self.total}] {match[3]}% done\n")
        elif text.startswith("trained "):
            width = len(str(self.total))
            self.out.write(f"[{self.done + 1:>{width}}/{self.total}] {text}\n")
        elif not NOISE.match(text):  # long lines (file lists of a failed job) cut short
            cut = (
                f" ... (+{len(text) - 240} characters: .snakemake/log/)" if len(text) > 300 else ""
            )
            self.out.write((text[:240] + cut if cut else text) + "\n")
        self.out.flush()


def print_answer(results: Path) -> None:
    """The memory horizon per task and arch (base variant), as the first page says it."""
    table = results / "tables" / "horizon.parquet"
    if not table.exists():  # a study made only in part (targets given)
        return
    import pandas as pd  # (here: a run that stops early never pays for it)

    from rnnmemory.report.headline import answer_lines

    print(f"memory horizon T50, 95% interval ({table.with_suffix('.csv')}):")
    for line in answer_lines(pd.read_parquet(table)):
        print(f"  {line}")


def run(cmd: list[str], terminal: Terminal | None = None) -> int:
    """Run a command, its output through ``terminal`` if given. It stays in this process group:
    Ctrl-C reaches it directly (Snakemake then stops its jobs and cleans up) and a kill of the
    group (a closed terminal, a killed job) ends it too, never leaving an orphan running."""
    pipe = subprocess.PIPE if terminal else None
    proc = subprocess.Popen(
        cmd, stdout=pipe, stderr=subprocess.STDOUT if terminal else None, text=True
    )
    try:
        if terminal:
            for text in proc.stdout:
                terminal.line(text)
        return proc.wait()
    except KeyboardInterrupt:
        try:
            proc.communicate(timeout=60)  # Snakemake got the same Ctrl-C; let it finish
        except subprocess.TimeoutExpired:
            proc.kill()
        raise


def main(args: list[str]) -> int:
    snakemake = [sys.executable, "-m", "snakemake"]
    subprocess.run([sys.executable, str(ROOT / "scripts" / "clear_stale_lock.py"), "."])
    results = results_dir(args)
    try:
        start = time.perf_counter()
        terminal = Terminal()
        code = run([*snakemake, *args], terminal)
        if "-n" in args or "--dry-run" in args:  # the plan only: nothing ran, no report
            return code
        if terminal.ran_jobs:  # not a rejected config, nor a run with nothing to do
            record_run(results, args, time.perf_counter() - start)
        if code != 0:
            return code
        if not report_is_stale(results):
            print_answer(results)
            print(f"report up to date: {results / 'report.html'}")
            return 0
        print(f"building the report {results / 'report.html'} ...", flush=True)
        output = io.StringIO()
        code = run([*snakemake, *args, "--report", str(results / "report.html")], Terminal(output))
        if code == 0:
            print_answer(results)
        print(f"report: {results / 'report.html'}" if code == 0 else output.getvalue())
        return code
    except KeyboardInterrupt:
        print(f"\nstopped; finished cells are kept. Resume with: {resume_command(args)}",
              file=sys.stderr)  # fmt: skip
        return 130


def resume_command(args: list[str]) -> str:
    """The `make study` command that reruns these arguments, without the --cores the Makefile
    adds itself, in double quotes a shell takes as they are."""
    if len(args) >= 2 and args[0] == "--cores":
        args = args[2:]
    inner = shlex.join(args)
    if not args:
        return "make study"
    if not any(c in inner for c in '"$`\\'):
        return f'make study ARGS="{inner}"'
    return shlex.join(["make", "study", f"ARGS={inner}"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
