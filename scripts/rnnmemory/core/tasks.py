"""Synthetic sequence tasks: one generator function plus one registry entry each.

Every generator takes ``(seq_len, n_samples, rng, **params)`` and returns inputs ``x`` of shape
(N, T, I) and targets ``y`` of shape (N, O) (regression) or (N,) integer labels (classification).
``make_dataset`` draws train and test sets from one seeded stream and attaches the reference
losses used to normalise results:

- ``baseline_loss``: the best loss of a *memoryless* predictor, one that sees only the most
  recent input(s). A normalised test loss ``test_loss / baseline_loss`` well below 1 means the
  network remembered something the baseline could not.
- ``null_loss``: the loss of predicting nothing (a constant: zero, the mean, or the unigram
  distribution for characters).

Only numpy here: the Snakefile imports this module to validate the config.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CORPUS_PATH = Path(__file__).with_name("corpus.txt")


@dataclass(frozen=True)
class Task:
    """A registered task: how to draw samples and how to judge a prediction."""

    generate: Callable[..., tuple[np.ndarray, np.ndarray]]
    loss: str  # "mse" or "cross_entropy"
    min_seq_len: int
    description: str
    params: dict = field(default_factory=dict)  # knob name -> default value
    reference_losses: Callable[..., tuple[float, float]] | None = None  # analytic (baseline, null)
    # memory tasks: the two inputs the target sums, as (remembered, recent) values (N,) each
    # from (x, **params), and how figures name them ({lag} is filled from params)
    memory_inputs: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None
    memory_names: tuple[str, str] = ("", "")


# ----------------------------------------------------------------------------- generators


def first_plus_last(seq_len: int, n: int, rng: np.random.Generator):
    """Seed 000's memory task: y = x[0] + x[T-1], x ~ N(0, 1)."""
    x = rng.standard_normal((n, seq_len, 1))
    return x, x[:, 0] + x[:, -1]  # (N, T, 1), (N, 1)


def recent_plus_last(seq_len: int, n: int, rng: np.random.Generator, lag: int = 5):
    """Seed 000's control: y = x[T-lag] + x[T-1]; the value to keep is only ``lag`` steps back."""
    x = rng.standard_normal((n, seq_len, 1))
    return x, x[:, -lag] + x[:, -1]


def adding(seq_len: int, n: int, rng: np.random.Generator):
    """Hochreiter & Schmidhuber's adding problem (uRNN form): values U(0, 1) in channel 0, a marker
    in channel 1 on one step of each half; y = sum of the two marked values."""
    values = rng.random((n, seq_len))
    half = seq_len // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, seq_len, size=n)
    markers = np.zeros((n, seq_len))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=2)  # (N, T, 2)
    y = values[rows, first] + values[rows, second]
    return x, y[:, None]


def ramp(seq_len: int, n: int, rng: np.random.Generator):
    """Seed 000's first example: arange(T+1) * r with r ~ N(0, 1); predict the next value."""
    r = rng.standard_normal((n, 1))
    seq = np.arange(seq_len + 1)[None, :] * r  # (N, T+1)
    return seq[:, :-1, None], seq[:, -1:]


def trajectory(
    seq_len: int, n: int, rng: np.random.Generator, slope_scale=1.0, intercept_scale=5.0
):
    """Seed 000's 2-D example: points (t, a t + b), a ~ N(0, s_a^2), b ~ N(0, s_b^2); predict the
    next point."""
    a = rng.standard_normal((n, 1)) * slope_scale
    b = rng.standard_normal((n, 1)) * intercept_scale
    t = np.broadcast_to(np.arange(seq_len + 1, dtype=float), (n, seq_len + 1))
    points = np.stack([t, a * t + b], axis=2)  # (N, T+1, 2)
    return points[:, :-1], points[:, -1]


