"""`kind: evaluate`: N episodes of a team on an env, summarised with confidence intervals."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from testbed.executor import EpisodeRunner, Executor, LocalExecutor
from testbed.rollout import EpisodeRecord
from testbed.scenario import Scenario
from testbed.seeding import episode_seeds
from testbed.stats import summarize

EpisodeCallback = Callable[[int, EpisodeRecord], None]


def summarize_episodes(records: list[EpisodeRecord], confidence: float = 0.95) -> dict[str, Any]:
    """Team and per-agent metrics (mean, std, CI, min, max) over episodes."""
    agents: dict[str, dict[str, Any]] = {}
    names = sorted({name for r in records for name in r.agents})
    for name in names:
        present = [r.agents[name] for r in records if name in r.agents]
        parts = sorted({p for a in present for p in a.costs})
        agents[name] = {
            "return": summarize([a.ret for a in present], confidence).to_dict(),
            "cost": summarize([a.cost for a in present], confidence).to_dict(),
            "steps": summarize([a.steps for a in present], confidence).to_dict(),
            "costs": {
                p: summarize([a.costs.get(p, 0.0) for a in present], confidence).to_dict()
                for p in parts
            },
        }
    team = {
        "return": summarize([r.team_return for r in records], confidence).to_dict(),
        "cost": summarize([r.team_cost for r in records], confidence).to_dict(),
        "length": summarize([r.length for r in records], confidence).to_dict(),
    }
    return {"team": team, "agents": agents}


def run_evaluate(
    scenario: Scenario,
    index: int,
    executor: Executor | None = None,
    on_episode: EpisodeCallback | None = None,
) -> dict[str, Any]:
    """Play the stage's episodes and return its result (records in episode order)."""
    stage = scenario.stages[index]
    name = scenario.stage_name(index)
    seeds = episode_seeds(
        scenario.stage_seed(index), stage.episodes, stream=scenario.seed_stream(index)
    )
    executor = executor or LocalExecutor()
    preflight = EpisodeRunner(scenario, index)  # bad input fails here, before any worker starts
    seats = preflight.seats
    agent_ids = {agent: stage.agents[pattern].label for agent, pattern in seats.items()}
    preflight.close()

    records: dict[int, EpisodeRecord] = {}
    started = time.perf_counter()
    for number, record in executor.imap(scenario, index, seeds):
        records[number] = record
        if on_episode is not None:
            on_episode(number, record)
    elapsed = time.perf_counter() - started
    ordered = [records[k] for k in sorted(records)]
    return {
        "kind": "evaluate",
        "name": name,
        "env": stage.env.model_dump(),
        "agents": {p: ref.model_dump() for p, ref in stage.agents.items()},
        "seats": agent_ids,
        "seed": scenario.stage_seed(index),
        "episodes": len(ordered),
        "wall_time_s": elapsed,
        "episodes_per_s": len(ordered) / elapsed if elapsed > 0 else None,
        "metrics": summarize_episodes(ordered),
        "records": ordered,
    }
