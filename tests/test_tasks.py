"""Every task generator: shapes, the target formula, and its reference losses checked
numerically on a large sample."""

import numpy as np
import pytest

from rnnmemory.core.tasks import TASKS, load_corpus, make_dataset, task_params

BIG = 200_000  # samples for the numerical checks of the reference losses


def draw(task, seq_len, n=BIG, seed=0, **params):
    ds = make_dataset(task, seq_len, seed, n_train=n, n_test=n, params=params)
    return ds, ds["x_train"].astype(float), ds["y_train"]


def mse(pred, y):
    return float(((pred - y) ** 2).mean())


def test_first_plus_last():
    ds, x, y = draw("first_plus_last", 12)
    assert x.shape == (BIG, 12, 1) and y.shape == (BIG, 1)
    np.testing.assert_allclose(y, x[:, 0] + x[:, 11], rtol=1e-6, atol=1e-6)
    assert mse(x[:, -1], y) == pytest.approx(ds["baseline_loss"], rel=0.01)  # knows x_last
    assert mse(0 * y, y) == pytest.approx(ds["null_loss"], rel=0.01)  # predicts 0
    assert (ds["baseline_loss"], ds["null_loss"]) == (1.0, 2.0)


def test_recent_plus_last_and_its_lag_knob():
    ds, x, y = draw("recent_plus_last", 9)
    np.testing.assert_allclose(y, x[:, 9 - 5] + x[:, 8], rtol=1e-6, atol=1e-6)
    assert mse(x[:, -1], y) == pytest.approx(ds["baseline_loss"], rel=0.01)
    _, x, y = draw("recent_plus_last", 9, n=100, lag=3)
    np.testing.assert_allclose(y, x[:, 6] + x[:, 8], rtol=1e-6, atol=1e-6)


def test_adding_problem():
    ds, x, y = draw("adding", 10)
    assert x.shape == (BIG, 10, 2)
    markers = x[:, :, 1]
    assert np.all(markers.sum(1) == 2)
    assert np.all(markers[:, :5].sum(1) == 1) and np.all(markers[:, 5:].sum(1) == 1)
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * markers).sum(1), rtol=1e-6, atol=1e-6)
    assert mse(np.ones_like(y), y) == pytest.approx(1 / 6, rel=0.01)
    assert ds["baseline_loss"] == pytest.approx(1 / 6)


def test_ramp():
    ds, x, y = draw("ramp", 6)
    r = x[:, 1, 0]  # arange starts at 0, so step 1 is r itself
    np.testing.assert_allclose(x[:, :, 0], np.arange(6)[None] * r[:, None], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y[:, 0], 6 * r, rtol=1e-5, atol=1e-6)
    assert mse(x[:, -1], y) == pytest.approx(ds["baseline_loss"], rel=0.01)  # repeat last
    assert mse(0 * y, y) == pytest.approx(ds["null_loss"], rel=0.01)


def test_trajectory():
    ds, x, y = draw("trajectory", 5)
    assert x.shape == (BIG, 5, 2) and y.shape == (BIG, 2)
    np.testing.assert_allclose(x[:, :, 0], np.broadcast_to(np.arange(5.0), (BIG, 5)))
    slope = x[:, 1, 1] - x[:, 0, 1]
    np.testing.assert_allclose(y[:, 1], x[:, -1, 1] + slope, rtol=1e-4, atol=1e-4)
    assert y[0, 0] == 5
    assert mse(x[:, -1], y) == pytest.approx(ds["baseline_loss"], rel=0.01)
    assert mse(np.broadcast_to(y.mean(0), y.shape), y) == pytest.approx(ds["null_loss"], rel=0.02)


def test_sine_and_its_period_knob():
    ds, x, y = draw("sine", 8, period=10.0)
    full = np.concatenate([x[:, :, 0], y], axis=1)  # (N, T+1)
    # a sine of period 10 satisfies s[t+1] = 2 cos(2 pi / 10) s[t] - s[t-1]
    np.testing.assert_allclose(
        full[:, 2:], 2 * np.cos(2 * np.pi / 10) * full[:, 1:-1] - full[:, :-2], atol=1e-5
    )
    assert mse(x[:, -1], y) == pytest.approx(ds["baseline_loss"], rel=0.01)
    assert mse(0 * y, y) == pytest.approx(ds["null_loss"], rel=0.01)


def test_chars_windows_of_the_corpus():
    ds, x, y = draw("chars", 7, n=5000)
    text, alphabet = load_corpus()
    assert x.shape == (5000, 7, len(alphabet)) and y.shape == (5000,)
    assert np.all(x.sum(2) == 1)  # one-hot
    window = "".join(alphabet[i] for i in x[0].argmax(1)) + alphabet[y[0]]
    assert window in text
    freq = np.bincount(y, minlength=len(alphabet)) / len(y)
    entropy = -(freq[freq > 0] * np.log(freq[freq > 0])).sum()
    assert ds["baseline_loss"] == pytest.approx(entropy, rel=0.05)  # unigram cross-entropy
    assert ds["loss"] == "cross_entropy"


@pytest.mark.parametrize("task", list(TASKS))
def test_reproducible_from_seed_and_distinct_across_seeds(task):
    a = make_dataset(task, 6, 3, 50, 10)
    b = make_dataset(task, 6, 3, 50, 10)
    c = make_dataset(task, 6, 4, 50, 10)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["x_train"], c["x_train"])
    assert a["x_train"].dtype == np.float32


def test_unknown_task_param_and_short_sequence_are_rejected():
    with pytest.raises(ValueError, match="allowed: lag"):
        task_params("recent_plus_last", {"lagg": 3})
    with pytest.raises(ValueError, match="seq_len >= 5"):
        make_dataset("recent_plus_last", 4, 0, 10, 10)
