"""Transfer benchmark (issue 21): Taylor & Stone's (2009) four measures on two pairs.

    nice -n 10 .venv/bin/python benchmarks/transfer.py [--seeds 3] [--pairs cartpole four_rooms]

Each pair trains a source, then the target task twice on the same seed through `kind: train`
stages: from scratch, and from the source checkpoint (`init_from:`); both evaluate at step 0
(`eval_at_start`), then every `eval_every` steps on held-out episodes (greedy, the target
env's reward).

- cartpole: PPO (rl-baselines3-zoo CartPole set, 8 copies) on CartPole-v1, then on a
  variant with a pole twice as long (`length: 1.0`) and a weaker motor (`force_mag: 6`).
  Threshold 475. A third run starts from the source with a fresh policy head
  (`reset_head: [actor]`).
- four_rooms: tabular Q-learning (Bacon et al.'s flat baseline settings) on four rooms with
  the goal in the east doorway (cell 62), then with the goal in the south-west room; episodes
  end after 200 steps, so the return is the fraction of evaluation episodes that reach the
  goal. Threshold 0.9.

Reported per pair over seeds (mean and 95 % t-interval): jumpstart, time to threshold
(scratch, transfer), asymptotic performance (mean of the last 3 evaluations) and its gain,
area ratio. Results: benchmarks/results/transfer.json and transfer.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see STACK.md trap 4)

import testbed
from testbed.envs.four_rooms import cell_of
from testbed.evaluate.stats import summarize
from testbed.scenario.yamlsrc import Source
from testbed.stages import parse_scenario
from testbed.train.transfer import transfer_metrics

RESULTS = Path(__file__).parent / "results"
PPO = {
    "rollout_steps": 256,
    "minibatch_size": 256,
    "epochs": 20,
    "gamma": 0.98,
    "gae_lambda": 0.8,
    "learning_rate": 1e-3,
}
PAIRS: dict[str, dict[str, Any]] = {
    "cartpole": {
        "agent": {"id": "ppo", "params": PPO},
        "source_env": {"id": "gym/CartPole-v1"},
        "target_env": {"id": "gym/CartPole-v1", "params": {"length": 1.0, "force_mag": 6.0}},
        "source_steps": 50_000,
        "target_steps": 40_000,
        "eval_every": 4_000,
        "eval_episodes": 10,
        "num_envs": 8,
        "threshold": 475.0,
        "reset_head": ["actor"],
    },
    "four_rooms": {
        "agent": {
            "id": "q_learning",
            "params": {"learning_rate": 0.5, "epsilon_start": 0.1, "epsilon_end": 0.1},
        },
        "source_env": {"id": "testbed/four_rooms_v0", "params": {"max_steps": 200}},
        "target_env": {
            "id": "testbed/four_rooms_v0",
            "params": {"max_steps": 200, "goal": cell_of(10, 2)},
        },
        "source_steps": 30_000,
        "target_steps": 30_000,
        "eval_every": 1_500,
        "eval_episodes": 20,
        "num_envs": 1,
        "threshold": 0.9,
    },
}


def run_pair(name: str, seed: int, out: Path) -> dict[str, Any]:
    pair = PAIRS[name]
    common = {"kind": "train", "agents": {"agent_0": pair["agent"]},
              "eval_every": pair["eval_every"], "eval_episodes": pair["eval_episodes"],
              "num_envs": pair["num_envs"]}  # fmt: skip
    stages = [
        {**common, "name": "source", "env": pair["source_env"], "steps": pair["source_steps"]},
        {**common, "name": "scratch", "env": pair["target_env"], "steps": pair["target_steps"],
         "eval_at_start": True, "seed": seed + 1000},
        {**common, "name": "transfer", "env": pair["target_env"], "steps": pair["target_steps"],
         "init_from": "@source/agent_0", "seed": seed + 1000},
    ]  # fmt: skip
    if pair.get("reset_head"):
        stages.append({**stages[-1], "name": "transfer-reset-head",
                       "init_from": {"checkpoint": "@source/agent_0",
                                     "reset_head": pair["reset_head"]}})  # fmt: skip
    data = {"name": f"transfer-{name}-{seed}", "seed": seed, "stages": stages}
    started = time.perf_counter()
    scenario = parse_scenario(data, Source("benchmarks/transfer.py"))
    result = testbed.run(scenario, out=out / f"{name}-{seed}", show=False)
    source, *targets = result.stages
    curves = {s.name: [(r["step"], r["eval_return"]) for r in s.curve] for s in targets}
    arms = [n for n in curves if n != "scratch"]
    return {
        "pair": name,
        "seed": seed,
        "source_final": source.curve[-1]["eval_return"],
        "curves": curves,
        "metrics": transfer_metrics(curves["scratch"], curves["transfer"], pair["threshold"]),
        "arms": {
            arm: transfer_metrics(curves["scratch"], curves[arm], pair["threshold"]) for arm in arms
        },
        "seconds": time.perf_counter() - started,
    }


def _stat(values: list[Any], digits: int = 1) -> str:
    got = [float(v) for v in values if v is not None]
    if not got:
        return "never"
    never = f" ({len(values) - len(got)} never)" if len(got) < len(values) else ""
    s = summarize(got)
    if len(got) < 2:
        return f"{s.mean:.{digits}f}{never}"
    return f"{s.mean:.{digits}f} [{s.ci_low:.{digits}f}, {s.ci_high:.{digits}f}]{never}"


def table(runs: list[dict[str, Any]]) -> str:
    lines = [
        "# Transfer: Taylor & Stone (2009) measures, init_from vs from scratch (same seeds)",
        "",
        "Mean and 95 % t-interval over seeds. Time to threshold in env steps (the first "
        "evaluation at or above it; `never` counted apart); asymptotic = mean of the last 3 "
        "evaluations; area ratio = (area under transfer - area under scratch) / area under "
        "scratch.",
        "",
        "| pair | seeds | source final | jumpstart | time to threshold: scratch | transfer | "
        "asymptotic: scratch | transfer | area ratio | wall time (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, pair in PAIRS.items():
        rs = [r for r in runs if r["pair"] == name]
        if not rs:
            continue
        for arm in rs[0].get("arms", {"transfer": None}):
            m = [r.get("arms", {"transfer": r["metrics"]})[arm] for r in rs]
            lines.append(_row(name, pair, arm, rs, m))
    lines.append("")
    return "\n".join(lines)


def _row(name: str, pair: dict, arm: str, rs: list[dict], m: list[dict]) -> str:
    d = 0 if name == "cartpole" else 2
    label = "init_from" if arm == "transfer" else f"init_from, reset_head: {pair['reset_head']}"
    return (
        f"| {name}: {label} (threshold {pair['threshold']:g}; {pair['target_steps']} steps) | "
        f"{len(rs)} | {_stat([r['source_final'] for r in rs], d)} | "
        f"{_stat([x['jumpstart'] for x in m], d)} | "
        f"{_stat([x['time_to_threshold_scratch'] for x in m], 0)} | "
        f"{_stat([x['time_to_threshold_transfer'] for x in m], 0)} | "
        f"{_stat([x['asymptotic_scratch'] for x in m], d)} | "
        f"{_stat([x['asymptotic_transfer'] for x in m], d)} | "
        f"{_stat([x['area_ratio'] for x in m], 2)} | "
        f"{_stat([r['seconds'] for r in rs], 0)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pairs", nargs="+", choices=list(PAIRS), default=list(PAIRS))
    args = parser.parse_args()
    old = RESULTS / "transfer.json"  # other pairs' runs are kept
    runs: list[dict[str, Any]] = [
        r for r in (json.loads(old.read_text())["runs"] if old.is_file() else [])
        if r["pair"] not in args.pairs
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.pairs:
            for seed in range(args.seeds):
                runs.append(run_pair(name, seed, Path(tmp)))
                r = runs[-1]
                print(f"{name} seed {seed}: {r['metrics']} ({r['seconds']:.0f} s)", flush=True)
                RESULTS.mkdir(exist_ok=True)
                (RESULTS / "transfer.json").write_text(json.dumps({
                    "pairs": PAIRS, "machine": platform.platform(), "runs": runs,
                    "complete": len(runs) == args.seeds * len(PAIRS),
                }, indent=1) + "\n")  # fmt: skip
                (RESULTS / "transfer.md").write_text(table(runs))


if __name__ == "__main__":
    main()
