"""Checks of a study config beyond its JSON schema: names from the registries and rules that
tie keys together. Each message names the key and what is allowed. Imports no torch."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from rnnmemory.core.archs import ARCHS
from rnnmemory.core.paths import SUBFOLDERS
from rnnmemory.core.tasks import TASKS

BASE = "base"  # the variant that is the config itself
VARIANT_SECTIONS = ("model", "data", "train")  # what a variant may change


class ConfigError(ValueError):
    """A config value that the study cannot run with."""


def load_schema(schema_path) -> dict:
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


def coerce_cli_types(config: dict, schema_path) -> dict:
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


def schema_problems(config: dict, schema_path) -> list[str]:
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


def variant_archs(config: dict, name: str) -> list[str]:
    """The archs a variant trains: its own ``archs`` or the config's, in the config's order."""
    own = None if name == BASE else (config["variants"][name] or {}).get("archs")
    return [arch for arch in config["archs"] if own is None or arch in own]


def variant_config(config: dict, name: str) -> dict:
    """The model, data and train settings of one variant: the base config's, with the
    variant's keys replacing those it names."""
    override = {} if name == BASE else config["variants"][name]

    def section_of(source, section):
        value = source.get(section)
        return value if isinstance(value, dict) else {}

    return {
        section: {**section_of(config, section), **section_of(override, section)}
        for section in VARIANT_SECTIONS
    }


def _variant_problems(config: dict, schema_path) -> list[str]:
    """A variant's own keys, checked as the base config's sections are; problems of base keys
    it inherits are the base config's and reported once, there."""
    variants = config.get("variants")
    problems = []
    for name, override in (variants if isinstance(variants, dict) else {}).items():
        if name == BASE or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            problems.append(
                f"variants: bad name {name!r}; allowed: letters, digits and _, starting with a "
                f"letter, other than {BASE!r}"
            )
            continue
        if not isinstance(override, dict):
            continue  # the schema reports it
        archs = override.get("archs")
        outside = sorted(
            set(archs if isinstance(archs, list) else []) - set(_list(config, "archs"))
        )
        if outside:
            problems.append(
                f"variants.{name}.archs: {outside} not in the config's archs; allowed: "
                f"{', '.join(map(str, _list(config, 'archs')))}"
            )
        if "threads" in (override.get("train") or {}):
            problems.append(f"variants.{name}.train.threads: set threads in the base config")
        merged = {**config, **variant_config(config, name), "variants": {}}
        own = {
            f"{section}.{key}"
            for section in VARIANT_SECTIONS
            for key in (override.get(section) if isinstance(override.get(section), dict) else {})
        }
        for problem in schema_problems(merged, schema_path):
            key = problem.split(":")[0]
            unknown_key = key in VARIANT_SECTIONS and "unknown key" in problem
            if unknown_key or ".".join(key.split(".")[:2]) in own:
                problems.append(f"variants.{name}.{problem}")
        if own & {
            "model.match_params",
            "model.init",
            "model.nonlinearity",
            "model.lstm_forget_bias",
        }:
            problems += _model_problems(merged["model"], f"variants.{name}.")
    return problems


def _model_problems(model: dict, prefix="") -> list[str]:
    """Registry names and the rules that tie model keys together (base config or variant)."""
    model = model or {}
    problems = []
    reference = model.get("match_params")
    if reference is not None and reference not in ARCHS:
        allowed = ", ".join(ARCHS)
        problems.append(
            f"{prefix}model.match_params: unknown arch {reference!r}; allowed: null, {allowed}"
        )
    if model.get("init") == "identity" and model.get("nonlinearity", "tanh") != "relu":
        problems.append(
            f"{prefix}model.init: identity is the IRNN (Le et al. 2015), a relu network; "
            f"set {prefix}model.nonlinearity: relu"
        )
    if model.get("init") == "chrono" and model.get("lstm_forget_bias") is not None:
        problems.append(
            f"{prefix}model.init: chrono sets the LSTM forget bias itself; leave "
            f"{prefix}model.lstm_forget_bias null"
        )
    return problems


