"""SAC: soft actor-critic with automatic entropy tuning (Haarnoja et al., 2018, "Soft
Actor-Critic Algorithms and Applications", arXiv:1812.05905 — the "v2" without a V network).

A tanh-squashed Gaussian actor a = tanh(u), u ~ N(mu(s), sigma(s)^2), twin critics with
Polyak target copies, and a learned temperature alpha:

    log pi(a|s) = log N(u; mu, sigma) - sum log(1 - tanh(u)^2)
    y       = r + gamma (1 - terminated) [min_i Q_i'(s', a') - alpha log pi(a'|s')],  a' ~ pi(s')
    L_Q     = sum_i mean (Q_i(s, a) - y)^2
    L_pi    = mean [alpha log pi(a~|s) - min_i Q_i(s, a~)],  a~ ~ pi(s) (reparameterised)
    L_alpha = -mean log_alpha (log pi(a~|s) + H_target),     H_target = -|A|

Behaviour: uniform random actions for the first `learning_starts` steps, then samples of pi
(torch's global RNG). `act` is the deterministic mean action tanh(mu(s)) for evaluation.

Defaults are Stable-Baselines3's SAC defaults (lr 3e-4 for all three optimisers, batch 256,
tau 0.005, gamma 0.99, [256, 256] ReLU nets, alpha initialised to 1, log-std clamped to
[-20, 2], learning_starts 100), as in the paper's table except the warm-up. The Pendulum-v1
benchmark uses rl-baselines3-zoo's sac.yml (learning_rate 1e-3, 20k steps).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn

from testbed.agents.common.continuous import (
    ActionScaler,
    QCritic,
    due_updates,
    frozen,
    replay_for,
    store,
    store_batch,
    uniform_unit_action,
    warmup_or,
)
from testbed.agents.common.encoders import NetworkConfig, feature_extractor, with_encoder
from testbed.agents.common.her import HERConfig, make_relabeller
from testbed.agents.common.nets import as_tensor, descend, mlp, soft_update
from testbed.agents.common.normalize import RunningNormalizer
from testbed.agents.common.spaces import obs_dim, to_vector, to_vectors

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0


@dataclass(frozen=True)
class SACConfig:
    """SAC hyperparameters (Stable-Baselines3 defaults)."""

    learning_rate: float = 3e-4
    """Adam step size of actor, critics and temperature."""
    buffer_size: int = 1_000_000
    """Replay capacity in transitions."""
    learning_starts: int = 100
    """Env steps of uniform random actions before the first update (env steps = transitions
    observed over all env copies: row i of a vector step starting at step t is step t + i)."""
    batch_size: int = 256
    """Minibatch size."""
    tau: float = 0.005
    """Polyak factor of the target critics."""
    gamma: float = 0.99
    """Discount factor."""
    train_freq: int = 1
    """Update every this many env steps; a vector step of N copies is N env steps, so
    `update()` then runs the updates due at all N (N / train_freq of them)."""
    gradient_steps: int = 1
    """Minibatches per update."""
    alpha: float = 1.0
    """Initial entropy temperature (kept fixed when autotune is False)."""
    autotune: bool = True
    """Learn alpha so that the policy entropy tracks -|A|."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer widths of actor and critics."""
    her: HERConfig | None = None
    """Hindsight experience replay for goal-conditioned envs (agents/common/her.py), e.g.
    `her: {strategy: future, k: 4, terminate_on_success: false}`."""
    normalize_obs: bool = False
    """Feed the networks observations standardised by a running mean / std of the observed
    ones (clipped to +-5), as rl-baselines3-zoo's `normalize: true` (e.g. for Fetch tasks);
    the replay keeps raw observations."""
    network: NetworkConfig | None = None
    """A feature extractor before the actor's and each critic's MLP (each its own), e.g.
    `network: {type: multimodal}` for Dict observations (agents/common/encoders.py)."""


