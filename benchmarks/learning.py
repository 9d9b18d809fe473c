"""Learning benchmark: each algorithm trains on a standard task, over several seeds.

    .venv/bin/python benchmarks/learning.py [--algo dqn ppo ...] [--seeds 3] [--steps N]
    .venv/bin/python benchmarks/learning.py --table        # only rebuild the table

For every spec in `benchmarks/learning_specs.py` (or those named by --algo) and seeds
0..n-1: seeds torch (deterministic CPU), builds the learner through the registry, trains it
with the harness's own loops for the stated budget (`testbed.train.loop.train` for one env,
`testbed.train.vector_loop.train_vectorized` over the spec's `num_envs` copies), evaluates the
evaluation policy (`act`) every `eval_every` steps on held-out seeds, and finally on
`final_episodes` held-out episodes. Writes benchmarks/results/learning/<algo>.json (curve,
final return per seed, wall time) and the table benchmarks/results/learning.md: final return
mean +- 95 % t-interval over seeds, whether the target was met, steps, wall time, and the
published reference. `--steps` overrides the budget (smoke runs; such results are marked).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see docs/STACK.md trap 4)
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from learning_specs import SPECS, LearningSpec  # noqa: E402

from testbed.agents.common.nets import deterministic_torch  # noqa: E402
from testbed.evaluate.stats import summarize  # noqa: E402
from testbed.registry import make_agent, make_env  # noqa: E402
from testbed.rollout.make_vec import make_vec_env  # noqa: E402
from testbed.train.loop import evaluate, train  # noqa: E402
from testbed.train.vector_loop import train_vectorized  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def run_seed(name: str, spec: LearningSpec, seed: int, steps: int) -> dict[str, Any]:
    deterministic_torch(seed)
    env = make_env(spec.env, **spec.env_params)
    eval_env = make_env(spec.env, **spec.env_params)
    agent = env.possible_agents[0]
    learner = make_agent(
        spec.agent, env.observation_space(agent), env.action_space(agent), **spec.params
    )
    curve: list[dict[str, float]] = []
    started = time.perf_counter()

    evaluated = [0]  # evaluations so far (a vector step may pass a multiple of eval_every)

    def on_step(state: Any) -> None:
        if state.step // spec.eval_every > evaluated[0]:
            evaluated[0] = state.step // spec.eval_every
            ret, cost = evaluate(eval_env, {agent: learner}, seed, spec.eval_episodes)
            curve.append(
                {
                    "step": state.step,
                    "return": ret,
                    "cost": cost,
                    "seconds": time.perf_counter() - started,
                }
            )
            print(f"  {name} seed {seed} step {state.step:>7}: return {ret:9.2f}", flush=True)

    if spec.num_envs == 1:
        train(env, {agent: learner}, steps, seed, on_step=on_step)
    else:
        copies = make_vec_env(spec.env, spec.num_envs, **spec.env_params)
        train_vectorized(copies, {agent: learner}, steps, seed, on_step=on_step)
        copies.close()
    seconds = time.perf_counter() - started
    final, _ = evaluate(eval_env, {agent: learner}, seed + 10_000, spec.final_episodes)
    env.close()
    eval_env.close()
    return {"seed": seed, "final_return": final, "seconds": seconds, "curve": curve}


def run_algo(name: str, seeds: int, steps: int | None, jobs: int = 1) -> dict[str, Any]:
    spec = SPECS[name]
    budget = steps or spec.steps
    if jobs > 1:  # seeds are independent processes: the same numbers as one after another
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            n = range(seeds)
            runs = list(pool.map(run_seed, [name] * seeds, [spec] * seeds, n, [budget] * seeds))
    else:
        runs = [run_seed(name, spec, seed, budget) for seed in range(seeds)]
    finals = [r["final_return"] for r in runs]
    summary = summarize(finals)
    mean, low, high = summary.mean, summary.ci_low, summary.ci_high
    result = {
        "algo": name,
        "agent": spec.agent,
        "env": spec.env,
        "params": spec.params,
        "steps": budget,
        "num_envs": spec.num_envs,
        "smoke": steps is not None and steps != spec.steps,
        "seeds": seeds,
        "final_mean": mean,
        "final_ci": [low, high],
        "target": spec.target,
        "met_target": mean >= spec.target,
        "seconds_mean": float(np.mean([r["seconds"] for r in runs])),
        "reference": spec.reference,
        "machine": f"{platform.processor() or platform.machine()}, torch CPU, 1 thread",
        "runs": runs,
    }
    path = RESULTS / "learning" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return result


def write_table() -> str:
    rows = [
        "| algorithm | env | steps | envs | final return (mean, 95% CI) | target | met | s/seed "
        "| published reference |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in SPECS:
        path = RESULTS / "learning" / f"{name}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        low, high = r["final_ci"]
        smoke = " (smoke)" if r.get("smoke") else ""
        rows.append(
            f"| {name} | {r['env']} | {r['steps']:,}{smoke} | {r.get('num_envs', 1)} "
            f"| {r['final_mean']:.1f} "
            f"[{low:.1f}, {high:.1f}] (n={r['seeds']}) | {r['target']:g} | "
            f"{'yes' if r['met_target'] else '**no**'} | {r['seconds_mean']:.0f} | "
            f"{r['reference']} |"
        )
    table = "\n".join(rows) + "\n"
    (RESULTS / "learning.md").write_text(table)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algo", nargs="*", default=None, choices=sorted(SPECS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--table", action="store_true", help="only rebuild the table")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run in this many processes")
    args = parser.parse_args()
    if not args.table:
        for name in args.algo or list(SPECS):
            run_algo(name, args.seeds, args.steps, args.jobs)
    print(write_table())


if __name__ == "__main__":
    main()