def sine(seq_len: int, n: int, rng: np.random.Generator, period: float = 16.0):
    """Seed 002: windows of sin(2 pi t / period + phase), phase ~ U(0, 2 pi); predict the next
    value."""
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    wave = np.sin(2 * np.pi * np.arange(seq_len + 1)[None, :] / period + phase)  # (N, T+1)
    return wave[:, :-1, None], wave[:, -1:]


def load_corpus() -> tuple[str, str]:
    """The shipped text and its alphabet (sorted distinct characters)."""
    text = " ".join(CORPUS_PATH.read_text(encoding="utf-8").split()).lower()
    return text, "".join(sorted(set(text)))


def chars(seq_len: int, n: int, rng: np.random.Generator):
    """Seed 004 ('hihell' -> 'ihello') on a real text: one-hot windows of T characters from the
    shipped corpus; predict the character that follows (integer label)."""
    text, alphabet = load_corpus()
    codes = np.array([alphabet.index(c) for c in text])
    starts = rng.integers(0, len(codes) - seq_len, size=n)
    windows = codes[starts[:, None] + np.arange(seq_len + 1)[None, :]]  # (N, T+1)
    x = np.eye(len(alphabet))[windows[:, :-1]]  # (N, T, C)
    return x, windows[:, -1]


# ----------------------------------------------------------------------------- references


def _sum_of_two_normals(seq_len, **_):
    # knowing the last value leaves Var(x_early) = 1; predicting 0 leaves Var(y) = 2
    return 1.0, 2.0


def _adding_references(seq_len, **_):
    # a constant 1 is the best memoryless guess: Var(u1 + u2) = 2/12; the mean is the same guess
    return 1 / 6, 1 / 6


def _ramp_references(seq_len, **_):
    # memoryless = repeat the last value: error r, E[r^2] = 1; predicting 0: E[(T r)^2] = T^2
    return 1.0, float(seq_len) ** 2


def _trajectory_references(seq_len, slope_scale=1.0, intercept_scale=5.0, **_):
    # repeat the last point: errors (1, a), mean over the 2 coordinates (1 + s_a^2) / 2;
    # predict the mean point: x is constant (T), Var(a T + b) = s_a^2 T^2 + s_b^2, halved
    return (1 + slope_scale**2) / 2, (slope_scale**2 * seq_len**2 + intercept_scale**2) / 2


def _sine_references(seq_len, period=16.0, **_):
    # repeat the last value: E[(sin(p + w) - sin p)^2] = 2 sin^2(w / 2); predict 0: E[sin^2] = 1/2
    return 2 * np.sin(np.pi / period) ** 2, 0.5


def _first_and_last(x, **_):
    return x[:, 0, 0], x[:, -1, 0]


def _lagged_and_last(x, lag=5, **_):
    return x[:, -lag, 0], x[:, -1, 0]


def _marked_values(x, **_):
    # (N, T) values and markers; the first marker is in the first half, the second after it
    values, markers = x[:, :, 0], x[:, :, 1]
    order = np.argsort(-markers, axis=1, kind="stable")[:, :2]  # the two marked steps
    first, second = order.min(axis=1), order.max(axis=1)
    rows = np.arange(len(x))
    return values[rows, first], values[rows, second]


TASKS: dict[str, Task] = {
    "first_plus_last": Task(
        first_plus_last,
        "mse",
        2,
        "y = x[0] + x[T-1]: remember the first value",
        reference_losses=_sum_of_two_normals,
        memory_inputs=_first_and_last,
        memory_names=("x[0]", "x[T-1]"),
    ),
    "recent_plus_last": Task(
        recent_plus_last,
        "mse",
        5,
        "y = x[T-5] + x[T-1]: the control, a value 5 steps back",
        params={"lag": 5},
        reference_losses=_sum_of_two_normals,
        memory_inputs=_lagged_and_last,
        memory_names=("x[T-{lag}]", "x[T-1]"),
    ),
    "adding": Task(
        adding,
        "mse",
        2,
        "sum of the two marked values (Hochreiter & Schmidhuber 1997)",
        reference_losses=_adding_references,
        memory_inputs=_marked_values,
        memory_names=("the first marked value", "the second marked value"),
    ),
    "ramp": Task(ramp, "mse", 2, "next value of the ramp r * t", reference_losses=_ramp_references),
    "trajectory": Task(
        trajectory,
        "mse",
        2,
        "next point of the line (t, a t + b)",
        params={"slope_scale": 1.0, "intercept_scale": 5.0},
        reference_losses=_trajectory_references,
    ),
    "sine": Task(
        sine,
        "mse",
        2,
        "next value of a sine window",
        params={"period": 16.0},
        reference_losses=_sine_references,
    ),
    "chars": Task(chars, "cross_entropy", 1, "next character of the shipped text"),
}


