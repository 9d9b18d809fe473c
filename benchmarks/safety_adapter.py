"""Cost of the Safety-Gymnasium adapter: steps/s raw vs through testbed's ParallelEnv.

    .venv/bin/python benchmarks/safety_adapter.py [--seconds 3] [--repeats 5]

Prints a table and writes benchmarks/results/safety_adapter.json.

What is measured: CPU time of this process (`time.process_time`, less disturbed than wall
time by other work on a shared machine) spent in `step` calls only, with random actions drawn
beforehand (a pool of 1024, cycled, the same for both sides); resets at episode ends happen off
the clock, since a navigation reset rebuilds and recompiles the MuJoCo model (~0.3 s) and would
dominate. "raw" is `safety_gymnasium.make(task)` / `make_ma(...)` stepped with a bare action
(dict); "adapter" is `testbed.make_env("safety/...")` stepped with `{agent: action}`. Raw and
adapter runs alternate; each figure is the median of `--repeats` runs of `--seconds`, after a
warm-up.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see docs/STACK.md trap 4)
import numpy as np

from testbed.envs.safety_compat import import_safety_gymnasium
from testbed.registry import make_env

POOL = 1024
RESULTS = Path(__file__).parent / "results" / "safety_adapter.json"


def _timed_steps(step: Callable[[int], bool], reset: Callable[[], None], seconds: float) -> float:
    """Call `step(i)` (True when the episode ended) for about `seconds` of stepping; steps/s."""
    reset()
    steps, elapsed, i = 0, 0.0, 0
    while elapsed < seconds:
        start = time.process_time()
        for _ in range(256):
            steps += 1
            i = (i + 1) % POOL
            if step(i):
                elapsed += time.process_time() - start
                reset()
                start = time.process_time()
        elapsed += time.process_time() - start
    return steps / elapsed


def _single_agent(task: str) -> tuple[Callable, Callable]:
    sg = import_safety_gymnasium()
    raw, env = sg.make(task), make_env(f"safety/{task}")
    pool = np.random.default_rng(0).uniform(-1, 1, (POOL, *raw.action_space.shape))

    def raw_step(i: int) -> bool:
        *_, terminated, truncated, _ = raw.step(pool[i])
        return terminated or truncated

    def adapter_step(i: int) -> bool:
        env.step({"agent_0": pool[i]})
        return not env.agents

    return (raw_step, lambda: raw.reset(seed=0)), (adapter_step, lambda: env.reset(seed=0))


def _multi_agent(scenario: str, conf: str) -> tuple[Callable, Callable]:
    sg = import_safety_gymnasium()
    raw, env = sg.make_ma(scenario, conf), make_env(f"safety-ma/{scenario}-{conf}")
    rng = np.random.default_rng(0)
    pool = [
        {a: rng.uniform(-1, 1, env.action_space(a).shape) for a in env.possible_agents}
        for _ in range(POOL)
    ]

    def raw_step(i: int) -> bool:
        *_, terminations, truncations, _ = raw.step(pool[i])
        return any(terminations.values()) or any(truncations.values())

    def adapter_step(i: int) -> bool:
        env.step(pool[i])
        return not env.agents

    return (raw_step, lambda: raw.reset(seed=0)), (adapter_step, lambda: env.reset(seed=0))


CASES: dict[str, Callable[[], tuple[Any, Any]]] = {
    "SafetyPointGoal1-v0": lambda: _single_agent("SafetyPointGoal1-v0"),
    "SafetyHalfCheetahVelocity-v1": lambda: _single_agent("SafetyHalfCheetahVelocity-v1"),
    "MA HalfCheetah-2x3": lambda: _multi_agent("HalfCheetah", "2x3"),
}


def measure(name: str, seconds: float, repeats: int) -> dict[str, Any]:
    raw, adapter = CASES[name]()
    _timed_steps(*raw, min(seconds, 0.3))  # warm-up
    _timed_steps(*adapter, min(seconds, 0.3))
    raw_rates, adapter_rates = [], []
    for _ in range(repeats):
        raw_rates.append(_timed_steps(*raw, seconds))
        adapter_rates.append(_timed_steps(*adapter, seconds))
    raw_rate, adapter_rate = statistics.median(raw_rates), statistics.median(adapter_rates)
    return {
        "task": name,
        "raw_steps_per_s": round(raw_rate),
        "adapter_steps_per_s": round(adapter_rate),
        "overhead_percent": round(100 * (raw_rate / adapter_rate - 1), 1),
        "raw_runs": [round(r) for r in raw_rates],
        "adapter_runs": [round(r) for r in adapter_rates],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="stepping time of one run")
    parser.add_argument("--repeats", type=int, default=5, help="runs per side (median)")
    parser.add_argument("--only", nargs="*", default=None, help=f"some of {list(CASES)}")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)

    rows = [measure(name, args.seconds, args.repeats) for name in args.only or CASES]
    print(f"\n{'task':<30} {'raw steps/s':>12} {'adapter steps/s':>16} {'overhead':>9}")
    for r in rows:
        print(
            f"{r['task']:<30} {r['raw_steps_per_s']:>12,} {r['adapter_steps_per_s']:>16,} "
            f"{r['overhead_percent']:>8}%"
        )
    import mujoco
    import safety_gymnasium

    meta = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mujoco": mujoco.__version__,
        "safety_gymnasium": safety_gymnasium.__version__,
        "seconds": args.seconds,
        "repeats": args.repeats,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
