"""Which observed features cause the reward: the PC algorithm (Spirtes, Glymour & Scheines
2000; causal-learn's implementation) on rows the agent collected itself.

A reward that pays for matching a feature (r = 1[a = c]) with uniformly random actions is
independent of c marginally (an XOR), which violates PC's faithfulness assumption. The
actions are interventions the agent randomised, so the search runs once per action value,
on the rows where that action was taken (the distribution under do(action = a)), and a
feature is a parent of the reward when it is adjacent to it under any action.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

MIN_ROWS = 30
"""Strata (action values) with fewer rows are not searched."""


@dataclass(frozen=True)
class Discovery:
    """The reward's parents among the features, per regime of the collected rows."""

    features: tuple[str, ...]
    parents: tuple[str, ...]
    rows: int
    strata: int


def reward_parents(
    features: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    names: tuple[str, ...],
    alpha: float = 0.01,
    indep_test: str = "chisq",
) -> Discovery:
    """The features adjacent to the reward in PC's graph under some action (see module doc).

    `features` (rows, k) and `rewards` (rows,) must be discrete (small integers);
    `actions` (rows,) the action of each row."""
    from causallearn.search.ConstraintBased.PC import pc  # heavy: imported when used

    features = np.asarray(features, np.int64).reshape(len(actions), -1)
    rewards = np.asarray(rewards)
    if not np.allclose(rewards, np.round(rewards)):
        raise ValueError("reward_parents needs discrete rewards (small integers)")
    found: set[int] = set()
    strata = 0
    for action in np.unique(actions):
        rows = actions == action
        if rows.sum() < MIN_ROWS:
            continue
        data = np.column_stack([features[rows], np.round(rewards[rows])]).astype(np.float64)
        varying = [j for j in range(data.shape[1]) if np.ptp(data[:, j]) > 0]
        target = data.shape[1] - 1
        if target not in varying or len(varying) < 2:
            strata += 1
            continue  # a constant reward or no varying feature: no edge to find
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = pc(
                data[:, varying], alpha=alpha, indep_test=indep_test, show_progress=False
            ).G.graph
        t = varying.index(target)
        found |= {varying[j] for j in range(len(varying)) if j != t and graph[t, j] != 0}
        strata += 1
    return Discovery(
        features=tuple(names),
        parents=tuple(names[j] for j in sorted(found)),
        rows=int(len(actions)),
        strata=strata,
    )
