"""Bad configs are rejected before any job starts, with one message that names every problem,
its key and what is allowed. One case per kind of mistake, checked directly; two through the
real workflow."""

import pytest
import yaml

from helpers import ROOT, SCHEMA, copy_project, load_yaml, tiny
from rnnmemory.core.config import ConfigError, check_config, coerce_cli_types

BAD_CONFIGS = {
    "fused kernel on cuda": (
        {"backend": "fused", "device": "cuda"},
        "backend: 'fused' is the CPU kernel; with device: cuda use auto or bptt",
    ),
    "unknown task": (
        {"tasks": ["first_plus_lats"]},
        "tasks: unknown task 'first_plus_lats'; allowed: first_plus_last, recent_plus_last",
    ),
    "unknown arch": (
        {"archs": ["rnn", "transformer"]},
        "archs: unknown arch 'transformer'; allowed: rnn, gru, lstm",
    ),
    "empty list": ({"seeds": []}, "seeds: [] should be non-empty"),
    "non-integer seq_len": ({"seq_lens": [5, 7.5]}, "seq_lens.1: 7.5 is not of type 'integer'"),
    "non-positive seq_len": ({"seq_lens": [0, 5]}, "seq_lens.0: 0 is less than the minimum of 1"),
    "seq_len below the task's minimum": (
        {"tasks": ["recent_plus_last"], "seq_lens": [3, 8]},
        "seq_lens: [3] too short for task 'recent_plus_last', which needs seq_len >= 5",
    ),
    "duplicate seeds": ({"seeds": [0, 1, 0]}, "seeds: duplicate values [0]; list each once"),
    "unknown top-level key": (
        {"seq_len": [5]},
        "config: unknown key(s) ['seq_len']; allowed: results_dir, tasks, archs, seq_lens, seeds",
    ),
    "unknown nested key": (
        {"train": {"epoch": 5}},
        "train: unknown key(s) ['epoch']; allowed: epochs, lr, optimizer",
    ),
    "hidden_size < 1": (
        {"model": {"hidden_size": 0}},
        "model.hidden_size: 0 is less than the minimum of 1",
    ),
    "epochs < 1": ({"train": {"epochs": 0}}, "train.epochs: 0 is less than the minimum of 1"),
    "lr <= 0": ({"train": {"lr": 0}}, "train.lr: 0 is less than or equal to the minimum of 0"),
    "unknown optimizer": (
        {"train": {"optimizer": "adamw"}},
        "train.optimizer: 'adamw' is not one of ['adam', 'sgd', 'rmsprop']",
    ),
    "n_test < 1": ({"data": {"n_test": 0}}, "data.n_test: 0 is less than the minimum of 1"),
    "unknown task param": (
        {"task_params": {"sine": {"perod": 8}}},
        "task_params.sine: unknown key(s) ['perod']; allowed: period",
    ),
    "lag longer than a sequence": (
        {"task_params": {"recent_plus_last": {"lag": 8}}},
        "seq_lens: [5] too short for task 'recent_plus_last', which needs seq_len >= 8 "
        "(task_params.recent_plus_last.lag = 8)",
    ),
    "variant arch outside the grid": (
        {"variants": {"gru_only": {"archs": ["gru"], "model": {"init": "chrono"}}}},
        "variants.gru_only.archs: ['gru'] not in the config's archs; allowed: rnn, lstm",
    ),
    "budget variant that is no variant": (
        {"analysis": {"budget_variants": {"updates_4x": 4}}},
        "analysis.budget_variants: ['updates_4x'] not among the config's variants",
    ),
    "results_dir named like a results folder": (
        {"results_dir": "results/runs"},
        "results_dir: 'results/runs' ends in a folder name that studies use",
    ),
    "unknown nonlinearity": (
        {"model": {"nonlinearity": "sigmoid"}},
        "model.nonlinearity: 'sigmoid' is not one of ['tanh', 'relu']",
    ),
    "solved_below <= 0": (
        {"solved_below": -1},
        "solved_below: -1 is less than or equal to the minimum of 0",
    ),
    "variant named base": (
        {"variants": {"base": {"model": {"hidden_size": 5}}}},
        "variants: bad name 'base'; allowed: letters, digits and _",
    ),
    "unknown key in a variant": (
        {"variants": {"wide": {"model": {"hiden_size": 20}}}},
        "variants.wide.model: unknown key(s) ['hiden_size']; allowed: hidden_size,",
    ),
    "bad value in a variant": (
        {"variants": {"small": {"data": {"n_train": 0}}}},
        "variants.small.data.n_train: 0 is less than the minimum of 1",
    ),
    "match_params names no arch": (
        {"model": {"match_params": "transformer"}},
        "model.match_params: unknown arch 'transformer'; allowed: null, rnn, gru, lstm",
    ),
    "cuda without a GPU": ({"device": "cuda"}, "device: 'cuda' was requested but torch sees no"),
}


def tiny_with(override: dict) -> dict:
    """tests/tiny.yaml with the override's keys replaced, as Snakemake merges config files."""
    config = load_yaml("tests/tiny.yaml")
    config.update(override)
    return config


