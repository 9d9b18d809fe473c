"""MPE simple_spread: a learned team against random and the scripted heuristic.

    .venv/bin/python benchmarks/marl_spread.py --algo mappo [--seeds 3] [--steps N]
                                               [--eval-episodes 50] [--jobs 2] [--rebuild]

`mpe/simple_spread_v3` (N=3 agents, 3 landmarks, max_cycles=25, discrete actions), built
through `testbed.registry.make_env`. For each seed, the algorithm (a joint learner from ALGOS,
one group for all three agents) trains through `testbed.train.loop.train` (or, with
`num_envs`, `testbed.train.vector_loop.train_vectorized` over copies of the batched MPE) for
`--steps` env steps, evaluated every `eval_every` steps when set (the curve, with wall time);
then its evaluation policies (`act`) play `--eval-episodes` held-out episodes
(`testbed.train.loop.evaluate`: seeds from the "eval" stream, never used in training). The
baselines `random` and `scripted/spread_nearest` play the same episodes. The metric is the team
return per episode (the sum over the 3 agents and 25 steps of their rewards; higher is better),
averaged over the episodes of a seed; rows give the mean and 95 % t-interval over seeds
(`testbed.evaluate.stats.summarize`). Each run merges its algorithm into
benchmarks/results/marl/spread.json (other algorithms' entries stay), so `--algo maddpg` can be
added to ALGOS and run later.

Reference points: PettingZoo's docs give about -115 for random play of simple_spread (v2);
benchmarks/baselines.py measured -82.5 for random and -26.4 for the scripted heuristic on v3
(200 episodes).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see docs/STACK.md trap 4)

from testbed.agents.common.nets import deterministic_torch
from testbed.evaluate.stats import summarize
from testbed.joint import members
from testbed.registry import make_agent, make_env
from testbed.rollout.make_vec import make_vec_env
from testbed.train.loop import evaluate, train
from testbed.train.vector_loop import train_vectorized

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "marl" / "spread.json"
ENV = "mpe/simple_spread_v3"
ENV_PARAMS = {"N": 3, "max_cycles": 25, "continuous_actions": False}
EVAL_SEED = 90_000
BASELINES = ("random", "scripted/spread_nearest")

ALGOS: dict[str, dict[str, Any]] = {
    "mappo": {
        # Yu et al. 2022 MPE settings (lr 7e-4, 10 epochs, 1 minibatch, clip 0.2, entropy
        # 0.01, 64-unit ReLU MLPs, value normalisation = MAPPOConfig defaults); the rollout is
        # 800 env steps (32 episodes) instead of the paper's 128 envs x 25 = 3200, since the
        # budget here is ~0.3M steps, not 20M.
        "id": "mappo",
        "params": {"rollout_steps": 800},
        "steps": 300_000,
        "note": "Yu et al. train MPE for 20M steps: this budget (1.5 % of it) measures early "
        "learning, not MAPPO's final level.",
    },
    "mappo_vec": {
        # The paper's MPE setting itself: 128 env copies x 25 steps = 3200 transitions per
        # update, the rest as `mappo`, on the numpy-batched MPE (vectorized training); the
        # budget is what 30 minutes of this machine's wall time covers.
        "id": "mappo",
        "params": {"rollout_steps": 3200},
        "num_envs": 128,
        "steps": 12_000_000,
        "eval_every": 500_000,
        "note": "mappo_vec is MAPPO with the paper's 128 copies and rollout, vectorized.",
    },
    "maddpg": {
        # Lowe et al. 2017 / openai/maddpg defaults (lr 1e-2, gamma 0.95, batch 1024, tau 0.01,
        # 2x64 ReLU) with updates every 25 steps after 10k (paper: every 100 after 25.6k), as
        # the budget is 100k steps, not the paper's 25 x 60k episodes.
        "id": "maddpg",
        "params": {"train_freq": 25, "learning_starts": 10_000},
        "steps": 100_000,
        "note": "MADDPG's paper trains for 60k episodes (1.5M steps): 100k steps is early "
        "learning.",
    },
}


def team(env: Any, agent_id: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per-agent policies of a registered (non-joint) agent for every env agent."""
    return {
        a: make_agent(agent_id, env.observation_space(a), env.action_space(a), **(params or {}))
        for a in env.possible_agents
    }


