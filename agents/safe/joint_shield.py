"""A safety shield around a joint (multi-agent) learner: `joint_shield`.

The same filter as `shield` (agents/safe/shield.py: a predicate and/or a learned one-step cost
model, post-posed or pre-emptive, the same fallback search), applied to each agent of a joint
learner such as `mappo` or `mappo_lagrangian`. The wrapped group chooses every agent's action
at once; each agent's action is then checked by that agent's own filter (post-posed), or each
agent chooses from its own safe menu (pre-emptive). The group learns from the executed
actions: MAPPO re-evaluates the log-probability of an action the shield replaced.

`interventions` is a dict {agent: overrides this episode}; the group's `Member`s report their
agent's count, so rollouts and audits see them per agent, as for `shield`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from testbed.agents.safe.shield import Shield, ShieldConfig


@dataclasses.dataclass(frozen=True)
class JointShieldConfig(ShieldConfig):
    """The shield's fields; `policy` is a joint learner."""

    policy: str = "mappo"
    """Registry id (or module:Class) of the wrapped joint learner."""


class JointShield:
    """Per-agent shields around one joint learner (the group's actions, filtered per agent)."""

    Config = JointShieldConfig
    joint = True

    def __init__(
        self,
        observation_spaces: Mapping[str, spaces.Space],
        action_spaces: Mapping[str, spaces.Space],
        config: JointShieldConfig | None = None,
    ):
        from testbed import registry
        from testbed.joint import is_joint
        from testbed.registry.checkpoint import load_checkpoint

        self.config = c = config or JointShieldConfig()
        if c.checkpoint:
            self.policy = load_checkpoint(c.checkpoint, observation_spaces, action_spaces)
        else:
            if not is_joint(registry.agent_class(c.policy)):
                raise ValueError(
                    f"joint_shield wraps a joint learner (e.g. mappo_lagrangian), not "
                    f"{c.policy!r}; wrap a per-agent policy with `shield`"
                )
            self.policy = registry.make_agent(
                c.policy, observation_spaces, action_spaces, **dict(c.policy_params)
            )
        self.agents = list(self.policy.agents)
        # Each agent's filter is a Shield whose own (unused) policy is `random`.
        fields = {f.name: getattr(c, f.name) for f in dataclasses.fields(ShieldConfig)}
        filter_config = ShieldConfig(**{**fields, "policy": "random", "policy_params": {},
                                        "checkpoint": ""})  # fmt: skip
        self.filters = {
            a: Shield(observation_spaces[a], action_spaces[a], filter_config) for a in self.agents
        }
        self.inner_learns = all(
            callable(getattr(self.policy, m, None)) for m in ("explore", "observe", "update")
        )

    @property
    def interventions(self) -> dict[str, int]:
        """Overrides (or narrowed menus) this episode, per agent."""
        return {a: f.interventions for a, f in self.filters.items()}

    def _shielded(
        self,
        choose: Any,
        observations: Mapping[str, Any],
        action_masks: Mapping[str, np.ndarray | None],
    ) -> dict[str, Any]:
        if self.config.mode == "pre_emptive":
            menus = {
                a: self.filters[a].menu(o, action_masks.get(a)) for a, o in observations.items()
            }
            return choose(observations, menus)
        chosen = choose(observations, action_masks)
        return {
            a: self.filters[a].filter(observations[a], action, action_masks.get(a))
            for a, action in chosen.items()
        }

    # -- Policy (joint) -------------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> None:
        for f in self.filters.values():
            f.interventions = 0
        self.policy.reset(seed)

    def act(
        self, observations: Mapping[str, Any], action_masks: Mapping[str, np.ndarray | None]
    ) -> dict[str, Any]:
        return self._shielded(self.policy.act, observations, action_masks)

    # -- Learner (forwarded to the group when it learns) ----------------------------------------

    def explore(
        self, observations: Mapping[str, Any], action_masks: Mapping[str, np.ndarray | None]
    ) -> dict[str, Any]:
        inner = self.policy.explore if self.inner_learns else self.policy.act
        return self._shielded(inner, observations, action_masks)

    def observe(self, transitions: Mapping[str, Mapping[str, Any]]) -> None:
        for agent, transition in transitions.items():
            if self.filters[agent].model is not None:  # the learned cost model, if any
                self.filters[agent].observe(transition)
        if self.inner_learns:
            self.policy.observe(transitions)

    def update(self) -> dict[str, float]:
        metrics = dict(self.policy.update()) if self.inner_learns else {}
        if metrics:
            metrics["interventions"] = float(sum(self.interventions.values()))
        return metrics

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"filters": {a: f.state_dict() for a, f in self.filters.items()}}
        if callable(getattr(self.policy, "state_dict", None)):
            state["policy"] = self.policy.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "policy" in state:
            self.policy.load_state_dict(state["policy"])
        for agent, saved in state["filters"].items():
            self.filters[agent].load_state_dict(saved)
