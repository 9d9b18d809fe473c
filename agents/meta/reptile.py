"""Reptile: Nichol, Achiam & Schulman (2018), "On First-Order Meta-Learning Algorithms",
arXiv:1803.02999 (Algorithm 2, batched).

Per meta-iteration, for each of `meta_batch` tasks: from theta, take `inner_steps`
policy-gradient steps (each on K fresh episodes, plain SGD with `inner_lr`) to W_i; then
theta <- theta + epsilon * mean_i (W_i - theta), with epsilon = `outer_lr`. No second
derivatives and no meta-loss: the update moves theta toward the tasks' adapted weights.
Also `multitask`: the pretrained baseline of Finn et al. (one policy trained with policy
gradients on episodes of all tasks jointly, no inner loop).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from testbed.agents.meta.common import MetaLearner, Task, adapt


@dataclass(frozen=True)
class ReptileConfig:
    """Reptile hyperparameters (the adaptation step `inner_lr` is used at test time too)."""

    hidden: tuple[int, ...] = (100, 100)
    """Hidden ReLU layer widths of the policy."""
    inner_lr: float = 0.1
    """Step size of the inner policy-gradient steps (SGD)."""
    inner_steps: int = 3
    """Inner steps per task, each on `episodes` fresh episodes."""
    episodes: int = 20
    """Episodes per inner step."""
    meta_batch: int = 20
    """Tasks per meta-iteration."""
    outer_lr: float = 0.5
    """epsilon: how far theta moves toward the mean adapted weights."""
    meta_lr: float = 0.01
    """Unused by Reptile's update (kept so every meta-learner has an optimizer to save)."""
    gamma: float = 0.99
    """Discount of the policy-gradient returns."""


class Reptile(MetaLearner):
    """Batched Reptile over a task distribution (see the module docstring)."""

    Config = ReptileConfig

    def meta_step(self, tasks: list[Task], seed: int) -> dict[str, float]:
        c = self.config
        theta = {k: v.detach() for k, v in self.params().items()}
        needs = {k: v.requires_grad for k, v in self.params().items()}
        moved = {k: torch.zeros_like(v) for k, v in theta.items()}
        before = []
        for i, task in enumerate(tasks):
            params = {k: v.clone().requires_grad_(needs[k]) for k, v in theta.items()}
            for step in range(c.inner_steps):
                batch = self.sample(task, c.episodes, seed + 100_000 * i + 1_000 * step, params)
                if step == 0:
                    before.append(batch.mean_return)
                params = adapt(params, lambda p, b=batch: self.loss(p, b), 1, c.inner_lr, True)
                params = {k: v.detach().requires_grad_(needs[k]) for k, v in params.items()}
            for k in moved:
                moved[k] += (params[k].detach() - theta[k]) / len(tasks)
        with torch.no_grad():
            for k, p in self.params().items():
                p.add_(c.outer_lr * moved[k])
        self.iterations += 1
        return {"return_before": sum(before) / len(before)}


@dataclass(frozen=True)
class MultitaskConfig:
    """Joint pretraining on all tasks (Finn et al.'s "pretrained" baseline)."""

    hidden: tuple[int, ...] = (100, 100)
    """Hidden ReLU layer widths of the policy."""
    inner_lr: float = 0.1
    """Step size of adaptation at test time (as the meta-learners')."""
    episodes: int = 20
    """Episodes per task per update."""
    meta_batch: int = 20
    """Tasks per update (their losses averaged)."""
    meta_lr: float = 0.01
    """Adam step size."""
    gamma: float = 0.99
    """Discount of the policy-gradient returns."""


class Multitask(MetaLearner):
    """One policy trained on episodes of all tasks jointly (no adaptation in training)."""

    Config = MultitaskConfig

    def meta_step(self, tasks: list[Task], seed: int) -> dict[str, float]:
        c = self.config
        theta = self.params()
        batches = [
            self.sample(task, c.episodes, seed + 100_000 * i) for i, task in enumerate(tasks)
        ]
        loss = torch.stack([self.loss(theta, b) for b in batches]).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.iterations += 1
        return {
            "loss": float(loss.detach()),
            "return": sum(b.mean_return for b in batches) / len(batches),
        }
