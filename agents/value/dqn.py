"""DQN: deep Q-learning from replay with a target network (Mnih et al. 2015, "Human-level
control through deep reinforcement learning", Nature 518), with the usual options:

- double DQN (van Hasselt, Guez & Silver 2016): the online net picks the next action, the
  target net values it;
- dueling heads (Wang et al. 2016): Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a');
- n-step returns (Sutton 1988; as in Rainbow, Hessel et al. 2018);
- hard target copies every K env steps (tau = 1) or Polyak averaging (tau < 1);
- Huber loss (the paper's error clipping) or MSE;
- hindsight experience replay (`her:`, Andrychowicz et al. 2017) on goal-conditioned envs.

Loss per minibatch of (s, a, R, s', done, gamma^k):
    y = R + gamma^k (1 - done) max_a' Q_target(s', a')      (double: Q_target(s', argmax Q(s', .)))
    L = huber(Q(s, a) - y)
Truncated episodes bootstrap (done = 1 only on termination). Illegal next actions (masks) are
excluded from the max.

Default hyperparameters are CleanRL's `dqn.py` (Huang et al. 2022, tuned for CartPole-v1:
120-84 ReLU MLP, lr 2.5e-4, buffer 10k, batch 128, target copy every 500 steps, train every 10
steps after 10k, epsilon 1 -> 0.05), with Huber loss and gradient-norm clipping at 10 as in
Stable-Baselines3. The benchmark uses the rl-baselines3-zoo CartPole-v1 set instead (see
benchmarks/learning_specs.py).

`explore` is epsilon-greedy (torch's global RNG); `act` is greedy (first legal argmax).

Vectorized training (N env copies): `explore_batch` runs one forward pass for the N stacked
observations (row i explores with the epsilon of env step steps + i); `observe_batch` writes
the N transitions to replay (one n-step accumulator per copy); `update()` then runs every
target update and gradient step due at the N env steps just observed. All schedules count
env steps = transitions observed over all copies, so N copies learn per env step as one does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn

from testbed.agents.common.encoders import NetworkConfig, feature_extractor, with_encoder
from testbed.agents.common.epsilon_replay import EpsilonGreedyReplay
from testbed.agents.common.her import HERConfig, make_relabeller
from testbed.agents.common.nets import descend, mlp
from testbed.agents.common.spaces import obs_dim, require_discrete, to_vector
from testbed.agents.common.value import (
    DiscountedReplayBuffer,
    NStepAccumulator,
    PerCopyNStep,
    masked_values,
)


@dataclass(frozen=True)
class DQNConfig:
    """Hyperparameters of DQN (defaults: CleanRL dqn.py, Huber loss and grad clip from SB3)."""

    hidden: tuple[int, ...] = (120, 84)
    """Widths of the hidden ReLU layers."""
    learning_rate: float = 2.5e-4
    """Adam step size."""
    adam_eps: float = 1e-8
    """Adam epsilon."""
    buffer_size: int = 10_000
    """Replay capacity in transitions."""
    batch_size: int = 128
    """Minibatch size of each gradient step."""
    gamma: float = 0.99
    """Discount factor."""
    learning_starts: int = 10_000
    """Env steps (transitions observed, over all env copies) of pure collection before the
    first gradient step."""
    train_freq: int = 10
    """Do `gradient_steps` gradient steps every this many env steps; a vector step of N copies
    is N env steps, so `update()` then runs those due at all N (N / train_freq rounds)."""
    gradient_steps: int = 1
    """Gradient steps per training round."""
    target_update_interval: int = 500
    """Update the target network every this many env steps (all copies counted)."""
    tau: float = 1.0
    """Target update rate: 1 = hard copy, < 1 = Polyak averaging."""
    epsilon_start: float = 1.0
    """Initial exploration rate."""
    epsilon_end: float = 0.05
    """Final exploration rate."""
    epsilon_decay_steps: int = 250_000
    """Env steps over which epsilon falls linearly from start to end (row i of a vector step
    starting at env step t explores with epsilon(t + i))."""
    double: bool = False
    """Double DQN target (online argmax, target value)."""
    dueling: bool = False
    """Dueling value/advantage heads."""
    n_step: int = 1
    """Length of the bootstrapped return."""
    loss: str = "huber"
    """'huber' (smooth L1) or 'mse'."""
    max_grad_norm: float = 10.0
    """Clip the gradient norm to this (0 = no clipping)."""
    anneal_steps: int = 0
    """Anneal the learning rate linearly to 0 over this many env steps (0 = constant); each
    `update()` sets the rate of the env steps observed so far."""
    her: HERConfig | None = None
    """Hindsight experience replay for goal-conditioned envs (agents/common/her.py), e.g.
    `her: {strategy: future, k: 4}`; needs n_step 1."""
    network: NetworkConfig | None = None
    """A feature extractor before the Q-network's MLP, e.g. `network: {type: multimodal}`
    for Dict observations (agents/common/encoders.py); the target network copies it."""


class QNetwork(nn.Module):
    """An MLP Q-function over flat observations; optionally with dueling heads."""

    def __init__(self, in_dim: int, n_actions: int, hidden: tuple[int, ...], dueling: bool):
        super().__init__()
        self.dueling = dueling
        if not dueling:
            self.body = mlp(in_dim, n_actions, hidden, nn.ReLU)
            return
        self.body = nn.Sequential(mlp(in_dim, hidden[-1], hidden[:-1], nn.ReLU), nn.ReLU())
        self.value = nn.Linear(hidden[-1], 1)
        self.advantage = nn.Linear(hidden[-1], n_actions)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if not self.dueling:
            return self.body(obs)
        features = self.body(obs)
        advantage = self.advantage(features)
        return self.value(features) + advantage - advantage.mean(dim=-1, keepdim=True)


class DQN(EpsilonGreedyReplay):
    """Deep Q-network learner for Discrete actions (Box / Discrete / masked-dict observations)."""

    Config = DQNConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: DQNConfig | None = None,
    ):
        self.config = config or DQNConfig()
        cfg = self.config
        self.n_actions = require_discrete(action_space, "DQN")
        if cfg.loss not in ("huber", "mse"):
            raise ValueError(f"DQN loss must be 'huber' or 'mse', got {cfg.loss!r}")
        if not cfg.hidden:
            raise ValueError("DQN needs at least one hidden layer")
        self.observation_space = observation_space
        self.action_start = int(action_space.start)
        self.obs_dim = obs_dim(observation_space)
        encoder, width = feature_extractor(cfg.network, observation_space)
        self.q = with_encoder(encoder, QNetwork(width, self.n_actions, cfg.hidden, cfg.dueling))
        self.target = copy.deepcopy(self.q)
        self.optimizer = torch.optim.Adam(
            self.q.parameters(), lr=cfg.learning_rate, eps=cfg.adam_eps
        )
        self.buffer = DiscountedReplayBuffer(cfg.buffer_size, self.obs_dim, self.n_actions)
        self.n_step = NStepAccumulator(cfg.n_step, cfg.gamma)
        self.copy_n_step = PerCopyNStep(cfg.n_step, cfg.gamma)  # batched training
        self.her = make_relabeller(cfg.her, observation_space, cfg.n_step)
        self.steps = 0
        self.updates = 0
        self._updated = 0  # env steps whose scheduled updates have run

    # -- acting ---------------------------------------------------------------------------
    def _vector(self, observation: Any) -> np.ndarray:
        return to_vector(self.observation_space, observation)

    @torch.no_grad()
    def _q_values(self, observation: Any) -> np.ndarray:
        return self.q(torch.from_numpy(self._vector(observation))).numpy()

    @torch.no_grad()
    def _q_batch(self, obs: torch.Tensor) -> np.ndarray:
        return self.q(obs).numpy()

    def _online(self) -> nn.Module:
        return self.q

    def _gradient_step(self, batch: dict[str, torch.Tensor]) -> tuple[float, float]:
        cfg = self.config
        with torch.no_grad():
            next_target = self.target(batch["next_obs"])
            if cfg.double:
                next_online = masked_values(self.q(batch["next_obs"]), batch["next_masks"])
                next_action = next_online.argmax(dim=1, keepdim=True)
                next_value = next_target.gather(1, next_action).squeeze(1)
            else:
                next_value = masked_values(next_target, batch["next_masks"]).max(dim=1).values
            not_done = 1.0 - batch["dones"]
            target = batch["rewards"] + batch["discounts"] * not_done * next_value
        q_taken = self.q(batch["obs"]).gather(1, batch["actions"].unsqueeze(1)).squeeze(1)
        if cfg.loss == "huber":
            loss = F.smooth_l1_loss(q_taken, target)
        else:
            loss = F.mse_loss(q_taken, target)
        descend(self.optimizer, loss, cfg.max_grad_norm)
        self.updates += 1
        return loss.item(), q_taken.detach().mean().item()

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "q": self.q.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "steps": self.steps,
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.q.load_state_dict(state["q"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps = self._updated = int(state["steps"])
        self.updates = int(state["updates"])
