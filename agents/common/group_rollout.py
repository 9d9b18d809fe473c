"""Pieces shared by the on-policy group learners (MAPPO, MAPPO-Lagrangian): value
normalisation, one critic step, advantage standardisation, and the per-agent rollout batches
joined into one batch.

Value normalisation (Yu et al. 2022, "The Surprising Effectiveness of PPO in Cooperative
Multi-Agent Games", Suggestion 1; their ValueNorm, here with the running mean/variance of
`RunningNormalizer` instead of an exponential average): the critic predicts value targets
standardised by running statistics of the targets seen so far, and its outputs are
de-normalised before they enter GAE. The outputs are not rescaled when the statistics move
(PopArt would), hence "PopArt-lite".
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from testbed.agents.common.nets import descend
from testbed.agents.common.normalize import RunningNormalizer
from testbed.agents.common.rollout import value_loss


class ValueNorm:
    """Running mean/std of value targets: the critic predicts standardised targets."""

    def __init__(self, enabled: bool):
        self.stats = RunningNormalizer(1) if enabled else None

    def update(self, targets: torch.Tensor) -> None:
        if self.stats is not None:
            self.stats.update(targets.detach().double().numpy().reshape(-1, 1))

    def _moments(self) -> tuple[float, float]:
        assert self.stats is not None
        return float(self.stats.mean[0]), math.sqrt(float(self.stats.var[0]) + 1e-8)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        if self.stats is None:
            return x
        mean, std = self._moments()
        return (x - mean) / std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        if self.stats is None:
            return x
        mean, std = self._moments()
        return x * std + mean

    def state_dict(self) -> dict[str, Any]:
        return {} if self.stats is None else self.stats.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.stats is not None:
            self.stats.load_state_dict(state)


def fit_critic(
    critic: nn.Module,
    optimizer: torch.optim.Optimizer,
    norm: ValueNorm,
    states: torch.Tensor,
    old_raw: torch.Tensor,
    returns: torch.Tensor,
    idx: torch.Tensor,
    clip: float | None,
    max_grad_norm: float,
) -> float:
    """One gradient step of a (reward or cost) critic on minibatch `idx`; returns the loss."""
    loss = value_loss(critic(states[idx]).squeeze(-1), old_raw[idx], norm.normalize(returns[idx]),
                      clip)  # fmt: skip
    descend(optimizer, loss, max_grad_norm)
    return float(loss.detach())


def concat_batches(parts: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Agents' batches one after another; a missing `action_mask` counts as all legal."""
    out: dict[str, torch.Tensor] = {}
    for key in parts[0]:
        if key != "action_mask":
            out[key] = torch.cat([p[key] for p in parts])
    if any("action_mask" in p for p in parts):
        width = next(p["action_mask"].shape[1] for p in parts if "action_mask" in p)
        out["action_mask"] = torch.cat([
            p["action_mask"] if "action_mask" in p
            else torch.ones(len(p["reward"]), width, dtype=torch.bool)
            for p in parts
        ])  # fmt: skip
    out["agent_index"] = out.pop("agent").long()
    return out
