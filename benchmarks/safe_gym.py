"""Safe RL on Safety-Gymnasium tasks: return and cost of PPO, PPO-Lagrangian and CPO.

    .venv/bin/python benchmarks/safe_gym.py run --task velocity --method ppo_lagrangian --seed 0
    .venv/bin/python benchmarks/safe_gym.py table

Tasks (one-agent ParallelEnvs through the registry, agent `agent_0`):
- `velocity`: `safety/SafetyHalfCheetahVelocity-v1`, 1M steps, cost limit 25 per 1000-step
  episode (cost 1 per step above the speed limit). Reference: Safety-Gymnasium's benchmark
  plots show PPO-Lag near return 2,200 / cost 25 at 1M steps; OmniSafe's table at 1e7 steps.
- `goal`: `safety/SafetyPointGoal1-v0`, cost limit 25; reference OmniSafe at 1e7 steps:
  PPOLag 12.96 / 25.80, CPO 20.46 / 28.84 (return / cost).

Each `run` trains one (task, method, seed) with the harness's `testbed.train.loop.train`
and writes `benchmarks/results/safe_gym/<task>-<method>-seed<k>.json` at once (a killed batch
keeps every finished run): the training episodes' return and cost (the stochastic policy, as
OmniSafe and Safety-Gymnasium report), the mean of the last 10 training episodes, and the
evaluation policy (`act`, Gaussian mean) on EVAL_EPISODES held-out episodes. `table`
collects them into `benchmarks/results/safe_gym.md` (mean and 95 % t-interval over seeds).

Hyperparameters: CleanRL's PPO for MuJoCo (2048-step rollouts, 10 epochs of 64-sample
minibatches, lr 3e-4 annealed, observation and reward normalisation, 64x64 tanh MLPs) for all
methods; the multiplier is OmniSafe's PPOLag one (Adam, lr 0.035, init 0.001).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see docs/STACK.md)
import numpy as np

from testbed.agents.common.nets import deterministic_torch
from testbed.evaluate.stats import summarize
from testbed.registry import make_agent, make_env
from testbed.train.loop import evaluate, train

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RUNS = RESULTS / "safe_gym"
EVAL_EPISODES = 10
COST_LIMIT = 25.0
TASKS = {
    "velocity": {
        "env": "safety/SafetyHalfCheetahVelocity-v1",
        "steps": 1_000_000,
        "reference": "Safety-Gymnasium benchmark plots at 1M steps: PPO-Lag return ~2,200, "
        "cost ~25; PPO without a constraint runs far above the cost limit",
    },
    "goal": {
        "env": "safety/SafetyPointGoal1-v0",
        "steps": 1_000_000,
        "reference": "OmniSafe at 1e7 steps: PPOLag 12.96 / 25.80, CPO 20.46 / 28.84 "
        "(return / cost)",
    },
}
PPO = {
    "rollout_steps": 2048,
    "minibatch_size": 64,
    "epochs": 10,
    "learning_rate": 3e-4,
    "normalize_observations": True,
    "scale_rewards": True,
}
LAGRANGE = {
    "cost_limit": COST_LIMIT,
    "lagrange_mode": "adam",
    "lagrange_lr": 0.035,
    "lagrange_init": 0.001,
}
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "ppo": ("ppo", PPO),
    "ppo_lagrangian": ("ppo_lagrangian", {**PPO, **LAGRANGE}),
    "cpo": (
        "cpo",
        {"cost_limit": COST_LIMIT, "rollout_steps": 10_000, "normalize_observations": True},
    ),
}
"""CPO: OmniSafe's CPO defaults (target KL 0.01, 15 CG iterations, damping 0.1) with 10-episode
rollouts (10,000 steps), so that the constraint is judged on more than two episodes' costs
(safety-starter-agents use 30,000 at 1e7 steps; fewer, larger updates do not fit our budget)."""


def run_one(task: str, method: str, seed: int, steps: int | None) -> dict[str, Any]:
    spec = TASKS[task]
    steps = steps or spec["steps"]
    agent_id, params = METHODS[method]
    if agent_id != "cpo":
        params = {**params, "anneal_steps": steps}
    deterministic_torch(seed)
    env = make_env(spec["env"])
    (agent,) = env.possible_agents
    learner = make_agent(agent_id, env.observation_space(agent), env.action_space(agent), **params)
    episodes: list[tuple[int, float, float]] = []
    start = time.perf_counter()
    train(
        env,
        {agent: learner},
        steps,
        seed,
        on_episode=lambda s, _: episodes.append((s.end_step, s.team_return, s.team_cost)),
    )
    seconds = time.perf_counter() - start
    ret, cost = evaluate(env, {agent: learner}, seed=10_000 + seed, episodes=EVAL_EPISODES)
    last = episodes[-10:]
    result = {
        "task": task,
        "env": spec["env"],
        "method": method,
        "agent": agent_id,
        "params": params,
        "seed": seed,
        "steps": steps,
        "seconds": seconds,
        "train_return_last10": float(np.mean([e[1] for e in last])),
        "train_cost_last10": float(np.mean([e[2] for e in last])),
        "eval_return": ret,
        "eval_cost": cost,
        "lagrange": float(learner.lagrange.value) if hasattr(learner, "lagrange") else None,
        "episodes": episodes,
        "machine": platform.processor() or platform.machine(),
    }
    RUNS.mkdir(parents=True, exist_ok=True)
    path = RUNS / f"{task}-{method}-seed{seed}.json"
    path.write_text(json.dumps(result, indent=1))
    print(
        f"{task} {method} seed {seed}: train last10 return {result['train_return_last10']:.1f} "
        f"cost {result['train_cost_last10']:.1f}; eval {ret:.1f} / {cost:.1f}; {seconds:.0f} s"
    )
    return result


def fmt(values: list[float]) -> str:
    s = summarize(values)
    if s.n < 2:
        return f"{s.mean:.1f}"
    return f"{s.mean:.1f} [{s.ci_low:.1f}, {s.ci_high:.1f}]"


def table() -> str:
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for path in sorted(RUNS.glob("*.json")):
        r = json.loads(path.read_text())
        runs.setdefault((r["task"], r["method"]), []).append(r)
    lines = [
        "# Safe RL on Safety-Gymnasium (one agent)",
        "",
        f"Cost limit {COST_LIMIT:g} per episode. *Train* = the last 10 training episodes (the "
        "stochastic policy, as the references report); *eval* = the Gaussian-mean policy on "
        f"{EVAL_EPISODES} held-out episodes. Mean and 95 % t-interval over seeds.",
        "",
        "| task | method | steps | seeds | train return | train cost | eval return "
        "| eval cost | lambda | min/seed | reference |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (task, method), rs in sorted(runs.items()):
        lam = [r["lagrange"] for r in rs if r["lagrange"] is not None]
        lines.append(
            f"| {TASKS[task]['env']} | {method} | {rs[0]['steps']:,} | {len(rs)} "
            f"| {fmt([r['train_return_last10'] for r in rs])} "
            f"| {fmt([r['train_cost_last10'] for r in rs])} "
            f"| {fmt([r['eval_return'] for r in rs])} | {fmt([r['eval_cost'] for r in rs])} "
            f"| {'-' if not lam else f'{np.mean(lam):.2f}'} "
            f"| {np.mean([r['seconds'] for r in rs]) / 60:.0f} | {TASKS[task]['reference']} |"
        )
    text = "\n".join(lines) + "\n"
    (RESULTS / "safe_gym.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("run", help="train and evaluate one (task, method, seed)")
    one.add_argument("--task", choices=list(TASKS), required=True)
    one.add_argument("--method", choices=list(METHODS), required=True)
    one.add_argument("--seed", type=int, default=0)
    one.add_argument("--steps", type=int, default=None, help="default: the task's budget")
    sub.add_parser("table", help="rebuild benchmarks/results/safe_gym.md")
    args = parser.parse_args()
    if args.command == "run":
        run_one(args.task, args.method, args.seed, args.steps)
    print(table())


if __name__ == "__main__":
    main()
