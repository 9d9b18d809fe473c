"""C51: categorical distributional DQN (Bellemare, Dabney & Munos 2017, "A Distributional
Perspective on Reinforcement Learning", ICML).

The network outputs, for every action, a probability vector p(s, a) over N fixed atoms
z_i = v_min + i * dz, dz = (v_max - v_min) / (N - 1); Q(s, a) = sum_i z_i p_i(s, a).
Training (the paper's Algorithm 1) for a minibatch of (s, a, R, s', done, gamma^k):
    a* = argmax_a' Q_target(s', a')                           (over legal actions)
    Tz_j = clip(R + gamma^k (1 - done) z_j, v_min, v_max)
    b_j = (Tz_j - v_min) / dz,  l = floor(b_j),  u = ceil(b_j)
    m_l += p_j(s', a*) (u - b_j),  m_u += p_j(s', a*) (b_j - l)   (all of p_j to l when l = u)
    L = -sum_i m_i log p_i(s, a)
Truncated episodes bootstrap (done = 1 only on termination); n-step returns are optional.

Default hyperparameters are CleanRL's `c51.py` for CartPole-v1 (Huang et al. 2022): 101 atoms
on [-100, 100], 120-84 ReLU MLP, Adam lr 2.5e-4 with eps 0.01 / batch_size, buffer 10k,
batch 128, hard target copy every 500 steps, train every 10 steps after 10k, epsilon
1 -> 0.05 over 250k steps.

`explore` is epsilon-greedy on Q (torch's global RNG); `act` is greedy on Q (first legal
argmax). Vectorized training (N env copies) works as in DQN: `explore_batch` is one forward
pass, `observe_batch` keeps one n-step accumulator per copy, and `update()` runs the updates
due at all N env steps just observed (schedules count env steps over all copies).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from testbed.agents.common.epsilon_replay import EpsilonGreedyReplay
from testbed.agents.common.nets import descend, mlp
from testbed.agents.common.spaces import obs_dim, require_discrete, to_vector
from testbed.agents.common.value import (
    DiscountedReplayBuffer,
    NStepAccumulator,
    PerCopyNStep,
    masked_values,
)


@dataclass(frozen=True)
class C51Config:
    """Hyperparameters of C51 (defaults: CleanRL c51.py for CartPole-v1)."""

    n_atoms: int = 101
    """Number of atoms of the return distribution."""
    v_min: float = -100.0
    """Smallest atom (returns below are clipped to it)."""
    v_max: float = 100.0
    """Largest atom (returns above are clipped to it)."""
    hidden: tuple[int, ...] = (120, 84)
    """Widths of the hidden ReLU layers."""
    learning_rate: float = 2.5e-4
    """Adam step size."""
    adam_eps: float = 0.01 / 128
    """Adam epsilon (0.01 / batch_size, as in the paper and CleanRL)."""
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
    n_step: int = 1
    """Length of the bootstrapped return."""
    max_grad_norm: float = 0.0
    """Clip the gradient norm to this (0 = no clipping, as in the paper)."""
    anneal_steps: int = 0
    """Anneal the learning rate linearly to 0 over this many env steps (0 = constant); each
    `update()` sets the rate of the env steps observed so far."""


class C51(EpsilonGreedyReplay):
    """Categorical distributional DQN for Discrete actions."""

    Config = C51Config

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: C51Config | None = None,
    ):
        self.config = config or C51Config()
        cfg = self.config
        self.n_actions = require_discrete(action_space, "C51")
        if cfg.n_atoms < 2 or not cfg.v_min < cfg.v_max:
            raise ValueError("C51 needs n_atoms >= 2 and v_min < v_max")
        self.observation_space = observation_space
        self.action_start = int(action_space.start)
        self.obs_dim = obs_dim(observation_space)
        self.atoms = torch.linspace(cfg.v_min, cfg.v_max, cfg.n_atoms)
        self.delta_z = (cfg.v_max - cfg.v_min) / (cfg.n_atoms - 1)
        self.net = mlp(self.obs_dim, self.n_actions * cfg.n_atoms, cfg.hidden, nn.ReLU)
        self.target = copy.deepcopy(self.net)
        self.optimizer = torch.optim.Adam(
            self.net.parameters(), lr=cfg.learning_rate, eps=cfg.adam_eps
        )
        self.buffer = DiscountedReplayBuffer(cfg.buffer_size, self.obs_dim, self.n_actions)
        self.n_step = NStepAccumulator(cfg.n_step, cfg.gamma)
        self.copy_n_step = PerCopyNStep(cfg.n_step, cfg.gamma)  # batched training
        self.steps = 0
        self.updates = 0
        self._updated = 0  # env steps whose scheduled updates have run

    # -- distributions --------------------------------------------------------------------
    def _log_probs(self, net: nn.Module, obs: torch.Tensor) -> torch.Tensor:
        """log p(s, .) with shape (batch, actions, atoms)."""
        logits = net(obs).view(-1, self.n_actions, self.config.n_atoms)
        return torch.log_softmax(logits, dim=-1)

    @torch.no_grad()
    def _q_values(self, observation: Any) -> np.ndarray:
        obs = torch.from_numpy(to_vector(self.observation_space, observation))
        probs = self._log_probs(self.net, obs).exp()[0]
        return (probs * self.atoms).sum(-1).numpy()

    @torch.no_grad()
    def _q_batch(self, obs: torch.Tensor) -> np.ndarray:
        """Q(s, .) = sum_i z_i p_i(s, .) for N stacked flat observations: (N, actions)."""
        return (self._log_probs(self.net, obs).exp() * self.atoms).sum(-1).numpy()

    def _online(self) -> nn.Module:
        return self.net

    @torch.no_grad()
    def target_distribution(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The projected target distribution m, shape (batch, atoms)."""
        cfg = self.config
        next_probs = self._log_probs(self.target, batch["next_obs"]).exp()
        next_q = masked_values((next_probs * self.atoms).sum(-1), batch["next_masks"])
        next_action = next_q.argmax(dim=1)
        next_probs = next_probs[torch.arange(len(next_action)), next_action]
        not_done = (1.0 - batch["dones"]).unsqueeze(1)
        discount = batch["discounts"].unsqueeze(1)
        tz = (batch["rewards"].unsqueeze(1) + discount * not_done * self.atoms).clamp(
            cfg.v_min, cfg.v_max
        )
        b = (tz - cfg.v_min) / self.delta_z
        lower, upper = b.floor(), b.ceil()
        to_lower = (upper + (lower == upper).float() - b) * next_probs
        to_upper = (b - lower) * next_probs
        m = torch.zeros_like(next_probs)
        m.scatter_add_(1, lower.long(), to_lower)
        m.scatter_add_(1, upper.long().clamp(max=cfg.n_atoms - 1), to_upper)
        return m

    def _gradient_step(self, batch: dict[str, torch.Tensor]) -> tuple[float, float]:
        cfg = self.config
        m = self.target_distribution(batch)
        log_probs = self._log_probs(self.net, batch["obs"])
        taken = log_probs[torch.arange(len(m)), batch["actions"]]
        loss = -(m * taken).sum(-1).mean()
        descend(self.optimizer, loss, cfg.max_grad_norm)
        self.updates += 1
        q_mean = (taken.detach().exp() * self.atoms).sum(-1).mean()
        return loss.item(), q_mean.item()

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "net": self.net.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "steps": self.steps,
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps = self._updated = int(state["steps"])
        self.updates = int(state["updates"])
