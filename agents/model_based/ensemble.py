"""A probabilistic ensemble dynamics model (Chua et al. 2018, "Deep Reinforcement Learning in a
Handful of Trials using Probabilistic Dynamics Models", NeurIPS; Janner et al. 2019 for MBPO),
shared by the model-based learners.

E members, each an MLP (SiLU) from the normalised input [s, a] to a Gaussian over the target
[s' - s, r] (r only when rewards are learned): mean and log-variance, the log-variance softly
bounded by learned limits (the paper's appendix A.1):

    logvar = max - softplus(max - raw);  logvar = min + softplus(logvar - min)
    loss   = mean over members of  mean((mu - y)^2 exp(-logvar) + logvar)
             + 0.01 (sum max - sum min)                 (Adam with weight decay)

Each member trains on its own bootstrap resample of the data (sampled with replacement),
which keeps the members diverse. Inputs are standardised with the mean and std of the data
of the last fit (kept in `state_dict`, with the weights). `errors` reports the one-step and
open-loop multi-step prediction errors on held-out trajectories.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class EnsembleLinear(nn.Module):
    """E independent linear layers applied to inputs (E, B, in) in one batched matmul."""

    def __init__(self, members: int, in_dim: int, out_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(members, in_dim, out_dim))
        self.bias = nn.Parameter(torch.zeros(members, 1, out_dim))
        bound = 1.0 / np.sqrt(in_dim)
        nn.init.trunc_normal_(self.weight, std=bound, a=-2 * bound, b=2 * bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class GaussianEnsemble(nn.Module):
    """E MLPs, each returning (mean, bounded log-variance) of its target."""

    def __init__(self, members: int, in_dim: int, out_dim: int, hidden: Sequence[int]):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers += [EnsembleLinear(members, width, h), nn.SiLU()]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = EnsembleLinear(members, width, 2 * out_dim)
        self.max_logvar = nn.Parameter(torch.full((out_dim,), 0.5))
        self.min_logvar = nn.Parameter(torch.full((out_dim,), -10.0))
        self.members, self.out_dim = members, out_dim

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, raw = self.head(self.body(x)).split(self.out_dim, dim=-1)
        logvar = self.max_logvar - F.softplus(self.max_logvar - raw)
        logvar = self.min_logvar + F.softplus(logvar - self.min_logvar)
        return mean, logvar


class DynamicsModel:
    """Predicts s' (and r when `learned_reward`) from (s, a) with a Gaussian ensemble."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        learned_reward: bool,
        members: int = 5,
        hidden: Sequence[int] = (200, 200, 200),
        learning_rate: float = 1e-3,
        weight_decay: float = 5e-5,
    ):
        self.obs_dim, self.act_dim, self.learned_reward = obs_dim, act_dim, learned_reward
        out = obs_dim + int(learned_reward)
        self.net = GaussianEnsemble(members, obs_dim + act_dim, out, hidden)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=learning_rate,
                                          weight_decay=weight_decay)  # fmt: skip
        self.in_mean = torch.zeros(obs_dim + act_dim)
        self.in_std = torch.ones(obs_dim + act_dim)
        self.fits = 0

    @property
    def members(self) -> int:
        return self.net.members

    def _inputs(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return (torch.cat([obs, actions], dim=-1) - self.in_mean) / self.in_std

    def fit(self, data: dict[str, np.ndarray], epochs: int, batch_size: int) -> dict[str, float]:
        """Train every member on its own bootstrap resample of `data` (obs, action, reward,
        next_obs arrays) for `epochs` passes; mean NLL of the last epoch and the train MSE."""
        obs = torch.as_tensor(data["obs"], dtype=torch.float32)
        actions = torch.as_tensor(data["action"], dtype=torch.float32)
        target = torch.as_tensor(data["next_obs"], dtype=torch.float32) - obs
        if self.learned_reward:
            rewards = torch.as_tensor(data["reward"], dtype=torch.float32)
            target = torch.cat([target, rewards[:, None]], dim=1)
        inputs = torch.cat([obs, actions], dim=1)
        self.in_mean = inputs.mean(0)
        self.in_std = inputs.std(0).clamp_min(1e-6) if len(inputs) > 1 else torch.ones_like(
            self.in_mean)  # fmt: skip
        x = (inputs - self.in_mean) / self.in_std
        n, e = len(x), self.members
        rows = torch.randint(n, (e, n))  # bootstrap resamples, one per member
        losses = []
        for _ in range(epochs):
            order = rows[:, torch.randperm(n)]
            losses = []
            for start in range(0, n, batch_size):
                index = order[:, start : start + batch_size]
                mean, logvar = self.net(x[index])
                nll = ((mean - target[index]) ** 2 * torch.exp(-logvar) + logvar).mean()
                loss = nll + 0.01 * (self.net.max_logvar.sum() - self.net.min_logvar.sum())
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                losses.append(nll.item())
        self.fits += 1
        with torch.no_grad():
            mean, _ = self.net(x.expand(e, n, -1))
            mse = float(((mean.mean(0) - target) ** 2).mean())
        return {"model_nll": float(np.mean(losses)), "model_train_mse": mse}

    @torch.no_grad()
    def step(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        sample: bool = True,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Next states (and learned rewards, else None) for inputs (E, B, d): member e
        predicts row block e. `sample` draws from each member's Gaussian, else its mean."""
        mean, logvar = self.net(self._inputs(obs, actions))
        if sample:
            noise = torch.randn(mean.shape, generator=generator)
            mean = mean + noise * torch.exp(0.5 * logvar)
        next_obs = obs + mean[..., : self.obs_dim]
        reward = mean[..., self.obs_dim] if self.learned_reward else None
        return next_obs, reward

    @torch.no_grad()
    def errors(
        self, episodes: list[dict[str, np.ndarray]], horizons: Sequence[int] = (1, 5, 10, 20)
    ) -> dict[str, float]:
        """Prediction errors on held-out `episodes` (obs, action, next_obs arrays, in time
        order): the mean squared error of the ensemble mean's next state one step ahead, and
        open-loop k steps ahead (predictions fed back, true actions), for each k in
        `horizons` that fits in an episode."""
        sums: dict[int, list[float]] = {k: [] for k in horizons}
        for ep in episodes:
            obs = torch.as_tensor(ep["obs"], dtype=torch.float32)
            actions = torch.as_tensor(ep["action"], dtype=torch.float32)
            truth = torch.as_tensor(ep["next_obs"], dtype=torch.float32)
            for k in horizons:
                starts = len(obs) - k + 1
                if starts <= 0:
                    continue
                state = obs[:starts].expand(self.members, starts, -1)
                for t in range(k):
                    act = actions[t : t + starts].expand(self.members, starts, -1)
                    state, _ = self.step(state, act, sample=False)
                    state = state.mean(0).expand(self.members, starts, -1)
                error = ((state[0] - truth[k - 1 : k - 1 + starts]) ** 2).mean(1)
                sums[k] += error.tolist()
        return {f"mse_{k}_step": float(np.mean(v)) for k, v in sums.items() if v}

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "in_mean": self.in_mean.clone(), "in_std": self.in_std.clone(),
                "fits": self.fits}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.in_mean = state["in_mean"].clone()
        self.in_std = state["in_std"].clone()
        self.fits = int(state["fits"])
