"""Reward-shaping benchmark (issue 21): sparse MountainCar, DQN with and without
potential-based shaping (`shaping: {function: mountain_car_energy}`, Ng et al. 1999).

    nice -n 10 .venv/bin/python benchmarks/shaping.py [--seeds 3] [--steps 80000]

MountainCar-v0 pays -1 every step until the car reaches the flag (200-step limit), so an agent
that never gets there sees no signal but the time limit. Each seed trains the same DQN (the
rl-baselines3-zoo MountainCar set, narrower net) twice through a `kind: train` stage, once
unshaped and once learning from r + gamma * Phi(s') - Phi(s) with Phi the car's mechanical
energy (scaled by 10). Evaluations (greedy, 10 held-out episodes every 2,000 steps) and the
final one (50 episodes) use the env's own reward only. Reported per arm, over seeds, with
95 % t-intervals: env steps until a training episode first reaches the flag, until the greedy
policy first reaches it in evaluation (mean return > -200), the final evaluation return, and
wall time. Results: benchmarks/results/shaping.json and shaping.md. The exact claim that
potential shaping keeps the optimal policy and a bonus does not is a test
(tests/testbed/test_shaping.py, value iteration on four rooms).
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
from testbed.evaluate.stats import summarize
from testbed.scenario.yamlsrc import Source
from testbed.stages import parse_scenario

RESULTS = Path(__file__).parent / "results"
DQN = {
    "hidden": [64, 64],
    "learning_rate": 4e-3,
    "batch_size": 128,
    "buffer_size": 10_000,
    "learning_starts": 1_000,
    "gamma": 0.98,
    "target_update_interval": 600,
    "train_freq": 16,
    "gradient_steps": 8,
    "epsilon_decay_steps": 12_000,
    "epsilon_end": 0.07,
}
SHAPING = {"type": "potential", "function": "mountain_car_energy", "scale": 10.0}


def run_arm(seed: int, steps: int, shaped: bool, out: Path) -> dict[str, Any]:
    stage: dict[str, Any] = {
        "kind": "train",
        "name": "shaped" if shaped else "unshaped",
        "env": "gym/MountainCar-v0",
        "agents": {"agent_0": {"id": "dqn", "params": DQN}},
        "steps": steps,
        "eval_every": 2_000,
        "eval_episodes": 10,
        "num_envs": 1,
    }
    if shaped:
        stage["shaping"] = SHAPING
    final = {"kind": "evaluate", "name": "final", "env": "gym/MountainCar-v0",
             "agents": {"agent_0": {"checkpoint": f"@{stage['name']}/agent_0"}},
             "episodes": 50}  # fmt: skip
    data = {"name": f"shaping-{stage['name']}-{seed}", "seed": seed, "stages": [stage, final]}
    scenario = parse_scenario(data, Source("benchmarks/shaping.py"))
    started = time.perf_counter()
    first_success: list[int] = []

    result = testbed.run(scenario, out=out / f"{stage['name']}-{seed}", show=False)
    train, evaluation = result.stages
    for row in train.curve:  # training episodes: recent returns above -200 mean the flag
        if row["train_return"] is not None and row["train_return"] > -200 and not first_success:
            first_success.append(row["step"])
    reach = next((r["step"] for r in train.curve if r["eval_return"] > -200), None)
    return {
        "seed": seed,
        "shaped": shaped,
        "first_training_success_by": first_success[0] if first_success else None,
        "first_greedy_success": reach,
        "final_return": evaluation.metrics["team"]["return"]["mean"],
        "curve": [(r["step"], r["eval_return"]) for r in train.curve],
        "seconds": time.perf_counter() - started,
    }


def _stat(values: list[float | None]) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "never"
    s = summarize(got)
    missing = f" ({len(values) - len(got)} never)" if len(got) < len(values) else ""
    if len(got) < 2:
        return f"{s.mean:.0f}{missing}"
    return f"{s.mean:.0f} [{s.ci_low:.0f}, {s.ci_high:.0f}]{missing}"


def table(runs: list[dict[str, Any]], steps: int) -> str:
    lines = [
        "# Reward shaping: MountainCar-v0, DQN, potential-based shaping vs none",
        "",
        f"{steps} env steps per run; {len({r['seed'] for r in runs})} seeds; evaluation "
        "(greedy, env reward) every 2,000 steps on 10 episodes, final on 50. Mean and 95 % "
        "t-interval over seeds. Steps are env steps (the first evaluation at which the "
        "recent training episodes / the greedy policy reached the flag).",
        "",
        "| arm | training reaches flag by | greedy reaches flag at | final return | "
        "wall time (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for shaped in (False, True):
        arm = [r for r in runs if r["shaped"] == shaped]
        if not arm:
            continue
        lines.append(
            f"| {'shaped (energy potential)' if shaped else 'unshaped'} | "
            f"{_stat([r['first_training_success_by'] for r in arm])} | "
            f"{_stat([r['first_greedy_success'] for r in arm])} | "
            f"{_stat([r['final_return'] for r in arm])} | "
            f"{_stat([r['seconds'] for r in arm])} |"
        )
    lines += ["", "Per seed (final return): " + "; ".join(
        f"seed {r['seed']} {'shaped' if r['shaped'] else 'unshaped'} {r['final_return']:.1f}"
        for r in runs
    ), ""]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=80_000)
    args = parser.parse_args()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for shaped in (True, False):
                runs.append(run_arm(seed, args.steps, shaped, Path(tmp)))
                r = runs[-1]
                print(f"seed {seed} shaped={shaped}: final {r['final_return']:.1f}, greedy "
                      f"success at {r['first_greedy_success']} ({r['seconds']:.0f} s)",
                      flush=True)  # fmt: skip
                RESULTS.mkdir(exist_ok=True)
                (RESULTS / "shaping.json").write_text(json.dumps({
                    "steps": args.steps, "dqn": DQN, "shaping": SHAPING,
                    "machine": platform.platform(), "runs": runs,
                    "complete": len(runs) == 2 * args.seeds,
                }, indent=1) + "\n")  # fmt: skip
                (RESULTS / "shaping.md").write_text(table(runs, args.steps))


if __name__ == "__main__":
    main()
