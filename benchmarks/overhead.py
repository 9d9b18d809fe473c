"""Harness overhead: testbed's evaluate vs a bare PettingZoo loop, same agents and seeds.

Both sides play the same episodes of MPE simple_spread_v3 with the same RandomPolicy objects
seeded the same way; the script checks they produce identical returns, then compares
episodes/s. Rounds alternate between the two to spread machine noise evenly; the median of
the rounds is reported.

    .venv/bin/python benchmarks/overhead.py [--episodes 300] [--rounds 5]

Writes benchmarks/results/overhead.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import gymnasium  # noqa: F401  (before pettingzoo: docs/STACK.md, trap 4)

from testbed._stack import mpe_module
from testbed.agents.baselines.random import RandomPolicy
from testbed.runner import run
from testbed.scenario.yamlsrc import Source
from testbed.seeding import episode_seeds, member_seed
from testbed.stages import parse_scenario

STAGE = "overhead"


def bare_loop(seeds: list[int]) -> list[float]:
    """The loop a user would write by hand with PettingZoo alone."""
    env = mpe_module("simple_spread_v3").parallel_env()
    policies = {
        a: RandomPolicy(env.observation_space(a), env.action_space(a)) for a in env.possible_agents
    }
    team_returns = []
    for seed in seeds:
        observations, _ = env.reset(seed=seed)
        for index, policy in enumerate(policies.values()):
            policy.reset(member_seed(seed, index))
        total = 0.0
        while env.agents:
            actions = {a: policies[a].act(observations[a]) for a in env.agents}
            observations, rewards, _, _, _ = env.step(actions)
            total += sum(rewards.values())
        team_returns.append(total)
    env.close()
    return team_returns


def testbed_run(episodes: int, out: Path) -> list[float]:
    data = {
        "name": STAGE,
        "seed": 0,
        "stages": [
            {
                "kind": "evaluate",
                "name": STAGE,
                "env": "mpe/simple_spread_v3",
                "agents": {"*": "random"},
                "episodes": episodes,
            }
        ],
    }
    scenario = parse_scenario(data, Source("<benchmark>"))
    result = run(scenario, out, show=False)
    return [r.team_return for r in result.stages[0]["records"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    seeds = episode_seeds(0, args.episodes, stream=STAGE)
    rates: dict[str, list[float]] = {"bare": [], "testbed": []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            start = time.perf_counter()
            bare = bare_loop(seeds)
            rates["bare"].append(args.episodes / (time.perf_counter() - start))
            start = time.perf_counter()
            ours = testbed_run(args.episodes, Path(tmp) / f"r{round_}")
            rates["testbed"].append(args.episodes / (time.perf_counter() - start))
            if [round(x, 9) for x in bare] != [round(x, 9) for x in ours]:
                raise SystemExit("bare loop and testbed disagree: not the same episodes")
    bare_rate = statistics.median(rates["bare"])
    ours_rate = statistics.median(rates["testbed"])
    overhead = 1 - ours_rate / bare_rate
    result = {
        "env": "mpe/simple_spread_v3 (3 agents, 25 steps)",
        "episodes_per_round": args.episodes,
        "rounds": args.rounds,
        "bare_episodes_per_s": bare_rate,
        "testbed_episodes_per_s": ours_rate,
        "overhead_fraction": overhead,
        "identical_returns": True,
        "rates": rates,
    }
    out = Path(__file__).parent / "results" / "overhead.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"bare PettingZoo loop: {bare_rate:8.1f} episodes/s")
    print(f"testbed evaluate:     {ours_rate:8.1f} episodes/s (includes env build, episodes.jsonl)")
    print(f"overhead:             {overhead:8.1%}  (same {args.episodes} episodes, same returns)")


if __name__ == "__main__":
    main()
