"""Hierarchy benchmark: goals relabelled in hindsight, and options (issue 20).

    .venv/bin/python benchmarks/hierarchy.py bit_flip [--seeds 3] [--steps 150000]
    .venv/bin/python benchmarks/hierarchy.py four_rooms [--seeds 3]
    .venv/bin/python benchmarks/hierarchy.py --table

bit_flip: DQN with and without `her:` (future strategy, k = 4) on `testbed/bit_flip_v0` with
n = 15 bits, the same hyperparameters otherwise, trained with the harness's loop
(`testbed.train.loop.train`). Every `eval_every` env steps the greedy policy plays 200
held-out episodes; success = the bits equal the target before the 15-step limit. The HER arm
stops at the first evaluation with success >= 0.9 (its steps are the result); the plain arm
runs the whole budget. Both then play 1000 more held-out episodes (the final success rate).
Reference: DI-engine reports DQN + HER solving n = 15 within 150k env steps, plain DQN not
within 20M; Andrychowicz et al. 2017 (Fig. 1): plain DQN fails beyond n = 13.

four_rooms: see `benchmarks/hierarchy_rooms.py`. FetchReach (SAC + HER): see
`benchmarks/hierarchy_fetch.py`. Neural option-critic on CartPole: `benchmarks/hierarchy_deep.py`.
PointMaze (goal hierarchy vs SAC + HER): `benchmarks/hierarchy_maze.py`.

Results: benchmarks/results/hierarchy/<part>.json and the table benchmarks/results/hierarchy.md
(mean and 95 % t-interval over seeds, wall time per seed, the load average during the run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see docs/STACK.md trap 4)
import numpy as np

from testbed.agents.common.nets import deterministic_torch
from testbed.evaluate.stats import summarize
from testbed.registry import make_agent, make_env
from testbed.train.loop import train

RESULTS = Path(__file__).parent / "results"
N_BITS = 15
DQN_PARAMS: dict[str, Any] = {
    "hidden": [256, 256],
    "learning_rate": 1e-3,
    "buffer_size": 500_000,
    "batch_size": 128,
    "gamma": 0.98,
    "learning_starts": 1000,
    "train_freq": 1,
    "target_update_interval": 1000,
    "epsilon_start": 1.0,
    "epsilon_end": 0.05,
    "epsilon_decay_steps": 20_000,
}
HER = {"strategy": "future", "k": 4}


def success_rate(env: Any, learner: Any, first_seed: int, episodes: int) -> float:
    """Share of `episodes` (seeds first_seed, first_seed + 1, ...) the greedy policy solves."""
    wins = 0
    for k in range(episodes):
        obs, _ = env.reset(seed=first_seed + k)
        while env.agents:
            obs, _, terminated, _, _ = env.step({"agent_0": learner.act(obs["agent_0"])})
            wins += bool(terminated["agent_0"])
    return wins / episodes


class Stop(Exception):
    """Raised by the step hook to end training early (target reached)."""


def run_bit_flip_seed(her: bool, seed: int, steps: int, eval_every: int) -> dict[str, Any]:
    deterministic_torch(seed)
    env = make_env("testbed/bit_flip_v0", n_bits=N_BITS)
    eval_env = make_env("testbed/bit_flip_v0", n_bits=N_BITS)
    params = {**DQN_PARAMS, **({"her": HER} if her else {})}
    learner = make_agent("dqn", env.observation_space("agent_0"), env.action_space("agent_0"),
                         **params)  # fmt: skip
    curve: list[dict[str, float]] = []
    reached: list[int] = []
    started = time.perf_counter()

    def on_step(state: Any) -> None:
        if state.step % eval_every:
            return
        rate = success_rate(eval_env, learner, 1_000_000 + seed * 10_000, 200)
        curve.append({"step": state.step, "success": rate,
                      "seconds": time.perf_counter() - started})  # fmt: skip
        print(f"  {'her' if her else 'dqn'} seed {seed} step {state.step:>7}: "
              f"success {rate:.3f}", flush=True)  # fmt: skip
        if her and rate >= 0.9:
            reached.append(state.step)
            raise Stop

    try:
        train(env, {"agent_0": learner}, steps, seed, on_step=on_step)
    except Stop:
        pass
    seconds = time.perf_counter() - started
    final = success_rate(eval_env, learner, 2_000_000 + seed * 10_000, 1000)
    return {
        "seed": seed,
        "steps_to_0.9": reached[0] if reached else None,
        "steps_trained": curve[-1]["step"] if curve else 0,
        "final_success": final,
        "seconds": seconds,
        "curve": curve,
    }


def bit_flip(seeds: int, steps: int, eval_every: int) -> dict[str, Any]:
    load_before = os.getloadavg()
    arms = {}
    for name, her in (("dqn_her", True), ("dqn", False)):
        runs = [run_bit_flip_seed(her, seed, steps, eval_every) for seed in range(seeds)]
        finals = summarize([r["final_success"] for r in runs])
        solved = [r["steps_to_0.9"] for r in runs if r["steps_to_0.9"] is not None]
        arms[name] = {
            "her": HER if her else None,
            "final_success_mean": finals.mean,
            "final_success_ci": [finals.ci_low, finals.ci_high],
            "seeds_reaching_0.9": len(solved) if her else None,
            "steps_to_0.9_mean": float(np.mean(solved)) if solved else None,
            "steps_to_0.9_ci": (
                [summarize(solved).ci_low, summarize(solved).ci_high] if len(solved) > 1 else None
            ),
            "seconds_per_seed": float(np.mean([r["seconds"] for r in runs])),
            "runs": runs,
        }
    result = {
        "part": "bit_flip",
        "env": "testbed/bit_flip_v0",
        "n_bits": N_BITS,
        "budget": steps,
        "eval_every": eval_every,
        "params": DQN_PARAMS,
        "seeds": seeds,
        "arms": arms,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "machine": f"{platform.processor() or platform.machine()}, torch CPU, 1 thread",
    }
    write("bit_flip", result)
    return result


def write(part: str, result: dict[str, Any]) -> None:
    path = RESULTS / "hierarchy" / f"{part}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


def fmt_ci(mean: float, ci: list[float] | None, digits: int = 3) -> str:
    if ci is None or any(v is None or np.isnan(v) for v in ci):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def bit_flip_table(r: dict[str, Any]) -> list[str]:
    load = r["load_average"]
    rows = [
        f"## Bit flipping, n = {r['n_bits']} (budget {r['budget']:,} env steps, "
        f"{r['seeds']} seeds; load average {load['before'][0]:.2f} -> {load['after'][0]:.2f})",
        "",
        "| learner | seeds reaching 0.9 | env steps to 0.9 (mean, 95% CI) | final success "
        "(1000 episodes, mean, 95% CI) | s/seed |",
        "|---|---|---|---|---|",
    ]
    if r.get("load_note"):
        rows[1:1] = ["", f"Note: {r['load_note']}."]
    for name, arm in r["arms"].items():
        steps = arm["steps_to_0.9_mean"]
        reached = sum(run["steps_to_0.9"] is not None for run in arm["runs"])
        rows.append(
            f"| {name} | {reached}/{r['seeds']} | "
            f"{'never' if steps is None else fmt_ci(steps, arm['steps_to_0.9_ci'], 0)} | "
            f"{fmt_ci(arm['final_success_mean'], arm['final_success_ci'])} | "
            f"{arm['seconds_per_seed']:.0f} |"
        )
    return rows


def write_table() -> str:
    lines = ["# Hierarchy benchmark (benchmarks/hierarchy.py)", ""]
    path = RESULTS / "hierarchy" / "bit_flip.json"
    if path.exists():
        lines += bit_flip_table(json.loads(path.read_text())) + [""]
    if (Path(__file__).parent / "hierarchy_rooms.py").exists():
        sys.path.insert(0, str(Path(__file__).parent))
        from hierarchy_rooms import rooms_table  # benchmarks/ is not a package

        lines += rooms_table(RESULTS / "hierarchy")
        from hierarchy_fetch import table as fetch_table

        lines += fetch_table()
        from hierarchy_deep import deep_table

        lines += deep_table()
        from hierarchy_maze import table as maze_table

        lines += maze_table()
    text = "\n".join(lines) + "\n"
    (RESULTS / "hierarchy.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", nargs="?", choices=["bit_flip", "four_rooms"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=150_000)
    parser.add_argument("--eval-every", type=int, default=2500)
    parser.add_argument("--table", action="store_true", help="only rebuild the table")
    parser.add_argument("--arms", nargs="*", help="four_rooms: only these learners")
    parser.add_argument("--only-seed", type=int, help="four_rooms: one seed, no gathering")
    args = parser.parse_args()
    if args.part == "bit_flip":
        bit_flip(args.seeds, args.steps, args.eval_every)
    elif args.part == "four_rooms":
        sys.path.insert(0, str(Path(__file__).parent))
        from hierarchy_rooms import four_rooms  # noqa: E402

        four_rooms(args.seeds, RESULTS / "hierarchy", args.arms, args.only_seed)
    print(write_table())


if __name__ == "__main__":
    main()
