"""Causal RL benchmark (issue 23): causal_q vs the same learner conditioning on every
feature, on testbed/confounded_v0's train distribution and after the shift.

    nice -n 10 .venv/bin/python benchmarks/future_causal.py [--seeds 3] [--steps 20000]

Each seed runs scenarios/causal_confounded.yaml with the seed replaced (and `--steps` per
train stage): causal_q spends its first 4,000 steps intervening and conditions on the
parents PC finds from the intervened rows; `discover: false` is plain tabular Q-learning
on (shown cause, spurious feature). Both are evaluated greedily on 200 episodes of 10
contexts from the train distribution and from the test one, where the spurious feature's
agreement with the reward flips (0.905 -> 0.095). Expected per episode (n_values 2, half
the causes hidden): conditioning on the cause alone 7.5 on both; conditioning on the
spurious feature too 9.525 on train and 5.475 on test. Reported: mean over seeds with 95 %
t-intervals, what discovery found per seed (from intervened rows and, for comparison,
from the rows without intervention), wall time. Results: benchmarks/results/future_causal.json
and future_causal.md.
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
import yaml

import testbed
from testbed.evaluate.stats import summarize
from testbed.scenario.yamlsrc import Source
from testbed.stages import parse_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "causal_confounded.yaml"
RESULTS = Path(__file__).parent / "results"
ARMS = ("causal", "correlational")


def run_seed(seed: int, steps: int, out: Path) -> dict[str, Any]:
    data = yaml.safe_load(SCENARIO.read_text())
    data["seed"] = seed
    for stage in data["stages"]:
        if stage["kind"] == "train":
            stage["steps"] = steps
    scenario = parse_scenario(data, Source(str(SCENARIO)))
    started = time.perf_counter()
    result = testbed.run(scenario, out=out / f"seed-{seed}", show=False)
    by_name = {s.name: s for s in result.stages}
    row: dict[str, Any] = {"seed": seed, "seconds": time.perf_counter() - started}
    for arm in ARMS:
        train = by_name[arm]
        row[arm] = {
            "train_seconds": train.wall_time_s,
            "experiments": (train.experiments or {}).get("agent_0"),
            **{
                split: by_name[f"{arm}-on-{split}"].metrics["team"]["return"]["mean"]
                for split in ("train", "test")
            },
        }
    return row


def _stat(values: list[float]) -> str:
    s = summarize(values)
    if len(values) < 2:
        return f"{s.mean:.2f}"
    return f"{s.mean:.2f} [{s.ci_low:.2f}, {s.ci_high:.2f}]"


def table(runs: list[dict[str, Any]], steps: int, load: tuple[float, ...]) -> str:
    lines = [
        "# Causal RL: testbed/confounded_v0, causal_q vs conditioning on every feature",
        "",
        f"{steps} env steps per train stage (causal_q's 4,000 steps of experiments "
        f"included); {len(runs)} seeds; greedy evaluation on 200 episodes of 10 contexts per "
        "distribution. Mean return per episode over seeds with 95 % t-intervals. Expected: "
        "cause alone 7.5 on both; cause and spurious feature 9.525 on train, 5.475 on test. "
        f"Load average at the end: {load[0]:.1f} (2 cores; wall times are not speed claims).",
        "",
        "| agent | conditions on | return, train distribution | return, test (shifted) | "
        "change | train wall time (s) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for arm in ARMS:
        found = runs[0][arm]["experiments"]
        conditions = ", ".join(found["conditions_on"]) if found else "cause, spurious (all)"
        label = "causal_q" if arm == "causal" else "causal_q, discover: false"
        lines.append(
            f"| {label} | {conditions} | {_stat([r[arm]['train'] for r in runs])} | "
            f"{_stat([r[arm]['test'] for r in runs])} | "
            f"{_stat([r[arm]['test'] - r[arm]['train'] for r in runs])} | "
            f"{_stat([r[arm]['train_seconds'] for r in runs])} |"
        )
    lines += ["", "What causal_q's PC search found per seed (parents of the reward):", ""]
    for r in runs:
        found = r["causal"]["experiments"]
        lines.append(
            f"- seed {r['seed']}: from {found['interventional']['rows']} intervened rows: "
            f"{', '.join(found['interventional']['parents'])}; from "
            f"{found['observational']['rows']} rows without intervention: "
            f"{', '.join(found['observational']['parents'])}"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()
    runs: list[dict[str, Any]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            runs.append(run_seed(seed, args.steps, Path(tmp)))
            print(json.dumps(runs[-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "future_causal.json").write_text(json.dumps({
        "steps": args.steps, "machine": platform.platform(), "runs": runs,
        "wall_time_s": time.perf_counter() - started, "load_average": os.getloadavg(),
    }, indent=1) + "\n")  # fmt: skip
    (RESULTS / "future_causal.md").write_text(table(runs, args.steps, os.getloadavg()))


if __name__ == "__main__":
    main()