class SquashedGaussianActor(nn.Module):
    """s -> (mu, log_sigma); actions tanh(u) in [-1, 1]^d with u ~ N(mu, sigma^2)."""

    def __init__(self, in_dim: int, act_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        self.net = mlp(in_dim, 2 * act_dim, hidden, nn.ReLU)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_std = self.net(obs).chunk(2, dim=-1)
        return mu, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterised action in [-1, 1]^d and its log-probability (tanh-corrected)."""
        mu, log_std = self(obs)
        std = log_std.exp()
        u = mu + std * torch.randn_like(mu)
        log_normal = (-0.5 * ((u - mu) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), numerically stable
        log_jacobian = (2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))).sum(-1)
        return torch.tanh(u), log_normal - log_jacobian


class SAC:
    """Squashed-Gaussian actor, twin Q critics, learned entropy temperature; Box actions."""

    Config = SACConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: SACConfig | None = None,
    ):
        self.config = c = config or SACConfig()
        self.observation_space = observation_space
        self.scaler = ActionScaler(action_space, "SAC")
        n_act = self.scaler.dim
        actor_encoder, n_obs = feature_extractor(c.network, observation_space)
        self.actor = SquashedGaussianActor(n_obs, n_act, c.hidden)
        self.actor.net = with_encoder(actor_encoder, self.actor.net)
        q1_encoder, q2_encoder = (feature_extractor(c.network, observation_space)[0] for _ in "12")
        self.q1 = QCritic(n_obs, n_act, c.hidden, q1_encoder)
        self.q2 = QCritic(n_obs, n_act, c.hidden, q2_encoder)
        self.q1_target = copy.deepcopy(self.q1)
        self.q2_target = copy.deepcopy(self.q2)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=c.learning_rate)
        self.critic_optimizer = torch.optim.Adam(
            [*self.q1.parameters(), *self.q2.parameters()], lr=c.learning_rate
        )
        self.target_entropy = -float(n_act)
        self.log_alpha = torch.tensor(math.log(c.alpha), requires_grad=True)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=c.learning_rate)
        self.buffer = replay_for(observation_space, n_act, c.buffer_size)
        self.her = make_relabeller(c.her, observation_space)
        if c.normalize_obs and c.network is not None:
            raise ValueError(
                "normalize_obs standardises the flat observation, which would corrupt a "
                "network: encoder's token ids and pixels; use one of the two"
            )
        self.normalizer = (
            RunningNormalizer(obs_dim(observation_space), clip=5.0) if c.normalize_obs else None
        )
        self.steps = 0
        self.updates = 0
        self._updated = 0  # env steps whose scheduled updates have run

    @property
    def alpha(self) -> float:
        return self.log_alpha.detach().exp().item()

    # -- acting ---------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """Nothing to do: `act` is deterministic and `explore` uses torch's global RNG."""

    def _norm(self, obs: np.ndarray) -> np.ndarray:
        return obs if self.normalizer is None else self.normalizer(obs).astype(np.float32)

    def _obs(self, observation: Any) -> torch.Tensor:
        return as_tensor(self._norm(to_vector(self.observation_space, observation)))

    @torch.no_grad()
    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.ndarray:
        """The deterministic mean action tanh(mu(s)), in env units."""
        mu, _ = self.actor(self._obs(observation))
        return self.scaler.to_env(torch.tanh(mu).numpy())

    @torch.no_grad()
    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> np.ndarray:
        """Uniform random during warm-up, then a sample of the squashed Gaussian policy."""
        if self.steps < self.config.learning_starts:
            return self.scaler.to_env(uniform_unit_action(self.scaler.dim).numpy())
        action, _ = self.actor.sample(self._obs(observation))
        return self.scaler.to_env(action.numpy())

    @torch.no_grad()
    def explore_batch(
        self, observations: Any, action_masks: np.ndarray | None = None
    ) -> np.ndarray:
        """Actions (N, d) for N stacked observations: one actor forward and one sample of
        pi per row, uniform rows while before `learning_starts`."""
        obs = torch.from_numpy(self._norm(to_vectors(self.observation_space, observations)))
        n = len(obs)
        unit = warmup_or(
            lambda: self.actor.sample(obs)[0],
            n,
            self.scaler.dim,
            self.steps,
            self.config.learning_starts,
        )
        return self.scaler.to_env_batch(unit.numpy())

    # -- learning -------------------------------------------------------------------------
    def observe(self, transition: dict[str, Any]) -> None:
        store(self.buffer, self.observation_space, self.scaler, transition, self.her)
        if self.normalizer is not None:
            self.normalizer.update(to_vector(self.observation_space, transition["obs"]))
        self.steps += 1

    def observe_batch(self, batch: Any) -> None:
        """Record one transition per copy (a `TransitionBatch`) in one replay write."""
        store_batch(self.buffer, self.observation_space, self.scaler, batch, self.her)
        if self.normalizer is not None:
            self.normalizer.update(to_vectors(self.observation_space, batch.obs))
        self.steps += len(batch)

    def update(self) -> dict[str, float]:
        """`gradient_steps` minibatch steps for every update step (t >= learning_starts,
        t % train_freq == 0) among the env steps t observed since the last call; the last
        step's metrics, or {}."""
        c = self.config
        due = due_updates(self._updated, self.steps, c.learning_starts, c.train_freq)
        self._updated = self.steps
        metrics: dict[str, float] = {}
        for _ in range(due * c.gradient_steps):
            metrics = self._gradient_step(self.buffer.sample(c.batch_size))
        return metrics

    def train_on(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step on a minibatch the caller built (obs, actions in [-1, 1],
        rewards, next_obs, dones), e.g. MBPO's mix of real and model transitions."""
        return self._gradient_step(batch)

    def _gradient_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        c = self.config
        obs, actions, next_obs = batch["obs"], batch["actions"], batch["next_obs"]
        if self.normalizer is not None:
            obs = torch.from_numpy(self._norm(obs.numpy()))
            next_obs = torch.from_numpy(self._norm(next_obs.numpy()))
        alpha = self.log_alpha.detach().exp()
        with torch.no_grad():
            next_actions, next_log_pi = self.actor.sample(next_obs)
            next_q = torch.min(
                self.q1_target(next_obs, next_actions), self.q2_target(next_obs, next_actions)
            )
            soft_value = next_q - alpha * next_log_pi
            target = batch["rewards"] + c.gamma * (1.0 - batch["dones"]) * soft_value
        q1, q2 = self.q1(obs, actions), self.q2(obs, actions)
        critic_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        descend(self.critic_optimizer, critic_loss)

        new_actions, log_pi = self.actor.sample(obs)
        with frozen(self.q1, self.q2):
            q_new = torch.min(self.q1(obs, new_actions), self.q2(obs, new_actions))
        actor_loss = (alpha * log_pi - q_new).mean()
        descend(self.actor_optimizer, actor_loss)

        if c.autotune:
            alpha_loss = -(self.log_alpha * (log_pi.detach() + self.target_entropy)).mean()
            descend(self.alpha_optimizer, alpha_loss)

        soft_update(self.q1_target, self.q1, c.tau)
        soft_update(self.q2_target, self.q2, c.tau)
        self.updates += 1
        return {
            "critic_loss": critic_loss.item(),
            "actor_loss": actor_loss.item(),
            "q_mean": q1.mean().item(),
            "entropy": -log_pi.mean().item(),
            "alpha": self.alpha,
        }

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(),
            "q1": self.q1.state_dict(),
            "q2": self.q2.state_dict(),
            "q1_target": self.q1_target.state_dict(),
            "q2_target": self.q2_target.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "alpha_optimizer": self.alpha_optimizer.state_dict(),
            "steps": self.steps,
            "updates": self.updates,
            **({} if self.normalizer is None else {"obs_normalizer": self.normalizer.state_dict()}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("actor", "q1", "q2", "q1_target", "q2_target"):
            getattr(self, name).load_state_dict(state[name])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        if self.normalizer is not None:
            self.normalizer.load_state_dict(state["obs_normalizer"])
        self.steps = self._updated = int(state["steps"])
        self.updates = int(state["updates"])
