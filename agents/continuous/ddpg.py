"""DDPG: deep deterministic policy gradient (Lillicrap et al., 2016, "Continuous control with
deep reinforcement learning", arXiv:1509.02971).

A deterministic actor mu(s) in [-1, 1]^d (scaled to the env's bounds) and a critic Q(s, a),
both with slowly tracking target copies (Polyak tau):

    y        = r + gamma (1 - terminated) Q'(s', mu'(s'))
    L_Q      = mean (Q(s, a) - y)^2
    L_mu     = -mean Q(s, mu(s))
    theta'  <- tau theta + (1 - tau) theta'

Behaviour: uniform random actions for the first `learning_starts` steps, then mu(s) plus
Gaussian noise (or Ornstein-Uhlenbeck noise, as in the paper) in unit-action space, clipped.
`act` is the noise-free mu(s). Transitions (with costs) go to `ReplayBuffer`; one update of
`gradient_steps` minibatches every `train_freq` env steps.

Defaults are Stable-Baselines3's DDPG defaults (lr 1e-3 for both nets, batch 256, tau 0.005,
gamma 0.99, [400, 300] ReLU nets, Gaussian noise 0.1, learning_starts 100); the paper used
lr 1e-4 / 1e-3, batch 64, tau 0.001, OU noise (theta 0.15, sigma 0.2) and critic L2 1e-2.
The Pendulum-v1 benchmark uses rl-baselines3-zoo's ddpg.yml (gamma 0.98, buffer 200k,
learning_starts 10k).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from gymnasium import spaces

from testbed.agents.common.continuous import (
    ActionScaler,
    ExplorationNoise,
    QCritic,
    deterministic_actor,
    frozen,
    replay_for,
)
from testbed.agents.common.deterministic_actor import NoisyDeterministicActor
from testbed.agents.common.her import HERConfig, make_relabeller
from testbed.agents.common.nets import descend, soft_update
from testbed.agents.common.spaces import obs_dim


@dataclass(frozen=True)
class DDPGConfig:
    """DDPG hyperparameters (Stable-Baselines3 defaults)."""

    learning_rate: float = 1e-3
    """Adam step size of actor and critic."""
    buffer_size: int = 1_000_000
    """Replay capacity in transitions."""
    learning_starts: int = 100
    """Env steps of uniform random actions before the first update (env steps = transitions
    observed over all env copies: row i of a vector step starting at step t is step t + i)."""
    batch_size: int = 256
    """Minibatch size."""
    tau: float = 0.005
    """Polyak factor of the target networks."""
    gamma: float = 0.99
    """Discount factor."""
    train_freq: int = 1
    """Update every this many env steps; a vector step of N copies is N env steps, so
    `update()` then runs the updates due at all N (N / train_freq of them)."""
    gradient_steps: int = 1
    """Minibatches per update."""
    exploration_noise: float = 0.1
    """Std of the behaviour noise, in unit-action space ([-1, 1])."""
    noise_type: str = "normal"
    """'normal' (Gaussian, i.i.d.) or 'ou' (Ornstein-Uhlenbeck, as in the paper)."""
    ou_theta: float = 0.15
    """Mean reversion of the OU noise."""
    hidden: tuple[int, ...] = (400, 300)
    """Hidden layer widths of actor and critic."""
    her: HERConfig | None = None
    """Hindsight experience replay for goal-conditioned envs (agents/common/her.py), e.g.
    `her: {strategy: future, k: 4, terminate_on_success: false}`."""


class DDPG(NoisyDeterministicActor):
    """Deterministic actor, one Q critic, target networks, replay; continuous Box actions."""

    Config = DDPGConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: DDPGConfig | None = None,
    ):
        self.config = c = config or DDPGConfig()
        self.observation_space = observation_space
        self.scaler = ActionScaler(action_space, "DDPG")
        n_obs, n_act = obs_dim(observation_space), self.scaler.dim
        self.actor = deterministic_actor(n_obs, n_act, c.hidden)
        self.critic = QCritic(n_obs, n_act, c.hidden)
        self.actor_target = copy.deepcopy(self.actor)
        self.critic_target = copy.deepcopy(self.critic)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=c.learning_rate)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=c.learning_rate)
        self.noise = ExplorationNoise(n_act, c.exploration_noise, c.noise_type, c.ou_theta)
        self.buffer = replay_for(observation_space, n_act, c.buffer_size)
        self.her = make_relabeller(c.her, observation_space)
        self.steps = 0
        self.updates = 0
        self._updated = 0  # env steps whose scheduled updates have run

    def _gradient_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        c = self.config
        obs, actions, next_obs = batch["obs"], batch["actions"], batch["next_obs"]
        with torch.no_grad():
            next_q = self.critic_target(next_obs, self.actor_target(next_obs))
            target = batch["rewards"] + c.gamma * (1.0 - batch["dones"]) * next_q
        q = self.critic(obs, actions)
        critic_loss = F.mse_loss(q, target)
        descend(self.critic_optimizer, critic_loss)

        with frozen(self.critic):
            actor_loss = -self.critic(obs, self.actor(obs)).mean()
        descend(self.actor_optimizer, actor_loss)

        soft_update(self.critic_target, self.critic, c.tau)
        soft_update(self.actor_target, self.actor, c.tau)
        self.updates += 1
        return {
            "critic_loss": critic_loss.item(),
            "actor_loss": actor_loss.item(),
            "q_mean": q.mean().item(),
        }

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "actor_target": self.actor_target.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "noise_state": self.noise.state.clone(),
            "noise_states": self.noise.states.clone(),
            "steps": self.steps,
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.actor_target.load_state_dict(state["actor_target"])
        self.critic_target.load_state_dict(state["critic_target"])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.noise.state = state["noise_state"].clone()
        if "noise_states" in state:  # absent from checkpoints saved before batched training
            self.noise.states = state["noise_states"].clone()
        self.steps = self._updated = int(state["steps"])
        self.updates = int(state["updates"])
