"""Checks of a study config beyond its JSON schema: names from the registries and rules that
tie keys together. Each message names the key and what is allowed. Imports no torch."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from .archs import ARCHS
from .tasks import TASKS

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


BASE = "base"  # the variant that is the config itself
VARIANT_SECTIONS = ("model", "data", "train")  # what a variant may change


class ConfigError(ValueError):
    """A config value that the study cannot run with."""


def load_schema(schema_path=SCHEMA) -> dict:
    return yaml.safe_load(Path(schema_path).read_text())


def _coerce(value, schema: dict):
    """A string where the schema wants a number, boolean or null, converted if it parses."""
    if isinstance(value, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, sub in value.items():
            sub_schema = props.get(key, extra if isinstance(extra, dict) else {})
            value[key] = _coerce(sub, sub_schema)
        return value
    if isinstance(value, list):
        return [_coerce(v, schema.get("items", {})) for v in value]
    if not isinstance(value, str):
        return value
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    for kind, parse in (("integer", int), ("number", float)):
        if kind in types:
            try:
                return parse(value)
            except ValueError:
                pass
    if "null" in types and value in ("null", "~", "None", ""):
        return None
    return value


def coerce_cli_types(config: dict, schema_path=SCHEMA) -> dict:
    """Snakemake's ``--config seeds="[0,1]"`` yields the strings '0' and '1' (it parses lists
    and dicts with YAML's BaseLoader). Convert such strings to what the schema asks for, so the
    documented overrides work; anything that does not parse is left for validation to reject.
    A variant's sections follow the base config's schema."""
    schema = load_schema(schema_path)
    _coerce(config, schema)
    for override in (config.get("variants") or {}).values():
        for section in VARIANT_SECTIONS:
            if isinstance(override, dict) and isinstance(override.get(section), dict):
                _coerce(override[section], schema["properties"][section])
    return config


def schema_problems(config: dict, schema_path=SCHEMA) -> list[str]:
    """Every violation of the JSON schema, each as 'key: what is wrong; what is allowed'."""
    schema = load_schema(schema_path)
    problems = []
    for error in sorted(Draft202012Validator(schema).iter_errors(config), key=str):
        key = ".".join(str(p) for p in error.absolute_path) or "config"
        if error.validator == "additionalProperties":
            allowed = ", ".join(error.schema.get("properties", {}))
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            problems.append(f"{key}: unknown key(s) {unknown}; allowed: {allowed}")
        else:
            problems.append(f"{key}: {error.message}")
    return problems


def variant_names(config: dict) -> list[str]:
    """'base' and then the config's variants, in the order written."""
    return [BASE, *(config.get("variants") or {})]


def variant_config(config: dict, name: str) -> dict:
    """The model, data and train settings of one variant: the base config's, with the
    variant's keys replacing those it names."""
    override = {} if name == BASE else config["variants"][name]
    return {
        section: {**(config.get(section) or {}), **(override.get(section) or {})}
        for section in VARIANT_SECTIONS
    }


def _variant_problems(config: dict, schema_path) -> list[str]:
    problems = []
    for name, override in (config.get("variants") or {}).items():
        if name == BASE or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            problems.append(
                f"variants: bad name {name!r}; allowed: letters, digits and _, starting with a "
                f"letter, other than {BASE!r}"
            )
            continue
        if "threads" in ((override or {}).get("train") or {}):
            problems.append(f"variants.{name}.train.threads: set threads in the base config")
        merged = {**config, **variant_config(config, name), "variants": {}}
        problems += [
            f"variants.{name}.{problem}"
            for problem in schema_problems(merged, schema_path)
            if problem.split(":")[0].split(".")[0] in VARIANT_SECTIONS
        ]
        problems += _model_problems(merged["model"], f"variants.{name}.")
    return problems


def _model_problems(model: dict, prefix="") -> list[str]:
    """Registry names inside the model section (of the base config or of a variant)."""
    reference = (model or {}).get("match_params")
    if reference is None or reference in ARCHS:
        return []
    allowed = ", ".join(ARCHS)
    return [f"{prefix}model.match_params: unknown arch {reference!r}; allowed: null, {allowed}"]


def check_config(config: dict, schema_path=SCHEMA) -> None:
    """Raise ``ConfigError`` listing every problem of the config: schema first, then the
    registries and the rules that tie keys together."""
    problems = schema_problems(config, schema_path)
    if not problems:
        problems += _variant_problems(config, schema_path)
    if problems:  # later checks assume the schema's types
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(problems))
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
    problems += _model_problems(config.get("model"))
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


def check_cuda(python: str) -> None:
    """``device: cuda`` needs a GPU that torch can see. Asked of a separate interpreter, so the
    workflow itself never imports torch."""
    import subprocess

    probe = "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    if subprocess.run([python, "-c", probe], capture_output=True).returncode != 0:
        raise ConfigError(
            "invalid config:\n  - device: 'cuda' was requested but torch sees no CUDA device "
            "here; allowed: auto (CUDA if available, else CPU), cpu, cuda"
        )
