"""What a scenario names exists and fits: env and agent ids (with a did-you-mean), their
parameters (against the env factory's signature and the agent's Config dataclass), and
checkpoint folders (those trained earlier in the same run are checked by stage name)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from testbed import registry
from testbed.errors import BadInput
from testbed.registry.checkpoint import checkpoint_agent, read_config
from testbed.scenario.document import Scenario
from testbed.scenario.models import AgentRef, StageModel


def check_references(scenario: Scenario) -> None:
    """Raise one BadInput listing every reference of the scenario that does not resolve."""
    problems: list[BadInput] = []
    for index, stage in enumerate(scenario.stages):
        where = scenario.where("stages", index, "env", "id") or "env.id"
        factory = _collect(
            problems, registry.env_factory, stage.env.id, where=where, base_dir=scenario.base_dir
        )
        if factory is not None:
            _collect(
                problems,
                registry.check_env_params,
                factory,
                stage.env.params,
                name=stage.env.id,
                where_of=lambda key, i=index: scenario.where("stages", i, "env", "params", key),
            )
        for loc, ref in stage.agent_refs():
            _collect(problems, _check_agent_ref, scenario, index, loc, ref)
    if problems:
        raise BadInput.combine(problems)


def code_references(stage: StageModel) -> list[str]:
    """The module paths (code) a stage names as its env or agents."""
    ids = [stage.env.id, *(ref.id for _, ref in stage.agent_refs() if ref.id)]
    return [name for name in ids if registry.is_reference(name)]


def _collect(problems: list[BadInput], check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return check(*args, **kwargs)
    except BadInput as exc:
        problems.extend(exc.problems)
        return None


def _check_agent_ref(scenario: Scenario, index: int, loc: tuple[str, ...], ref: AgentRef) -> None:
    if ref.checkpoint is not None:
        where = scenario.where("stages", index, *loc, "checkpoint")
        if ref.checkpoint.startswith("@"):
            trained = earlier_train_stage(scenario, index, ref.checkpoint, where=where)
            if trained is None:
                raise BadInput(
                    f"{ref.checkpoint!r} names no earlier `kind: train` stage of this scenario",
                    where=where,
                    hint="write @<train stage name>/<agent name>, e.g. @train/agent_0",
                )
            return
        path = Path(ref.checkpoint)
        if scenario.base_dir is not None and not path.is_absolute():
            path = scenario.base_dir / path
        agent_id = checkpoint_agent(path, read_config(path, where=where), ref.id, where=where)
        registry.agent_class(agent_id, where=where, base_dir=scenario.base_dir)
        return
    assert ref.id is not None
    for key, value in ref.params.items():
        if is_checkpoint_param((key,)) and isinstance(value, str) and value.startswith("@"):
            where = scenario.where("stages", index, *loc, "params", key)
            if earlier_train_stage(scenario, index, value, where=where) is None:
                raise BadInput(
                    f"{key}: {value!r} names no earlier `kind: train` stage of this scenario",
                    where=where,
                    hint="write @<train stage name>/<agent name>, e.g. @train/agent_0",
                )
    where = scenario.where("stages", index, *loc, "id")
    cls = registry.agent_class(ref.id, where=where, base_dir=scenario.base_dir)
    registry.agent_config(
        cls, ref.params, name=ref.id, where=scenario.where("stages", index, *loc, "params")
    )


def is_checkpoint_param(loc: tuple[object, ...]) -> bool:
    """An agent parameter that names a checkpoint folder (`*_checkpoint`): it may be written
    `@<train stage>/<agent>` like an agent's own `checkpoint:`."""
    return bool(loc) and isinstance(loc[-1], str) and loc[-1].endswith("_checkpoint")


def earlier_train_stage(
    scenario: Scenario, index: int, ref: str, *, where: str | None = None
) -> tuple[int, str] | None:
    """`@<stage>/<agent>` -> (index of that earlier training stage, agent name), else None."""
    stage_name, _, agent = ref[1:].partition("/")
    if not agent:
        raise BadInput(f"{ref!r}: expected @<train stage name>/<agent name>", where=where)
    for earlier in range(index):
        stage = scenario.stages[earlier]
        if stage.trains_agents and scenario.stage_name(earlier) == stage_name:
            return earlier, agent
    return None
