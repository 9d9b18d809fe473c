"""Mean-field Q-learning with many agents: MF-Q vs parameter-shared IQL (DQN) vs random on
MPE `simple_spread_v3` with N = 6 agents.

    .venv/bin/python benchmarks/marl_meanfield.py [--seeds 3] [--steps 30000] [--n-agents 6]

Why this env: simple_spread is the standard many-agent cooperative MPE task; with N = 6 the
agents' observations (dim 36) and the number of neighbours grow with N, so methods that take
the joint action into account must compress it (MF-Q: the others' mean action). It is slow
(~1,350 random env steps/s at N = 6 here, a quarter of N = 3; learners ~400 steps/s), so the
budget is a few tens of thousands of env steps. Rewards: shared coverage (distance of each
landmark to its closest agent) mixed with own collisions (local_ratio 0.5), negative.

Same budget for both learners: `--steps` env steps, one gradient step (batch 64) per env step,
a (64, 64) ReLU MLP, Adam lr 5e-4, gamma 0.95, Polyak target tau 0.01 after every gradient
step, 100k-transition replay, learning after 1,000 env steps, exploration annealed over the
first half (MF-Q: Boltzmann temperature 1 -> 0.1; DQN: epsilon 1 -> 0.05), no agent indicator
(agents are exchangeable). The only differences are MF-Q's mean-action input, its Boltzmann
policy and its mean-field value target. Each seed: `deterministic_torch(seed)`, train with
`testbed.train.loop.train`, then the greedy evaluation policies play `--episodes` held-out
episodes (the same for every method and for the random and scripted/spread_nearest teams).
Reported: mean return per agent per episode, mean and 95 % t-interval over seeds
(`testbed.evaluate.stats.summarize`). Writes benchmarks/results/marl/meanfield.json.
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

ENV = "mpe/simple_spread_v3"
OUT = Path(__file__).parent / "results" / "marl" / "meanfield.json"


def env_params(n_agents: int) -> dict[str, Any]:
    return {"N": n_agents, "max_cycles": 25, "continuous_actions": False}


def method_params(method: str, n_agents: int, steps: int) -> dict[str, Any]:
    """The registry params of each learner for this budget (see the module docstring)."""
    explore = steps // 2
    if method == "mfq":
        return {
            "hidden": (64, 64),
            "learning_rate": 5e-4,
            "gamma": 0.95,
            "buffer_size": 100_000,
            "batch_size": 64,
            "learning_starts": 1_000,
            "train_freq": 1,
            "tau": 0.01,
            "temperature_start": 1.0,
            "temperature_end": 0.1,
            "temperature_decay_steps": explore,
            "agent_indicator": False,
        }
    # shared DQN: its schedules count agent-steps (n_agents per env step)
    dqn = {
        "hidden": (64, 64),
        "learning_rate": 5e-4,
        "gamma": 0.95,
        "buffer_size": 100_000,
        "batch_size": 64,
        "learning_starts": 1_000 * n_agents,
        "train_freq": n_agents,
        "target_update_interval": n_agents,
        "tau": 0.01,
        "epsilon_start": 1.0,
        "epsilon_end": 0.05,
        "epsilon_decay_steps": explore * n_agents,
    }
    return {
        "learner": "dqn",
        "learner_params": dqn,
        "share_parameters": True,
        "agent_indicator": False,
    }


def spaces_of(env: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        {a: env.observation_space(a) for a in env.possible_agents},
        {a: env.action_space(a) for a in env.possible_agents},
    )


def per_agent_return(env: Any, policies: dict[str, Any], seeds: list[int]) -> float:
    team = PolicyTeam(policies)
    n = len(env.possible_agents)
    return float(np.mean([run_episode(env, team, s).team_return / n for s in seeds]))


def run_seed(method: str, seed: int, args: argparse.Namespace, eval_seeds: list[int]) -> dict:
    env = make_env(ENV, **env_params(args.n_agents))
    deterministic_torch(seed)
    group = make_agent(method, *spaces_of(env), **method_params(method, args.n_agents, args.steps))
    returns: list[float] = []
    started = time.process_time()
    train(
        env,
        members(group),
        args.steps,
        seed,
        on_episode=lambda stats, _: returns.append(stats.team_return / args.n_agents),
    )
    cpu = time.process_time() - started
    result = {
        "seed": seed,
        "train_cpu_seconds": round(cpu, 1),
        "train_return_by_tenth": [
            round(float(c.mean()), 2) for c in np.array_split(np.array(returns), 10)
        ],
        "return": per_agent_return(env, members(group), eval_seeds),
    }
    print(f"{method} seed {seed}: {result}", flush=True)
    return result


def interval(summary: dict[str, Any]) -> str:
    if summary["ci_low"] is None:
        return f"{summary['mean']:.2f}"
    return f"{summary['mean']:.2f} [{summary['ci_low']:.2f}, {summary['ci_high']:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--n-agents", type=int, default=6)
    parser.add_argument("--methods", nargs="+", default=["mfq", "iql"])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    wall = time.perf_counter()
    eval_seeds = episode_seeds(2024, args.episodes, stream="marl_meanfield_eval")
    env = make_env(ENV, **env_params(args.n_agents))
    baselines = measure_baselines(env, eval_seeds)
    print(f"baselines: {baselines}", flush=True)
    results: dict[str, Any] = {}
    for method in args.methods:
        runs = [run_seed(method, seed, args, eval_seeds) for seed in range(args.seeds)]
        results[method] = {
            "params": method_params(method, args.n_agents, args.steps),
            "per_seed": runs,
            "summary": summarize([r["return"] for r in runs]).to_dict(),
        }
    verdict = make_verdict(results, baselines, args.seeds)
    out = {
        "env": ENV,
        "params": env_params(args.n_agents),
        "steps": args.steps,
        "seeds": args.seeds,
        "eval_episodes": args.episodes,
        "metric": "mean return per agent per episode (greedy evaluation policy), held-out "
        "episodes; mean and 95 % t-interval over seeds",
        "methods": results,
        "baselines": baselines,
        "verdict": verdict,
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "platform": platform.platform(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(verdict)
    print(f"wrote {args.out}")


def measure_baselines(env: Any, eval_seeds: list[int]) -> dict[str, float]:
    """Per-agent return of uniform random play and of the scripted nearest-landmark team."""
    obs, act = spaces_of(env)
    return {
        name: per_agent_return(
            env, {a: make_agent(name, obs[a], act[a]) for a in env.possible_agents}, eval_seeds
        )
        for name in ("random", "scripted/spread_nearest")
    }


def make_verdict(results: dict[str, Any], baselines: dict[str, float], seeds: int) -> str:
    random_return = baselines["random"]
    parts = [f"{m}: {interval(r['summary'])}" for m, r in results.items()]
    text = f"Per-agent return over {seeds} seeds: " + "; ".join(parts)
    text += f"; random {random_return:.2f}; scripted/spread_nearest "
    text += f"{baselines['scripted/spread_nearest']:.2f}. "
    above = [
        m
        for m, r in results.items()
        if r["summary"]["ci_low"] is not None and r["summary"]["ci_low"] > random_return
    ]
    text += f"Above random (CI lower bound): {', '.join(above) or 'none'}. "
    if {"mfq", "iql"} <= set(results):
        mfq, iql = results["mfq"]["summary"], results["iql"]["summary"]
        if None in (mfq["ci_low"], iql["ci_low"]):
            text += "Too few seeds to compare MF-Q and IQL."
        elif mfq["ci_low"] > iql["ci_high"]:
            text += "MF-Q beats shared-DQN IQL at this budget (intervals do not overlap)."
        elif iql["ci_low"] > mfq["ci_high"]:
            text += "Shared-DQN IQL beats MF-Q at this budget (intervals do not overlap)."
        else:
            text += "MF-Q and shared-DQN IQL are not distinguishable at this budget (the "
            text += "95 % intervals overlap)."
    scripted = baselines["scripted/spread_nearest"]
    if all(r["summary"]["mean"] < scripted for r in results.values()):
        text += f" All learners stay far below the scripted team ({scripted:.2f}) at this budget."
    return text


if __name__ == "__main__":
    main()
