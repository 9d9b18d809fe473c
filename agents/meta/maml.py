"""MAML for RL: Finn, Abbeel & Levine (2017), "Model-Agnostic Meta-Learning for Fast Adaptation
of Deep Networks", ICML (Algorithm 3, policy gradients).

Per meta-iteration, for each of `meta_batch` tasks T_i: sample K episodes with theta, take
`inner_steps` policy-gradient steps theta'_i = theta - alpha grad L_Ti(theta); sample K new
episodes with theta'_i; the meta-loss is sum_i L_Ti(theta'_i), minimised over theta with Adam
(the paper uses TRPO for the outer step). `first_order: true` (default) drops the second
derivatives (the inner gradient is a constant: FOMAML); `false` differentiates through the
inner steps (`create_graph`). The functional form of the policy is `torch.func.functional_call`.
The same code meta-learns sine regression in tests/agents/test_meta.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from testbed.agents.meta.common import MetaLearner, Task, adapt


@dataclass(frozen=True)
class MAMLConfig:
    """MAML hyperparameters (2D navigation: Finn et al. 2017 sec. 5.3, outer step Adam)."""

    hidden: tuple[int, ...] = (100, 100)
    """Hidden ReLU layer widths of the policy."""
    inner_lr: float = 0.1
    """alpha: step size of the inner (adaptation) gradient steps."""
    inner_steps: int = 1
    """Inner gradient steps per task during meta-training."""
    episodes: int = 20
    """K: episodes sampled per task per inner step (and for the meta-loss)."""
    meta_batch: int = 20
    """Tasks per meta-iteration."""
    meta_lr: float = 0.01
    """Adam step size of the outer update."""
    gamma: float = 0.99
    """Discount of the policy-gradient returns."""
    first_order: bool = True
    """Drop second derivatives (FOMAML); false: differentiate through the inner steps."""


class MAML(MetaLearner):
    """Policy-gradient MAML over a task distribution (see the module docstring)."""

    Config = MAMLConfig

    def meta_step(self, tasks: list[Task], seed: int) -> dict[str, float]:
        c = self.config
        theta = self.params()
        losses, before, after = [], [], []
        for i, task in enumerate(tasks):
            base = seed + 100_000 * i
            batch = self.sample(task, c.episodes, base)
            adapted = adapt(
                theta, lambda p, b=batch: self.loss(p, b), c.inner_steps, c.inner_lr, c.first_order
            )
            fresh = self.sample(task, c.episodes, base + 50_000,
                                {k: v.detach() for k, v in adapted.items()})  # fmt: skip
            losses.append(self.loss(adapted, fresh))
            before.append(batch.mean_return)
            after.append(fresh.mean_return)
        self.optimizer.zero_grad()
        meta_loss = torch.stack(losses).mean()
        meta_loss.backward()
        self.optimizer.step()
        self.iterations += 1
        return {
            "meta_loss": float(meta_loss.detach()),
            "return_before": sum(before) / len(before),
            "return_after": sum(after) / len(after),
        }
