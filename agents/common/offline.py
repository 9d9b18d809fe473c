"""What the offline learners (BC, CQL, IQL, TD3+BC) share: the loaded dataset as tensors with
minibatch sampling, observation normalisation fitted on the dataset, and the acting side of a
discrete (masked argmax of scores) or continuous (unit-box actor scaled to the env) policy.

An offline learner satisfies `testbed.protocols.OfflineLearner`: `load_data(data)` takes the
transition arrays of `testbed/datasets/transitions.py`, each `update()` is one gradient step
on a minibatch of them (torch's global RNG: a seeded run samples the same minibatches).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from testbed.agents.common.continuous import ActionScaler
from testbed.agents.common.spaces import obs_dim, to_vector, to_vectors
from testbed.agents.common.value import greedy


class OfflineData:
    """A dataset as float tensors: obs, next_obs (N, d), actions (N,) int64 (0-based) or
    (N, k) unit-box floats, rewards, costs, dones (terminations only: truncated episodes
    bootstrap), next_masks (N, n) bool or None."""

    def __init__(
        self,
        data: Mapping[str, Any],
        observation_space: spaces.Space,
        action_space: spaces.Space,
        scaler: ActionScaler | None = None,
    ):
        self.obs = torch.from_numpy(to_vectors(observation_space, data["observations"]))
        self.next_obs = torch.from_numpy(to_vectors(observation_space, data["next_observations"]))
        actions = np.asarray(data["actions"])
        if isinstance(action_space, spaces.Discrete):
            self.actions = torch.from_numpy(actions.astype(np.int64) - int(action_space.start))
        else:
            assert scaler is not None
            self.actions = torch.from_numpy(scaler.to_unit_batch(actions))
        self.rewards = torch.as_tensor(np.asarray(data["rewards"], np.float32))
        self.costs = torch.as_tensor(np.asarray(data["costs"], np.float32))
        self.dones = torch.as_tensor(np.asarray(data["terminations"], np.float32))
        masks = data.get("next_action_masks")
        self.next_masks = None if masks is None else torch.as_tensor(np.asarray(masks, bool))
        if len(self.obs) == 0:
            raise ValueError("the dataset holds no transitions")

    def __len__(self) -> int:
        return len(self.obs)

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        index = torch.randint(len(self), (batch_size,))
        batch = {
            "obs": self.obs[index],
            "actions": self.actions[index],
            "rewards": self.rewards[index],
            "costs": self.costs[index],
            "next_obs": self.next_obs[index],
            "dones": self.dones[index],
        }
        if self.next_masks is not None:
            batch["next_masks"] = self.next_masks[index]
        return batch


class ObsNormalizer:
    """(obs - mean) / std with the dataset's statistics (identity until fitted or when off)."""

    def __init__(self, dim: int, enabled: bool):
        self.enabled = enabled
        self.mean = torch.zeros(dim)
        self.std = torch.ones(dim)

    def fit(self, obs: torch.Tensor) -> None:
        if self.enabled:
            self.mean = obs.mean(0)
            self.std = obs.std(0, unbiased=False) + 1e-3

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs - self.mean) / self.std if self.enabled else obs

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"mean": self.mean.clone(), "std": self.std.clone()}

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        self.mean, self.std = state["mean"].clone(), state["std"].clone()


class OfflinePolicy:
    """Mixin for acting. The learner sets `observation_space`, `normalizer`, `discrete`,
    `n_actions` / `action_start` (discrete) or `scaler` (continuous) and `_scores(obs)`: action
    scores (discrete: logits or Q-values) or unit-box actions (continuous) for a batch."""

    observation_space: spaces.Space
    normalizer: ObsNormalizer
    discrete: bool
    data: OfflineData | None = None

    def _scores(self, obs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def reset(self, seed: int | None = None) -> None:
        return None  # acting is deterministic

    @torch.no_grad()
    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        """The greedy action: best legal score (discrete) or the actor's action (continuous)."""
        obs = torch.from_numpy(to_vector(self.observation_space, observation)).unsqueeze(0)
        out = self._scores(self.normalizer(obs))[0].numpy()
        if self.discrete:
            return np.int64(greedy(out, action_mask) + self.action_start)
        return self.scaler.to_env(out)

    def _require_data(self) -> OfflineData:
        if self.data is None:
            raise RuntimeError(f"{type(self).__name__}.update() before load_data(): no dataset")
        return self.data


def setup_spaces(agent: Any, observation_space: spaces.Space, action_space: spaces.Space) -> None:
    """Set the acting attributes of `OfflinePolicy` for a Discrete or 1-D Box action space."""
    agent.observation_space = observation_space
    agent.obs_dim = obs_dim(observation_space)
    agent.discrete = isinstance(action_space, spaces.Discrete)
    if agent.discrete:
        agent.n_actions = int(action_space.n)
        agent.action_start = int(action_space.start)
        agent.act_dim = agent.n_actions
    else:
        agent.scaler = ActionScaler(action_space, type(agent).__name__)
        agent.act_dim = agent.scaler.dim
