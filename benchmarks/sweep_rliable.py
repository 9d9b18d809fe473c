"""PPO and A2C on CartPole-v1 over 5 seeds each, as sweeps (`seeds: 5`), compared with rliable.

Each method's budget and parameters are those of `benchmarks/learning_specs.py` (its documented
defaults: PPO 100k steps on 8 copies, A2C 200k steps). Both train stages run in one scenario,
their seeds in parallel on `--workers` processes. Reported (benchmarks/results/sweep_cartpole.*):
per method IQM, median, mean and optimality gap below 500 with 95% stratified bootstrap
intervals over seeds; the probability that a PPO run beats an A2C run; performance profiles
(fraction of runs above each return), drawn to sweep_cartpole.png.

    .venv/bin/python benchmarks/sweep_rliable.py [--seeds 5] [--workers 2] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from learning_specs import SPECS  # noqa: E402

from testbed import load_scenario, run  # noqa: E402
from testbed.report.aggregate import (  # noqa: E402
    aggregate_scores,
    performance_profiles,
    probability_of_improvement,
    profile_plot,
)

RESULTS = Path(__file__).parent / "results"
METHODS = ("ppo", "a2c")
TARGET = 500.0


def scenario(seeds: int, scale: float) -> dict:
    stages = []
    for method in METHODS:
        spec = SPECS[method]
        steps = int(spec.steps * scale)
        stages.append(
            {
                "kind": "train",
                "name": method,
                "env": spec.env,
                "agents": {"*": {"id": spec.agent, "params": spec.params}},
                "steps": steps,
                "eval_every": max(1, steps // 10),
                "eval_episodes": spec.final_episodes,
                "num_envs": spec.num_envs,
                "seeds": seeds,
                "target_return": TARGET,
            }
        )
    return {"name": "sweep-cartpole", "seed": 0, "stages": stages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--scale", type=float, default=1.0, help="budget fraction (smoke runs)")
    args = parser.parse_args()
    folder = RESULTS / "sweep_cartpole_run"
    path = RESULTS / "sweep_cartpole.yaml"
    path.write_text(yaml.safe_dump(scenario(args.seeds, args.scale), sort_keys=False))
    load = os.getloadavg()
    started = time.perf_counter()
    result = run(load_scenario(path), folder / time.strftime("%Y%m%d-%H%M%S"), show=False,
                 workers=args.workers)  # fmt: skip
    seconds = time.perf_counter() - started
    scores = {
        stage.name: np.array([[r["eval_return"]] for r in stage.sweep["runs"]])
        for stage in result.stages
    }
    table = {m: aggregate_scores(scores[m], target=TARGET, seed=0) for m in METHODS}
    improvement = probability_of_improvement(scores["ppo"], scores["a2c"], seed=0)
    profiles = performance_profiles(scores, np.linspace(0, TARGET, 51), seed=0)
    profile_plot(profiles, RESULTS / "sweep_cartpole.png", "eval return on CartPole-v1 (τ)")
    data = {
        "command": "benchmarks/sweep_rliable.py " + " ".join(sys.argv[1:]),
        "seeds": args.seeds,
        "workers": args.workers,
        "scale": args.scale,
        "wall_time_s": round(seconds, 1),
        "load_average_before": [round(x, 2) for x in load],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "runs": {m: [float(x) for x in scores[m][:, 0]] for m in METHODS},
        "aggregates": table,
        "probability_ppo_beats_a2c": improvement,
        "performance_profiles": profiles,
    }
    (RESULTS / "sweep_cartpole.json").write_text(json.dumps(data, indent=2) + "\n")
    (RESULTS / "sweep_cartpole.md").write_text(markdown(data) + "\n")
    print(markdown(data))


def cell(stat: dict, digits: int = 1) -> str:
    if stat.get("ci_low") is None:
        return f"{stat['value']:.{digits}f}"
    return f"{stat['value']:.{digits}f} [{stat['ci_low']:.{digits}f}, {stat['ci_high']:.{digits}f}]"


def markdown(data: dict) -> str:
    lines = [
        "# PPO vs A2C on CartPole-v1: a sweep of seeds, compared with rliable",
        "",
        f"`{data['command']}`: {data['seeds']} seeds per method, {data['workers']} workers, "
        f"{data['wall_time_s']} s wall; load average before {data['load_average_before']}, "
        f"after {data['load_average_after']}. Budgets: benchmarks/learning_specs.py "
        f"(x{data['scale']}). Score: each seed's final evaluation (held-out episodes).",
        "",
        "| method | runs | IQM | median | mean | optimality gap (below 500) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for method in METHODS:
        a = data["aggregates"][method]
        runs = ", ".join(f"{x:.0f}" for x in data["runs"][method])
        lines.append(
            f"| {method} | {runs} | {cell(a['iqm'])} | {cell(a['median'])} | "
            f"{cell(a['mean'])} | {cell(a['optimality_gap'])} |"
        )
    p = data["probability_ppo_beats_a2c"]
    lines += [
        "",
        f"P(PPO run > A2C run) = {cell(p, 2)} (Mann-Whitney, 95% stratified bootstrap).",
        "",
        "Intervals: 95% stratified bootstrap over seeds (2,000 resamples, rliable 1.2.0). "
        "rliable's median and mean are taken across tasks of each task's mean over runs, so "
        "with one task both are the mean over seeds; the IQM is over all runs. "
        "Performance profiles: sweep_cartpole.png.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
