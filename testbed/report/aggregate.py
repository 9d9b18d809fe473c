"""Statistics across runs (seeds) and tasks, as Agarwal et al. (2021, "Deep Reinforcement
Learning at the Edge of the Statistical Precipice") recommend, computed with their `rliable`
package: interquartile mean (IQM), median, mean and optimality gap with stratified bootstrap
confidence intervals, performance profiles (the fraction of runs scoring above each
threshold), and the probability that one method improves on another.

Scores are matrices (runs x tasks). rliable's bootstrap draws from numpy's global generator
(also when given a `random_state`), so each call runs under a seeded global state that is
restored afterwards: the same scores and seed give the same intervals.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

REPS = 2000
"""Bootstrap replications (rliable's own default for profiles)."""


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        np.random.set_state(state)


def _matrix(scores: Any) -> np.ndarray:
    array = np.asarray(scores, dtype=float)
    return array.reshape(-1, 1) if array.ndim == 1 else array


def aggregate_scores(
    scores: Any,
    *,
    target: float | None = None,
    confidence: float = 0.95,
    reps: int = REPS,
    seed: int = 0,
) -> dict[str, Any]:
    """IQM, median, mean (and the optimality gap below `target`, when given) of a runs x
    tasks matrix (a vector: one task), each {value, ci_low, ci_high}: stratified bootstrap
    percentile intervals over runs. Fewer than 2 runs: the values with no interval."""
    from rliable import library, metrics

    matrix = _matrix(scores)
    names = ["iqm", "median", "mean"] + (["optimality_gap"] if target is not None else [])

    def statistics(x: np.ndarray) -> np.ndarray:
        values = [metrics.aggregate_iqm(x), metrics.aggregate_median(x), metrics.aggregate_mean(x)]
        if target is not None:
            values.append(metrics.aggregate_optimality_gap(x, target))
        return np.array(values)

    point = statistics(matrix)
    result: dict[str, Any] = {"runs": int(matrix.shape[0]), "tasks": int(matrix.shape[1])}
    if matrix.shape[0] < 2:
        for name, value in zip(names, point, strict=True):
            result[name] = {"value": float(value), "ci_low": None, "ci_high": None}
        return result
    with _seeded(seed):
        _, intervals = library.get_interval_estimates(
            {"x": matrix}, statistics, reps=reps, confidence_interval_size=confidence
        )
    low, high = intervals["x"]
    for k, name in enumerate(names):
        result[name] = {
            "value": float(point[k]), "ci_low": float(low[k]), "ci_high": float(high[k])
        }  # fmt: skip
    result["confidence"] = confidence
    if target is not None:
        result["target"] = target
    return result


def probability_of_improvement(
    x: Any, y: Any, *, confidence: float = 0.95, reps: int = REPS, seed: int = 0
) -> dict[str, Any]:
    """P(a run of X scores above a run of Y), averaged over tasks (Mann-Whitney U), with a
    stratified bootstrap interval over both methods' runs."""
    from rliable import library, metrics

    scores = {"x": _matrix(x), "y": _matrix(y)}
    value = float(metrics.probability_of_improvement(scores["x"], scores["y"]))
    if min(len(scores["x"]), len(scores["y"])) < 2:
        return {"value": value, "ci_low": None, "ci_high": None}
    with _seeded(seed):
        _, intervals = library.get_interval_estimates(
            {"pair": [scores["x"], scores["y"]]},
            lambda a, b: np.array([metrics.probability_of_improvement(a, b)]),
            reps=reps,
            confidence_interval_size=confidence,
        )
    low, high = intervals["pair"]
    return {"value": value, "ci_low": float(low[0]), "ci_high": float(high[0]),
            "confidence": confidence}  # fmt: skip


def performance_profiles(
    scores: Mapping[str, Any], taus: Any, *, reps: int = REPS, seed: int = 0
) -> dict[str, dict[str, list[float]]]:
    """For each method, the fraction of its runs scoring above each threshold in `taus`,
    with stratified bootstrap intervals: {method: {tau, fraction, ci_low, ci_high}}."""
    from rliable import library

    taus = np.asarray(taus, dtype=float)
    matrices = {name: _matrix(s) for name, s in scores.items()}
    with _seeded(seed):
        profiles, intervals = library.create_performance_profile(matrices, taus, reps=reps)
    return {
        name: {
            "tau": taus.tolist(),
            "fraction": np.asarray(profiles[name]).tolist(),
            "ci_low": np.asarray(intervals[name][0]).tolist(),
            "ci_high": np.asarray(intervals[name][1]).tolist(),
        }
        for name in matrices
    }


def profile_plot(
    profiles: Mapping[str, Mapping[str, list[float]]], path: Path, xlabel: str
) -> None:
    """Performance profiles with their bands, one line per method, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, profile in profiles.items():
        ax.plot(profile["tau"], profile["fraction"], label=name)
        ax.fill_between(profile["tau"], profile["ci_low"], profile["ci_high"], alpha=0.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of runs with score > τ")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
