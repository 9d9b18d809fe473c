"""What `benchmarks/learning.py` trains: one spec per algorithm, with its published reference.

Budgets and hyperparameters are stated here and not tuned to pass: each spec's `params` are the
algorithm's documented defaults for that task family (the module docstring cites the source).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LearningSpec:
    """One algorithm on one task with a budget, a target and a published reference."""

    agent: str
    """Registry id of the learner."""
    env: str
    """Registry id of the (one-agent) env."""
    steps: int
    """Training budget in env steps."""
    target: float
    """The return the issue asks for (final evaluation mean)."""
    reference: str
    """A published number for the same task and its source."""
    params: dict[str, Any] = field(default_factory=dict)
    """Learner parameters (registry names), beyond the config defaults."""
    env_params: dict[str, Any] = field(default_factory=dict)
    eval_every: int = 10_000
    """Evaluate the greedy/mean policy every this many env steps."""
    eval_episodes: int = 10
    final_episodes: int = 20
    """Held-out episodes of the final evaluation."""


SPECS: dict[str, LearningSpec] = {
    # >>> value-based
    # <<< value-based
    # >>> policy-gradient
    # <<< policy-gradient
    # >>> continuous-control
    # <<< continuous-control
}
