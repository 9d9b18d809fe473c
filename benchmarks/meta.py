"""Meta-RL benchmark (issue 21): 2D navigation (Finn et al. 2017, sec. 5.3), MAML and Reptile
against a policy pretrained on all tasks jointly and a randomly initialised one.

    nice -n 10 .venv/bin/python benchmarks/meta.py [--seeds 3] [--iterations 60]

Per seed, one scenario: `kind: meta_train` stages for `maml` (first order), `reptile` and
`multitask` (the jointly pretrained baseline), each `--iterations` outer updates on fresh
goals drawn on the circle (`tasks: {goal_angle: [0, 2 pi)}`, 10 tasks x 10 episodes per
update), then one evaluate stage with `adapt:` per method, all on the same 20 held-out goals
(the evaluate stages share a seed): the return of 20 sampled episodes before adaptation and
after each of 3 policy-gradient steps (step size 0.1, 20 episodes each), the random init
adapted the same way. Reported: mean return over the held-out tasks per method and step,
then over seeds with 95 % t-intervals, and wall time per meta-training.
Results: benchmarks/results/meta.json and meta.md.

Differences from the paper: 20-step episodes (the paper: 100), goals on a circle of radius
0.5 (the paper: uniform in the unit square), Adam outer steps for MAML (the paper: TRPO),
far fewer meta-iterations; the comparison (meta-learned vs pretrained vs random, after 1-3
steps) is the paper's Figure 4 left.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see STACK.md trap 4)
import numpy as np

import testbed
from testbed.evaluate.stats import summarize
from testbed.scenario.yamlsrc import Source
from testbed.stages import parse_scenario

RESULTS = Path(__file__).parent / "results"
ENV = "testbed/point_nav_v0"
TASKS = {"params": {"goal_angle": {"low": 0.0, "high": 6.283185}}, "count": 20}
COMMON = {"meta_batch": 10, "episodes": 10}
METHODS: dict[str, dict[str, Any]] = {
    "maml": {"id": "maml", "params": COMMON},
    "reptile": {"id": "reptile", "params": {**COMMON, "outer_lr": 1.0, "inner_steps": 5}},
    "pretrained": {"id": "multitask", "params": COMMON},
}
ADAPT = {"steps": 3, "episodes": 20}


def scenario_data(seed: int, iterations: int) -> dict[str, Any]:
    stages: list[dict[str, Any]] = []
    for name, agent in METHODS.items():
        stages.append({"kind": "meta_train", "name": f"train-{name}", "env": ENV, "tasks": TASKS,
                       "iterations": iterations, "agents": {"agent_0": agent}})  # fmt: skip
    evaluated = {name: {"checkpoint": f"@train-{name}/agent_0"} for name in METHODS}
    evaluated["random"] = {"id": "maml", "params": COMMON}
    for name, agent in evaluated.items():
        stages.append({"kind": "evaluate", "name": f"adapt-{name}", "env": ENV, "tasks": TASKS,
                       "adapt": ADAPT, "seed": 10_000 + seed,  # the same held-out goals
                       "agents": {"agent_0": agent}})  # fmt: skip
    return {"name": f"meta-{seed}", "seed": seed, "stages": stages}


def run_seed(seed: int, iterations: int, out: Path) -> dict[str, Any]:
    scenario = parse_scenario(scenario_data(seed, iterations), Source("benchmarks/meta.py"))
    result = testbed.run(scenario, out=out / f"seed-{seed}", show=False)
    row: dict[str, Any] = {"seed": seed, "train_seconds": {}, "curves": {}, "tasks": None}
    for stage in result.stages:
        if stage.kind == "meta_train":
            row["train_seconds"][stage.name.removeprefix("train-")] = stage.wall_time_s
        else:
            a = stage.metrics["adaptation"]
            row["curves"][stage.name.removeprefix("adapt-")] = [s["mean"] for s in a["return"]]
            row["tasks"] = stage.metrics["tasks"]
    return row


def _ci(values: list[float]) -> str:
    s = summarize(values)
    if len(values) < 2:
        return f"{s.mean:.2f}"
    return f"{s.mean:.2f} [{s.ci_low:.2f}, {s.ci_high:.2f}]"


def table(runs: list[dict[str, Any]], iterations: int) -> str:
    names = ["maml", "reptile", "pretrained", "random"]
    steps = len(runs[0]["curves"]["maml"])
    lines = [
        "# Meta-RL: 2D point navigation, return on 20 held-out goals (higher is better)",
        "",
        f"{len(runs)} seeds; {iterations} meta-iterations of 10 tasks x 10 episodes; "
        "adaptation: policy-gradient steps of size 0.1 on 20 episodes each. Each cell: mean "
        "over seeds of the mean return over held-out tasks, [95 % t-interval over seeds]. "
        "Episodes: 20 steps, reward minus the distance to the goal.",
        "",
        "| method | " + " | ".join(f"after {k} step{'s' if k != 1 else ''}"
                                   for k in range(steps)) + " | meta-training (s) |",
        "|---|" + "---:|" * (steps + 1),
    ]  # fmt: skip
    for name in names:
        cells = [_ci([r["curves"][name][k] for r in runs]) for k in range(steps)]
        seconds = [r["train_seconds"][name] for r in runs if name in r["train_seconds"]]
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {_ci(seconds) if seconds else '-'} |"
        )
    lines.append("")
    for method in ("maml", "reptile"):
        parts = []
        for other in ("pretrained", "random"):
            gaps = [r["curves"][method][1] - r["curves"][other][1] for r in runs]
            parts.append(f"{other} " + ", ".join(f"{g:+.2f}" for g in gaps))
        lines.append(f"{method} minus the baseline after one step, per seed: " + "; ".join(parts))
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=60)
    args = parser.parse_args()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            runs.append(run_seed(seed, args.iterations, Path(tmp)))
            print(f"seed {seed}: " + ", ".join(
                f"{k} {np.round(v, 2).tolist()}" for k, v in runs[-1]["curves"].items()
            ), flush=True)  # fmt: skip
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / "meta.json").write_text(json.dumps({
                "iterations": args.iterations, "methods": METHODS, "adapt": ADAPT,
                "tasks": TASKS, "machine": platform.platform(), "runs": runs,
                "complete": len(runs) == args.seeds,
            }, indent=1) + "\n")  # fmt: skip
            (RESULTS / "meta.md").write_text(table(runs, args.iterations))


if __name__ == "__main__":
    main()