def _list(config, key) -> list:
    """A grid list as given, or [] where the schema already reports it as malformed."""
    values = config.get(key)
    return values if isinstance(values, list) else []


def _grid_problems(config: dict) -> list[str]:
    problems = []
    for key in ("tasks", "archs", "seq_lens", "seeds"):
        values = [v for v in _list(config, key) if isinstance(v, str | int)]
        duplicates = sorted({v for v in values if values.count(v) > 1}, key=str)
        if duplicates:
            problems.append(f"{key}: duplicate values {duplicates}; list each once")
    lengths = [t for t in _list(config, "seq_lens") if isinstance(t, int)]
    task_params = config.get("task_params") if isinstance(config.get("task_params"), dict) else {}
    for task in _list(config, "tasks"):
        if task not in TASKS:
            problems.append(f"tasks: unknown task {task!r}; allowed: {', '.join(TASKS)}")
            continue
        # a lag-like knob (recent_plus_last's lag) needs at least that many steps
        params = task_params.get(task) if isinstance(task_params.get(task), dict) else {}
        lag = params.get("lag", TASKS[task].params.get("lag", 0))
        shortest = max(TASKS[task].min_seq_len, lag if isinstance(lag, int) else 0)
        too_short = [t for t in lengths if t < shortest]
        if too_short:
            why = f" (task_params.{task}.lag = {lag})" if shortest == lag else ""
            problems.append(
                f"seq_lens: {too_short} too short for task {task!r}, which needs "
                f"seq_len >= {shortest}{why}"
            )
    for arch in _list(config, "archs"):
        if arch not in ARCHS:
            problems.append(f"archs: unknown arch {arch!r}; allowed: {', '.join(ARCHS)}")
    for task, params in task_params.items():
        if task not in TASKS:
            problems.append(f"task_params: unknown task {task!r}; allowed: {', '.join(TASKS)}")
            continue
        unknown = sorted(set(params if isinstance(params, dict) else {}) - set(TASKS[task].params))
        if unknown:
            allowed = ", ".join(TASKS[task].params) or "none"
            problems.append(f"task_params.{task}: unknown key(s) {unknown}; allowed: {allowed}")
    return problems


def _results_dir_problems(config: dict) -> list[str]:
    results_dir = config.get("results_dir")
    if not isinstance(results_dir, str):
        return []
    if results_dir.strip("/").split("/")[-1] in SUBFOLDERS:
        return [
            f"results_dir: {results_dir!r} ends in a folder name that studies use inside their "
            f"results_dir ({', '.join(SUBFOLDERS)}); choose another name, e.g. results/my_study"
        ]
    return []


def _analysis_problems(config: dict) -> list[str]:
    analysis = config.get("analysis") if isinstance(config.get("analysis"), dict) else {}
    budgets = analysis.get("budget_variants")
    variants = config.get("variants") if isinstance(config.get("variants"), dict) else {}
    unknown = sorted(set(budgets if isinstance(budgets, dict) else {}) - set(variants))
    if unknown:
        return [
            f"analysis.budget_variants: {unknown} not among the config's variants; allowed: "
            f"{', '.join(variants) or 'none (the config has no variants)'}"
        ]
    return []


def check_config(config: dict, schema_path) -> None:
    """Raise ``ConfigError`` listing every problem of the config in one message, each once:
    the JSON schema's, the registries' (task, arch and knob names) and the rules that tie keys
    together. Registry checks skip values the schema already rejects."""
    problems = schema_problems(config, schema_path)
    problems += _variant_problems(config, schema_path)
    problems += _grid_problems(config)
    model = config.get("model")
    problems += _model_problems(model if isinstance(model, dict) else {})
    problems += _results_dir_problems(config)
    problems += _analysis_problems(config)
    if config.get("backend") == "fused" and config.get("device") == "cuda":
        problems.append("backend: 'fused' is the CPU kernel; with device: cuda use auto or bptt")
    problems = list(dict.fromkeys(problems))  # each once, in the order found
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
