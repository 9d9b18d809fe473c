"""Goal hierarchy vs flat SAC + HER on PointMaze UMaze at equal env steps (issue 20).

    .venv/bin/python benchmarks/hierarchy_maze.py [--seeds 3] [--steps 30000] [--arm both]
    .venv/bin/python benchmarks/hierarchy_maze.py --table

Arms, trained with the harness's loop (`testbed.train.loop.train`) on `robotics/PointMaze`
(UMaze, sparse reward: -1 per step until within 0.45 of the goal, then the episode ends;
300 steps; goal and start cells drawn by the env from the episode seed):

- `goal_hierarchy`: HIRO-style (agents/hierarchical/goal_hierarchy.py): a high-level TD3
  sets a subgoal offset (|offset| <= 1 per axis) every k = 10 steps, a low-level TD3 follows
  it; off-policy subgoal correction; HER (future, k = 4) on the high level's desired goal;
- `sac_her`: flat SAC with `her:` (future, k = 4, distance 0.45, relabelled steps end on
  success as the env's do).

Both: learning rate 1e-3, batch 256, [128, 128] nets, 1000 uniform warm-up steps, one
gradient step per env step (the hierarchy's low level; its high level one per 10 steps).
Every EVAL_EVERY env steps the noise-free policy plays EVAL_EPISODES held-out episodes
(seeds disjoint from training); success = the episode reached the goal (`is_success` at
its last step). After training, FINAL_EPISODES more held-out episodes give the final
success rate. Mean and 95 % t-intervals over seeds; wall time per seed, load average.
`--plot` also draws one evaluation episode of the hierarchy with its subgoals.

Results: benchmarks/results/hierarchy_maze.json and .md (one file per arm under
benchmarks/results/hierarchy/maze_<arm>.json), linked from benchmarks/results/hierarchy.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see docs/STACK.md trap 4)
import numpy as np

from testbed._stack import gym_id, stack
from testbed.agents.common.nets import deterministic_torch
from testbed.evaluate.stats import summarize
from testbed.registry import make_agent, make_env
from testbed.train.loop import train

RESULTS = Path(__file__).parent / "results"
ENV = "robotics/PointMaze"
EVAL_EVERY, EVAL_EPISODES, FINAL_EPISODES = 2500, 20, 100
COMMON: dict[str, Any] = {
    "learning_rate": 1e-3,
    "batch_size": 256,
    "hidden": [128, 128],
    "learning_starts": 1000,
    "buffer_size": 200_000,
}
HER = {"strategy": "future", "k": 4, "distance_threshold": 0.45}
ARMS: dict[str, tuple[str, dict[str, Any]]] = {
    "goal_hierarchy": (
        "goal_hierarchy",
        {**COMMON, "k": 10, "subgoal_range": 1.0, "high_her": HER},
    ),
    "sac_her": ("sac", {**COMMON, "her": HER}),
}


def success_rate(env: Any, learner: Any, first_seed: int, episodes: int) -> float:
    """Share of `episodes` (seeds first_seed, ...) that reach the goal (noise-free `act`)."""
    wins = 0.0
    for k in range(episodes):
        obs, _ = env.reset(seed=first_seed + k)
        learner.reset(first_seed + k)
        info: dict[str, Any] = {}
        while env.agents:
            obs, _, _, _, infos = env.step({"agent_0": learner.act(obs["agent_0"])})
            info = infos["agent_0"]
        wins += float(info.get("is_success", 0.0))
    return wins / episodes


def run_seed(arm: str, seed: int, steps: int) -> dict[str, Any]:
    deterministic_torch(seed)
    agent, params = ARMS[arm]
    env, eval_env = make_env(ENV), make_env(ENV)
    learner = make_agent(
        agent, env.observation_space("agent_0"), env.action_space("agent_0"), **params
    )
    curve: list[dict[str, float]] = []
    started = time.perf_counter()

    def on_step(state: Any) -> None:
        if state.step % EVAL_EVERY:
            return
        rate = success_rate(eval_env, learner, 1_000_000 + seed * 10_000, EVAL_EPISODES)
        curve.append(
            {"step": state.step, "success": rate, "seconds": time.perf_counter() - started}
        )
        print(
            f"  {arm} seed {seed} step {state.step:>6}: success {rate:.2f} "
            f"({curve[-1]['seconds']:.0f} s)",
            flush=True,
        )

    train(env, {"agent_0": learner}, steps, seed, on_step=on_step)
    seconds = time.perf_counter() - started
    final = success_rate(eval_env, learner, 2_000_000 + seed * 10_000, FINAL_EPISODES)
    return {
        "seed": seed,
        "final_success": final,
        "seconds": seconds,
        "curve": curve,
        "learner": learner,
    }


def run_arm(arm: str, seeds: int, steps: int, plot: bool) -> dict[str, Any]:
    load_before = os.getloadavg()
    runs = [run_seed(arm, seed, steps) for seed in range(seeds)]
    if plot and arm == "goal_hierarchy":
        draw_subgoals(runs[0]["learner"], RESULTS / "hierarchy" / "maze_subgoals.png")
    for r in runs:
        del r["learner"]
    final = summarize([r["final_success"] for r in runs])
    points = sorted({p["step"] for r in runs for p in r["curve"]})
    curve = []
    for step in points:
        values = [p["success"] for r in runs for p in r["curve"] if p["step"] == step]
        s = summarize(values)
        curve.append({"step": step, "mean": s.mean, "ci": [s.ci_low, s.ci_high]})
    result = {
        "arm": arm,
        "agent": ARMS[arm][0],
        "env": f"{ENV} ({gym_id('PointMaze')}, {stack()} stack)",
        "params": ARMS[arm][1],
        "steps": steps,
        "seeds": seeds,
        "final_success": {
            "mean": final.mean,
            "ci": [final.ci_low, final.ci_high],
            "episodes_per_seed": FINAL_EPISODES,
        },
        "curve": curve,
        "eval_episodes_per_point": EVAL_EPISODES,
        "seconds_per_seed": float(np.mean([r["seconds"] for r in runs])),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "machine": f"{platform.processor() or platform.machine()}, torch CPU, 1 thread",
        "runs": runs,
    }
    path = RESULTS / "hierarchy" / f"maze_{arm}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    return result


def draw_subgoals(learner: Any, path: Path) -> None:
    """One held-out episode of the hierarchy on the UMaze: path, subgoal targets, goal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    env = make_env(ENV)
    obs, _ = env.reset(seed=3_000_000)
    learner.reset(3_000_000)
    maze = env.env.unwrapped.maze
    positions, targets = [obs["agent_0"]["achieved_goal"].copy()], []
    goal = obs["agent_0"]["desired_goal"].copy()
    while env.agents:
        action = learner.act(obs["agent_0"])
        if learner.subgoal_steps == 1:
            targets.append(learner.active_subgoal.copy())
        obs, _, _, _, _ = env.step({"agent_0": action})
        positions.append(obs["agent_0"]["achieved_goal"].copy())
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for row, line in enumerate(maze.maze_map):
        for col, cell in enumerate(line):
            if cell == 1:
                x, y = maze.cell_rowcol_to_xy(np.array([row, col]))
                ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), 1, 1, color="0.6"))
    p, t = np.array(positions), np.array(targets)
    ax.plot(p[:, 0], p[:, 1], "-", color="tab:blue", label="path")
    ax.scatter(
        t[:, 0],
        t[:, 1],
        c=np.arange(len(t)),
        cmap="viridis",
        marker="x",
        label="subgoal (every 10 steps)",
    )
    ax.scatter(*goal, s=200, facecolors="none", edgecolors="tab:red", label="goal (r = 0.45)")
    ax.set_aspect("equal")
    ax.set_xlim(-2.5, 2.5)
    ax.set_ylim(-2.5, 2.5)
    ax.legend(loc="upper center", fontsize=7)
    ax.set_title(f"goal_hierarchy on PointMaze UMaze ({len(p) - 1} steps)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def table() -> list[str]:
    """The PointMaze section (benchmarks/results/hierarchy_maze.md; linked from hierarchy.md)."""
    found = [
        json.loads(p.read_text())
        for arm in ARMS
        if (p := RESULTS / "hierarchy" / f"maze_{arm}.json").exists()
    ]
    if not found:
        return []
    lines = [
        "## PointMaze UMaze: goal hierarchy vs flat SAC + HER at equal env steps",
        "",
        "| arm | env | env steps | seeds | final success (mean, 95% CI) | s/seed | load avg |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in found:
        f, load = r["final_success"], r["load_average"]
        lines.append(
            f"| {r['arm']} | {r['env']} | {r['steps']:,} | {r['seeds']} | {f['mean']:.2f} "
            f"[{f['ci'][0]:.2f}, {f['ci'][1]:.2f}] | {r['seconds_per_seed']:.0f} | "
            f"{load['before'][0]:.1f} -> {load['after'][0]:.1f} |"
        )
    steps = sorted({p["step"] for r in found for p in r["curve"]})
    lines += [
        "",
        f"Success rate on {found[0]['eval_episodes_per_point']} held-out episodes "
        "during training (mean over seeds, 95% CI):",
        "",
        "| env steps | " + " | ".join(r["arm"] for r in found) + " |",
        "|---" * (len(found) + 1) + "|",
    ]
    for step in steps:
        cells = []
        for r in found:
            point = next((p for p in r["curve"] if p["step"] == step), None)
            cells.append(
                "-"
                if point is None
                else f"{point['mean']:.2f} [{point['ci'][0]:.2f}, {point['ci'][1]:.2f}]"
            )
        lines.append(f"| {step:,} | " + " | ".join(cells) + " |")
    if (RESULTS / "hierarchy" / "maze_subgoals.png").exists():
        lines += [
            "",
            "One held-out episode of the hierarchy with its subgoals: "
            "`hierarchy/maze_subgoals.png`.",
        ]
    return [*lines, ""]


def write() -> None:
    """hierarchy_maze.md and hierarchy_maze.json (both arms' summaries)."""
    lines = table()
    (RESULTS / "hierarchy_maze.md").write_text(
        "# PointMaze hierarchy benchmark (benchmarks/hierarchy_maze.py)\n\n" + "\n".join(lines)
    )
    arms = {
        arm: json.loads(p.read_text())
        for arm in ARMS
        if (p := RESULTS / "hierarchy" / f"maze_{arm}.json").exists()
    }
    for r in arms.values():
        r.pop("runs", None)
    (RESULTS / "hierarchy_maze.json").write_text(json.dumps(arms, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--arm", choices=[*ARMS, "both"], default="both")
    parser.add_argument("--plot", action="store_true", help="draw the hierarchy's subgoals")
    parser.add_argument("--table", action="store_true", help="only rebuild the tables")
    args = parser.parse_args()
    if not args.table:
        for arm in ARMS if args.arm == "both" else [args.arm]:
            result = run_arm(arm, args.seeds, args.steps, args.plot)
            print(f"{arm}: final success {result['final_success']['mean']:.2f}", flush=True)
    write()


if __name__ == "__main__":
    main()