# ----------------------------------------------------------------------------- datasets


def task_params(task: str, overrides: dict | None = None) -> dict:
    """The task's knobs: registry defaults updated by the config's ``task_params.<task>``."""
    params = dict(TASKS[task].params)
    unknown = set(overrides or {}) - set(params)
    if unknown:
        raise ValueError(
            f"task_params.{task}: unknown key(s) {sorted(unknown)}; "
            f"allowed: {', '.join(params) or 'none'}"
        )
    params.update(overrides or {})
    return params


def dataset_rng(task: str, seq_len: int, seed: int, stream: int = 0) -> np.random.Generator:
    """One independent, reproducible stream per (task, seq_len, seed); ``stream`` 1 is the
    fresh training data of ``data.fresh_each_epoch``."""
    key = [seed, seq_len, zlib.crc32(task.encode())] + ([stream] if stream else [])
    return np.random.default_rng(key)


def run_seed(task: str, seq_len: int, seed: int) -> int:
    """The torch seed of one run: its initial weights, remedies' draws and minibatch shuffles.
    Its own per (task, seq_len, seed), so a seed's runs at different lengths are independent
    trials (T50's interval assumes it; with one initial network per seed whatever T, a seed's
    luck carried across lengths); the same for every arch and variant at one (task, seq_len,
    seed), so comparisons of variants stay paired."""
    key = [seed, seq_len, zlib.crc32(task.encode()), 2]  # 2: not a dataset stream (0, 1)
    return int(np.random.SeedSequence(key).generate_state(1)[0])


def unigram_cross_entropy(train_labels: np.ndarray, test_labels: np.ndarray, n_classes: int):
    """Cross-entropy (nats) on the test labels of the training set's character frequencies."""
    counts = np.bincount(train_labels, minlength=n_classes) + 1.0  # add-one: no log(0)
    log_p = np.log(counts / counts.sum())
    return float(-log_p[test_labels].mean())


def make_dataset(
    task: str, seq_len: int, seed: int, n_train: int, n_test: int, params: dict | None = None
) -> dict:
    """Draw one task's train and test sets and their reference losses, as a flat dict of arrays
    and scalars (``io.save_cell_datasets`` writes a cell's, one per seed)."""
    spec = TASKS[task]
    params = task_params(task, params)
    if seq_len < spec.min_seq_len:
        raise ValueError(f"task {task} needs seq_len >= {spec.min_seq_len}, got {seq_len}")
    x, y = spec.generate(seq_len, n_train + n_test, dataset_rng(task, seq_len, seed), **params)
    if spec.loss == "mse":
        x, y = x.astype(np.float32), y.astype(np.float32)
        baseline, null = spec.reference_losses(seq_len, **params)
        n_classes = 0
    else:
        x, y = x.astype(np.float32), y.astype(np.int64)
        n_classes = x.shape[2]
        baseline = null = unigram_cross_entropy(y[:n_train], y[n_train:], n_classes)
    return {
        "task": task,
        "seq_len": seq_len,
        "x_train": x[:n_train],
        "y_train": y[:n_train],
        "x_test": x[n_train:],
        "y_test": y[n_train:],
        "loss": spec.loss,
        "baseline_loss": float(baseline),
        "null_loss": float(null),
        "n_classes": n_classes,
    }
