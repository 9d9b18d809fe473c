"""Learned coordination on `testbed/foraging_v0`: a parameter-shared IQL team (one DQN for the
three agents) vs uniform random play vs the scripted forager.

    .venv/bin/python benchmarks/marl_foraging.py [--seeds 3] [--steps 80000] [--episodes 200]

Setting (ENV_PARAMS): 3 agents on a 5x5 grid, 2 items of level 2, 25 steps, `sight=2` (a 5x5
egocentric window, obs dim 77). Items need two agents standing next to them and loading in
the SAME step, so every collected item is a coordinated act. The default 8x8 / 4-item map
(obs dim 677, 50 steps) is out of reach of a few CPU-minutes of DQN; this smaller map keeps
the coordination requirement and random play still almost never loads (~0.04 items).

Each seed: `deterministic_torch(seed)`, IQL (`share_parameters`, agent indicator) with the
DQN parameters DQN_PARAMS, trained with `testbed.train.loop.train` for `--steps` env steps;
then the greedy evaluation policy plays `--episodes` held-out episodes (the same episode seeds
for every team). Measured per team: items collected per episode (= each agent's return, the
reward is fully shared), the share of episodes with at least one joint load, and the share
with both items. Mean and 95 % t-interval over seeds (`testbed.evaluate.stats.summarize`);
random and scripted are measured on the same episodes. Writes benchmarks/results/marl/foraging.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see docs/STACK.md trap 4)
import numpy as np

from testbed.agents.common.nets import deterministic_torch
from testbed.evaluate.stats import summarize
from testbed.joint import members
from testbed.registry import make_agent, make_env
from testbed.rollout.episode import run_episode
from testbed.rollout.team import PolicyTeam
from testbed.seeding import episode_seeds
from testbed.train.loop import train

ENV = "testbed/foraging_v0"
ENV_PARAMS = {"n_agents": 3, "grid_size": 5, "n_items": 2, "sight": 2, "max_cycles": 25}
DQN_PARAMS: dict[str, Any] = {
    "hidden": (128, 128),
    "learning_rate": 1e-3,
    "buffer_size": 100_000,
    "batch_size": 128,
    "learning_starts": 5_000,
    "train_freq": 4,
    "target_update_interval": 1_000,
    "epsilon_decay_steps": 60_000,
    "epsilon_end": 0.05,
    "gamma": 0.95,
    "double": True,
}
"""DQN parameters (schedules count agent-steps: 3 per env step when shared). CleanRL/SB3-style
values with a shorter horizon (gamma 0.95 for 25-step episodes), double DQN, and a faster
epsilon decay (the first 20k env steps) to fit the budget; chosen on one exploratory run of
seed 0, not per seed."""
IQL_PARAMS = {"learner": "dqn", "learner_params": DQN_PARAMS, "share_parameters": True}
OUT = Path(__file__).parent / "results" / "marl" / "foraging.json"


def spaces_of(env: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        {a: env.observation_space(a) for a in env.possible_agents},
        {a: env.action_space(a) for a in env.possible_agents},
    )


def measure(env: Any, policies: dict[str, Any], seeds: list[int]) -> dict[str, float]:
    """Items per episode, share of episodes with >= 1 joint load, share with all items."""
    team = PolicyTeam(policies)
    items = np.array([run_episode(env, team, s).agents["agent_0"].ret for s in seeds])
    return {
        "items": float(items.mean()),
        "p_any_load": float((items >= 1).mean()),
        "p_all_items": float((items >= ENV_PARAMS["n_items"]).mean()),
    }


def interval(summary: dict[str, Any]) -> str:
    if summary["ci_low"] is None:
        return "n/a"
    return f"{summary['ci_low']:.2f}..{summary['ci_high']:.2f}"


def fixed_team(env: Any, agent_id: str) -> dict[str, Any]:
    obs, act = spaces_of(env)
    return {a: make_agent(agent_id, obs[a], act[a]) for a in env.possible_agents}


def run_seed(seed: int, steps: int, eval_seeds: list[int]) -> dict[str, Any]:
    env = make_env(ENV, **ENV_PARAMS)
    deterministic_torch(seed)
    group = make_agent("iql", *spaces_of(env), **IQL_PARAMS)
    items: list[float] = []
    started = time.process_time()
    train(
        env,
        members(group),
        steps,
        seed,
        on_episode=lambda stats, _: items.append(stats.returns["agent_0"]),
    )
    train_cpu = time.process_time() - started
    chunks = np.array_split(np.array(items), 10)
    result = {
        "seed": seed,
        "train_cpu_seconds": round(train_cpu, 1),
        "train_episodes": len(items),
        "train_items_per_episode_by_tenth": [round(float(c.mean()), 3) for c in chunks],
        **measure(env, members(group), eval_seeds),
    }
    print(f"seed {seed}: {result}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=80_000)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    wall = time.perf_counter()
    eval_seeds = episode_seeds(12345, args.episodes, stream="marl_foraging_eval")
    env = make_env(ENV, **ENV_PARAMS)
    baselines = {
        name: measure(env, fixed_team(env, name), eval_seeds)
        for name in ("random", "scripted/forager")
    }
    print(f"baselines: {baselines}", flush=True)
    runs = [run_seed(seed, args.steps, eval_seeds) for seed in range(args.seeds)]
    summary = {
        key: summarize([r[key] for r in runs]).to_dict()
        for key in ("items", "p_any_load", "p_all_items")
    }
    learned, rnd, scripted = summary["items"], baselines["random"], baselines["scripted/forager"]
    beats = learned["ci_low"] is not None and learned["ci_low"] > rnd["items"]
    verdict = (
        f"The shared-DQN IQL team collects {learned['mean']:.2f} items per episode "
        f"(95 % CI {interval(learned)} over {args.seeds} seeds; "
        f"at least one joint load in {100 * summary['p_any_load']['mean']:.0f} % of episodes) "
        f"vs {rnd['items']:.2f} for random play ({100 * rnd['p_any_load']:.0f} %): "
        + (
            "every collected item needs two agents loading in the same step, so this is "
            "learned coordination random independent play does not reach"
            if beats
            else "NOT clearly above random play at this budget"
        )
        + f"; the scripted forager still collects more ({scripted['items']:.2f})."
    )
    out = {
        "env": ENV,
        "params": ENV_PARAMS,
        "learner": "iql",
        "learner_params": IQL_PARAMS,
        "steps": args.steps,
        "seeds": args.seeds,
        "eval_episodes": args.episodes,
        "metric": "items collected per episode (greedy evaluation policy), held-out episodes",
        "per_seed": runs,
        "summary": summary,
        "baselines": baselines,
        "verdict": verdict,
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "platform": platform.platform(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(verdict)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
