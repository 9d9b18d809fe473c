"""GAIL: generative adversarial imitation learning (Ho & Ermon 2016, "Generative Adversarial
Imitation Learning", NeurIPS), with our PPO (agents/policy_gradient/ppo.py) as the policy
learner, vectorized like PPO.

A discriminator D(s, a) -> P(expert) learns to tell the expert's state-action pairs (the
stage's `dataset:`) from the policy's; the policy is trained by PPO on the reward

    r(s, a) = -log(1 - D(s, a)) = softplus(logit D(s, a))

in place of the env's reward (which GAIL never sees; the curve's eval return is the env's).
Per PPO rollout: each step's reward is computed by the current discriminator as the step is
observed; when the rollout is full, the discriminator takes `disc_epochs` passes of
minibatches over the rollout's pairs against as many expert pairs (binary cross-entropy,
expert = 1), then PPO optimises. Actions enter D one-hot (Discrete) or in the unit box (Box).

Defaults: PPO's own, and a 64-64 ReLU discriminator (Adam 3e-4, one pass per rollout).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn

from testbed.agents.common.continuous import ActionScaler
from testbed.agents.common.nets import adam, mlp
from testbed.agents.common.rollout import one_row
from testbed.agents.common.spaces import obs_dim, to_vectors
from testbed.agents.policy_gradient.ppo import PPO, ActsWithPPO, PPOConfig


@dataclass(frozen=True)
class GAILConfig(PPOConfig):
    """PPO's hyperparameters plus the discriminator's."""

    disc_hidden: tuple[int, ...] = (64, 64)
    """Widths of the discriminator's hidden ReLU layers."""
    disc_learning_rate: float = 3e-4
    """Adam step size of the discriminator."""
    disc_epochs: int = 1
    """Passes over each rollout's pairs per discriminator training."""
    disc_minibatch_size: int = 256
    """Policy pairs (and as many expert pairs) per discriminator step."""


class GAIL(ActsWithPPO):
    """GAIL over PPO for Discrete or 1-D Box actions; learns from a dataset and the env."""

    Config = GAILConfig
    needs_dataset = True
    """A train stage must give it `dataset:` (the expert's demonstrations)."""

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: GAILConfig | None = None,
    ):
        self.config = c = config or GAILConfig()
        if c.network is not None:  # inherited from PPOConfig; its discriminator has no encoder
            raise ValueError(
                "gail does not take network: (its discriminator reads the flat "
                "observation); use ppo for an encoder"
            )
        ppo_fields = {f.name: getattr(c, f.name) for f in dataclasses.fields(PPOConfig)}
        self.ppo = PPO(observation_space, action_space, PPOConfig(**ppo_fields))
        self.observation_space, self.action_space = observation_space, action_space
        self.discrete = isinstance(action_space, spaces.Discrete)
        self.scaler = None if self.discrete else ActionScaler(action_space, "GAIL")
        width = int(action_space.n) if self.discrete else self.scaler.dim
        self.disc = mlp(obs_dim(observation_space) + width, 1, c.disc_hidden, nn.ReLU)
        self.disc_optimizer = adam(self.disc.parameters(), c.disc_learning_rate)
        self.expert: torch.Tensor | None = None
        self.pairs: list[torch.Tensor] = []  # the current rollout's (s, a) features

    def _features(self, observations: Any, actions: Any) -> torch.Tensor:
        obs = torch.from_numpy(to_vectors(self.observation_space, observations))
        if self.discrete:
            index = np.asarray(actions, np.int64).reshape(-1) - int(self.action_space.start)
            act = F.one_hot(torch.from_numpy(index), int(self.action_space.n)).float()
        else:
            act = torch.from_numpy(self.scaler.to_unit_batch(np.asarray(actions)))
        return torch.cat([obs, act], dim=1)

    def load_data(self, data: Any) -> None:
        """Take the expert's demonstrations (transition arrays; only states and actions)."""
        self.expert = self._features(data["observations"], data["actions"])

    def _rewards(self, features: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return F.softplus(self.disc(features)[:, 0]).numpy().astype(np.float32)

    def observe_batch(self, batch: Any) -> None:
        """One step of every env copy, its env reward replaced by the discriminator's."""
        if self.expert is None:
            raise RuntimeError("GAIL has no demonstrations: give its train stage `dataset:`")
        features = self._features(batch.obs, batch.action)
        self.pairs.append(features)
        self.ppo.observe_batch(dataclasses.replace(batch, reward=self._rewards(features)))

    def observe(self, transition: dict[str, Any]) -> None:
        """One transition of one env: as `observe_batch` with one row."""
        self.observe_batch(one_row(transition))

    def _train_discriminator(self) -> dict[str, float]:
        c = self.config
        assert self.expert is not None
        policy = torch.cat(self.pairs)
        self.pairs = []
        losses, accuracy = [], []
        for _ in range(c.disc_epochs):
            for idx in torch.randperm(len(policy)).split(c.disc_minibatch_size):
                expert = self.expert[torch.randint(len(self.expert), (len(idx),))]
                logits = self.disc(torch.cat([expert, policy[idx]]))[:, 0]
                labels = torch.cat([torch.ones(len(idx)), torch.zeros(len(idx))])
                loss = F.binary_cross_entropy_with_logits(logits, labels)
                self.disc_optimizer.zero_grad()
                loss.backward()
                self.disc_optimizer.step()
                losses.append(loss.item())
                accuracy.append(((logits > 0).float() == labels).float().mean().item())
        return {"disc_loss": float(np.mean(losses)), "disc_accuracy": float(np.mean(accuracy))}

    def update(self) -> dict[str, float]:
        """When PPO's rollout is full: train the discriminator, then PPO."""
        batch = self.ppo.take_rollout()
        if batch is None:
            return {}
        metrics = self._train_discriminator()
        metrics["gail_reward"] = float(batch["reward"].mean())
        advantages, returns = self.ppo.advantages(batch)
        return {**metrics, **self.ppo.optimize(batch, advantages, returns)}

    def state_dict(self) -> dict[str, Any]:
        return {
            "ppo": self.ppo.state_dict(),
            "disc": self.disc.state_dict(),
            "disc_optimizer": self.disc_optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ppo.load_state_dict(state["ppo"])
        self.disc.load_state_dict(state["disc"])
        self.disc_optimizer.load_state_dict(state["disc_optimizer"])
