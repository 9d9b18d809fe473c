"""One MAPPO for simple_spread with 2, 3 and 4 agents (issue 21): `tasks:` over N vs specialists.

    nice -n 10 .venv/bin/python benchmarks/mpe_tasks.py [--seeds 3] [--steps 150000]

Every run pads simple_spread's observations and MAPPO's agent slots to `max_agents: 4`
(envs/spread_padding.py), so one network reads every N <= 4. Per seed, with the same budget:

- multitask: a train stage on N = 4 with `tasks: {params: {N: [2, 3, 4]}, every: 9600}`
  (a task drawn per 9,600 env steps, 12 rollouts of 800);
- specialist N=k (k = 2, 3, 4): a train stage on N = k only.

Then every checkpoint plays `--episodes` held-out episodes of each N (evaluate stages; greedy
policy; team return, the sum over agents). `random` and `scripted/spread_nearest` play as
many episodes (unpadded observations; the padding changes nothing else) for scale. Each
evaluate stage draws its episodes from its own stage name, so the teams play different
episodes of the same distribution: the intervals are unpaired. Rows: mean and 95 %
t-interval over seeds of the per-seed means.
Results: benchmarks/results/mpe_tasks.json and mpe_tasks.md.
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

import testbed
from testbed.evaluate.stats import summarize
from testbed.scenario.yamlsrc import Source
from testbed.stages import parse_scenario

RESULTS = Path(__file__).parent / "results"
COUNTS = (2, 3, 4)
PAD = 4
MAPPO = {"id": "mappo", "params": {"rollout_steps": 800, "max_agents": PAD}}
EVERY = 9_600
ARMS = ["multitask", *(f"specialist N={n}" for n in COUNTS)]


def _env(n: int) -> dict[str, Any]:
    return {"id": "mpe/simple_spread_v3", "params": {"N": n, "max_agents": PAD}}


def scenario(seed: int, steps: int, episodes: int) -> dict[str, Any]:
    common = {"kind": "train", "agents": {"*": MAPPO}, "steps": steps, "num_envs": 16,
              "eval_every": steps // 5, "eval_episodes": 10}  # fmt: skip
    stages: list[dict[str, Any]] = [
        {**common, "name": "multitask", "env": _env(max(COUNTS)),
         "tasks": {"params": {"N": list(COUNTS)}, "every": EVERY}},
        *({**common, "name": f"specialist-{n}", "env": _env(n)} for n in COUNTS),
    ]  # fmt: skip
    players = {"multitask": {"checkpoint": "@multitask/*"}}
    players |= {f"specialist N={n}": {"checkpoint": f"@specialist-{n}/*"} for n in COUNTS}
    players |= {"random": "random", "scripted": "scripted/spread_nearest"}
    for label, agent in players.items():
        for n in COUNTS:
            env = _env(n) if "checkpoint" in agent else {"id": _env(n)["id"], "params": {"N": n}}
            stages.append({"kind": "evaluate", "name": f"{label} on N={n}", "env": env,
                           "agents": {"*": agent}, "episodes": episodes,
                           "seed": 70_000 + seed})  # fmt: skip
    return {"name": f"mpe-tasks-{seed}", "seed": seed, "stages": stages}


def run_seed(seed: int, steps: int, episodes: int, out: Path) -> dict[str, Any]:
    started, load = time.perf_counter(), os.getloadavg()[0]
    data = scenario(seed, steps, episodes)
    parsed = parse_scenario(data, Source("benchmarks/mpe_tasks.py"))
    result = testbed.run(parsed, out=out / str(seed), show=False)
    returns, train_seconds = {}, {}
    for stage in result.stages:
        if stage.kind == "train":
            train_seconds[stage.name] = stage.wall_time_s
            continue
        returns[stage.name] = stage.metrics["team"]["return"]["mean"]
    return {"seed": seed, "returns": returns, "train_seconds": train_seconds,
            "seconds": time.perf_counter() - started, "load_at_start": load,
            "load_at_end": os.getloadavg()[0]}  # fmt: skip


def _stat(values: list[float]) -> str:
    s = summarize(values)
    return f"{s.mean:.1f} [{s.ci_low:.1f}, {s.ci_high:.1f}]" if len(values) > 1 else f"{s.mean:.1f}"


def table(runs: list[dict[str, Any]], steps: int, episodes: int) -> str:
    lines = [
        "# One MAPPO for 2, 3 and 4 agents: `tasks:` over N vs specialists (simple_spread)",
        "",
        f"Team return on held-out episodes ({episodes} per seed and N; mean and 95 % "
        f"t-interval over {len(runs)} seeds of the per-seed means). Every learner: MAPPO, "
        f"{steps:,} env steps, 16 copies, observations and agent slots padded to "
        f"max_agents {PAD}. multitask draws N from {list(COUNTS)} every {EVERY:,} steps.",
        "",
        "| team | " + " | ".join(f"N={n}" for n in COUNTS) + " |",
        "|---|" + "---:|" * len(COUNTS),
    ]
    for label in [*ARMS, "random", "scripted"]:
        cells = [_stat([r["returns"][f"{label} on N={n}"] for r in runs]) for n in COUNTS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    per_seed = ", ".join(
        f"seed {r['seed']}: {r['seconds']:.0f} s (load {r['load_at_start']:.1f}-"
        f"{r['load_at_end']:.1f})"
        for r in runs
    )
    lines += ["", f"Wall time per seed (4 training runs and the evaluations): {per_seed}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=150_000)
    parser.add_argument("--episodes", type=int, default=50)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            runs.append(run_seed(seed, args.steps, args.episodes, Path(tmp)))
            print(f"seed {seed}: {runs[-1]['returns']} ({runs[-1]['seconds']:.0f} s)", flush=True)
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / "mpe_tasks.json").write_text(json.dumps({
                "steps": args.steps, "episodes": args.episodes, "machine": platform.platform(),
                "runs": runs, "complete": len(runs) == args.seeds,
            }, indent=1) + "\n")  # fmt: skip
            (RESULTS / "mpe_tasks.md").write_text(table(runs, args.steps, args.episodes))


if __name__ == "__main__":
    main()
