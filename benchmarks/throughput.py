"""Throughput of vectorized training, measured side by side in one run.

    .venv/bin/python benchmarks/throughput.py [--repeats 3] [--quick]

1. PPO on CartPole-v1 with the same hyperparameters everywhere (2048 transitions per update,
   minibatch 64, 10 epochs, Adam 3e-4, 64x64 tanh actor and critic): testbed with
   `num_envs` 1 and 16 (16: the native batched CartPole, which training picks, and 16
   copies of Gymnasium's env stepped one by one, `vectorization: sync`, which is what one
   env and SB3 step), and Stable-Baselines3 with 16 envs (`pip install
   stable-baselines3==2.3.2` into the venv first; the row is left out without it). Env steps
   per second of training alone (no evaluation), the same budget for each.
2. MAPPO on simple_spread (N = 3): one env (the loop before vectorization) against 16 and 128
   copies of the native batched MPE.
   Both also without their updates ("collecting only": acting, env steps and storing), to
   separate what vectorization speeds up from the learners' gradient steps, which are the
   same in every column.
3. The batched MPE simple_spread alone at 1, 64 and 1024 copies against PettingZoo's
   parallel env (random actions, drawn beforehand).

Runs alternate (A, B, C, A, B, C, ...) and each figure is the median of `--repeats`, so a
drift of the machine's speed touches every row alike; the load average is recorded. Each
figure is given per wall-clock second and per CPU second of the benchmark's own process: on a
shared machine the second moves less with the other jobs. Writes
benchmarks/results/throughput.json and throughput.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import testbed  # noqa: F401  (first: gymnasium before pettingzoo, docs/STACK.md trap 4)
from testbed import make_vec_env
from testbed.agents.common.nets import deterministic_torch
from testbed.registry import make_agent, make_env
from testbed.train.loop import train
from testbed.train.vector_loop import train_vectorized

RESULTS = Path(__file__).resolve().parent / "results"
PPO_PARAMS = {"rollout_steps": 2048, "minibatch_size": 64, "epochs": 10, "learning_rate": 3e-4}
Rates = tuple[float, float]
"""(env steps per wall-clock second, env steps per CPU second of this process)."""


class Clock:
    """Wall-clock and CPU time since it was made. CPU time counts only this process, so it
    moves less than wall time when other jobs share the cores (every case here runs in one
    thread of one process)."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def rates(self, steps: int) -> Rates:
        return (steps / (time.perf_counter() - self.wall),
                steps / max(time.process_time() - self.cpu, 1e-9))  # fmt: skip


def ppo_testbed(
    num_envs: int, steps: int, learn: bool = True, vectorization: str = "auto"
) -> Rates:
    """Env steps/s of testbed's PPO on CartPole with `num_envs` copies (`learn=False`: a
    rollout longer than the budget, so acting and collecting only). The copies are the
    native batched CartPole unless `vectorization="sync"` (Gymnasium's env, one by one)."""
    deterministic_torch(0)
    env = make_env("gym/CartPole-v1")
    params = PPO_PARAMS if learn else {**PPO_PARAMS, "rollout_steps": 10**9}
    learner = make_agent(
        "ppo", env.observation_space("agent_0"), env.action_space("agent_0"), **params
    )
    clock = Clock()
    if num_envs == 1:
        train(env, {"agent_0": learner}, steps, seed=0)
    else:
        vec = make_vec_env("gym/CartPole-v1", num_envs, vectorization=vectorization)
        train_vectorized(vec, {"agent_0": learner}, steps, seed=0)
        vec.close()
    return clock.rates(steps)


def ppo_sb3(num_envs: int, steps: int) -> Rates | None:
    """Env steps/s of Stable-Baselines3's PPO with the same hyperparameters (None: no SB3)."""
    try:
        import torch
        from stable_baselines3 import PPO
        from stable_baselines3.common.env_util import make_vec_env as sb3_vec_env
    except ImportError:
        return None
    torch.set_num_threads(1)
    vec = sb3_vec_env("CartPole-v1", n_envs=num_envs, seed=0)
    model = PPO(
        "MlpPolicy",
        vec,
        n_steps=PPO_PARAMS["rollout_steps"] // num_envs,
        batch_size=PPO_PARAMS["minibatch_size"],
        n_epochs=PPO_PARAMS["epochs"],
        learning_rate=PPO_PARAMS["learning_rate"],
        seed=0,
        device="cpu",
        verbose=0,
    )
    clock = Clock()
    model.learn(total_timesteps=steps)
    return clock.rates(steps)


