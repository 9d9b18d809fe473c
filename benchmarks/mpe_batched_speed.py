"""Batched MPE speed: env steps/s of `testbed.envs.mpe_batched` against PettingZoo's own env.

    .venv/bin/python benchmarks/mpe_batched_speed.py [--seconds 2] [--repeats 3]
        [--envs simple_spread_v3 ...] [--copies 1 64 1024]

"env steps" are copies x batched steps (one action per agent per copy), with random actions
drawn beforehand (a pool of 16 batches, cycled), auto-resets included. The baseline is
PettingZoo's parallel env of the same scenario (default parameters, as `make_env` builds it),
one copy stepped with pre-drawn random actions and reset when its episode ends. Time is this
process's CPU time (`time.process_time`, less disturbed than wall time on a shared machine);
each figure is the median over `--repeats` rounds of `--seconds`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium  # noqa: F401  (before pettingzoo: the import-order trap of this stack)
import numpy as np

from testbed._stack import mpe_module
from testbed.envs import mpe_batched

POOL = 16


def _pettingzoo_rate(name: str, seconds: float) -> float:
    env = mpe_module(name).parallel_env()
    env.reset(seed=0)
    pool = [{a: env.action_space(a).sample() for a in env.possible_agents} for _ in range(1024)]
    steps, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        for _ in range(100):
            env.step(pool[steps % len(pool)])
            steps += 1
            if not env.agents:
                env.reset()
    return steps / (time.process_time() - start)


def _batched_rate(name: str, copies: int, seconds: float) -> float:
    env = getattr(mpe_batched, name)(copies)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    pool = [{a: rng.integers(0, 5, copies) for a in env.possible_agents} for _ in range(POOL)]
    steps, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        for _ in range(25):
            env.step(pool[steps % POOL])
            steps += 1
    return steps * copies / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--envs", nargs="+", default=["simple_spread_v3"])
    parser.add_argument("--copies", nargs="+", type=int, default=[1, 64, 1024])
    args = parser.parse_args()
    print(f"{'env':22s} {'copies':>8s} {'env steps/s':>14s} {'x PettingZoo':>13s}")
    for name in args.envs:
        _pettingzoo_rate(name, 0.2)  # warm-up
        base = statistics.median(_pettingzoo_rate(name, args.seconds) for _ in range(args.repeats))
        print(f"{name:22s} {'PZ x1':>8s} {base:14,.0f} {1.0:13.1f}")
        for copies in args.copies:
            _batched_rate(name, copies, 0.2)
            rate = statistics.median(
                _batched_rate(name, copies, args.seconds) for _ in range(args.repeats)
            )
            print(f"{name:22s} {copies:8d} {rate:14,.0f} {rate / base:13.1f}")


if __name__ == "__main__":
    main()
