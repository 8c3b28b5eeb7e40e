"""Coverage of the T50 interval on the designs the studies actually run (their lengths and
seeds, read from the study files): 1000 simulated studies per case from a known truth, pass at
>= 0.93 for the 95% interval (two-sided; a censored fit's interval is open on its outer side).
The fast tier runs a spread of cases; the slow tier every combination of truth position, slope
and lapse."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from rnnmemory.analysis.horizon import fit_counts
from rnnmemory.analysis.simulate import Truth, simulate_successes

ROOT = Path(__file__).resolve().parents[1]
STUDIES = {
    "default": "config.yaml",
    "remedies": "studies/remedies.yaml",
    "budget": "studies/budget.yaml",
}
SLOPES = [-2.0, -4.0, -8.0, -15.0]
LAPSES = [0.0, 0.1]
POSITIONS = ["below", "shortest", "inside", "middle", "longest", "above"]
N_STUDIES = 1000


def design(study: str) -> tuple[np.ndarray, int]:
    """(lengths, seeds per length) of a study file, keys it leaves out from config.yaml."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config.update(yaml.safe_load((ROOT / STUDIES[study]).read_text()))
    return np.array(sorted(config["seq_lens"]), dtype=float), len(config["seeds"])


def truth_t50(lengths, position) -> float:
    """A true T50 at a position relative to the lengths studied."""
    lo, hi = lengths[0], lengths[-1]
    return {
        "below": lo / 2,
        "shortest": lo,
        "inside": np.sqrt(lengths[0] * lengths[1]),
        "middle": np.sqrt(lo * hi),
        "longest": hi,
        "above": 2 * hi,
    }[position]


def coverage(study, position, slope, lapse, seed_sd=0.0, seed=0) -> float:
    lengths, seeds = design(study)
    target = truth_t50(lengths, position)
    # the centre that puts the population's half-solved point at the target
    probe = Truth(1.0, slope, seed_sd, lapse)
    truth = Truth(target / probe.t50, slope, seed_sd, lapse)
    assert truth.t50 == pytest.approx(target, rel=1e-6)
    successes = simulate_successes(np.random.default_rng(seed), truth, lengths, seeds, N_STUDIES)
    fits = fit_counts(lengths, np.full(len(lengths), seeds), successes)
    # two-sided everywhere: a censored fit's interval is open on its outer side, so for a
    # truth beyond the lengths this checks its inner bound and that no fit claims a finite
    # interval short of the truth
    return float(((fits["t50_low"] <= target) & (target <= fits["t50_high"])).mean())


FAST = [
    ("default", "middle", -4.0, 0.0),
    ("default", "inside", -8.0, 0.1),
    ("default", "above", -2.0, 0.0),
    ("remedies", "longest", -15.0, 0.0),
    ("remedies", "middle", -2.0, 0.1),
    ("budget", "middle", -4.0, 0.0),
]


@pytest.mark.parametrize("study, position, slope, lapse", FAST)
def test_interval_covers_the_truth(study, position, slope, lapse):
    assert coverage(study, position, slope, lapse) >= 0.93


@pytest.mark.slow
@pytest.mark.parametrize("study", list(STUDIES))
def test_interval_covers_the_truth_in_every_case(study):
    misses = {
        (position, slope, lapse): cover
        for position in POSITIONS
        for slope in SLOPES
        for lapse in LAPSES
        if (cover := coverage(study, position, slope, lapse)) < 0.93
    }
    assert not misses


def test_a_seed_effect_shared_across_lengths_breaks_the_interval():
    """Why every run has its own random streams (tasks.run_seed): had a seed kept one initial
    network at every T, a seed effect of SD 3 (such runs of the default study left the GRU on
    first_plus_last an SD whose 95% interval starts near 1 and stays open: docs/results.md)
    would leave the interval covering the truth far less often than 95% on the default
    design."""
    assert coverage("default", "middle", -2.0, 0.0, seed_sd=3.0) < 0.9
