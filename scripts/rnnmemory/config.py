"""Checks of a study config beyond its JSON schema: names from the registries and rules that
tie keys together. Each message names the key and what is allowed. Imports no torch."""

from __future__ import annotations

from .archs import ARCHS
from .tasks import TASKS


class ConfigError(ValueError):
    """A config value that the study cannot run with."""


def check_config(config: dict) -> None:
    """Raise ``ConfigError`` listing every problem found in an already schema-validated config."""
    problems = []
    for key in ("tasks", "archs", "seq_lens", "seeds"):
        values = config.get(key) or []
        if not values:
            problems.append(f"{key}: must list at least one value")
        duplicates = sorted({v for v in values if values.count(v) > 1}, key=str)
        if duplicates:
            problems.append(f"{key}: duplicate values {duplicates}; list each once")
    for task in config.get("tasks") or []:
        if task not in TASKS:
            problems.append(f"tasks: unknown task {task!r}; allowed: {', '.join(TASKS)}")
            continue
        too_short = [t for t in config.get("seq_lens") or [] if t < TASKS[task].min_seq_len]
        if too_short:
            problems.append(
                f"seq_lens: {too_short} too short for task {task!r}, "
                f"which needs seq_len >= {TASKS[task].min_seq_len}"
            )
    for arch in config.get("archs") or []:
        if arch not in ARCHS:
            problems.append(f"archs: unknown arch {arch!r}; allowed: {', '.join(ARCHS)}")
    for task, params in (config.get("task_params") or {}).items():
        if task not in TASKS:
            problems.append(f"task_params: unknown task {task!r}; allowed: {', '.join(TASKS)}")
            continue
        unknown = sorted(set(params or {}) - set(TASKS[task].params))
        if unknown:
            allowed = ", ".join(TASKS[task].params) or "none"
            problems.append(f"task_params.{task}: unknown key(s) {unknown}; allowed: {allowed}")
    lag = ((config.get("task_params") or {}).get("recent_plus_last") or {}).get("lag", 5)
    if "recent_plus_last" in (config.get("tasks") or []):
        short = [t for t in config.get("seq_lens") or [] if t < lag]
        if short:
            problems.append(
                f"seq_lens: {short} shorter than task_params.recent_plus_last.lag = {lag}"
            )
    if problems:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(problems))
