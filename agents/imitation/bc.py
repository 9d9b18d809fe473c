"""Behaviour cloning: supervised learning of the demonstrator's action from the observation
(Pomerleau 1991, "Efficient training of artificial neural networks for autonomous
navigation"; the baseline of every imitation and offline-RL paper since).

- Discrete actions: a classifier, cross-entropy of the logits against the demonstrated
  action; `act` is the most likely legal action.
- Continuous actions (1-D Box): a deterministic actor in the unit box [-1, 1]^d (tanh head),
  mean squared error against the demonstrated action mapped to the unit box; `act` scales it
  back to the env's bounds.

Each `update()` is one Adam step on a minibatch sampled uniformly from the loaded dataset
(`load_data`). Defaults: a 64-64 Tanh MLP (Stable-Baselines3's MlpPolicy, the policy the
`imitation` library's BC trains), Adam 1e-3, batch 64.
For a team (multi-agent envs) each seat's BC loads its own agent's dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn

from testbed.agents.common.nets import adam, mlp
from testbed.agents.common.offline import ObsNormalizer, OfflineData, OfflinePolicy, setup_spaces


@dataclass(frozen=True)
class BCConfig:
    """Hyperparameters of behaviour cloning."""

    hidden: tuple[int, ...] = (64, 64)
    """Widths of the hidden Tanh layers."""
    learning_rate: float = 1e-3
    """Adam step size."""
    batch_size: int = 64
    """Transitions per gradient step."""
    weight_decay: float = 0.0
    """L2 penalty on the weights (added to the loss)."""
    normalize_obs: bool = True
    """Standardise observations with the dataset's mean and std."""


class BC(OfflinePolicy):
    """Behaviour cloning for Discrete or 1-D Box actions (Box / Discrete / masked-dict
    observations)."""

    Config = BCConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: BCConfig | None = None,
    ):
        self.config = cfg = config or BCConfig()
        setup_spaces(self, observation_space, action_space)
        self.action_space = action_space
        self.policy = mlp(self.obs_dim, self.act_dim, cfg.hidden, nn.Tanh)
        self.optimizer = adam(self.policy.parameters(), cfg.learning_rate)
        self.normalizer = ObsNormalizer(self.obs_dim, cfg.normalize_obs)
        self.data: OfflineData | None = None
        self.updates = 0

    def _scores(self, obs: torch.Tensor) -> torch.Tensor:
        out = self.policy(obs)
        return out if self.discrete else torch.tanh(out)

    def load_data(self, data: Any) -> None:
        """Take the demonstrations (transition arrays); fit the observation statistics."""
        self.data = OfflineData(
            data, self.observation_space, self.action_space, getattr(self, "scaler", None)
        )
        self.normalizer.fit(self.data.obs)

    def update(self) -> dict[str, float]:
        """One gradient step of the cloning loss."""
        batch = self._require_data().sample(self.config.batch_size)
        out = self._scores(self.normalizer(batch["obs"]))
        if self.discrete:
            loss = F.cross_entropy(out, batch["actions"])
            accuracy = (out.argmax(1) == batch["actions"]).float().mean().item()
        else:
            loss = F.mse_loss(out, batch["actions"])
            accuracy = float("nan")
        total = loss
        if self.config.weight_decay > 0:
            total = loss + self.config.weight_decay * sum(
                (p**2).sum() for p in self.policy.parameters()
            )
        self.optimizer.zero_grad()
        total.backward()
        self.optimizer.step()
        self.updates += 1
        metrics = {"bc_loss": loss.item()}
        if self.discrete:
            metrics["accuracy"] = accuracy
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "normalizer": self.normalizer.state_dict(),
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.normalizer.load_state_dict(state["normalizer"])
        self.updates = int(state["updates"])
