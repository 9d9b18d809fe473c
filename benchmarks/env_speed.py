"""Environment speed: steps per second with random actions, every env built by the registry.

    .venv/bin/python benchmarks/env_speed.py [--seconds 2] [--repeats 3] [--only ID ...]

Prints a table and writes benchmarks/results/env_speed.json. To add an env, append its
registry id (and the parameters that make it comparable, e.g. 3 agents) to `CASES`.

What is measured: CPU time of this process (`time.process_time`, much less disturbed than wall
time by other work on a shared 2-core machine) spent in `env.step`, and in `env.reset` when an
episode ends. For a ParallelEnv without action masks, random actions are drawn beforehand from
each agent's action space (a pool of 1024, cycled), so the sampler's cost is not counted; with
masks (and for AEC envs) a legal action is drawn during the run. "env steps" are parallel steps
(one action per live agent) or AEC turns; "agent steps" count one per acting agent. The envs
take turns (`--repeats` rounds of `--seconds` each, after a short warm-up), so a slow spell of
the machine hits all of them alike; each figure is the median over rounds. The last column
compares env steps/s with `BASELINE`, PettingZoo MPE simple_spread_v3.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see docs/STACK.md trap 4)
import numpy as np
import pettingzoo

from testbed.agents.baselines.random import sample
from testbed.registry import make_env

BASELINE = "mpe/simple_spread_v3"
CASES: list[tuple[str, dict[str, Any]]] = [
    (BASELINE, {"N": 3}),
    ("testbed/foraging_v0", {"n_agents": 3}),
    ("testbed/foraging_v0", {"n_agents": 3, "sight": 2}),
    ("testbed/safe_navigation_v0", {"n_agents": 3}),
    ("testbed/safe_navigation_v0", {"n_agents": 3, "continuous_actions": True}),
    ("testbed/commons_harvest_v0", {"n_agents": 3}),
    ("testbed/breakthrough_v0", {}),
]
POOL = 1024
RESULTS = Path(__file__).parent / "results" / "env_speed.json"


def _mask(observation: Any) -> np.ndarray | None:
    if isinstance(observation, dict) and "action_mask" in observation:
        return observation["action_mask"]
    return None


def _run_parallel(env: Any, seconds: float, rng: np.random.Generator) -> tuple[int, int, float]:
    """Step a ParallelEnv for about `seconds`; return (env steps, agent steps, elapsed)."""
    observations, _ = env.reset(seed=0)
    masked = any(_mask(o) is not None for o in observations.values())
    pool = {a: [sample(env.action_space(a), rng) for _ in range(POOL)] for a in env.possible_agents}
    env_steps = agent_steps = 0
    start = time.process_time()
    deadline = start + seconds
    while True:
        for i in range(POOL):
            if masked:
                actions = {
                    a: sample(env.action_space(a), rng, _mask(observations[a])) for a in env.agents
                }
            else:
                actions = {a: pool[a][i] for a in env.agents}
            observations, _, _, _, _ = env.step(actions)
            env_steps += 1
            agent_steps += len(actions)
            if not env.agents:
                observations, _ = env.reset()
        if time.process_time() >= deadline:
            return env_steps, agent_steps, time.process_time() - start


def _run_aec(env: Any, seconds: float, rng: np.random.Generator) -> tuple[int, int, float]:
    """Step an AECEnv for about `seconds`; every turn is one env step and one agent step."""
    env.reset(seed=0)
    steps = 0
    start = time.process_time()
    deadline = start + seconds
    while True:
        for _ in range(256):
            agent = env.agent_selection
            observation, _, terminated, truncated, _ = env.last()
            if terminated or truncated:
                action = None
            else:
                action = sample(env.action_space(agent), rng, _mask(observation))
            env.step(action)
            steps += 1
            if not env.agents:
                env.reset()
        if time.process_time() >= deadline:
            return steps, steps, time.process_time() - start


def measure(cases: list[tuple[str, dict[str, Any]]], seconds: float, repeats: int) -> list[dict]:
    """Build every env through the registry, then time them in turns; one result per case."""
    rows: list[dict[str, Any]] = []
    runs: list[tuple[Any, Any, np.random.Generator, dict[str, Any]] | None] = []
    for env_id, params in cases:
        row: dict[str, Any] = {"id": env_id, "params": params}
        rows.append(row)
        try:
            env = make_env(env_id, **params)
            parallel = isinstance(env, pettingzoo.ParallelEnv)
            run = _run_parallel if parallel else _run_aec
            rng = np.random.default_rng(0)
            run(env, min(0.2, seconds), rng)  # warm-up
        except Exception as exc:  # one broken env must not hide the others' figures
            row["error"] = f"{type(exc).__name__}: {exc}"
            runs.append(None)
            continue
        row.update(api="parallel" if parallel else "aec", agents=len(env.possible_agents))
        row.update(env_steps_per_s_runs=[], agent_steps_per_s_runs=[])
        runs.append((env, run, rng, row))
    for round_ in range(repeats):
        for entry in runs:
            if entry is None:
                continue
            env, run, rng, row = entry
            env_steps, agent_steps, elapsed = run(env, seconds, rng)
            row["env_steps_per_s_runs"].append(round(env_steps / elapsed))
            row["agent_steps_per_s_runs"].append(round(agent_steps / elapsed))
        print(f"round {round_ + 1}/{repeats} done", flush=True)
    for entry in runs:
        if entry is not None:
            env, _, _, row = entry
            env.close()
            row["env_steps_per_s"] = round(statistics.median(row["env_steps_per_s_runs"]))
            row["agent_steps_per_s"] = round(statistics.median(row.pop("agent_steps_per_s_runs")))
    return rows


def _label(env_id: str, params: dict[str, Any]) -> str:
    extra = ", ".join(f"{k}={v}" for k, v in params.items())
    return f"{env_id} ({extra})" if extra else env_id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per env (median)")
    parser.add_argument("--only", nargs="*", default=None, help="registry ids to measure")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)

    cases = [c for c in CASES if args.only is None or c[0] in args.only]
    rows = measure(cases, args.seconds, args.repeats)
    base = next((r for r in rows if r["id"] == BASELINE and "error" not in r), None)
    for row in rows:
        if base is not None and "error" not in row:
            row["vs_baseline"] = round(row["env_steps_per_s"] / base["env_steps_per_s"], 1)

    width = max(len(_label(r["id"], r["params"])) for r in rows)
    print(
        f"\n{'env':<{width}}  {'api':<8} {'agents':>6} {'env steps/s':>12} "
        f"{'agent steps/s':>14} {'x MPE':>6}"
    )
    for r in rows:
        label = _label(r["id"], r["params"])
        if "error" in r:
            print(f"{label:<{width}}  failed: {r['error']}")
            continue
        ratio = f"{r['vs_baseline']:.1f}" if "vs_baseline" in r else "-"
        print(
            f"{label:<{width}}  {r['api']:<8} {r['agents']:>6} {r['env_steps_per_s']:>12,} "
            f"{r['agent_steps_per_s']:>14,} {ratio:>6}"
        )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pettingzoo": pettingzoo.__version__,
        "machine": platform.machine(),
        "seconds": args.seconds,
        "clock": "process_time",
        "repeats": args.repeats,
        "baseline": BASELINE,
    }
    args.out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