def mappo(num_envs: int, steps: int, learn: bool = True) -> Rates:
    """Env steps/s of MAPPO (paper defaults) on simple_spread with `num_envs` copies
    (`learn=False`: acting and collecting only)."""
    deterministic_torch(0)
    env = make_env("mpe/simple_spread_v3")
    agents = list(env.possible_agents)
    group = make_agent(
        "mappo",
        {a: env.observation_space(a) for a in agents},
        {a: env.action_space(a) for a in agents},
        **({} if learn else {"rollout_steps": 10**9}),
    )
    from testbed.joint import members

    policies = members(group)
    clock = Clock()
    if num_envs == 1:
        train(env, policies, steps, seed=0)
    else:
        vec = make_vec_env("mpe/simple_spread_v3", num_envs)
        train_vectorized(vec, policies, steps, seed=0)
        vec.close()
    return clock.rates(steps)


def mpe_env(num_envs: int, steps: int) -> Rates:
    """Env steps/s (copies x steps) of simple_spread: PettingZoo's for 0, else batched."""
    rng = np.random.default_rng(0)
    if num_envs == 0:
        env = make_env("mpe/simple_spread_v3")
        env.reset(seed=0)
        actions = rng.integers(0, 5, (steps, 3))
        clock = Clock()
        for t in range(steps):
            if not env.agents:
                env.reset()
            env.step({f"agent_{i}": int(actions[t, i]) for i in range(3)})
        return clock.rates(steps)
    vec = make_vec_env("mpe/simple_spread_v3", num_envs)
    vec.reset(0)
    actions = rng.integers(0, 5, (steps, 3, num_envs))
    clock = Clock()
    for t in range(steps):
        vec.step({f"agent_{i}": actions[t, i] for i in range(3)})
    return clock.rates(steps * num_envs)


