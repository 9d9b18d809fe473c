"""TD3+BC: TD3 with a behaviour-cloning term in the actor's loss, learned from a fixed dataset
(Fujimoto & Gu 2021, "A Minimalist Approach to Offline Reinforcement Learning", NeurIPS).

The critics learn exactly as in TD3 (twin critics, target policy smoothing, delayed actor and
target updates); only the actor's objective changes, to stay near the data's actions:

    pi = argmax_pi E_(s, a)~D [ lambda Q1(s, pi(s)) - (pi(s) - a)^2 ],
    lambda = alpha / (mean |Q1(s, pi(s))| over the minibatch, not differentiated)

States are standardised with the dataset's mean and std (the paper's normalisation). Actions
live in the unit box [-1, 1]^d (the paper's max_action = 1). 1-D Box actions only.

Defaults are the paper's: alpha 2.5, policy noise 0.2 (clip 0.5), policy delay 2, 256-256 ReLU
MLPs, Adam 3e-4, batch 256, Polyak 0.005, gamma 0.99.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from gymnasium import spaces

from testbed.agents.common.continuous import QCritic, deterministic_actor, frozen
from testbed.agents.common.nets import adam, soft_update
from testbed.agents.common.offline import ObsNormalizer, OfflineData, OfflinePolicy, setup_spaces
from testbed.agents.common.spaces import require_box


@dataclass(frozen=True)
class TD3BCConfig:
    """Hyperparameters of TD3+BC (defaults: the paper's)."""

    hidden: tuple[int, ...] = (256, 256)
    """Widths of the hidden ReLU layers (actor and critics)."""
    learning_rate: float = 3e-4
    """Adam step size of the actor and the critics."""
    batch_size: int = 256
    """Transitions per gradient step."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak rate of the target networks."""
    alpha: float = 2.5
    """Weight of the Q term against the BC term (lambda = alpha / mean |Q|)."""
    policy_noise: float = 0.2
    """Std of the target policy smoothing noise (unit-box units)."""
    noise_clip: float = 0.5
    """Clip of that noise."""
    policy_delay: int = 2
    """Critic steps per actor (and target) step."""
    normalize_obs: bool = True
    """Standardise observations with the dataset's mean and std."""


class TD3BC(OfflinePolicy):
    """TD3+BC for 1-D Box actions (Box / Discrete / masked-dict observations)."""

    Config = TD3BCConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: TD3BCConfig | None = None,
    ):
        self.config = cfg = config or TD3BCConfig()
        require_box(action_space, "TD3BC")
        setup_spaces(self, observation_space, action_space)
        self.action_space = action_space
        self.normalizer = ObsNormalizer(self.obs_dim, cfg.normalize_obs)
        self.data: OfflineData | None = None
        self.actor = deterministic_actor(self.obs_dim, self.act_dim, cfg.hidden)
        self.actor_target = copy.deepcopy(self.actor)
        self.q1 = QCritic(self.obs_dim, self.act_dim, cfg.hidden)
        self.q2 = QCritic(self.obs_dim, self.act_dim, cfg.hidden)
        self.q1_target, self.q2_target = copy.deepcopy(self.q1), copy.deepcopy(self.q2)
        self.actor_optimizer = adam(self.actor.parameters(), cfg.learning_rate)
        self.critic_optimizer = adam(
            [*self.q1.parameters(), *self.q2.parameters()], cfg.learning_rate
        )
        self.updates = 0
        self.last_actor = {"actor_loss": 0.0, "bc_loss": 0.0}

    def _scores(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor(obs)

    def load_data(self, data: Any) -> None:
        """Take the dataset (transition arrays); fit the state statistics."""
        self.data = OfflineData(data, self.observation_space, self.action_space, self.scaler)
        self.normalizer.fit(self.data.obs)

    def update(self) -> dict[str, float]:
        """One critic step; every `policy_delay` steps also an actor and target step."""
        cfg = self.config
        batch = self._require_data().sample(cfg.batch_size)
        obs, next_obs = self.normalizer(batch["obs"]), self.normalizer(batch["next_obs"])
        actions = batch["actions"]
        with torch.no_grad():
            noise = (torch.randn_like(actions) * cfg.policy_noise).clamp(
                -cfg.noise_clip, cfg.noise_clip
            )
            next_actions = (self.actor_target(next_obs) + noise).clamp(-1.0, 1.0)
            next_q = torch.min(
                self.q1_target(next_obs, next_actions), self.q2_target(next_obs, next_actions)
            )
            target = batch["rewards"] + cfg.gamma * (1.0 - batch["dones"]) * next_q
        q1 = self.q1(obs, actions)
        critic_loss = F.mse_loss(q1, target) + F.mse_loss(self.q2(obs, actions), target)
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()
        self.updates += 1

        if self.updates % cfg.policy_delay == 0:
            pi = self.actor(obs)
            with frozen(self.q1):
                q_pi = self.q1(obs, pi)
            lam = cfg.alpha / q_pi.abs().mean().detach().clamp(min=1e-6)
            bc_loss = F.mse_loss(pi, actions)
            actor_loss = -lam * q_pi.mean() + bc_loss
            self.actor_optimizer.zero_grad()
            actor_loss.backward()
            self.actor_optimizer.step()
            self.last_actor = {"actor_loss": actor_loss.item(), "bc_loss": bc_loss.item()}
            soft_update(self.q1_target, self.q1, cfg.tau)
            soft_update(self.q2_target, self.q2, cfg.tau)
            soft_update(self.actor_target, self.actor, cfg.tau)
        return {"critic_loss": critic_loss.item(), "q": q1.mean().item(), **self.last_actor}

    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(),
            "actor_target": self.actor_target.state_dict(),
            "q1": self.q1.state_dict(),
            "q2": self.q2.state_dict(),
            "q1_target": self.q1_target.state_dict(),
            "q2_target": self.q2_target.state_dict(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "normalizer": self.normalizer.state_dict(),
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("actor", "actor_target", "q1", "q2", "q1_target", "q2_target"):
            getattr(self, name).load_state_dict(state[name])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.normalizer.load_state_dict(state["normalizer"])
        self.updates = int(state["updates"])