def run_seed(algo: str, seed: int, steps: int, episodes: int) -> dict[str, Any]:
    spec = ALGOS[algo]
    deterministic_torch(seed)
    env = make_env(ENV, **ENV_PARAMS)
    group = make_agent(
        spec["id"],
        {a: env.observation_space(a) for a in env.possible_agents},
        {a: env.action_space(a) for a in env.possible_agents},
        **spec["params"],
    )
    train_returns: list[float] = []
    curve: list[dict[str, float]] = []
    start, cpu_start = time.perf_counter(), time.process_time()
    every = spec.get("eval_every")

    def on_step(state: Any) -> None:  # evaluate when a vector step passes a multiple of `every`
        if every and state.step // every > len(curve):
            paused = time.perf_counter()
            ret, _ = evaluate(env, members(group), seed=EVAL_SEED + seed, episodes=20)
            curve.append({"step": state.step, "seconds": paused - start, "team_return": ret})
            print(f"  {algo} seed {seed} step {state.step:>9,}: {ret:8.2f} "
                  f"({(paused - start) / 60:.1f} min)", flush=True)  # fmt: skip

    def on_episode(stats: Any, _: Any) -> None:
        train_returns.append(stats.team_return)

    if spec.get("num_envs", 1) == 1:
        train(env, members(group), steps, seed, on_step=on_step, on_episode=on_episode)
    else:
        copies = make_vec_env(ENV, spec["num_envs"], **ENV_PARAMS)
        train_vectorized(
            copies, members(group), steps, seed, on_step=on_step, on_episode=on_episode
        )
        copies.close()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    ret, _ = evaluate(env, members(group), seed=EVAL_SEED + seed, episodes=episodes)
    last = train_returns[-100:]
    return {
        "seed": seed,
        "steps": steps,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "eval_team_return": ret,
        "train_team_return_last100": sum(last) / max(1, len(last)),
        "num_envs": spec.get("num_envs", 1),
        "curve": curve,
    }


def baseline_seed(agent_id: str, seed: int, episodes: int) -> float:
    env = make_env(ENV, **ENV_PARAMS)
    ret, _ = evaluate(env, team(env, agent_id), seed=EVAL_SEED + seed, episodes=episodes)
    return ret


def row(method: str, values: list[float], steps: int, seconds: float | None) -> dict[str, Any]:
    s = summarize(values)
    ci = s.n >= 2
    return {
        "method": method,
        "metric": "team return per episode (eval)",
        "mean": s.mean,
        "ci_low": s.ci_low if ci else None,
        "ci_high": s.ci_high if ci else None,
        "seeds": s.n,
        "steps": steps,
        "seconds_per_seed": seconds,
    }


def verdict(rows: list[dict[str, Any]]) -> str:
    """One sentence per learned method, comparing its interval with the baselines' means."""
    base = {r["method"]: r for r in rows if r["method"] in BASELINES}
    sentences = []
    for r in rows:
        if r["method"] in BASELINES:
            continue
        low = r["ci_low"] if r["ci_low"] is not None else r["mean"]
        high = r["ci_high"] if r["ci_high"] is not None else r["mean"]
        parts = []
        for name, b in base.items():
            if low > b["mean"]:
                parts.append(f"above {name} ({b['mean']:.1f})")
            elif high < b["mean"]:
                parts.append(f"below {name} ({b['mean']:.1f})")
            else:
                parts.append(f"not distinguishable from {name} ({b['mean']:.1f})")
        sentences.append(
            f"{r['method']} after {r['steps']:,} steps: team return {r['mean']:.1f} "
            f"[{low:.1f}, {high:.1f}] over {r['seeds']} seeds, " + " and ".join(parts) + "."
        )
        if r.get("reached") and "scripted/spread_nearest" in base:
            target = base["scripted/spread_nearest"]["mean"]
            when = [
                "never" if hit is None else f"at {hit[0]:,} steps ({hit[1]:.0f} min)"
                for hit in r["reached"]
            ]
            sentences.append(
                f"Its evaluations (20 episodes) first reached the scripted level ({target:.1f}) "
                f"per seed: {', '.join(when)}."
            )
        if ALGOS.get(r["method"], {}).get("note"):
            sentences.append(ALGOS[r["method"]]["note"])
    return " ".join(sentences)


