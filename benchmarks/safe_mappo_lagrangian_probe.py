"""One MAPPO-Lagrangian probe run on `testbed/safe_navigation_v0`: the learning curve, then the
argmax (evaluation) and the sampled (training) policy's return, cost and cost parts.

    .venv/bin/python benchmarks/safe_mappo_lagrangian_probe.py TAG STEPS SEED [key=value ...]

`key=value` override MAPPO-Lagrangian's parameters (JSON values: `lagrange_max=10`,
`constraint=agent`); `continuous=true` uses the env's continuous actions. The defaults are
those of `benchmarks/safe.py`'s `mappo_lagrangian` row before its multiplier cap. Prints one
line per 100 training episodes (team return, team cost, lambda) and a FINAL line with 30
held-out episodes of each policy; the probes run so far are in
`benchmarks/results/safe_mappo_lagrangian_probes.md`.
"""

from __future__ import annotations

import json
import sys
import time

import gymnasium  # noqa: F401  (before pettingzoo, see docs/STACK.md trap 4)
import numpy as np

from testbed.agents.common.nets import deterministic_torch
from testbed.envs.safe_navigation import COST_NAMES
from testbed.joint import members
from testbed.registry import make_agent, make_env
from testbed.train.loop import train

ENV = "testbed/safe_navigation_v0"
BASE = {
    "rollout_steps": 1000, "epochs": 10, "minibatches": 4, "entropy_coef": 0.0,
    "constraint": "team", "cost_limit": 3.0, "lagrange_mode": "gradient", "lagrange_lr": 0.05,
}  # fmt: skip


def episode(env, group, seed: int, sample: bool) -> tuple[float, float, np.ndarray]:
    """Team return, team cost and cost parts of one episode (sampled or argmax actions)."""
    obs, _ = env.reset(seed=seed)
    ret = cost = 0.0
    parts = np.zeros(len(COST_NAMES))
    while env.agents:
        masks = dict.fromkeys(obs)
        actions = group.explore(obs, masks) if sample else group.act(obs, masks)
        obs, rewards, _, _, infos = env.step(actions)
        ret += sum(rewards.values())
        cost += sum(i["cost"] for i in infos.values())
        parts += [sum(i["costs"][k] for i in infos.values()) for k in COST_NAMES]
    return ret, cost, parts


def main(tag: str, steps: int, seed: int, overrides: dict) -> None:
    deterministic_torch(seed)
    env = make_env(ENV, continuous_actions=bool(overrides.pop("continuous", False)))
    obs_spaces = {a: env.observation_space(a) for a in env.possible_agents}
    act_spaces = {a: env.action_space(a) for a in env.possible_agents}
    group = make_agent("mappo_lagrangian", obs_spaces, act_spaces, **{**BASE, **overrides})
    history: list[tuple[float, float]] = []
    start = time.time()

    def on_episode(stats, _) -> None:
        history.append((stats.team_return, stats.team_cost))
        if len(history) % 100 == 0:
            ret, cost = np.mean(history[-100:], axis=0)
            lam = [round(lag.value, 2) for lag in group.lagranges]
            print(f"{tag} ep{len(history)} step{stats.end_step} ret {ret:.2f} cost {cost:.1f} "
                  f"lam {lam} {time.time() - start:.0f}s", flush=True)  # fmt: skip

    train(env, members(group), steps, seed, on_episode=on_episode)
    final = {}
    for sample in (False, True):
        runs = [episode(env, group, 10_000 + k, sample) for k in range(30)]
        final["sample" if sample else "argmax"] = {
            "ret": float(np.mean([r[0] for r in runs])),
            "cost": float(np.mean([r[1] for r in runs])),
            "parts": np.mean([r[2] for r in runs], axis=0).round(2).tolist(),
            "p_gt2": float(np.mean([r[1] > 2 for r in runs])),
        }
    print(tag, "FINAL", ENV, json.dumps(final), flush=True)


if __name__ == "__main__":
    tag, steps, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    pairs = (arg.split("=", 1) for arg in sys.argv[4:])
    main(tag, steps, seed, {k: json.loads(v) if v[:1] in "0123456789-[{tfn" else v
                            for k, v in pairs})  # fmt: skip
