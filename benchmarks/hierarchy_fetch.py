"""HER on a continuous goal task: SAC + HER on gymnasium-robotics FetchReach (issue 20).

    .venv/bin/python benchmarks/hierarchy_fetch.py [--seeds 3] [--steps 5000] [--no-her]

SAC with `her:` (future strategy, k = 4, relabelled steps do not terminate) on
`robotics/FetchReach` (sparse reward: -1 per step until the gripper is within 5 cm of the
target, 50 steps), rl-baselines3-zoo's FetchReach settings (her.yml: learning rate 1e-3,
gamma 0.95, batch 256, [64, 64] nets, 1000 warm-up steps, observations normalised by running
statistics), trained with the harness's loop. Every EVAL_EVERY env steps the
deterministic policy plays EVAL_EPISODES held-out episodes; success = the env's
`is_success` at the episode's last step. After training, FINAL_EPISODES more held-out
episodes give the final success rate. `--no-her` trains the same SAC without relabelling.
Reference: SB3's HER examples solve FetchReach in a few thousand steps.

Results: benchmarks/results/hierarchy/fetch_reach[_no_her][_modern].json and a section of
benchmarks/results/hierarchy.md (`benchmarks/hierarchy.py --table`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see docs/STACK.md trap 4)
import numpy as np

from testbed._stack import MODERN, gym_id, stack
from testbed.agents.common.nets import deterministic_torch
from testbed.evaluate.stats import summarize
from testbed.registry import make_agent, make_env
from testbed.train.loop import train

RESULTS = Path(__file__).parent / "results"
EVAL_EVERY, EVAL_EPISODES, FINAL_EPISODES, TARGET = 1000, 20, 100, 0.9
SAC_PARAMS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "gamma": 0.95,
    "batch_size": 256,
    "hidden": [64, 64],
    "learning_starts": 1000,
    "normalize_obs": True,
}
HER = {"strategy": "future", "k": 4, "terminate_on_success": False}


def success_rate(env: Any, learner: Any, first_seed: int, episodes: int) -> float:
    """Share of `episodes` (seeds first_seed, ...) ending with `is_success` (policy `act`)."""
    wins = 0.0
    for k in range(episodes):
        obs, _ = env.reset(seed=first_seed + k)
        info: dict[str, Any] = {}
        while env.agents:
            obs, _, _, _, infos = env.step({"agent_0": learner.act(obs["agent_0"])})
            info = infos["agent_0"]
        wins += float(info.get("is_success", 0.0))
    return wins / episodes


def run_seed(her: bool, seed: int, steps: int) -> dict[str, Any]:
    deterministic_torch(seed)
    env, eval_env = make_env("robotics/FetchReach"), make_env("robotics/FetchReach")
    params = {**SAC_PARAMS, **({"her": HER} if her else {})}
    learner = make_agent(
        "sac", env.observation_space("agent_0"), env.action_space("agent_0"), **params
    )
    curve: list[dict[str, float]] = []
    started = time.perf_counter()

    def on_step(state: Any) -> None:
        if state.step % EVAL_EVERY:
            return
        rate = success_rate(eval_env, learner, 1_000_000 + seed * 10_000, EVAL_EPISODES)
        curve.append(
            {"step": state.step, "success": rate, "seconds": time.perf_counter() - started}
        )
        print(
            f"  sac{'+her' if her else ''} seed {seed} step {state.step:>6}: success "
            f"{rate:.2f} ({curve[-1]['seconds']:.0f} s)",
            flush=True,
        )

    train(env, {"agent_0": learner}, steps, seed, on_step=on_step)
    seconds = time.perf_counter() - started
    final = success_rate(eval_env, learner, 2_000_000 + seed * 10_000, FINAL_EPISODES)
    reached = next((p["step"] for p in curve if p["success"] >= TARGET), None)
    return {
        "seed": seed,
        "final_success": final,
        "first_eval_step_at_0.9": reached,
        "seconds": seconds,
        "curve": curve,
    }


def fetch_reach(seeds: int, steps: int, her: bool) -> dict[str, Any]:
    load_before = os.getloadavg()
    runs = [run_seed(her, seed, steps) for seed in range(seeds)]
    final = summarize([r["final_success"] for r in runs])
    result = {
        "part": ("fetch_reach" if her else "fetch_reach_no_her")
        + ("_modern" if stack() == MODERN else ""),
        "env": f"robotics/FetchReach ({gym_id('FetchReach')}, {stack()} stack)",
        "agent": "sac",
        "params": {**SAC_PARAMS, **({"her": HER} if her else {})},
        "steps": steps,
        "seeds": seeds,
        "final_success": {
            "mean": final.mean,
            "ci": [final.ci_low, final.ci_high],
            "episodes_per_seed": FINAL_EPISODES,
        },
        "met_target": final.mean >= TARGET,
        "seconds_per_seed": float(np.mean([r["seconds"] for r in runs])),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "machine": f"{platform.processor() or platform.machine()}, torch CPU",
        "runs": runs,
    }
    path = RESULTS / "hierarchy" / f"{result['part']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    return result


def table() -> list[str]:
    """The FetchReach section of benchmarks/results/hierarchy.md."""
    found = [
        json.loads(p.read_text())
        for name in ("fetch_reach", "fetch_reach_modern", "fetch_reach_no_her")
        if (p := RESULTS / "hierarchy" / f"{name}.json").exists()
    ]
    if not found:
        return []
    lines = [
        "## FetchReach: SAC + HER (success >= 0.9)",
        "",
        "| arm | env | env steps | seeds | final success (mean, 95% CI) | first eval step "
        ">= 0.9, per seed | s/seed | load avg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in found:
        f = r["final_success"]
        reached = ", ".join(
            "-" if s is None else f"{s:,}" for s in (x["first_eval_step_at_0.9"] for x in r["runs"])
        )
        load = r["load_average"]
        arm = "sac" if "no_her" in r["part"] else "sac + her"
        lines.append(
            f"| {arm} | {r['env']} | {r['steps']:,} | {r['seeds']} | {f['mean']:.2f} "
            f"[{f['ci'][0]:.2f}, {f['ci'][1]:.2f}] | {reached} | "
            f"{r['seconds_per_seed']:.0f} | {load['before'][0]:.1f} -> "
            f"{load['after'][0]:.1f} |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--no-her", action="store_true")
    args = parser.parse_args()
    result = fetch_reach(args.seeds, args.steps, not args.no_her)
    print(f"final success {result['final_success']['mean']:.2f}")


if __name__ == "__main__":
    main()
