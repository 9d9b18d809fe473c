"""Four-rooms part of benchmarks/hierarchy.py: option-critic vs flat learners before and after
the goal moves (Bacon, Harb & Precup 2017, Fig. 4: options recover faster).

    .venv/bin/python benchmarks/hierarchy.py four_rooms [--seeds 10] [--arms ac_pg ...]
    .venv/bin/python benchmarks/hierarchy.py four_rooms --arms ac_pg --only-seed 3  # one run

Each run is saved under results/hierarchy/four_rooms_runs/ (so seeds can run as separate
processes); a call without --only-seed gathers the saved runs into four_rooms.json.

Each learner trains with the harness's loop on `testbed/four_rooms_v0` for `EPISODES`
episodes with the goal at cell 62 (east doorway), then the goal moves to a cell of the
lower-right room drawn per seed (`TRANSFER_GOALS`, the cells of the authors' transfer.py) and
training continues for `EPISODES` more. Learners: tabular `option_critic` with the paper's
settings (4 options, epsilon-greedy policy over options, Algorithm 1), the same with the
Boltzmann policy over options (temperature 1e-2) of the authors' released code
(`option_critic_boltzmann`), the paper's primitive actor-critic AC-PG (`option_critic` with
one option: Q_U(s, a) critic, V baseline, Boltzmann actor at temperature 1e-2), flat
`q_learning` and `dyna_q` with 5 planning steps (critic rate 0.5, epsilon 0.01). The paper's
SARSA(0) with Boltzmann exploration is not run (we have no SARSA agent). The result
is the steps per episode (the paper's measure): the mean over the first 100 episodes, the last
100 before the move and the first 100 after it, with a 95 % t-interval over seeds.

The option-critic run of seed 0 also writes `four_rooms_options.png`: for each option, the
cells where the greedy evaluation policy used it (visits over 100 episodes) and its
termination probability beta_w(s) per cell, after the move.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from testbed.agents.common.nets import deterministic_torch
from testbed.envs.four_rooms import FREE, TRANSFER_GOALS, WALLS
from testbed.evaluate.stats import summarize
from testbed.registry import make_agent, make_env
from testbed.train.loop import train

EPISODES = 1000
FLAT = {"learning_rate": 0.5, "epsilon_start": 0.01, "epsilon_end": 0.01}
LEARNERS: dict[str, tuple[str, dict[str, Any]]] = {
    "option_critic": ("option_critic", {}),
    "option_critic_boltzmann": ("option_critic", {"option_temperature": 0.01}),
    "ac_pg": ("option_critic", {"n_options": 1}),
    "q_learning": ("q_learning", FLAT),
    "dyna_q": ("dyna_q", {**FLAT, "planning_steps": 5}),
}
WINDOWS = {"first_100": (0, 100), "last_100_before": (EPISODES - 100, EPISODES),
           "first_100_after": (EPISODES, EPISODES + 100),
           "last_100_after": (2 * EPISODES - 100, 2 * EPISODES)}  # fmt: skip


class Enough(Exception):
    """Raised by the episode hook when a phase has its episodes."""


def moved_goal(seed: int) -> int:
    """The goal after the move, drawn per seed from the lower-right room (and its west
    doorway), as in Bacon et al. (`TRANSFER_GOALS`, the cells of their transfer.py)."""
    return int(np.random.default_rng(seed).choice(TRANSFER_GOALS))


def run_seed(name: str, seed: int) -> dict[str, Any]:
    agent_id, params = LEARNERS[name]
    deterministic_torch(seed)
    env = make_env("testbed/four_rooms_v0")
    learner = make_agent(agent_id, env.observation_space("agent_0"),
                         env.action_space("agent_0"), **params)  # fmt: skip
    lengths: list[int] = []
    state = None
    started = time.perf_counter()

    def on_episode(stats: Any, _: Any) -> None:
        lengths.append(stats.length)
        if len(lengths) % EPISODES == 0:
            raise Enough

    for phase in range(2):
        if phase == 1:
            env.move_goal(moved_goal(seed))
        try:
            state = train(env, {"agent_0": learner}, 10**9, seed, state=state,
                          on_episode=on_episode)  # fmt: skip
        except Enough:
            pass
    seconds = time.perf_counter() - started
    usage = option_usage(env, learner) if name == "option_critic" else None
    return {"seed": seed, "goal_after": moved_goal(seed), "lengths": lengths,
            "seconds": seconds, "usage": usage, "learner": learner}  # fmt: skip


def option_usage(env: Any, learner: Any, episodes: int = 100) -> list[list[int]]:
    """Visits per (cell, option) of the greedy evaluation policy over `episodes` episodes."""
    counts = np.zeros((len(FREE), learner.config.n_options), int)
    for k in range(episodes):
        obs, _ = env.reset(seed=10**6 + k)
        learner.reset(10**6 + k)
        while env.agents:
            action = learner.act(obs["agent_0"])
            counts[obs["agent_0"], learner.eval_option] += 1
            obs, *_ = env.step({"agent_0": action})
    return counts.tolist()


def plot_options(path: Path, usage: np.ndarray, beta: np.ndarray, goal: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = usage.shape[1]
    fig, axes = plt.subplots(2, n, figsize=(3 * n, 6.2))
    for w in range(n):
        for row, (values, title, cmap) in enumerate(
            ((usage[:, w], "visits", "Blues"), (beta[:, w], "beta", "Reds"))
        ):
            grid = np.full(WALLS.shape, np.nan)
            grid[FREE[:, 0], FREE[:, 1]] = values
            ax = axes[row, w]
            ax.imshow(np.where(WALLS, 0.0, np.nan), cmap="gray_r", vmin=-1, vmax=1)
            image = ax.imshow(grid, cmap=cmap, vmin=0, vmax=1 if title == "beta" else None)
            ax.plot(FREE[goal, 1], FREE[goal, 0], "g*", markersize=12)
            ax.set_title(f"option {w}: {title}")
            ax.set_xticks([])
            ax.set_yticks([])
            fig.colorbar(image, ax=ax, fraction=0.046)
    fig.suptitle("Option-critic on four rooms (seed 0, after the goal moved; star = goal)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def run_and_save(name: str, seed: int, out: Path) -> None:
    """Train one learner on one seed; its episode lengths go to out/four_rooms_runs/."""
    folder = out / "four_rooms_runs"
    folder.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    run = run_seed(name, seed)
    if name == "option_critic" and seed == 0:
        beta = run["learner"].termination_probabilities()
        plot_options(out / "four_rooms_options.png", np.array(run["usage"]), beta,
                     run["goal_after"])  # fmt: skip
    del run["learner"], run["usage"]
    run["load_average"] = [load_before, os.getloadavg()[0]]
    (folder / f"{name}_{seed}.json").write_text(json.dumps(run) + "\n")
    print(f"  {name} seed {seed}: {run['seconds']:.0f} s", flush=True)


def four_rooms(
    seeds: int, out: Path, names: list[str] | None = None, only_seed: int | None = None
) -> dict[str, Any] | None:
    """Run the learners (all, or `names`) on seeds 0..seeds-1 (or only `only_seed`, as one of
    several processes), skipping runs already saved (delete four_rooms_runs/ to rerun), then
    gather every learner whose seeds are all saved."""
    for name in names or list(LEARNERS):
        for seed in [only_seed] if only_seed is not None else range(seeds):
            if (out / "four_rooms_runs" / f"{name}_{seed}.json").exists():
                continue  # saved by an earlier or a parallel call
            run_and_save(name, seed, out)
    return None if only_seed is not None else gather(seeds, out)


def gather(seeds: int, out: Path) -> dict[str, Any]:
    """four_rooms.json from the saved runs of seeds 0..seeds-1."""
    result: dict[str, Any] = {"part": "four_rooms", "episodes_per_phase": EPISODES,
                              "seeds": seeds, "learners": {}}  # fmt: skip
    loads = []
    for name in LEARNERS:
        paths = [out / "four_rooms_runs" / f"{name}_{seed}.json" for seed in range(seeds)]
        if not all(p.exists() for p in paths):
            continue
        runs = [json.loads(p.read_text()) for p in paths]
        loads += [r["load_average"] for r in runs]
        windows = {}
        for key, (a, b) in WINDOWS.items():
            s = summarize([float(np.mean(r["lengths"][a:b])) for r in runs])
            windows[key] = {"mean": s.mean, "ci": [s.ci_low, s.ci_high]}
        curve = np.mean([r["lengths"] for r in runs], axis=0)
        result["learners"][name] = {
            "agent": LEARNERS[name][0],
            "params": LEARNERS[name][1],
            "steps_per_episode": windows,
            "mean_curve_per_50": [
                float(curve[i : i + 50].mean()) for i in range(0, len(curve), 50)
            ],
            "seconds_per_seed": float(np.mean([r["seconds"] for r in runs])),
            "runs": [compact(r) for r in runs],
        }
    result["load_average"] = {"before": [min(x[0] for x in loads)],
                              "after": [max(x[1] for x in loads)]}  # fmt: skip
    (out / "four_rooms.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def compact(run: dict[str, Any]) -> dict[str, Any]:
    """A run as stored: episode lengths as means over blocks of 10 episodes, no usage."""
    lengths = np.asarray(run["lengths"], float)
    blocks = [round(float(lengths[i : i + 10].mean()), 1) for i in range(0, len(lengths), 10)]
    kept = {k: v for k, v in run.items() if k not in ("usage", "lengths", "load_average")}
    return {**kept, "mean_length_per_10_episodes": blocks}


def rooms_table(out: Path) -> list[str]:
    path = out / "four_rooms.json"
    if not path.exists():
        return []
    r = json.loads(path.read_text())
    load = r["load_average"]
    rows = [
        f"## Four rooms ({r['episodes_per_phase']} episodes, goal moved, "
        f"{r['episodes_per_phase']} more; {r['seeds']} seeds; load average "
        f"{load['before'][0]:.2f} -> {load['after'][0]:.2f}, lowest and highest of the runs)",
        "",
        "Steps per episode (mean over the window and seeds, 95% CI); lower is better. The "
        "goal moves from the east doorway to a cell of the lower-right room (Bacon et al.; "
        "an earlier version of this table moved it to the south-west room, where "
        "option-critic took 464 [320, 608] steps per episode over the first 100 after the "
        "move and Q-learning 250 [205, 295]). option_critic: epsilon-greedy policy over "
        "options (the paper's Algorithm 1); option_critic_boltzmann: Boltzmann over "
        "Q_Omega at temperature 1e-2 (the authors' released code); ac_pg: one option, i.e. "
        "primitive actor-critic (the paper's AC-PG). Episodes are cut at 1000 steps and "
        "count as 1000, so windows with cut episodes are lower bounds: AC-PG's 100 episodes "
        "after the move include 627 cut ones over the 10 seeds (269 in its last 100), "
        "option-critic's 64 and Q-learning's 74.",
        "",
        "| learner | first 100 | last 100 before the move | first 100 after | last 100 after "
        "| s/seed |",
        "|---|---|---|---|---|---|",
    ]
    for name, lr in r["learners"].items():
        cells = []
        for key in WINDOWS:
            w = lr["steps_per_episode"][key]
            cells.append(f"{w['mean']:.1f} [{w['ci'][0]:.1f}, {w['ci'][1]:.1f}]")
        rows.append(f"| {name} | {' | '.join(cells)} | {lr['seconds_per_seed']:.1f} |")
    rows += ["", "Where each option acts and ends: `hierarchy/four_rooms_options.png`.", ""]
    return rows
