"""PETS: probabilistic ensembles with trajectory sampling (Chua, Calandra, McAllister & Levine
2018, "Deep Reinforcement Learning in a Handful of Trials using Probabilistic Dynamics Models",
NeurIPS), with the settings of mbrl-lib's PETS example (Pineda et al. 2021) as defaults.

- Model: a Gaussian ensemble of s' - s (agents/model_based/ensemble.py), refit on all data
  after every episode (a "trial") once `random_steps` random steps were collected.
- Planning (model-predictive control, replanned every step): the cross-entropy method over
  action sequences of `horizon` unit actions: `iterations` rounds of `population` samples
  from a Gaussian clipped to [-1, 1] (its std at most half the distance to a bound), the
  `elite_ratio` best refit the Gaussian (smoothed by `alpha`), the first action of the best
  sequence seen is taken, and the mean, shifted by one step, warm-starts the next plan.
- Trajectory sampling TS-inf: each of `particles` particles per sequence follows one ensemble
  member (particle p: member p mod E) for the whole horizon, sampling its Gaussian; a sequence
  is worth the mean over particles of the summed rewards until the rollout terminates.
- Rewards: a known task function (`reward_fn: cartpole`, agents/model_based/task_fns.py, as
  PETS assumes) or `learned` (the ensemble also predicts r; no termination).

`explore` plans with torch's global RNG (uniform actions until the model is first fit); `act`
plans with a generator seeded by `reset(seed)`. `update()` after an episode ends returns the
model's held-out errors on that episode (one-step and open-loop k-step MSE, measured before it
is refit on it) and the fit's loss. The model (weights, input statistics) is in `state_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from testbed.agents.common.continuous import ActionScaler
from testbed.agents.common.spaces import obs_dim, to_vector
from testbed.agents.model_based.ensemble import DynamicsModel
from testbed.agents.model_based.task_fns import TASK_FNS


@dataclass(frozen=True)
class PETSConfig:
    """Hyperparameters of PETS (defaults: mbrl-lib's PETS example on continuous CartPole)."""

    reward_fn: str = "learned"
    """'learned' (the model predicts r) or a known task function: 'cartpole', 'pendulum'."""
    members: int = 5
    """Ensemble size."""
    hidden: tuple[int, ...] = (200, 200, 200)
    """Hidden widths of each member's MLP."""
    learning_rate: float = 1e-3
    """Adam step size of the model."""
    weight_decay: float = 5e-5
    """Adam weight decay of the model."""
    epochs: int = 50
    """Passes over the data at each refit."""
    batch_size: int = 32
    """Model minibatch size."""
    random_steps: int = 200
    """Uniform random env steps before the first fit (then the episode under way finishes
    randomly)."""
    horizon: int = 15
    """Planning horizon in steps."""
    population: int = 500
    """CEM samples per iteration."""
    iterations: int = 5
    """CEM iterations per plan."""
    elite_ratio: float = 0.1
    """Share of the population that refits the sampling distribution."""
    alpha: float = 0.1
    """Weight of the old mean and variance in each CEM refit."""
    particles: int = 20
    """Particles per action sequence (a multiple of `members`)."""


class PETS:
    """Ensemble model + CEM model-predictive control; 1-D Box actions."""

    Config = PETSConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: PETSConfig | None = None,
    ):
        self.config = c = config or PETSConfig()
        if c.reward_fn != "learned" and c.reward_fn not in TASK_FNS:
            raise ValueError(f"reward_fn must be 'learned' or one of {sorted(TASK_FNS)}, "
                             f"got {c.reward_fn!r}")  # fmt: skip
        if c.particles % c.members or c.particles < 1:
            raise ValueError(f"particles ({c.particles}) must be a multiple of members "
                             f"({c.members})")  # fmt: skip
        if not 0 < c.elite_ratio <= 1 or c.population < 2 or c.horizon < 1:
            raise ValueError("need 0 < elite_ratio <= 1, population >= 2 and horizon >= 1")
        if not isinstance(observation_space, spaces.Box):
            raise ValueError(f"PETS needs a Box observation space, got {observation_space}")
        self.observation_space = observation_space
        self.scaler = ActionScaler(action_space, "PETS")
        self.obs_dim = obs_dim(observation_space)
        learned = c.reward_fn == "learned"
        self.model = DynamicsModel(self.obs_dim, self.scaler.dim, learned, c.members, c.hidden,
                                   c.learning_rate, c.weight_decay)  # fmt: skip
        self.task = TASK_FNS.get(c.reward_fn)
        self.data: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "action", "reward",
                                                                  "next_obs")}  # fmt: skip
        self.episode: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.steps = 0
        self.planning = False  # random phase over and the model fit
        self._fit_due = False
        self._last_episode: dict[str, np.ndarray] | None = None
        self._warm: dict[str, torch.Tensor] = {}
        self._generator = torch.Generator().manual_seed(0)

    # -- planning -------------------------------------------------------------------------
    @torch.no_grad()
    def _values(self, obs: torch.Tensor, plans: torch.Tensor, gen: Any) -> torch.Tensor:
        """Mean particle return of each of the (pop, H, A) unit action sequences from obs."""
        c, e = self.config, self.config.members
        pop, per = len(plans), c.particles // e
        state = obs.expand(e, pop * per, -1)
        returns = torch.zeros(e, pop * per)
        alive = torch.ones(e, pop * per, dtype=torch.bool)
        for t in range(c.horizon):
            action = plans[:, t].repeat_interleave(per, dim=0).expand(e, -1, -1)
            state, learned = self.model.step(state, action, sample=True, generator=gen)
            if self.task is None:
                reward, done = learned, torch.zeros_like(alive)
            else:
                reward, done = self.task(action, state)
            returns += alive * reward
            alive &= ~done
        values = returns.view(e, pop, per).mean(dim=(0, 2))
        return torch.nan_to_num(values, nan=-1e9, posinf=-1e9, neginf=-1e9)

    @torch.no_grad()
    def plan(self, observation: Any, key: str, gen: Any) -> np.ndarray:
        """CEM: the first unit action of the best sequence found from `observation`."""
        c, a = self.config, self.scaler.dim
        obs = torch.as_tensor(to_vector(self.observation_space, observation))
        mean = self._warm.get(key, torch.zeros(c.horizon, a))
        var = torch.full((c.horizon, a), 0.25)  # ((high - low) / 4)^2 for [-1, 1]
        n_elite = max(1, int(round(c.elite_ratio * c.population)))
        best, best_value = mean, -float("inf")
        for _ in range(c.iterations):
            bound = torch.minimum(mean + 1.0, 1.0 - mean).clamp_min(0.0)
            std = torch.minimum(var, (bound / 2.0) ** 2).sqrt()
            noise = torch.randn((c.population, c.horizon, a), generator=gen).clamp(-2.0, 2.0)
            plans = (mean + std * noise).clamp(-1.0, 1.0)
            values = self._values(obs, plans, gen)
            top = torch.topk(values, n_elite).indices
            elites = plans[top]
            mean = c.alpha * mean + (1 - c.alpha) * elites.mean(0)
            var = c.alpha * var + (1 - c.alpha) * elites.var(0, unbiased=False)
            if float(values[top[0]]) > best_value:
                best, best_value = plans[top[0]], float(values[top[0]])
        self._warm[key] = torch.cat([mean[1:], torch.zeros(1, a)])
        return best[0].numpy()

    # -- acting ---------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """A new episode: forget the warm starts; `act` plans with a generator from `seed`."""
        self._warm.clear()
        self._generator = torch.Generator().manual_seed(0 if seed is None else int(seed))

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.ndarray:
        if not self.planning:
            unit = 2.0 * torch.rand(self.scaler.dim, generator=self._generator) - 1.0
            return self.scaler.to_env(unit.numpy())
        return self.scaler.to_env(self.plan(observation, "act", self._generator))

    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> np.ndarray:
        if not self.planning:
            return self.scaler.to_env((2.0 * torch.rand(self.scaler.dim) - 1.0).numpy())
        return self.scaler.to_env(self.plan(observation, "explore", None))

    # -- learning -------------------------------------------------------------------------
    def observe(self, transition: dict[str, Any]) -> None:
        self.steps += 1
        obs = to_vector(self.observation_space, transition["obs"])
        next_obs = to_vector(self.observation_space, transition["next_obs"])
        action = self.scaler.to_unit(transition["action"]).astype(np.float32)
        for key, value in (("obs", obs), ("action", action), ("next_obs", next_obs),
                           ("reward", np.float32(transition["reward"]))):  # fmt: skip
            self.data[key].append(value)
        self.episode.append((obs, action, next_obs))
        if transition["terminated"] or transition["truncated"]:
            columns = zip(*self.episode, strict=True)
            keys = ("obs", "action", "next_obs")
            self._last_episode = {k: np.stack(v) for k, v in zip(keys, columns, strict=True)}
            self.episode = []
            self._warm.pop("explore", None)
            if self.steps >= self.config.random_steps:
                self._fit_due = True

    def update(self) -> dict[str, float]:
        """After an episode ends (past the random phase): the model's errors on it (held
        out: measured before the refit), then a refit on all data; else {}."""
        if not self._fit_due:
            return {}
        self._fit_due = False
        metrics: dict[str, float] = {}
        if self.model.fits and self._last_episode is not None:
            metrics.update(self.model.errors([self._last_episode]))
        data = {k: np.stack(v) for k, v in self.data.items()}
        metrics.update(self.model.fit(data, self.config.epochs, self.config.batch_size))
        self.planning = True
        return metrics

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "steps": self.steps,
                "planning": self.planning}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.steps = int(state["steps"])
        self.planning = bool(state["planning"])
