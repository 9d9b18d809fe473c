"""Reward-shaping benchmark on a sparse navigation task (issue 21): four rooms, tabular
Q-learning with and without potential-based shaping (Phi = minus the moves to the goal,
`shaping: {function: four_rooms_distance}`, Ng et al. 1999).

    nice -n 10 .venv/bin/python benchmarks/shaping_rooms.py [--seeds 10] [--steps 150000]

`testbed/four_rooms_v0` pays 1 on reaching the goal and nothing else (actions slip with
probability 1/3; episodes are cut at 200 steps), so an unshaped learner starting from a zero
table learns nothing until a random walk finds the goal. Each seed trains the same Q-learning
twice through a `kind: train` stage, unshaped and shaped: epsilon 0.1, gamma 0.99 and a step
size of 0.5 as Bacon et al.'s flat baseline, here falling linearly to 0.05 over the budget
(Q-learning converges only with shrinking steps). Evaluations (greedy, env reward, 20
held-out episodes every 250 steps) give the success rate. The final policies are compared on
the env's reward only, two ways: 200 evaluation episodes (success, steps to the goal), and
exactly: the greedy policy's value under the env's own transition model
(envs/four_rooms_model.py, a linear solve) as a share of the optimal value, averaged over
start cells, and the share of cells whose greedy action is optimal. Results:
benchmarks/results/shaping_rooms.{json,md} (`--name` another stem, e.g. for a shorter budget).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see STACK.md trap 4)
import numpy as np
import torch

import testbed
from testbed.envs.four_rooms import DEFAULT_GOAL
from testbed.envs.four_rooms_model import policy_value, transition_model, value_iteration
from testbed.evaluate.stats import summarize
from testbed.scenario.yamlsrc import Source
from testbed.stages import parse_scenario

RESULTS = Path(__file__).parent / "results"
GAMMA = 0.99
Q_LEARNING = {"learning_rate": 0.5, "epsilon_start": 0.1, "epsilon_end": 0.1, "gamma": GAMMA,
              "learning_rate_end": 0.05}  # fmt: skip
SHAPING = {"type": "potential", "function": "four_rooms_distance"}
ENV = {"id": "testbed/four_rooms_v0", "params": {"max_steps": 200}}
THRESHOLD = 0.9


def exact_quality(table: np.ndarray) -> dict[str, float]:
    """The greedy policy's exact value as a share of the optimum (mean over start cells) and
    the share of cells whose greedy action is optimal."""
    P, R = transition_model(DEFAULT_GOAL)
    optimal = value_iteration(P, R, GAMMA)
    live = np.arange(len(table)) != DEFAULT_GOAL
    value = policy_value(P, R, GAMMA, table.argmax(axis=1))
    best = optimal.max(axis=1)
    chosen = optimal[np.arange(len(table)), table.argmax(axis=1)]
    return {
        "value_share": float(value[live].mean() / best[live].mean()),
        "optimal_actions": float((chosen[live] >= best[live] - 1e-9).mean()),
    }


def run_arm(seed: int, steps: int, shaped: bool, out: Path) -> dict[str, Any]:
    name = "shaped" if shaped else "unshaped"
    params = {**Q_LEARNING, "learning_rate_decay_steps": steps}
    stage: dict[str, Any] = {"kind": "train", "name": name, "env": ENV,
                             "agents": {"agent_0": {"id": "q_learning", "params": params}},
                             "steps": steps, "eval_every": 250, "eval_episodes": 20,
                             "checkpoint_every": steps}  # fmt: skip
    if shaped:
        stage["shaping"] = SHAPING
    seat = {"agent_0": {"checkpoint": f"@{name}/agent_0"}}
    final = {"kind": "evaluate", "name": "final", "env": ENV, "agents": seat, "episodes": 200}
    data = {"name": f"shaping-rooms-{name}-{seed}", "seed": seed, "stages": [stage, final]}
    started = time.perf_counter()
    folder = out / f"{name}-{seed}"
    result = testbed.run(parse_scenario(data, Source("benchmarks/shaping_rooms.py")), out=folder,
                         show=False)  # fmt: skip
    train, evaluation = result.stages
    weights = torch.load(folder / name / "checkpoints" / "final" / "agent_0" / "weights.pt")
    team = evaluation.metrics["team"]
    return {
        "seed": seed,
        "shaped": shaped,
        "threshold_at": next(
            (r["step"] for r in train.curve if r["eval_return"] >= THRESHOLD), None
        ),
        "area": float(np.mean([r["eval_return"] for r in train.curve])),
        "final_success": team["return"]["mean"],
        "final_length": team["length"]["mean"],
        **exact_quality(np.asarray(weights["q"], np.float64)),
        "curve": [(r["step"], r["eval_return"]) for r in train.curve],
        "seconds": time.perf_counter() - started,
    }


def _stat(values: list[float | None], digits: int = 0) -> str:
    got = [float(v) for v in values if v is not None]
    if not got:
        return "never"
    s = summarize(got)
    never = f" ({len(values) - len(got)} never)" if len(got) < len(values) else ""
    if len(got) < 2:
        return f"{s.mean:.{digits}f}{never}"
    return f"{s.mean:.{digits}f} [{s.ci_low:.{digits}f}, {s.ci_high:.{digits}f}]{never}"


def _paired(runs: list[dict[str, Any]], key: str, digits: int) -> str:
    """Shaped minus unshaped per seed; seeds where either arm never got there are left out."""
    by_seed = {(r["seed"], r["shaped"]): r[key] for r in runs}
    seeds = sorted({r["seed"] for r in runs})
    diffs = [by_seed.get((s, True)) for s in seeds]
    diffs = [
        d - u
        for d, u in zip(diffs, [by_seed.get((s, False)) for s in seeds], strict=True)
        if d is not None and u is not None
    ]
    left_out = f" ({len(seeds) - len(diffs)} seeds left out)" if len(diffs) < len(seeds) else ""
    return (_stat(diffs, digits) if len(diffs) > 1 else "n/a") + left_out


def table(runs: list[dict[str, Any]], steps: int, load: tuple[float, float]) -> str:
    seeds = len({r["seed"] for r in runs})
    lines = [
        "# Reward shaping on a sparse navigation task: four rooms, Q-learning",
        "",
        f"{steps} env steps per run, {seeds} seeds (the same seeds for both arms); 1-minute load "
        f"average {load[0]:.1f} -> {load[1]:.1f}. Greedy evaluations (env reward: 1 at the goal) "
        "every 250 steps on 20 episodes; final on 200. Mean and 95 % t-interval over seeds; "
        "the last row is shaped minus unshaped, paired by seed. Value share: the greedy "
        "policy's exact value (gamma 0.99, under the env's own transition model) over the "
        "optimal value, averaged over start cells.",
        "",
        "| arm | success >= 0.9 first at (step) | "
        "mean success over the run | final success | final steps to goal | value share | "
        "optimal actions | wall time (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for shaped in (False, True):
        arm = [r for r in runs if r["shaped"] == shaped]
        lines.append(
            f"| {'shaped (moves-to-goal potential)' if shaped else 'unshaped'} | "
            f"{_stat([r['threshold_at'] for r in arm])} | {_stat([r['area'] for r in arm], 3)} | "
            f"{_stat([r['final_success'] for r in arm], 3)} | "
            f"{_stat([r['final_length'] for r in arm], 1)} | "
            f"{_stat([r['value_share'] for r in arm], 4)} | "
            f"{_stat([r['optimal_actions'] for r in arm], 3)} | "
            f"{_stat([r['seconds'] for r in arm], 1)} |"
        )
    lines.append(
        f"| shaped - unshaped | {_paired(runs, 'threshold_at', 0)} | {_paired(runs, 'area', 3)} | "
        f"{_paired(runs, 'final_success', 3)} | {_paired(runs, 'final_length', 1)} | "
        f"{_paired(runs, 'value_share', 4)} | {_paired(runs, 'optimal_actions', 3)} | |"
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=150_000)
    parser.add_argument("--name", default="shaping_rooms", help="results file stem")
    parser.add_argument("--render", action="store_true", help="rewrite the table from the JSON")
    args = parser.parse_args()
    json_path, md_path = RESULTS / f"{args.name}.json", RESULTS / f"{args.name}.md"
    if args.render:
        saved = json.loads(json_path.read_text())
        md_path.write_text(table(saved["runs"], saved["steps"], tuple(saved["load"])))
        print(md_path.read_text())
        return
    runs: list[dict[str, Any]] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for shaped in (False, True):
                runs.append(run_arm(seed, args.steps, shaped, Path(tmp)))
                r = runs[-1]
                print(f"seed {seed} shaped={shaped}: success >= 0.9 at {r['threshold_at']}, "
                      f"final {r['final_success']:.2f}, value share {r['value_share']:.4f} "
                      f"({r['seconds']:.0f} s)", flush=True)  # fmt: skip
    load = (load_before, os.getloadavg()[0])
    RESULTS.mkdir(exist_ok=True)
    json_path.write_text(json.dumps({
        "steps": args.steps, "q_learning": Q_LEARNING, "shaping": SHAPING, "env": ENV,
        "machine": platform.platform(), "load": load, "runs": runs,
    }, indent=1) + "\n")  # fmt: skip
    md_path.write_text(table(runs, args.steps, load))
    print(md_path.read_text())


if __name__ == "__main__":
    main()
