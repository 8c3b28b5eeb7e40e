"""Simulated studies with a known horizon, for the coverage tests of the T50 interval and of
the paired comparison (numpy only, vectorised: thousands of studies in one call).

A simulated study has the design of a real one (lengths, seeds per length) and a truth:

    P(solved | T, seed j) = (1 - lapse) * sigmoid(slope * (log T - log centre) + b_j),

with b_j ~ N(0, seed_sd^2) shared by a seed across every length (the dependence that the old
randomness scheme, one initial network per seed whatever T, could create) and ``lapse`` the
share of runs that fail whatever T is. The true T50 is where the *population* fraction solved,
E_b P(solved | T, b), is 1/2: what the study's T50 estimates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(41)  # E over N(0, 1)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass(frozen=True)
class Truth:
    centre: float  # T where a seed with b = 0 and no lapse solves half the time
    slope: float  # per unit of log T, negative
    seed_sd: float = 0.0
    lapse: float = 0.0

    def fraction_solved(self, seq_len) -> np.ndarray:
        """Population fraction solved at each length (averaged over the seed effect)."""
        z = self.slope * (np.log(np.asarray(seq_len, dtype=float)) - np.log(self.centre))
        inner = _sigmoid(z[..., None] + self.seed_sd * _NODES)  # (..., nodes)
        return (1 - self.lapse) * (inner @ _WEIGHTS)

    @property
    def t50(self) -> float:
        """The length where the population fraction solved is 1/2 (inf: never as high)."""
        if self.lapse >= 0.5:
            return float("inf")
        log_lo, log_hi = np.log(self.centre) - 50.0, np.log(self.centre) + 50.0
        for _ in range(200):  # bisection: the fraction falls with T
            mid = 0.5 * (log_lo + log_hi)
            if self.fraction_solved(np.exp(mid)) > 0.5:
                log_lo = mid
            else:
                log_hi = mid
        return float(np.exp(0.5 * (log_lo + log_hi)))


def simulate_successes(rng, truth: Truth, lengths, seeds: int, n_studies: int) -> np.ndarray:
    """Solved counts (n_studies, L) of studies with ``seeds`` seeds at every length."""
    return simulate_runs(rng, truth, lengths, seeds, n_studies).sum(axis=1)


def simulate_runs(rng, truth: Truth, lengths, seeds: int, n_studies: int) -> np.ndarray:
    """Solved flags (n_studies, seeds, L) run by run; a seed's offset b_j is shared by its runs
    at every length."""
    log_t = np.log(np.asarray(lengths, dtype=float))
    offsets = truth.seed_sd * rng.standard_normal((n_studies, seeds, 1))  # (M, K, 1)
    p = (1 - truth.lapse) * _sigmoid(truth.slope * (log_t - np.log(truth.centre)) + offsets)
    return rng.random(p.shape) < p
