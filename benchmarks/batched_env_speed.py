"""Native batched envs against N copies stepped one by one (`SyncVecEnv`), for every
registered env with a native implementation (`EnvSpec.vector`).

    .venv/bin/python benchmarks/batched_env_speed.py [--seconds 1] [--copies 1 64 256]

Env steps are copies x vector steps, with uniform random actions drawn beforehand (a pool of
16 batches, cycled; auto-resets included), per CPU second of this process
(`time.process_time`, less disturbed than wall time on a shared machine). Robots of
safe_navigation never reach their goals here (a robot leaving mid-episode ends a vector env).
Writes benchmarks/results/batched_env_speed.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

import testbed  # noqa: F401  (first: gymnasium before pettingzoo, docs/STACK.md trap 4)
from testbed import make_vec_env
from testbed.registry import ENVS

RESULT = Path(__file__).resolve().parent / "results" / "batched_env_speed.json"
PARAMS = {"testbed/safe_navigation_v0": {"goal_radius": 1e-9}}


def random_actions(env: Any, rng: np.random.Generator) -> dict[str, np.ndarray]:
    actions = {}
    for agent in env.possible_agents:
        space = env.action_space(agent)
        if hasattr(space, "n"):
            actions[agent] = rng.integers(0, space.n, env.num_envs)
        else:
            drawn = rng.uniform(space.low, space.high, (env.num_envs, *space.shape))
            actions[agent] = drawn.astype(space.dtype)
    return actions


def steps_per_cpu_second(env: Any, seconds: float) -> float:
    rng = np.random.default_rng(0)
    env.reset(0)
    pool = [random_actions(env, rng) for _ in range(16)]
    env.step(pool[0])
    steps, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds or steps < 3:
        env.step(pool[steps % 16])
        steps += 1
    env.close()
    return env.num_envs * steps / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 64, 256])
    args = parser.parse_args()
    rows = []
    print(f"{'env':<30}{'N':>6}{'native':>12}{'one by one':>12}{'ratio':>8}  (steps/CPU s)")
    for env_id in sorted(i for i, spec in ENVS.items() if spec.vector):
        params = PARAMS.get(env_id, {})
        for n in args.copies:
            native = steps_per_cpu_second(
                make_vec_env(env_id, n, vectorization="native", **params), args.seconds
            )
            sync = steps_per_cpu_second(
                make_vec_env(env_id, n, vectorization="sync", **params), args.seconds
            )
            rows.append({"env": env_id, "copies": n, "native": native, "sync": sync})
            print(f"{env_id:<30}{n:>6}{native:>12,.0f}{sync:>12,.0f}{native / sync:>7.1f}x")
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(
        json.dumps(
            {"load_average": os.getloadavg(), "seconds": args.seconds, "rows": rows}, indent=2
        )
        + "\n"  # fmt: skip
    )


if __name__ == "__main__":
    main()
