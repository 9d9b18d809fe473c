"""The social dilemma of `testbed/commons_harvest_v0`, measured with the scripted harvesters.

    .venv/bin/python benchmarks/commons_dilemma.py [--episodes 100] [--seed 0]

Plays fixed line-ups (agent_0 first) through the harness's rollout: all sustainable, all greedy,
one greedy among sustainable agents and the reverse, tit-for-tat line-ups and uniform random
play. Reports per-agent returns, the group return, episode length and the depth of the
depletion cost (steps on which it was paid), averaged over `--episodes` seeds (the scripted
agents and the default env are deterministic, so only random play varies). Prints a table and
writes benchmarks/results/commons_dilemma.json. The dilemma shows as: the lone greedy agent
earns more than an agent of the all-sustainable group, while its group earns less.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium  # noqa: F401  (before pettingzoo, see docs/STACK.md trap 4)
import numpy as np

from testbed.registry import make_agent, make_env
from testbed.rollout.episode import run_episode
from testbed.rollout.team import PolicyTeam
from testbed.seeding import episode_seeds

ENV_ID = "testbed/commons_harvest_v0"
S, G, T = "scripted/commons_sustainable", "scripted/commons_greedy", "scripted/commons_tit_for_tat"
LINEUPS: dict[str, list[str]] = {
    "all sustainable": [S] * 5,
    "all greedy": [G] * 5,
    "one greedy, four sustainable": [G] + [S] * 4,
    "one sustainable, four greedy": [S] + [G] * 4,
    "all tit_for_tat": [T] * 5,
    "one greedy, four tit_for_tat": [G] + [T] * 4,
    "all random": ["random"] * 5,
}
RESULTS = Path(__file__).parent / "results" / "commons_dilemma.json"


def play(lineup: list[str], seeds: list[int]) -> dict[str, object]:
    env = make_env(ENV_ID, n_agents=len(lineup))
    team = PolicyTeam(
        {
            name: make_agent(agent_id, env.observation_space(name), env.action_space(name))
            for name, agent_id in zip(env.possible_agents, lineup, strict=True)
        }
    )
    records = [run_episode(env, team, seed) for seed in seeds]
    returns = np.array([[r.agents[a].ret for a in env.possible_agents] for r in records])
    return {
        "agents": lineup,
        "returns": returns.mean(axis=0).round(2).tolist(),
        "group_return": round(float(returns.sum(axis=1).mean()), 2),
        "length": float(np.mean([r.length for r in records])),
        "depletion_steps": float(np.mean([r.agents["agent_0"].cost for r in records])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.perf_counter()
    seeds = episode_seeds(args.seed, args.episodes, stream="commons_dilemma")
    results = {name: play(lineup, seeds) for name, lineup in LINEUPS.items()}
    print(f"{'line-up':<30} {'agent_0':>8} {'others':>8} {'group':>8} {'steps':>6} {'depl.':>6}")
    for name, r in results.items():
        others = np.mean(r["returns"][1:])
        print(
            f"{name:<30} {r['returns'][0]:8.1f} {others:8.1f} {r['group_return']:8.1f} "
            f"{r['length']:6.1f} {r['depletion_steps']:6.1f}"
        )
    out = {
        "env": ENV_ID,
        "episodes": args.episodes,
        "seed": args.seed,
        "lineups": results,
        "wall_seconds": time.perf_counter() - started,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
