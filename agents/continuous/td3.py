"""TD3: twin delayed DDPG (Fujimoto, van Hoof & Meger, 2018, "Addressing Function
Approximation Error in Actor-Critic Methods", ICML, arXiv:1802.09477).

DDPG with three fixes against Q over-estimation:

1. twin critics Q1, Q2 and a clipped double-Q target
       a'  = clip(mu'(s') + clip(eps, -c, c), -1, 1),   eps ~ N(0, sigma_target^2)
       y   = r + gamma (1 - terminated) min(Q1'(s', a'), Q2'(s', a'))
       L_Q = mean (Q1(s, a) - y)^2 + mean (Q2(s, a) - y)^2
2. target policy smoothing (the eps above);
3. delayed actor and target updates: every `policy_delay` critic steps,
       L_mu = -mean Q1(s, mu(s)),  then Polyak updates of all targets.

Behaviour: uniform random actions for the first `learning_starts` steps, then mu(s) + N(0,
sigma^2) in unit-action space, clipped; `act` is the noise-free mu(s).

Defaults are Stable-Baselines3's TD3 defaults (lr 1e-3, batch 256, tau 0.005, gamma 0.99,
[400, 300] ReLU nets, policy_delay 2, target noise 0.2 clipped at 0.5, exploration noise 0.1,
learning_starts 100), which follow the paper except for the batch size (paper: 100) and the
warm-up (paper: 10k-25k random steps). The Pendulum-v1 benchmark uses rl-baselines3-zoo's
td3.yml (gamma 0.98, buffer 200k, learning_starts 10k).
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
class TD3Config:
    """TD3 hyperparameters (Stable-Baselines3 defaults)."""

    learning_rate: float = 1e-3
    """Adam step size of actor and critics."""
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
    """Critic minibatches per update."""
    policy_delay: int = 2
    """One actor / target update per this many critic updates."""
    target_policy_noise: float = 0.2
    """Std of the smoothing noise on the target action (unit-action space)."""
    target_noise_clip: float = 0.5
    """The smoothing noise is clipped to +- this."""
    exploration_noise: float = 0.1
    """Std of the behaviour noise, in unit-action space ([-1, 1])."""
    noise_type: str = "normal"
    """'normal' (Gaussian, i.i.d.) or 'ou' (Ornstein-Uhlenbeck)."""
    ou_theta: float = 0.15
    """Mean reversion of the OU noise."""
    hidden: tuple[int, ...] = (400, 300)
    """Hidden layer widths of actor and critics."""
    her: HERConfig | None = None
    """Hindsight experience replay for goal-conditioned envs (agents/common/her.py), e.g.
    `her: {strategy: future, k: 4, terminate_on_success: false}`."""


class TD3(NoisyDeterministicActor):
    """Deterministic actor, twin Q critics with clipped double-Q, delayed actor updates."""

    Config = TD3Config

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: TD3Config | None = None,
    ):
        self.config = c = config or TD3Config()
        self.observation_space = observation_space
        self.scaler = ActionScaler(action_space, "TD3")
        n_obs, n_act = obs_dim(observation_space), self.scaler.dim
        self.actor = deterministic_actor(n_obs, n_act, c.hidden)
        self.q1 = QCritic(n_obs, n_act, c.hidden)
        self.q2 = QCritic(n_obs, n_act, c.hidden)
        self.actor_target = copy.deepcopy(self.actor)
        self.q1_target = copy.deepcopy(self.q1)
        self.q2_target = copy.deepcopy(self.q2)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=c.learning_rate)
        self.critic_optimizer = torch.optim.Adam(
            [*self.q1.parameters(), *self.q2.parameters()], lr=c.learning_rate
        )
        self.noise = ExplorationNoise(n_act, c.exploration_noise, c.noise_type, c.ou_theta)
        self.buffer = replay_for(observation_space, n_act, c.buffer_size)
        self.her = make_relabeller(c.her, observation_space)
        self.steps = 0
        self.updates = 0
        self._updated = 0  # env steps whose scheduled updates have run
        self.last_actor_loss = 0.0

    def train_on(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step on a minibatch the caller built (obs, actions in [-1, 1],
        rewards, next_obs, dones), e.g. goal_hierarchy's corrected subgoals."""
        return self._gradient_step(batch)

    def _gradient_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        c = self.config
        obs, actions, next_obs = batch["obs"], batch["actions"], batch["next_obs"]
        with torch.no_grad():
            smoothing = (torch.randn_like(actions) * c.target_policy_noise).clamp(
                -c.target_noise_clip, c.target_noise_clip
            )
            next_actions = (self.actor_target(next_obs) + smoothing).clamp(-1.0, 1.0)
            next_q = torch.min(
                self.q1_target(next_obs, next_actions), self.q2_target(next_obs, next_actions)
            )
            target = batch["rewards"] + c.gamma * (1.0 - batch["dones"]) * next_q
        q1, q2 = self.q1(obs, actions), self.q2(obs, actions)
        critic_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        descend(self.critic_optimizer, critic_loss)
        self.updates += 1

        if self.updates % c.policy_delay == 0:
            with frozen(self.q1):
                actor_loss = -self.q1(obs, self.actor(obs)).mean()
            descend(self.actor_optimizer, actor_loss)
            self.last_actor_loss = actor_loss.item()
            soft_update(self.q1_target, self.q1, c.tau)
            soft_update(self.q2_target, self.q2, c.tau)
            soft_update(self.actor_target, self.actor, c.tau)
        return {
            "critic_loss": critic_loss.item(),
            "actor_loss": self.last_actor_loss,
            "q_mean": q1.mean().item(),
        }

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(),
            "q1": self.q1.state_dict(),
            "q2": self.q2.state_dict(),
            "actor_target": self.actor_target.state_dict(),
            "q1_target": self.q1_target.state_dict(),
            "q2_target": self.q2_target.state_dict(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "noise_state": self.noise.state.clone(),
            "noise_states": self.noise.states.clone(),
            "steps": self.steps,
            "updates": self.updates,
            "last_actor_loss": self.last_actor_loss,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("actor", "q1", "q2", "actor_target", "q1_target", "q2_target"):
            getattr(self, name).load_state_dict(state[name])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.noise.state = state["noise_state"].clone()
        if "noise_states" in state:  # absent from checkpoints saved before batched training
            self.noise.states = state["noise_states"].clone()
        self.steps = self._updated = int(state["steps"])
        self.updates = int(state["updates"])
        self.last_actor_loss = float(state["last_actor_loss"])
