"""Safety-Gymnasium traces for the legacy-vs-modern equality check (docs/STACK.md).

One task per family (Point and Car navigation, velocity, Safe Multi-Agent MuJoCo), a fixed seed
and fixed actions; a trace holds per step the team reward, the team cost, the sum of absolute
observation values and, for velocity tasks, the robot's ``x_velocity`` (the quantity the cost
thresholds). `REFERENCE` was written on the legacy stack, where Safety-Gymnasium runs natively::

    .venv/bin/python tests/support/safety_traces.py --write     # legacy stack only
    .venv-modern/bin/python tests/support/safety_traces.py      # the equality table, any stack
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REFERENCE = Path(__file__).resolve().parents[1] / "envs" / "data" / "safety_legacy_traces.json"
SEED = 3
# family -> (env id, steps, actions: "forward" (drive straight: hazards on the way) or "random")
FAMILIES = {
    "point": ("safety/SafetyPointGoal1-v0", 400, "forward"),
    "car": ("safety/SafetyCarGoal1-v0", 1000, "random"),
    "velocity": ("safety/SafetyHalfCheetahVelocity-v1", 300, "random"),
    "multi-agent": ("safety-ma/HalfCheetah-2x3", 300, "random"),
}


def trace(env_id: str, steps: int, actions: str) -> dict[str, list[float]]:
    from testbed.registry import make_env

    env = make_env(env_id)
    observations, _ = env.reset(seed=SEED)
    rng = np.random.default_rng(SEED)
    out: dict[str, list[float]] = {"reward": [], "cost": [], "obs": [], "x_velocity": []}
    for _ in range(steps):
        chosen = {}
        for agent in env.agents:
            shape = env.action_space(agent).shape
            if actions == "forward":
                chosen[agent] = np.array([1.0, 0.3], dtype=np.float32)
            else:
                chosen[agent] = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
        observations, rewards, _, _, infos = env.step(chosen)
        out["reward"].append(float(sum(rewards.values())))
        out["cost"].append(float(sum(info["cost"] for info in infos.values())))
        out["obs"].append(float(sum(np.abs(o).sum() for o in observations.values())))
        first = next(iter(infos.values()), {})
        out["x_velocity"].append(float(first.get("x_velocity", 0.0)))
        if not env.agents:
            break
    env.close()
    return out


def compare(now: dict[str, list[float]], reference: dict[str, list[float]]) -> dict[str, float]:
    """Max absolute difference per recorded quantity (inf when the lengths differ)."""
    return {
        key: (
            float(np.max(np.abs(np.subtract(now[key], reference[key]))))
            if len(now[key]) == len(reference[key])
            else float("inf")
        )
        for key in reference
    }


def table() -> str:
    import gymnasium

    reference = json.loads(REFERENCE.read_text())
    rows = [
        f"gymnasium {gymnasium.__version__}, numpy {np.__version__}; reference: legacy stack",
        "| family | task | steps | return | cost | max abs diff: reward / cost / obs / x_vel |",
        "|---|---|---|---|---|---|",
    ]
    for family, (env_id, steps, actions) in FAMILIES.items():
        now = trace(env_id, steps, actions)
        diff = compare(now, reference[family])
        rows.append(
            f"| {family} | {env_id} | {len(now['reward'])} | {sum(now['reward']):.4f} | "
            f"{sum(now['cost']):.0f} | {diff['reward']:.1e} / {diff['cost']:.1e} / "
            f"{diff['obs']:.1e} / {diff['x_velocity']:.1e} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    import testbed  # noqa: F401

    if "--write" in sys.argv:
        from testbed._stack import LEGACY, stack

        assert stack() == LEGACY, "the reference is written on the legacy stack"
        traces = {family: trace(*spec) for family, spec in FAMILIES.items()}
        REFERENCE.parent.mkdir(exist_ok=True)
        REFERENCE.write_text(json.dumps(traces) + "\n")
    print(table())