def interleaved(cases: dict[str, Callable[[], Rates | None]], repeats: int) -> dict:
    """Median env steps per wall-clock and per CPU second of each case, the cases run in turn
    `repeats` times."""
    rates: dict[str, list[Rates]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, case in cases.items():
            rate = case()
            if rate is not None:
                rates[name].append(rate)
            shown = "n/a" if rate is None else f"{rate[0]:,.0f} (per CPU second {rate[1]:,.0f})"
            print(f"  {name}: {shown} env steps/s", flush=True)
    return {
        n: {"median": statistics.median(w for w, _ in r),
            "median_cpu": statistics.median(c for _, c in r), "runs": r}
        for n, r in rates.items() if r
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small budgets, for a smoke run")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    ppo_steps, mappo_steps = int(40_960 * scale), int(32_000 * scale)
    load_before = os.getloadavg()
    print("PPO on CartPole-v1", flush=True)
    ppo = interleaved(
        {
            "testbed num_envs=1": lambda: ppo_testbed(1, ppo_steps),
            "testbed num_envs=16": lambda: ppo_testbed(16, ppo_steps),
            "testbed num_envs=16, sync copies": lambda: ppo_testbed(16, ppo_steps, True, "sync"),
            "sb3 n_envs=16": lambda: ppo_sb3(16, ppo_steps),
            "testbed num_envs=1, collecting only": lambda: ppo_testbed(1, ppo_steps, False),
            "testbed num_envs=16, collecting only": lambda: ppo_testbed(16, ppo_steps, False),
        },
        args.repeats,
    )
    print("MAPPO on simple_spread", flush=True)
    marl = interleaved(
        {
            "one env": lambda: mappo(1, mappo_steps),
            "16 batched copies": lambda: mappo(16, mappo_steps),
            "128 batched copies": lambda: mappo(128, mappo_steps),
            "one env, collecting only": lambda: mappo(1, mappo_steps, False),
            "128 copies, collecting only": lambda: mappo(128, mappo_steps, False),
        },
        args.repeats,
    )
    print("simple_spread env alone", flush=True)
    envs = interleaved(
        {
            "pettingzoo": lambda: mpe_env(0, int(20_000 * scale) or 200),
            "batched x1": lambda: mpe_env(1, int(20_000 * scale) or 200),
            "batched x64": lambda: mpe_env(64, int(2_000 * scale) or 20),
            "batched x1024": lambda: mpe_env(1024, int(400 * scale) or 4),
        },
        args.repeats,
    )

    def ratio(table: dict, a: str, b: str, key: str = "median") -> float | None:
        return table[a][key] / table[b][key] if a in table and b in table else None

    results = {
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "cpus": os.cpu_count(),
        "budgets": {"ppo_steps": ppo_steps, "mappo_steps": mappo_steps},
        "ppo_cartpole": ppo,
        "mappo_spread": marl,
        "mpe_spread_env": envs,
        "ratios": {
            "ppo 16 vs 1 (target >= 3)": ratio(ppo, "testbed num_envs=16", "testbed num_envs=1"),
            "ppo 16 vs sb3 16 (target >= 1)": ratio(ppo, "testbed num_envs=16", "sb3 n_envs=16"),
            "ppo 16 sync copies vs 1": ratio(
                ppo, "testbed num_envs=16, sync copies", "testbed num_envs=1"
            ),
            "ppo 16 sync copies vs sb3 16": ratio(
                ppo, "testbed num_envs=16, sync copies", "sb3 n_envs=16"
            ),
            "mappo 16 vs 1": ratio(marl, "16 batched copies", "one env"),
            "mappo 128 vs 1 (target >= 10)": ratio(marl, "128 batched copies", "one env"),
            "ppo collecting only, 16 vs 1": ratio(
                ppo, "testbed num_envs=16, collecting only", "testbed num_envs=1, collecting only"
            ),
            "mappo collecting only, 128 vs 1": ratio(
                marl, "128 copies, collecting only", "one env, collecting only"
            ),
            "mpe x1024 vs pettingzoo (target >= 100)": ratio(envs, "batched x1024", "pettingzoo"),
            "mpe x1 vs pettingzoo": ratio(envs, "batched x1", "pettingzoo"),
        },
        "ratios_cpu": {
            "ppo 16 vs 1 (target >= 3)": ratio(
                ppo, "testbed num_envs=16", "testbed num_envs=1", "median_cpu"
            ),
            "ppo 16 vs sb3 16 (target >= 1)": ratio(
                ppo, "testbed num_envs=16", "sb3 n_envs=16", "median_cpu"
            ),
            "mappo 128 vs 1 (target >= 10)": ratio(
                marl, "128 batched copies", "one env", "median_cpu"
            ),
            "mpe x1024 vs pettingzoo (target >= 100)": ratio(
                envs, "batched x1024", "pettingzoo", "median_cpu"
            ),
        },
    }
    RESULTS.mkdir(exist_ok=True)
    name = "throughput_quick" if args.quick else "throughput"
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Throughput of vectorized training",
        "",
        f"`.venv/bin/python benchmarks/throughput.py`; medians of {args.repeats} interleaved runs; "
        f"load average {load_before[0]:.2f} before, {results['load_average_after'][0]:.2f} "
        f"after, {os.cpu_count()} CPUs.",
        "",
        "| case | env steps/s (wall clock) | env steps per CPU second |",
        "|---|---:|---:|",
    ]
    for title, table in (("PPO CartPole", ppo), ("MAPPO spread", marl), ("spread env", envs)):
        for case, row in table.items():
            lines.append(f"| {title}: {case} | {row['median']:,.0f} | {row['median_cpu']:,.0f} |")
    lines += ["", "| ratio | wall clock | CPU time |", "|---|---:|---:|"]
    for key, value in results["ratios"].items():
        cpu = results["ratios_cpu"].get(key)
        lines.append(
            f"| {key} | {'n/a' if value is None else f'{value:.2f}'} | "
            f"{'' if cpu is None else f'{cpu:.2f}'} |"
        )
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
