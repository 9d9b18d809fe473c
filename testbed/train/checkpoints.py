"""What a train stage saves and resumes: one checkpoint folder per learning unit (a learner,
or a joint group by its pattern), each naming the agent it holds (registry id and params).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.errors import BadInput
from testbed.joint import group_folder, group_of
from testbed.registry.checkpoint import load_weights, read_config, save_checkpoint
from testbed.scenario.document import Scenario
from testbed.scenario.models import AgentRef


def scenario_path(scenario: Scenario, path: str | Path) -> Path:
    """A path written in the scenario, taken from the scenario file's folder when relative."""
    path = Path(path)
    return path if path.is_absolute() or scenario.base_dir is None else scenario.base_dir / path


def agent_source(ref: AgentRef, scenario: Scenario) -> tuple[str, dict[str, Any]]:
    """(registry id, params) of an agent ref, read from its checkpoint when it has one."""
    if ref.checkpoint is None:
        assert ref.id is not None
        return ref.id, dict(ref.params)
    config = read_config(scenario_path(scenario, ref.checkpoint))
    return config["agent"], config.get("params", {})


@dataclass
class SavedUnit:
    """What one checkpoint folder holds: one learner, or one joint group (by its pattern)."""

    learner: Any
    agents: list[str]
    pattern: str
    folder: str
    observation_space: Any
    action_space: Any
    agent_id: str = ""
    params: dict[str, Any] | None = None

    def save(self, target: Path, meta: dict[str, Any]) -> None:
        save_checkpoint(
            target,
            self.learner,
            agent_id=self.agent_id,
            params=self.params or {},
            observation_space=self.observation_space,
            action_space=self.action_space,
            meta={**meta, "agents": self.agents},
        )


def saved_units(
    scenario: Scenario,
    refs: dict[str, AgentRef],
    policies: dict[str, Any],
    learners: list[str],
    seats: dict[str, str],
    env: Any,
) -> dict[str, SavedUnit]:
    """{name: unit}: each learning agent by its name; each joint group by its pattern, in
    the folder `group_folder(pattern)` (so `@stage/adversary_*` finds `adversary_all/`)."""
    units: dict[str, SavedUnit] = {}
    for agent in learners:
        group = group_of(policies[agent])
        pattern = seats[agent]
        if group is None:
            key, names, learner, folder = agent, [agent], policies[agent], agent
        elif pattern not in units:
            names = [a for a in learners if group_of(policies[a]) is group]
            key, learner, folder = pattern, group, group_folder(pattern)
        else:
            continue
        spaces = {a: (env.observation_space(a), env.action_space(a)) for a in names}
        if group is None:
            observation_space, action_space = spaces[agent]
        else:
            observation_space = {a: s[0] for a, s in spaces.items()}
            action_space = {a: s[1] for a, s in spaces.items()}
        agent_id, params = agent_source(refs[pattern], scenario)
        units[key] = SavedUnit(
            learner, names, pattern, folder, observation_space, action_space, agent_id, params
        )
    return units


def resume_units(
    folder: Path, units: dict[str, SavedUnit], budget: int, *, where: str | None = None
) -> tuple[int, int]:
    """Load every unit's weights from `folder/<unit folder>/`; return the (step, episodes)
    the checkpoints were saved at."""
    steps = set()
    episodes = 0
    for key, unit in units.items():
        config = read_config(folder / unit.folder, where=where)
        load_weights(folder / unit.folder, unit.learner, label=repr(key), where=where)
        steps.add(int(config.get("step", 0)))
        episodes = max(episodes, int(config.get("episodes", 0)))
    if len(steps) != 1:
        raise BadInput(
            f"the learners' checkpoints in {str(folder)!r} are from different steps "
            f"{sorted(steps)}",
            where=where,
        )
    step = steps.pop()
    if step >= budget:
        raise BadInput(
            f"the checkpoint is at step {step}, not before the budget steps={budget}",
            where=where,
            hint="raise `steps` to train on",
        )
    return step, episodes
