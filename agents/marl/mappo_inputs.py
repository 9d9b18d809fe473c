"""The network inputs of MAPPO's heads, for a batch of env copies at a time.

A head is one (actor, critic) pair: shared by the whole group, or one per agent. Its view
(`PaddedSpaces`) maps each agent's observation into the head's padded space with the one-hot
agent indicator; the centralised critic's input is the group's global state (every agent's
flat observation, zeros for agents absent or terminated, and for the `slots` past the group's
size) followed by the indicator. Rows of a head's batch are ordered agent by agent, each
agent's N copies together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from testbed.agents.common.joint_spaces import PaddedSpaces
from testbed.agents.common.spaces import to_vectors


def check_config(c: Any, n_agents: int, activations: list[str]) -> int:
    """ValueError for a MAPPO config that cannot work; the agent slots of its inputs."""
    if c.activation not in activations:
        raise ValueError(f"activation must be one of {activations}, got {c.activation}")
    if c.rollout_steps < 1 or c.epochs < 1 or c.minibatches < 1:
        raise ValueError("rollout_steps, epochs and minibatches must be >= 1")
    if c.max_agents and (c.max_agents < n_agents or not c.share_parameters):
        raise ValueError(
            f"max_agents ({c.max_agents}) needs share_parameters and at least the group's "
            f"{n_agents} agents"
        )
    return max(c.max_agents, n_agents)


class GroupInputs:
    """Builds actor and critic inputs, masks and Box dim masks for MAPPO's heads."""

    def __init__(
        self,
        views: list[PaddedSpaces],
        observation_spaces: Mapping[str, spaces.Space],
        obs_dims: Mapping[str, int],
        centralized_value: bool,
        share_parameters: bool,
        slots: int = 0,
    ):
        self.views = views
        self.agents = list(observation_spaces)
        self.observation_spaces = dict(observation_spaces)
        self.obs_dims = dict(obs_dims)
        self.index = {a: i for i, a in enumerate(self.agents)}
        self.head_of = {a: h for h, view in enumerate(views) for a in view.agents}
        self.centralized_value = centralized_value
        self.share_parameters = share_parameters
        self.slots = max(slots, len(self.agents))
        self.extra = (self.slots - len(self.agents)) * max(self.obs_dims.values())
        """Zeros after the group's observations in the global state: the missing slots."""
        self.state_dim = sum(self.obs_dims.values()) + self.extra
        if share_parameters:
            self.state_dim += self.slots

    def by_head(self, agents: list[str]) -> list[tuple[int, list[str]]]:
        heads: dict[int, list[str]] = {}
        for a in agents:
            heads.setdefault(self.head_of[a], []).append(a)
        return list(heads.items())

    def actor(self, agent: str, observations: Any) -> np.ndarray:
        """(N, head obs dim): the agent's flat observations, zero-padded, with its indicator."""
        view = self.views[self.head_of[agent]]
        flat = to_vectors(self.observation_spaces[agent], observations)
        out = np.zeros((len(flat), view.obs_dim), np.float32)
        out[:, : view.obs_dims[agent]] = flat
        if view.indicator:
            out[:, view.pad_dim + view.index[agent]] = 1.0
        return out

    def critic(self, observations: Mapping[str, Any], absent: Mapping[str, np.ndarray] | None = None
               ) -> dict[str, np.ndarray]:  # fmt: skip
        """{agent: (N, critic dim)} for the agents in `observations`; with the centralised
        critic the global state counts an agent as zeros where `absent[agent]` is True (or
        when it is not in `observations` at all)."""
        if not self.centralized_value:
            return {a: self.actor(a, o) for a, o in observations.items()}
        n = len(next(iter(observations.values())))
        parts = []
        for a in self.agents:
            if a in observations:
                flat = to_vectors(self.observation_spaces[a], observations[a])
                if absent is not None and a in absent:
                    flat = np.where(np.asarray(absent[a], bool)[:, None], 0.0, flat)
            else:
                flat = np.zeros((n, self.obs_dims[a]), np.float32)
            parts.append(flat.astype(np.float32, copy=False))
        if self.extra:
            parts.append(np.zeros((n, self.extra), np.float32))
        state = np.concatenate(parts, axis=1)
        if not self.share_parameters:
            return {a: state for a in observations}
        out = {}
        for a in observations:
            indicator = np.zeros((n, self.slots), np.float32)
            indicator[:, self.index[a]] = 1.0
            out[a] = np.concatenate([state, indicator], axis=1)
        return out

    def masks(
        self, head: int, agents: list[str], masks: Mapping[str, np.ndarray | None], n: int
    ) -> tuple[torch.Tensor | None, dict[str, np.ndarray | None]]:
        """The head's legal-action masks for the rows of `agents` (None when nothing is
        masked), and each agent's (N, actions) mask."""
        view = self.views[head]
        rows: dict[str, np.ndarray | None] = {}
        for a in agents:
            given = masks.get(a)
            if not view.discrete or (given is None and view.same_counts):
                rows[a] = None
                continue
            out = np.zeros((n, view.n_actions), bool)
            count = view.counts[a]
            out[:, :count] = True if given is None else np.asarray(given, bool)[:, :count]
            rows[a] = out
        if all(m is None for m in rows.values()):
            return None, rows
        full = [np.ones((n, view.n_actions), bool) if rows[a] is None else rows[a] for a in agents]
        return torch.as_tensor(np.concatenate(full)), rows

    def dim_mask(self, head: int, agents: list[str]) -> torch.Tensor | None:
        """Box actions padded to a shared width: 1 for each agent's real dims, 0 for padding
        (None when nothing is padded); one row per agent."""
        view = self.views[head]
        if view.discrete:
            return None
        width = int(view.action_space.shape[0])
        if all(view.act_dims[a] == width for a in view.agents):
            return None
        dims = [view.act_dims[a] for a in agents]
        return torch.as_tensor(
            np.array([[1.0] * d + [0.0] * (width - d) for d in dims], np.float32)
        )

    def to_env(self, agent: str, actions: np.ndarray) -> np.ndarray:
        """The head's actions (N, ...) as the agent's env actions (N, ...)."""
        view = self.views[self.head_of[agent]]
        space = view.act_spaces[agent]
        if view.discrete:
            if int(np.max(actions, initial=0)) >= view.counts[agent]:
                raise ValueError(f"a shared action is padding for {agent}")
            return (np.asarray(actions, np.int64) + int(space.start)).astype(np.int64)
        unit = np.clip(np.asarray(actions, np.float32)[:, : view.act_dims[agent]], -1.0, 1.0)
        scaled = space.low + (unit + 1.0) * 0.5 * (space.high - space.low)
        return np.clip(scaled, space.low, space.high).astype(space.dtype)

    def from_env(self, agent: str, actions: np.ndarray) -> np.ndarray:
        """The agent's env actions (N, ...) in the head's action space."""
        view = self.views[self.head_of[agent]]
        space = view.act_spaces[agent]
        if view.discrete:
            return np.asarray(actions, np.int64).reshape(-1) - int(space.start)
        actions = np.asarray(actions, np.float32)
        out = np.zeros((len(actions), *view.action_space.shape), np.float32)
        span = np.maximum(space.high - space.low, 1e-8)
        out[:, : view.act_dims[agent]] = 2.0 * (actions - space.low) / span - 1.0
        return out
