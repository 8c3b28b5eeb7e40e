"""Bad configs are rejected by the real workflow before any job starts, with a message that names
the key and what is allowed. One case per kind of mistake."""

import pytest
import yaml

from rnnmemory.config import ConfigError, check_config
from test_workflow import ROOT, copy_project, snakemake

BAD_CONFIGS = {
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
        "config: unknown key(s) ['seq_len']; allowed: tasks, archs, seq_lens, seeds",
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
        "seq_lens: [5] shorter than task_params.recent_plus_last.lag = 8",
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


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("config"))


@pytest.mark.parametrize("kind", BAD_CONFIGS)
def test_bad_config_is_rejected_before_any_job(kind, project, tmp_path):
    override, message = BAD_CONFIGS[kind]
    if kind == "cuda without a GPU":
        torch = pytest.importorskip("torch")
        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA, so device: cuda is valid here")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(override))
    proc = snakemake(project, "--configfile", "tests/tiny.yaml", str(bad), check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert message in output, output[-3000:]
    assert not (project / "results").exists()  # nothing ran, nothing was written


def test_all_problems_are_reported_at_once():
    config = yaml.safe_load((ROOT / "tests/tiny.yaml").read_text())
    config.update(tasks=["nope"], archs=["rnn", "rnn"], seeds=[1, 1])
    with pytest.raises(ConfigError) as err:
        check_config(config)
    text = str(err.value)
    assert (
        "unknown task 'nope'" in text and "archs: duplicate" in text and "seeds: duplicate" in text
    )


def test_the_default_and_tiny_configs_are_valid():
    for path in [
        "config.yaml",
        "tests/tiny.yaml",
        "studies/knobs.yaml",
        "studies/tutorial_tasks.yaml",
    ]:
        check_config(yaml.safe_load((ROOT / path).read_text()))


def test_command_line_overrides_arrive_typed(project):
    """--config seeds="[0,1]" reaches the Snakefile as strings; the documented override works."""
    proc = snakemake(
        project, "-n", "--configfile", "tests/tiny.yaml", "--config", "seeds=[3, 4, 5]",
        "train={epochs: 7, lr: 0.5, batch_size: null}",
    )  # fmt: skip
    assert "results/runs/base/first_plus_last/rnn/T5/seed5/metrics.json" in proc.stdout


def test_coerce_cli_types_follows_the_schema():
    from rnnmemory.config import coerce_cli_types

    config = {"seeds": ["0", "1"], "train": {"lr": "0.5", "batch_size": "null"}, "tasks": ["7"]}
    coerce_cli_types(config)
    assert config == {"seeds": [0, 1], "train": {"lr": 0.5, "batch_size": None}, "tasks": ["7"]}
    variant = {"variants": {"fb": {"model": {"lstm_forget_bias": "1"}, "data": {"n_train": "50"}}}}
    coerce_cli_types(variant)  # a variant's keys follow the base config's schema
    assert variant["variants"]["fb"] == {
        "model": {"lstm_forget_bias": 1.0},
        "data": {"n_train": 50},
    }