def first_reached(curve: list[dict[str, float]], target: float) -> list[float] | None:
    """[step, minutes] of the first evaluation at or above `target`, or None."""
    for point in curve:
        if point["team_return"] >= target:
            return [point["step"], point["seconds"] / 60]
    return None


def rebuild(results: dict[str, Any], episodes: int) -> dict[str, Any]:
    rows = [
        row(name, [run["eval_team_return"] for run in entry["runs"]], entry["steps"],
            sum(run["seconds"] for run in entry["runs"]) / len(entry["runs"]))
        for name, entry in results["algos"].items()
    ]  # fmt: skip
    rows += [row(name, values, 0, None) for name, values in results["baselines"].items()]
    scripted = results["baselines"].get("scripted/spread_nearest")
    for r, entry in zip(rows, results["algos"].values(), strict=False):
        if scripted and any(run.get("curve") for run in entry["runs"]):
            level = sum(scripted) / len(scripted)
            r["reached"] = [first_reached(run.get("curve", []), level) for run in entry["runs"]]
    seeds = max(len(entry["runs"]) for entry in results["algos"].values())
    wall = sum(run["seconds"] for e in results["algos"].values() for run in e["runs"])
    results.update(
        title="MPE simple_spread (3 agents, 25 steps, discrete): learned teams vs baselines",
        env=ENV,
        env_params=ENV_PARAMS,
        budget=(
            ", ".join(f"{n}: {e['steps']:,} env steps" for n, e in results["algos"].items())
            + f"; {seeds} seeds; {episodes} eval episodes per seed; training wall time "
            f"{wall / 60:.1f} min in total (1 thread, on a 2-core machine shared with other runs)"
        ),
        rows=rows,
        verdict=verdict(rows),
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algo", choices=list(ALGOS), default="mappo")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="default: the algo's budget")
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=1, help="seeds run in parallel processes")
    parser.add_argument("--out", type=Path, default=RESULT)
    parser.add_argument("--rebuild", action="store_true", help="only rebuild rows and verdict")
    args = parser.parse_args()
    if args.rebuild:
        results = json.loads(args.out.read_text())
        results = rebuild(results, results["eval_episodes"])
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(results["verdict"])
        return
    steps = args.steps or ALGOS[args.algo]["steps"]
    tasks = [(args.algo, seed, steps, args.eval_episodes) for seed in range(args.seeds)]
    if args.jobs > 1:  # seeds in parallel processes (one torch thread each)
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            runs = pool.starmap(run_seed, tasks)
    else:
        runs = [run_seed(*task) for task in tasks]
    for run in runs:
        print(args.algo, json.dumps({k: v for k, v in run.items() if k != "curve"}), flush=True)
    baselines = {
        name: [baseline_seed(name, seed, args.eval_episodes) for seed in range(args.seeds)]
        for name in BASELINES
    }
    print("baselines", json.dumps(baselines), flush=True)
    results = json.loads(args.out.read_text()) if args.out.exists() else {"algos": {}}
    results["algos"][args.algo] = {
        "agent": ALGOS[args.algo]["id"],
        "params": ALGOS[args.algo]["params"],
        "num_envs": ALGOS[args.algo].get("num_envs", 1),
        "steps": steps,
        "machine": f"{platform.processor() or platform.machine()}, torch CPU, 1 thread",
        "runs": runs,
    }
    results["baselines"] = baselines
    results["eval_episodes"] = args.eval_episodes
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rebuild(results, args.eval_episodes), indent=2) + "\n")
    print(results["verdict"])


if __name__ == "__main__":
    sys.exit(main())
