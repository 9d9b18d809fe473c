"""Scripted reference agents against random on our cooperative and constrained envs.

    .venv/bin/python benchmarks/scripted_baselines.py [--episodes 200]

Plays `--episodes` episodes (seeds 0, 1, ...) of each (env, agent) pair in `CASES` through the
harness (`testbed.rollout.episode.run_episode`, every agent of the env played by the same agent id),
prints a table and writes benchmarks/results/scripted_baselines.json. These are the figures
quoted under "What good play scores" in the env docstrings.

Per agent and episode (each robot's episode is one sample): mean return; for envs with costs,
the episode cost (sum of `infos[a]["cost"]`) as mean, share of episodes with cost > 0 and
> `LIMIT`, the 95th percentile, the mean of each named cost; for navigation, the share of
robots that reached their goal before the horizon; for foraging, the share of episodes in
which every item was collected (fully shared reward: return = items collected).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from testbed.registry import make_agent, make_env
from testbed.rollout.episode import run_episode
from testbed.rollout.team import PolicyTeam

LIMIT = 5.0
NAV, FORAGING = "testbed/safe_navigation_v0", "testbed/foraging_v0"
CASES: list[tuple[str, dict[str, Any], str]] = [
    (FORAGING, {}, "scripted/forager"),
    (FORAGING, {}, "random"),
    (FORAGING, {"sight": 2}, "scripted/forager"),
    (NAV, {}, "scripted/safe_navigator"),
    (NAV, {}, "scripted/unsafe_navigator"),
    (NAV, {}, "random"),
    (NAV, {"continuous_actions": True}, "scripted/safe_navigator"),
    (NAV, {"continuous_actions": True}, "scripted/unsafe_navigator"),
    (NAV, {"continuous_actions": True}, "random"),
]
RESULTS = Path(__file__).parent / "results" / "scripted_baselines.json"


def evaluate(env_id: str, params: dict[str, Any], agent_id: str, episodes: int) -> dict:
    env = make_env(env_id, **params)
    team = PolicyTeam(
        {
            a: make_agent(agent_id, env.observation_space(a), env.action_space(a))
            for a in env.possible_agents
        }
    )
    start = time.perf_counter()
    samples = [
        rec for seed in range(episodes) for rec in run_episode(env, team, seed).agents.values()
    ]
    costs = np.array([s.cost for s in samples])
    row: dict[str, Any] = {
        "env": env_id,
        "params": params,
        "agent": agent_id,
        "episodes": episodes,
        "samples": len(samples),
        "return_mean": round(float(np.mean([s.ret for s in samples])), 3),
        "return_std": round(float(np.std([s.ret for s in samples])), 3),
        "seconds": round(time.perf_counter() - start, 1),
    }
    if env_id == FORAGING:
        n_items = env.n_items
        row["all_collected"] = round(float(np.mean([s.ret >= n_items - 1e-9 for s in samples])), 3)
    if env_id == NAV:
        row["reached"] = round(float(np.mean([s.steps < env.max_cycles for s in samples])), 3)
        row["cost_mean"] = round(float(costs.mean()), 3)
        row["cost_gt0"] = round(float((costs > 0).mean()), 3)
        row[f"cost_gt{LIMIT:g}"] = round(float((costs > LIMIT).mean()), 3)
        row["cost_p95"] = round(float(np.percentile(costs, 95)), 2)
        row["costs_mean"] = {
            name: round(float(np.mean([s.costs.get(name, 0.0) for s in samples])), 3)
            for name in ("hazard", "collision", "speed")
        }
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rows = []
    for env_id, params, agent_id in CASES:
        rows.append(evaluate(env_id, params, agent_id, args.episodes))
        row = rows[-1]
        label = f"{env_id} {json.dumps(params) if params else ''} {agent_id}"
        line = f"{label:<75} return {row['return_mean']:7.3f}"
        if "all_collected" in row:
            line += f"  all items {row['all_collected']:.0%}"
        if "cost_mean" in row:
            line += (
                f"  reached {row['reached']:.0%}  cost {row['cost_mean']:6.2f}"
                f"  >0 {row['cost_gt0']:.0%}  >{LIMIT:g} {row[f'cost_gt{LIMIT:g}']:.0%}"
                f"  parts {row['costs_mean']}"
            )
        print(line, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"limit": LIMIT, "results": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
