"""IQL: implicit Q-learning from a fixed dataset (Kostrikov, Nair & Levine 2021, "Offline
Reinforcement Learning with Implicit Q-Learning", ICLR 2022). Registered as `implicit_q`:
the id `iql` is independent Q-learning (agents/marl/iql.py).

No action outside the dataset is ever evaluated. Three losses per gradient step:

    V:  E[ L2^tau(min_i Q_target_i(s, a) - V(s)) ],  L2^tau(u) = |tau - 1(u < 0)| u^2
        (an upper expectile of Q over the data's actions: tau -> 1 approaches the best
        in-distribution action)
    Q:  E[ (r + gamma (1 - done) V(s') - Q_i(s, a))^2 ]  for twin critics i = 1, 2
    pi: advantage-weighted regression, max E[ exp(beta (Q_target(s, a) - V(s))) log pi(a|s) ]
        with the weight clipped at `max_weight`

- Discrete actions: Q(s, .) heads over every action, a categorical policy; `act` is its most
  likely legal action.
- Continuous actions (1-D Box): a Gaussian policy in the unit box (tanh mean, state-free log
  std, as CORL's IQL); `act` is its mean.

Defaults are the paper's MuJoCo settings (tau 0.7, beta 3, 256-256 MLPs, Adam 3e-4, batch 256,
Polyak 0.005, weight clip 100); the cosine decay of the actor's rate is not used.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn

from testbed.agents.common.continuous import QCritic
from testbed.agents.common.nets import adam, mlp, soft_update
from testbed.agents.common.offline import ObsNormalizer, OfflineData, OfflinePolicy, setup_spaces


@dataclass(frozen=True)
class ImplicitQConfig:
    """Hyperparameters of IQL (defaults: the paper's MuJoCo settings)."""

    hidden: tuple[int, ...] = (256, 256)
    """Widths of the hidden ReLU layers (Q, V, policy)."""
    learning_rate: float = 3e-4
    """Adam step size of every network."""
    batch_size: int = 256
    """Transitions per gradient step."""
    gamma: float = 0.99
    """Discount factor."""
    expectile: float = 0.7
    """tau of the expectile regression of V (0.5: the mean, SARSA-like; -> 1: the max)."""
    beta: float = 3.0
    """Inverse temperature of the advantage weights."""
    max_weight: float = 100.0
    """Clip of exp(beta * advantage)."""
    tau: float = 0.005
    """Polyak rate of the target critics."""
    normalize_obs: bool = True
    """Standardise observations with the dataset's mean and std."""


class ImplicitQ(OfflinePolicy):
    """Implicit Q-learning for Discrete or 1-D Box actions."""

    Config = ImplicitQConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: ImplicitQConfig | None = None,
    ):
        self.config = cfg = config or ImplicitQConfig()
        setup_spaces(self, observation_space, action_space)
        self.action_space = action_space
        self.normalizer = ObsNormalizer(self.obs_dim, cfg.normalize_obs)
        self.data: OfflineData | None = None
        self.updates = 0
        if self.discrete:
            self.critics = nn.ModuleList(
                [mlp(self.obs_dim, self.n_actions, cfg.hidden, nn.ReLU) for _ in range(2)]
            )
        else:
            self.critics = nn.ModuleList(
                [QCritic(self.obs_dim, self.act_dim, cfg.hidden) for _ in range(2)]
            )
            self.log_std = nn.Parameter(torch.zeros(self.act_dim))
        self.critic_targets = copy.deepcopy(self.critics)
        self.value = mlp(self.obs_dim, 1, cfg.hidden, nn.ReLU)
        self.policy = mlp(self.obs_dim, self.act_dim, cfg.hidden, nn.ReLU)
        policy_params = list(self.policy.parameters())
        if not self.discrete:
            policy_params.append(self.log_std)
        self.critic_optimizer = adam(self.critics.parameters(), cfg.learning_rate)
        self.value_optimizer = adam(self.value.parameters(), cfg.learning_rate)
        self.policy_optimizer = adam(policy_params, cfg.learning_rate)

    def _scores(self, obs: torch.Tensor) -> torch.Tensor:
        out = self.policy(obs)
        return out if self.discrete else torch.tanh(out)

    def load_data(self, data: Any) -> None:
        """Take the dataset (transition arrays); fit the observation statistics."""
        self.data = OfflineData(
            data, self.observation_space, self.action_space, getattr(self, "scaler", None)
        )
        self.normalizer.fit(self.data.obs)

    def _q(self, critic: nn.Module, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        if self.discrete:
            return critic(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
        return critic(obs, actions)

    def _log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        if self.discrete:
            return -F.cross_entropy(self.policy(obs), actions, reduction="none")
        mean = torch.tanh(self.policy(obs))
        log_std = self.log_std.clamp(-5.0, 2.0)
        return torch.distributions.Normal(mean, log_std.exp()).log_prob(actions).sum(-1)

    def update(self) -> dict[str, float]:
        """One gradient step of V, the twin Qs and the policy on a minibatch."""
        cfg = self.config
        batch = self._require_data().sample(cfg.batch_size)
        obs, next_obs = self.normalizer(batch["obs"]), self.normalizer(batch["next_obs"])
        actions = batch["actions"]
        with torch.no_grad():
            q_target = torch.min(*[self._q(t, obs, actions) for t in self.critic_targets])
        # V: expectile regression toward the target Q of the data's actions
        v = self.value(obs).squeeze(-1)
        diff = q_target - v
        weight = torch.abs(cfg.expectile - (diff < 0).float())
        value_loss = (weight * diff**2).mean()
        self.value_optimizer.zero_grad()
        value_loss.backward()
        self.value_optimizer.step()
        # Q: one-step backup through V(s')
        with torch.no_grad():
            next_v = self.value(next_obs).squeeze(-1)
            target = batch["rewards"] + cfg.gamma * (1.0 - batch["dones"]) * next_v
        q_loss = sum(F.mse_loss(self._q(c, obs, actions), target) for c in self.critics)
        self.critic_optimizer.zero_grad()
        q_loss.backward()
        self.critic_optimizer.step()
        # policy: advantage-weighted regression
        advantage = (q_target - v.detach()).detach()
        weights = torch.exp(cfg.beta * advantage).clamp(max=cfg.max_weight)
        policy_loss = -(weights * self._log_prob(obs, actions)).mean()
        self.policy_optimizer.zero_grad()
        policy_loss.backward()
        self.policy_optimizer.step()
        for target_net, critic in zip(self.critic_targets, self.critics, strict=True):
            soft_update(target_net, critic, cfg.tau)
        self.updates += 1
        return {
            "value_loss": value_loss.item(),
            "q_loss": float(q_loss.item()) / 2,
            "policy_loss": policy_loss.item(),
            "advantage": advantage.mean().item(),
        }

    def state_dict(self) -> dict[str, Any]:
        state = {
            "critics": self.critics.state_dict(),
            "critic_targets": self.critic_targets.state_dict(),
            "value": self.value.state_dict(),
            "policy": self.policy.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "value_optimizer": self.value_optimizer.state_dict(),
            "policy_optimizer": self.policy_optimizer.state_dict(),
            "normalizer": self.normalizer.state_dict(),
            "updates": self.updates,
        }
        if not self.discrete:
            state["log_std"] = self.log_std.detach().clone()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.critics.load_state_dict(state["critics"])
        self.critic_targets.load_state_dict(state["critic_targets"])
        self.value.load_state_dict(state["value"])
        self.policy.load_state_dict(state["policy"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.value_optimizer.load_state_dict(state["value_optimizer"])
        self.policy_optimizer.load_state_dict(state["policy_optimizer"])
        self.normalizer.load_state_dict(state["normalizer"])
        self.updates = int(state["updates"])
        if not self.discrete:
            with torch.no_grad():
                self.log_std.copy_(state["log_std"])
