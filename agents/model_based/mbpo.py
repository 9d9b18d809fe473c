"""MBPO: model-based policy optimisation (Janner, Fu, Zhang & Levine 2019, "When to Trust Your
Model: Model-Based Policy Optimization", NeurIPS): short branched rollouts of a learned
ensemble feed a SAC learner.

- Real data: every env transition goes to the real buffer D_env. The first `random_steps`
  actions are uniform; then samples of SAC's policy.
- Model: the probabilistic ensemble of agents/model_based/ensemble.py predicts [s' - s, r]
  (r only with `reward_fn: learned`; else a known task function of agents/model_based/
  task_fns.py gives r and termination), refit on all of D_env every `model_train_freq` env
  steps from `random_steps` on.
- Branched rollouts (after each refit): `rollout_batch` start states drawn from D_env, each
  rolled `rollout_length` steps with SAC's policy, each step through one ensemble member
  chosen at random per row and sampled from its Gaussian; the imagined transitions go to the
  model buffer D_model, which keeps the last `model_retain` refits' rollouts.
- Policy: `updates_per_step` SAC gradient steps per env step, each on a minibatch of which
  `real_ratio` comes from D_env and the rest from D_model.

`update()` returns, at each refit, the model's held-out errors (agents/model_based/
ensemble.py `errors`: one-step and open-loop k-step MSE of the next state) on the real
trajectory segments collected since the previous refit, measured before it is refit on them,
plus the fit's loss; else SAC's last metrics. The model, the policy and the step count are
in `state_dict` (the buffers are not checkpointed: a reloaded agent acts, and if trained
further refills D_env, taking SAC steps again once it holds a minibatch). Uses torch's
global RNG; `act` is SAC's deterministic action.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from testbed.agents.common.continuous import replay_for, uniform_unit_action
from testbed.agents.common.spaces import obs_dim, to_vector
from testbed.agents.continuous.sac import SAC, SACConfig
from testbed.agents.model_based.ensemble import DynamicsModel
from testbed.agents.model_based.task_fns import TASK_FNS, check_task


@dataclass(frozen=True)
class MBPOConfig:
    """MBPO hyperparameters (the paper's appendix C where it fits a small task)."""

    reward_fn: str = "learned"
    """'learned' (the model predicts r, rollouts never end) or a known task function:
    'cartpole', 'pendulum'."""
    members: int = 7
    """Ensemble size."""
    hidden_model: tuple[int, ...] = (200, 200, 200, 200)
    """Hidden widths of each ensemble member's MLP."""
    model_learning_rate: float = 1e-3
    """Adam step size of the model."""
    weight_decay: float = 5e-5
    """Adam weight decay of the model."""
    model_epochs: int = 20
    """Passes over D_env at each refit."""
    model_batch_size: int = 256
    """Model minibatch size."""
    model_train_freq: int = 250
    """Refit the model (then roll it out) every this many env steps."""
    random_steps: int = 1000
    """Uniform random env steps before the first refit and the first policy update."""
    rollout_batch: int = 100_000
    """Branched rollouts started at each refit (M = rollout_batch / model_train_freq per env
    step; 400 in the paper)."""
    rollout_length: int = 1
    """Steps of each branched rollout (k)."""
    model_retain: int = 1
    """Refits whose rollouts D_model keeps."""
    real_ratio: float = 0.05
    """Share of each SAC minibatch drawn from real data."""
    updates_per_step: int = 20
    """SAC gradient steps per env step (G)."""
    buffer_size: int = 1_000_000
    """Capacity of D_env in transitions."""
    learning_rate: float = 3e-4
    """Adam step size of SAC's actor, critics and temperature."""
    batch_size: int = 256
    """SAC minibatch size."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak factor of SAC's target critics."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden widths of SAC's actor and critics."""


class MBPO:
    """Ensemble model + branched rollouts + SAC; Box observations and actions."""

    Config = MBPOConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: MBPOConfig | None = None,
    ):
        self.config = c = config or MBPOConfig()
        if c.reward_fn != "learned" and c.reward_fn not in TASK_FNS:
            raise ValueError(
                f"reward_fn must be 'learned' or one of {sorted(TASK_FNS)}, got {c.reward_fn!r}"
            )
        if not 0.0 <= c.real_ratio <= 1.0:
            raise ValueError(f"real_ratio must be in [0, 1], got {c.real_ratio}")
        positive = (
            "rollout_batch",
            "rollout_length",
            "model_retain",
            "model_train_freq",
            "members",
            "model_epochs",
            "model_batch_size",
            "batch_size",
            "buffer_size",
        )
        low = [name for name in positive if getattr(c, name) < 1]
        if low:
            raise ValueError(f"{', '.join(low)} must be >= 1")
        if not isinstance(observation_space, spaces.Box):
            raise ValueError(f"MBPO needs a Box observation space, got {observation_space}")
        if c.reward_fn != "learned":
            check_task(c.reward_fn, int(np.prod(observation_space.shape)))
        self.observation_space = observation_space
        sac_config = SACConfig(
            learning_rate=c.learning_rate,
            buffer_size=1,
            learning_starts=c.random_steps,
            batch_size=c.batch_size,
            tau=c.tau,
            gamma=c.gamma,
            hidden=c.hidden,
        )
        self.sac = SAC(observation_space, action_space, sac_config)
        self.scaler = self.sac.scaler
        n_obs, n_act = obs_dim(observation_space), self.scaler.dim
        self.model = DynamicsModel(
            n_obs,
            n_act,
            c.reward_fn == "learned",
            c.members,
            c.hidden_model,
            c.model_learning_rate,
            c.weight_decay,
        )
        self.task = TASK_FNS.get(c.reward_fn)
        self.real = replay_for(observation_space, n_act, c.buffer_size)
        self.imagined = replay_for(
            observation_space, n_act, c.rollout_batch * c.rollout_length * c.model_retain
        )
        self.steps = 0
        self._updated = 0  # env steps whose scheduled work has run
        self._segment: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._fresh: list[dict[str, np.ndarray]] = []  # real segments the model has not seen
        self._metrics: dict[str, float] = {}

    # -- acting ---------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """Nothing to do: `act` is deterministic and `explore` uses torch's global RNG."""

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.ndarray:
        return self.sac.act(observation)

    @torch.no_grad()
    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> np.ndarray:
        if self.steps < self.config.random_steps:
            return self.scaler.to_env(uniform_unit_action(self.scaler.dim).numpy())
        obs = torch.as_tensor(to_vector(self.observation_space, observation))
        return self.scaler.to_env(self.sac.actor.sample(obs)[0].numpy())

    # -- learning -------------------------------------------------------------------------
    def observe(self, transition: dict[str, Any]) -> None:
        obs = to_vector(self.observation_space, transition["obs"])
        next_obs = to_vector(self.observation_space, transition["next_obs"])
        action = self.scaler.to_unit(transition["action"]).astype(np.float32)
        self.real.add(
            obs,
            action,
            float(transition["reward"]),
            float(transition.get("cost", 0.0)),
            next_obs,
            bool(transition["terminated"]),
        )
        self._segment.append((obs, action, next_obs))
        if transition["terminated"] or transition["truncated"]:
            self._close_segment()
        self.steps += 1

    def _close_segment(self) -> None:
        if self._segment:
            columns = zip(*self._segment, strict=True)
            keys = ("obs", "action", "next_obs")
            self._fresh.append({k: np.stack(v) for k, v in zip(keys, columns, strict=True)})
        self._segment = []

    def update(self) -> dict[str, float]:
        """The work due at each env step since the last call: a refit and rollouts every
        `model_train_freq` steps, `updates_per_step` SAC steps; metrics as the module says."""
        c = self.config
        metrics: dict[str, float] = {}
        for t in range(self._updated + 1, self.steps + 1):
            if t < c.random_steps:
                continue
            if (t - c.random_steps) % c.model_train_freq == 0:
                metrics = self._refit()
                self._rollout()
            if self.real.size < c.batch_size:  # e.g. just after a checkpoint was loaded:
                continue  # the buffers are not saved, so wait for a minibatch of real data
            for _ in range(c.updates_per_step):
                self._metrics = self.sac.train_on(self._minibatch())
        self._updated = self.steps
        return metrics or self._metrics

    def _refit(self) -> dict[str, float]:
        """Held-out errors on the unseen real segments, then a refit on all of D_env."""
        self._close_segment()  # what the current episode did so far is trained on now
        metrics: dict[str, float] = {}
        if self.model.fits and self._fresh:
            metrics.update(self.model.errors(self._fresh))
        self._fresh = []
        n = self.real.size
        data = {
            "obs": self.real.obs[:n],
            "action": self.real.actions[:n],
            "reward": self.real.rewards[:n],
            "next_obs": self.real.next_obs[:n],
        }
        metrics.update(self.model.fit(data, self.config.model_epochs, self.config.model_batch_size))
        return metrics

    @torch.no_grad()
    def _rollout(self) -> None:
        """`rollout_batch` branched rollouts of `rollout_length` steps into D_model."""
        c, e = self.config, self.model.members
        index = torch.randint(self.real.size, (c.rollout_batch,)).numpy()
        state = torch.from_numpy(self.real.obs[index])
        for _ in range(c.rollout_length):
            if len(state) == 0:
                break
            action, _ = self.sac.actor.sample(state)
            following, learned = self.model.step(state.expand(e, -1, -1), action.expand(e, -1, -1))
            member = torch.randint(e, (len(state),))
            rows = torch.arange(len(state))
            next_state = following[member, rows]
            if self.task is None:
                reward, done = learned[member, rows], torch.zeros(len(state), dtype=torch.bool)
            else:
                reward, done = self.task(action, next_state)
            self.imagined.add_batch(
                state.numpy(),
                action.numpy(),
                reward.numpy(),
                np.zeros(len(state), np.float32),
                next_state.numpy(),
                done.numpy(),
            )
            state = next_state[~done]

    def _minibatch(self) -> dict[str, torch.Tensor]:
        c = self.config
        if self.imagined.size == 0:
            return self.real.sample(c.batch_size)
        n_real = int(round(c.real_ratio * c.batch_size))
        real = self.real.sample(n_real)
        fake = self.imagined.sample(c.batch_size - n_real)
        return {k: torch.cat([real[k], fake[k]]) for k in real}

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"sac": self.sac.state_dict(), "model": self.model.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sac.load_state_dict(state["sac"])
        self.model.load_state_dict(state["model"])
        self.steps = self._updated = int(state["steps"])
