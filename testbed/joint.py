"""Joint policies: one object acting (and learning) for a group of env agents.

Multi-agent learners (MADDPG's centralised critics, MAPPO's shared actor and global value,
mean-field Q, parameter-shared IQL) need the whole group's step at once. A joint class has the
class attribute `joint = True` and is built as `Cls(observation_spaces, action_spaces, config)`
with {agent: space} dicts for the group: every env agent one pattern of a stage's `agents`
matches (`"adversary_*": {id: maddpg}` gives one MADDPG for all adversaries). It sets
`self.agents` (the group's names, in env order) and provides:

- `reset(seed)` once per episode; `act(observations, masks) -> {agent: action}` (evaluation
  policy) for any subset of the group, so execution stays decentralised;
- as a learner: `explore(observations, masks)`, `observe({agent: transition})` (the single-
  agent transition dicts of the group's agents live this step) and `update()` once per step;
  `state_dict` / `load_state_dict` for the whole group.

Everywhere the harness expects one Policy per agent (teams, tournaments, audits), the group
appears as `Member`s: per-agent views sharing the group object. The training loop recognises
members and drives each group once per step.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np


def is_joint(obj: Any) -> bool:
    """A joint class or instance (class attribute `joint = True`)."""
    return getattr(obj, "joint", False) is True


class Member:
    """Agent `agent`'s seat in a joint policy: a plain Policy for per-agent callers."""

    def __init__(self, group: Any, agent: str):
        if agent not in group.agents:
            raise ValueError(f"{agent!r} is not in the group {group.agents}")
        self.group = group
        self.agent = agent
        self._resets_group = agent == group.agents[0]

    def reset(self, seed: int | None = None) -> None:
        if self._resets_group:  # once per episode, by the group's first member
            self.group.reset(seed)

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        return self.group.act({self.agent: observation}, {self.agent: action_mask})[self.agent]

    @property
    def interventions(self) -> int | None:
        """This agent's shield interventions, when the group counts them per agent."""
        counts = getattr(self.group, "interventions", None)
        return counts.get(self.agent) if isinstance(counts, dict) else None

    def __repr__(self) -> str:
        return f"Member({type(self.group).__name__}, {self.agent!r})"


def members(group: Any) -> dict[str, Member]:
    """{agent: Member} for every agent of the group."""
    return {agent: Member(group, agent) for agent in group.agents}


def group_of(policy: Any) -> Any | None:
    """The joint object behind a Member, else None."""
    return policy.group if isinstance(policy, Member) else None


def groups(policies: dict[str, Any]) -> dict[int, tuple[Any, list[str]]]:
    """{id(group): (group, its agents among `policies`)}, in first-seen order."""
    found: dict[int, tuple[Any, list[str]]] = {}
    for agent, policy in policies.items():
        group = group_of(policy)
        if group is not None:
            found.setdefault(id(group), (group, []))[1].append(agent)
    return found


def group_folder(pattern: str) -> str:
    """A file-system name for a group's pattern: `adversary_*` -> `adversary_all`."""
    name = pattern.replace("*", "all").replace("?", "any")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "group"


__all__ = ["Member", "group_folder", "group_of", "groups", "is_joint", "members"]