@pytest.mark.parametrize("kind", [k for k in BAD_CONFIGS if k != "cuda without a GPU"])
def test_bad_config_is_rejected_with_a_message_naming_the_key(kind):
    override, message = BAD_CONFIGS[kind]
    with pytest.raises(ConfigError) as err:
        check_config(tiny_with(override), SCHEMA)
    assert message in str(err.value)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["unknown arch", "cuda without a GPU"])
def test_the_workflow_rejects_a_bad_config_before_any_job(kind, tmp_path):
    """Through Snakemake itself: the registry check at parse time, and the CUDA check at the
    start of a local run; nothing is written."""
    override, message = BAD_CONFIGS[kind]
    if kind == "cuda without a GPU":
        torch = pytest.importorskip("torch")
        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA, so device: cuda is valid here")
    project = copy_project(tmp_path / "project")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(override))
    proc = tiny(project, str(bad), check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert message in output, output[-3000:]
    assert not (project / "results").exists()  # nothing ran, nothing was written


def test_all_problems_are_reported_at_once():
    """Schema problems, registry names and duplicates in one message, each once."""
    config = tiny_with(
        {
            "tasks": ["nope"],
            "archs": ["rnn", "rnn", "transformer"],
            "seeds": [1, 1],
            "train": {"epoch": 5},
        }
    )
    with pytest.raises(ConfigError) as err:
        check_config(config, SCHEMA)
    text = str(err.value)
    for expected in [
        "unknown task 'nope'",
        "archs: duplicate",
        "seeds: duplicate",
        "unknown arch 'transformer'",
        "train: unknown key(s) ['epoch']",
    ]:
        assert text.count(expected) == 1, text


def test_a_too_short_length_is_reported_once():
    """seq_lens [3] with recent_plus_last broke two rules (the task's minimum and the lag)
    and was reported twice."""
    with pytest.raises(ConfigError) as err:
        check_config(tiny_with({"tasks": ["recent_plus_last"], "seq_lens": [3, 8]}), SCHEMA)
    assert str(err.value).count("seq_lens: [3]") == 1


def test_the_default_tiny_and_study_configs_are_valid():
    for path in [
        "config.yaml",
        "tests/tiny.yaml",
        *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "studies").glob("*.yaml")),
    ]:
        check_config(load_yaml(path), SCHEMA)


def test_every_study_has_its_own_results_dir():
    dirs = [load_yaml("config.yaml")["results_dir"]]
    studies = (ROOT / "studies").glob("*.yaml")
    dirs += [load_yaml(p.relative_to(ROOT))["results_dir"] for p in studies]
    assert len(set(dirs)) == len(dirs)


@pytest.mark.slow
def test_command_line_overrides_arrive_typed(tmp_path):
    """--config seeds="[0,1]" reaches the Snakefile as strings; the documented override works."""
    proc = tiny(
        copy_project(tmp_path),
        "-n",
        "--config",
        "seeds=[3, 4, 5]",
        "train={epochs: 7, lr: 0.5, batch_size: null}",
    )
    assert "train_cell" in proc.stdout


def test_coerce_cli_types_follows_the_schema():
    config = {"seeds": ["0", "1"], "train": {"lr": "0.5", "batch_size": "null"}, "tasks": ["7"]}
    coerce_cli_types(config, SCHEMA)
    assert config == {"seeds": [0, 1], "train": {"lr": 0.5, "batch_size": None}, "tasks": ["7"]}
    variant = {"variants": {"fb": {"model": {"lstm_forget_bias": "1"}, "data": {"n_train": "50"}}}}
    coerce_cli_types(variant, SCHEMA)  # a variant's keys follow the base config's schema
    assert variant["variants"]["fb"] == {
        "model": {"lstm_forget_bias": 1.0},
        "data": {"n_train": 50},
    }


def test_the_conda_environment_pins_what_requirements_pin():
    env = load_yaml("workflow/envs/study.yaml")
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    pins = [line.split("#")[0].strip() for line in lines if line and not line.startswith("#")]
    assert pip == pins
    assert not any(tool in " ".join(pip) for tool in ("pytest", "ruff", "snakefmt"))


def test_the_library_reads_no_workflow_file_by_itself():
    """The schema's path comes from the caller (the Snakefile, the tests), not from a path
    computed inside the library."""
    source = (ROOT / "scripts/rnnmemory/core/config.py").read_text()
    assert "parents[" not in source and "workflow/schemas" not in source


@pytest.mark.parametrize(
    "model,message",
    [
        ({"init": "identity"}, "model.init: identity is the IRNN (Le et al. 2015), a relu"),
        ({"init": "chrono", "lstm_forget_bias": 1}, "model.init: chrono sets the LSTM forget"),
        ({"init": "glorot"}, "model.init: 'glorot' is not one of ['default', 'orthogonal'"),
    ],
)
def test_init_rules(model, message):
    with pytest.raises(ConfigError) as err:
        check_config(tiny_with({"model": model}), SCHEMA)
    assert message in str(err.value)
