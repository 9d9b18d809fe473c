"""One shared view of a group's (possibly different) spaces, for parameter-sharing learners.

When one network acts for several agents whose spaces differ, every agent's data is mapped
into a common space (as SuperSuit's `pad_observations_v0`, `pad_action_space_v0` and
`agent_indicator_v0` do at env level; Terry et al. 2020, "Revisiting parameter sharing in
multi-agent deep reinforcement learning"):

- observations: flattened (`spaces.to_vector`), zero-padded to the largest flat dim, then,
  optionally, a one-hot agent indicator appended;
- Discrete actions: padded to the largest action count; the padding is masked out (combined
  with the env's own mask); each agent's `start` offset is restored on the way out;
- 1-D Box actions: rescaled to [-1, 1], padded to the largest dim; on the way out each agent
  keeps its own leading dims, rescaled to its own bounds (finite bounds needed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from testbed.agents.common.spaces import inner_space, to_vector


class PaddedSpaces:
    """Maps each agent's observations and actions into one shared observation/action space."""

    def __init__(
        self,
        observation_spaces: Mapping[str, spaces.Space],
        action_spaces: Mapping[str, spaces.Space],
        agent_indicator: bool,
        algorithm: str,
        slots: int = 0,
    ):
        """`slots`: the indicator's length when larger than the group (room for agents an env
        with more of them has: the same network then reads both)."""
        self.agents = list(observation_spaces)
        if not self.agents or set(self.agents) != set(action_spaces):
            raise ValueError(f"{algorithm}: observation and action spaces must name one group")
        self.obs_spaces = dict(observation_spaces)
        self.act_spaces = {a: action_spaces[a] for a in self.agents}
        self.index = {a: i for i, a in enumerate(self.agents)}
        flat = {a: spaces.flatten_space(inner_space(s)) for a, s in self.obs_spaces.items()}
        self.obs_dims = {a: int(f.shape[0]) for a, f in flat.items()}
        self.pad_dim = max(self.obs_dims.values())
        self.indicator = agent_indicator
        self.slots = max(len(self.agents), slots)
        n = self.slots if agent_indicator else 0
        low = np.zeros(self.pad_dim + n, np.float32)
        high = np.zeros(self.pad_dim + n, np.float32)
        high[self.pad_dim :] = 1.0
        lows = np.stack([_pad(flat[a].low, self.pad_dim) for a in self.agents])
        highs = np.stack([_pad(flat[a].high, self.pad_dim) for a in self.agents])
        low[: self.pad_dim] = lows.min(axis=0)
        high[: self.pad_dim] = highs.max(axis=0)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.obs_dim = self.pad_dim + n
        self._set_actions(algorithm)

    def _set_actions(self, algorithm: str) -> None:
        acts = list(self.act_spaces.values())
        if all(isinstance(s, spaces.Discrete) for s in acts):
            self.discrete = True
            self.counts = {a: int(s.n) for a, s in self.act_spaces.items()}
            self.n_actions = max(self.counts.values())
            self.same_counts = len(set(self.counts.values())) == 1
            self.action_space: spaces.Space = spaces.Discrete(self.n_actions)
            return
        if all(isinstance(s, spaces.Box) and len(s.shape) == 1 for s in acts):
            for agent, space in self.act_spaces.items():
                if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
                    raise ValueError(
                        f"{algorithm} with shared parameters needs finite Box action bounds; "
                        f"{agent} has {space}"
                    )
            self.discrete = False
            self.act_dims = {a: int(s.shape[0]) for a, s in self.act_spaces.items()}
            dim = max(self.act_dims.values())
            self.action_space = spaces.Box(-1.0, 1.0, (dim,), np.float32)
            return
        raise ValueError(
            f"{algorithm} with shared parameters needs all agents' actions Discrete or all "
            f"1-D Box, got {[str(s) for s in acts]}"
        )

    # -- observations ---------------------------------------------------------------------
    def observation(self, agent: str, observation: Any) -> np.ndarray:
        """The agent's observation flattened, zero-padded, with its one-hot indicator."""
        out = np.zeros(self.obs_dim, np.float32)
        out[: self.obs_dims[agent]] = to_vector(self.obs_spaces[agent], observation)
        if self.indicator:
            out[self.pad_dim + self.index[agent]] = 1.0
        return out

    # -- actions --------------------------------------------------------------------------
    def action_mask(self, agent: str, mask: np.ndarray | None) -> np.ndarray | None:
        """The shared-space mask: the agent's own mask (or all legal) with padding illegal;
        None when nothing needs masking (equal action counts, no env mask, Box actions)."""
        if not self.discrete or (mask is None and self.same_counts):
            return None
        out = np.zeros(self.n_actions, bool)
        n = self.counts[agent]
        out[:n] = True if mask is None else np.asarray(mask, bool)[:n]
        return out

    def to_env_action(self, agent: str, action: Any) -> Any:
        """A shared-space action as the agent's env action."""
        space = self.act_spaces[agent]
        if self.discrete:
            index = int(action)
            if index >= self.counts[agent]:
                raise ValueError(f"shared action {index} is padding for {agent}")
            return np.int64(space.start + index)
        unit = np.clip(np.asarray(action, np.float32)[: self.act_dims[agent]], -1.0, 1.0)
        scaled = space.low + (unit + 1.0) * 0.5 * (space.high - space.low)
        return np.clip(scaled, space.low, space.high).astype(space.dtype)

    def from_env_action(self, agent: str, action: Any) -> Any:
        """The agent's env action in the shared action space."""
        space = self.act_spaces[agent]
        if self.discrete:
            return np.int64(int(action) - int(space.start))
        out = np.zeros(self.action_space.shape, np.float32)
        span = np.maximum(space.high - space.low, 1e-8)
        unit = 2.0 * (np.asarray(action, np.float32) - space.low) / span - 1.0
        out[: self.act_dims[agent]] = unit
        return out

    def transition(self, agent: str, transition: dict[str, Any]) -> dict[str, Any]:
        """A harness transition of `agent` expressed in the shared spaces."""
        return {
            **transition,
            "obs": self.observation(agent, transition["obs"]),
            "action": self.from_env_action(agent, transition["action"]),
            "next_obs": self.observation(agent, transition["next_obs"]),
            "action_mask": self.action_mask(agent, transition.get("action_mask")),
            "next_action_mask": self.action_mask(agent, transition.get("next_action_mask")),
        }


def _pad(values: np.ndarray, dim: int) -> np.ndarray:
    out = np.zeros(dim, np.float32)
    out[: values.size] = values
    return out
