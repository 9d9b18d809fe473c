"""Teams: one object acting for several agents. `PolicyTeam` wraps per-agent Policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from testbed.protocols import Policy
from testbed.seeding import member_seed


class PolicyTeam:
    """A Team made of one Policy per agent name; each policy gets its own derived seed."""

    def __init__(self, policies: Mapping[str, Policy]):
        self.policies = dict(policies)
        self._order = {name: i for i, name in enumerate(self.policies)}

    def reset(self, seed: int | None = None) -> None:
        for name, policy in self.policies.items():
            policy.reset(None if seed is None else member_seed(seed, self._order[name]))

    def interventions(self) -> dict[str, int]:
        """Shield interventions this episode, for policies that count them (`interventions`)."""
        return {
            name: int(policy.interventions)
            for name, policy in self.policies.items()
            if isinstance(getattr(policy, "interventions", None), int | float)
        }

    def usage(self) -> dict[str, dict[str, float]]:
        """This episode's resource use of policies that report it (`episode_usage()`, e.g. a
        language model's calls, tokens and seconds)."""
        return {
            name: {k: float(v) for k, v in policy.episode_usage().items()}
            for name, policy in self.policies.items()
            if callable(getattr(policy, "episode_usage", None))
        }

    def act(
        self,
        observations: dict[str, Any],
        action_masks: dict[str, np.ndarray | None],
    ) -> dict[str, Any]:
        policies = self.policies
        return {
            agent: policies[agent].act(obs, action_masks.get(agent))
            for agent, obs in observations.items()
        }
