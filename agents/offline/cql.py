"""CQL: conservative Q-learning from a fixed dataset (Kumar, Zhou, Tucker & Levine 2020,
"Conservative Q-Learning for Offline Reinforcement Learning", NeurIPS), the CQL(H) variant.

The Q-function's ordinary Bellman loss gets a penalty that pushes Q down on actions the
policy might pick and up on the dataset's actions, so actions never seen in the data are not
over-valued:

    L(Q) = alpha * E_s[ log sum_a exp Q(s, a) - Q(s, a_data) ] + 1/2 E[(Q(s, a) - y)^2]

- **Discrete** actions (the paper's Atari form, on a DQN): the log-sum-exp runs over every
  action; y = r + gamma (1 - done) max_a' Q_target(s', a') (illegal next actions excluded);
  `act` is the greedy legal action.
- **Continuous** actions (1-D Box; the paper's SAC form): twin critics and a tanh-Gaussian
  actor; the log-sum-exp is estimated with `n_action_samples` uniform actions and actions of
  the current policy at s and s', each importance-weighted by its density (the paper's
  Appendix F estimator); y = r + gamma (1 - done) min_i Q_target_i(s', a' ~ pi(s')); the actor
  maximises min_i Q_i(s, a) - alpha_ent log pi(a|s) with the entropy temperature tuned to
  -dim(A). `act` is tanh of the actor's mean.

Defaults follow d3rlpy's CQLConfig (conservative weight 5, 10 action samples, batch 256,
Polyak tau 0.005, critic 3e-4, actor 1e-4) and, for discrete actions, d3rlpy's DiscreteCQL
(alpha 1, hard target copy every 8000 steps -> 1000 here, for small tasks).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn

from testbed.agents.common.continuous import QCritic, frozen
from testbed.agents.common.nets import adam, mlp, soft_update
from testbed.agents.common.offline import ObsNormalizer, OfflineData, OfflinePolicy, setup_spaces
from testbed.agents.common.value import masked_values
from testbed.agents.continuous.sac import SquashedGaussianActor


@dataclass(frozen=True)
class CQLConfig:
    """Hyperparameters of CQL (defaults: d3rlpy's CQL / DiscreteCQL)."""

    hidden: tuple[int, ...] = (256, 256)
    """Widths of the hidden ReLU layers (critics and actor)."""
    critic_learning_rate: float = 3e-4
    """Adam step size of the Q-function(s)."""
    actor_learning_rate: float = 1e-4
    """Adam step size of the actor and the entropy temperature (continuous)."""
    batch_size: int = 256
    """Transitions per gradient step."""
    gamma: float = 0.99
    """Discount factor."""
    alpha: float | None = None
    """Weight of the conservative penalty; None: 5 for continuous, 1 for discrete actions
    (d3rlpy's defaults)."""
    n_action_samples: int = 10
    """Sampled actions per kind (uniform, pi(s), pi(s')) for the continuous log-sum-exp."""
    tau: float = 0.005
    """Polyak rate of the target critics (continuous)."""
    target_update_interval: int = 1000
    """Gradient steps between hard target copies (discrete)."""
    initial_temperature: float = 1.0
    """Initial entropy temperature alpha_ent (continuous)."""
    normalize_obs: bool = True
    """Standardise observations with the dataset's mean and std."""


class CQL(OfflinePolicy):
    """Conservative Q-learning for Discrete or 1-D Box actions."""

    Config = CQLConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: CQLConfig | None = None,
    ):
        self.config = cfg = config or CQLConfig()
        setup_spaces(self, observation_space, action_space)
        self.action_space = action_space
        self.normalizer = ObsNormalizer(self.obs_dim, cfg.normalize_obs)
        self.data: OfflineData | None = None
        self.updates = 0
        self.alpha = cfg.alpha if cfg.alpha is not None else (1.0 if self.discrete else 5.0)
        if self.discrete:
            self.q = mlp(self.obs_dim, self.n_actions, cfg.hidden, nn.ReLU)
            self.q_target = copy.deepcopy(self.q)
            self.q_optimizer = adam(self.q.parameters(), cfg.critic_learning_rate)
            return
        self.actor = SquashedGaussianActor(self.obs_dim, self.act_dim, cfg.hidden)
        self.critics = nn.ModuleList(
            [QCritic(self.obs_dim, self.act_dim, cfg.hidden) for _ in range(2)]
        )
        self.critic_targets = copy.deepcopy(self.critics)
        self.actor_optimizer = adam(self.actor.parameters(), cfg.actor_learning_rate)
        self.critic_optimizer = adam(self.critics.parameters(), cfg.critic_learning_rate)
        self.log_temperature = torch.tensor(math.log(cfg.initial_temperature), requires_grad=True)
        self.temperature_optimizer = adam([self.log_temperature], cfg.actor_learning_rate)

    def _scores(self, obs: torch.Tensor) -> torch.Tensor:
        if self.discrete:
            return self.q(obs)
        return torch.tanh(self.actor(obs)[0])

    def load_data(self, data: Any) -> None:
        """Take the dataset (transition arrays); fit the observation statistics."""
        self.data = OfflineData(
            data, self.observation_space, self.action_space, getattr(self, "scaler", None)
        )
        self.normalizer.fit(self.data.obs)

    def update(self) -> dict[str, float]:
        """One gradient step on a minibatch of the dataset."""
        batch = self._require_data().sample(self.config.batch_size)
        batch["obs"] = self.normalizer(batch["obs"])
        batch["next_obs"] = self.normalizer(batch["next_obs"])
        self.updates += 1
        return self._discrete_step(batch) if self.discrete else self._continuous_step(batch)

    # -- discrete ------------------------------------------------------------------------
    def _discrete_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        with torch.no_grad():
            next_q = masked_values(self.q_target(batch["next_obs"]), batch.get("next_masks"))
            target = batch["rewards"] + cfg.gamma * (1.0 - batch["dones"]) * next_q.max(1).values
        q_all = self.q(batch["obs"])
        q_data = q_all.gather(1, batch["actions"].unsqueeze(1)).squeeze(1)
        td_loss = 0.5 * F.mse_loss(q_data, target)
        penalty = (torch.logsumexp(q_all, dim=1) - q_data).mean()
        loss = td_loss + self.alpha * penalty
        self.q_optimizer.zero_grad()
        loss.backward()
        self.q_optimizer.step()
        if self.updates % cfg.target_update_interval == 0:
            self.q_target.load_state_dict(self.q.state_dict())
        return {"td_loss": td_loss.item(), "cql_penalty": penalty.item(), "q": q_data.mean().item()}

    # -- continuous ----------------------------------------------------------------------
    def _policy_samples(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """n actions of pi per row: (B, n, d) and their log-probabilities (B, n)."""
        n = self.config.n_action_samples
        repeated = obs.unsqueeze(1).expand(-1, n, -1).reshape(-1, obs.shape[-1])
        actions, log_probs = self.actor.sample(repeated)
        return actions.view(len(obs), n, -1), log_probs.view(len(obs), n)

    def _q_on(self, critic: nn.Module, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Q(s, a) for (B, n, d) actions: (B, n)."""
        b, n, d = actions.shape
        repeated = obs.unsqueeze(1).expand(-1, n, -1).reshape(b * n, -1)
        return critic(repeated, actions.reshape(b * n, d)).view(b, n)

    def _continuous_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        obs, actions = batch["obs"], batch["actions"]
        temperature = self.log_temperature.exp().detach()
        with torch.no_grad():
            next_actions, _ = self.actor.sample(batch["next_obs"])
            next_q = torch.min(*[t(batch["next_obs"], next_actions) for t in self.critic_targets])
            target = batch["rewards"] + cfg.gamma * (1.0 - batch["dones"]) * next_q
            n = cfg.n_action_samples
            uniform = torch.rand(len(obs), n, self.act_dim) * 2.0 - 1.0
            uniform_log_density = self.act_dim * math.log(0.5)
            pi_now, logp_now = self._policy_samples(obs)
            pi_next, logp_next = self._policy_samples(batch["next_obs"])
        td_losses, penalties = [], []
        for critic in self.critics:
            q_data = critic(obs, actions)
            td_losses.append(0.5 * F.mse_loss(q_data, target))
            candidates = torch.cat(
                [
                    self._q_on(critic, obs, uniform) - uniform_log_density,
                    self._q_on(critic, obs, pi_now) - logp_now,
                    self._q_on(critic, obs, pi_next) - logp_next,
                ],
                dim=1,
            )
            penalties.append((torch.logsumexp(candidates, dim=1) - q_data).mean())
        td_loss, penalty = sum(td_losses), sum(penalties)
        critic_loss = td_loss + self.alpha * penalty
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()

        new_actions, log_probs = self.actor.sample(obs)
        with frozen(self.critics):
            q_pi = torch.min(*[c(obs, new_actions) for c in self.critics])
        actor_loss = (temperature * log_probs - q_pi).mean()
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        self.actor_optimizer.step()
        temperature_loss = -(self.log_temperature * (log_probs.detach() - self.act_dim).mean())
        self.temperature_optimizer.zero_grad()
        temperature_loss.backward()
        self.temperature_optimizer.step()
        for target_net, critic in zip(self.critic_targets, self.critics, strict=True):
            soft_update(target_net, critic, cfg.tau)
        return {
            "td_loss": float(td_loss.item()) / 2,
            "cql_penalty": float(penalty.item()) / 2,
            "actor_loss": actor_loss.item(),
            "temperature": float(temperature),
        }

    # -- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "normalizer": self.normalizer.state_dict(),
            "updates": self.updates,
        }
        if self.discrete:
            return {
                **state,
                "q": self.q.state_dict(),
                "q_target": self.q_target.state_dict(),
                "q_optimizer": self.q_optimizer.state_dict(),
            }
        return {
            **state,
            "actor": self.actor.state_dict(),
            "critics": self.critics.state_dict(),
            "critic_targets": self.critic_targets.state_dict(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "log_temperature": self.log_temperature.detach().clone(),
            "temperature_optimizer": self.temperature_optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.normalizer.load_state_dict(state["normalizer"])
        self.updates = int(state["updates"])
        if self.discrete:
            self.q.load_state_dict(state["q"])
            self.q_target.load_state_dict(state["q_target"])
            self.q_optimizer.load_state_dict(state["q_optimizer"])
            return
        self.actor.load_state_dict(state["actor"])
        self.critics.load_state_dict(state["critics"])
        self.critic_targets.load_state_dict(state["critic_targets"])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        with torch.no_grad():
            self.log_temperature.copy_(state["log_temperature"])
        self.temperature_optimizer.load_state_dict(state["temperature_optimizer"])
