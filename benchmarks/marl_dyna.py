"""Multi-agent model-based benchmark: Dyna-Q per agent vs Q-learning per agent (issue 20).

    .venv/bin/python benchmarks/marl_dyna.py [--seeds 3] [--steps 30000]

`testbed/four_rooms_team_v0` with 2 agents (slip 1/3, 500-step limit): each agent must reach
the same goal, and agents block each other in the one-cell doorways. Each agent is its own
tabular learner on its own cell, trained with the harness's loop (independent learners, one
per agent): `dyna_q` with PLANNING planning backups per real step from its learned
last-outcome table model, against the same learner with `planning_steps: 0` (plain
Q-learning), all other settings equal (PARAMS). The other agent is part of each agent's
dynamics, so each model sees a world that changes as the other learns.

Learning rate 0.1 for both arms: with 0.5 (four_rooms' setting) Dyna-Q's greedy team got
under 40 steps first (2k-8k env steps vs 8k-9k) but then swung between 30 and 250 steps,
since its last-outcome model replays one sampled outcome of a slippery, shared world many
times with a large step (final 107 [-163, 378] vs Q-learning's 22 [21, 23], 3 seeds, 20k steps).

Every EVAL_EVERY env steps (team steps) the greedy policies play EVAL_EPISODES held-out
episodes; reported: the team's mean episode length (steps until both agents reached the goal,
500 if not), the first evaluated step at which it is <= TARGET_LENGTH, the final length at the
whole budget (FINAL_EPISODES more episodes), wall time, and each Dyna-Q agent's model error
on the final held-out episodes' transitions (share of next cells it predicts wrongly).

Results: benchmarks/results/marl_dyna.json and benchmarks/results/marl_dyna.md.
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

from testbed.agents.common.nets import deterministic_torch
from testbed.evaluate.stats import summarize
from testbed.registry import make_agent, make_env
from testbed.train.loop import train

RESULTS = Path(__file__).parent / "results"
ENV, N_AGENTS, PLANNING = "testbed/four_rooms_team_v0", 2, 10
PARAMS: dict[str, Any] = {
    "learning_rate": 0.1,
    "gamma": 0.99,
    "epsilon_start": 1.0,
    "epsilon_end": 0.05,
    "epsilon_decay_steps": 5000,
}
EVAL_EVERY, EVAL_EPISODES, FINAL_EPISODES, TARGET_LENGTH = 1000, 50, 200, 40.0


def team_length(
    env: Any,
    learners: dict[str, Any],
    first_seed: int,
    episodes: int,
    transitions: list[dict[str, Any]] | None = None,
) -> float:
    """Mean steps until every agent reached the goal (the limit if not), greedy policies;
    appends each agent's transitions to `transitions` (with its name) when given."""
    lengths = []
    for k in range(episodes):
        obs, _ = env.reset(seed=first_seed + k)
        steps = 0
        while env.agents:
            actions = {a: learners[a].act(obs[a]) for a in env.agents}
            following, rewards, terminated, _, _ = env.step(actions)
            if transitions is not None:
                transitions += [
                    {
                        "agent": a,
                        "obs": obs[a],
                        "action": actions[a],
                        "reward": rewards[a],
                        "next_obs": following[a],
                        "terminated": terminated[a],
                    }
                    for a in actions
                ]
            obs, steps = following, steps + 1
        lengths.append(steps)
    return float(np.mean(lengths))


def run_seed(planning: int, seed: int, steps: int) -> dict[str, Any]:
    deterministic_torch(seed)
    env, eval_env = make_env(ENV, n_agents=N_AGENTS), make_env(ENV, n_agents=N_AGENTS)
    learners = {
        a: make_agent(
            "dyna_q",
            env.observation_space(a),
            env.action_space(a),
            planning_steps=planning,
            **PARAMS,
        )
        for a in env.possible_agents
    }
    curve: list[dict[str, float]] = []
    started = time.perf_counter()

    def on_step(state: Any) -> None:
        if state.step % EVAL_EVERY:
            return
        length = team_length(eval_env, learners, 1_000_000 + seed * 10_000, EVAL_EPISODES)
        curve.append(
            {"step": state.step, "team_length": length, "seconds": time.perf_counter() - started}
        )
        print(
            f"  planning {planning} seed {seed} step {state.step:>6}: team length "
            f"{length:.1f} ({curve[-1]['seconds']:.0f} s)",
            flush=True,
        )

    train(env, learners, steps, seed, on_step=on_step)
    seconds = time.perf_counter() - started
    held_out: list[dict[str, Any]] = []
    final = team_length(eval_env, learners, 2_000_000 + seed * 10_000, FINAL_EPISODES, held_out)
    errors = (
        {a: learners[a].model_error([t for t in held_out if t["agent"] == a]) for a in learners}
        if planning
        else {}
    )
    reached = next((p["step"] for p in curve if p["team_length"] <= TARGET_LENGTH), None)
    return {
        "seed": seed,
        "final_team_length": final,
        "first_eval_step_at_target": reached,
        "model_errors": errors,
        "seconds": seconds,
        "curve": curve,
    }


def ci_entry(values: list[float]) -> dict[str, Any]:
    s = summarize(values)
    return {"mean": s.mean, "ci": [s.ci_low, s.ci_high], "n": s.n}


def benchmark(seeds: int, steps: int) -> dict[str, Any]:
    load_before = os.getloadavg()
    arms = {}
    for name, planning in ((f"dyna_q (planning {PLANNING})", PLANNING), ("q_learning", 0)):
        runs = [run_seed(planning, seed, steps) for seed in range(seeds)]
        per_eval = [
            {"step": p["step"], **ci_entry([r["curve"][k]["team_length"] for r in runs])}
            for k, p in enumerate(runs[0]["curve"])
        ]
        arms[name] = {
            "planning_steps": planning,
            "final_team_length": ci_entry([r["final_team_length"] for r in runs]),
            "first_eval_step_at_target": [r["first_eval_step_at_target"] for r in runs],
            "per_eval": per_eval,
            "seconds_per_seed": float(np.mean([r["seconds"] for r in runs])),
            "runs": runs,
        }
    result = {
        "env": ENV,
        "n_agents": N_AGENTS,
        "params": PARAMS,
        "steps": steps,
        "seeds": seeds,
        "target_team_length": TARGET_LENGTH,
        "eval": f"every {EVAL_EVERY} env steps, {EVAL_EPISODES} greedy episodes",
        "arms": arms,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "machine": f"{platform.processor() or platform.machine()}, torch CPU",
    }
    (RESULTS / "marl_dyna.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def fmt(entry: dict[str, Any]) -> str:
    low, high = entry["ci"]
    if any(v is None or np.isnan(v) for v in (low, high)):
        return f"{entry['mean']:.1f}"
    return f"{entry['mean']:.1f} [{low:.1f}, {high:.1f}]"


def write_table() -> str:
    r = json.loads((RESULTS / "marl_dyna.json").read_text())
    load = r["load_average"]
    lines = [
        "# Multi-agent Dyna-Q (benchmarks/marl_dyna.py)",
        "",
        f"{r['env']}, {r['n_agents']} independent tabular learners, {r['steps']:,} env steps, "
        f"{r['seeds']} seeds; greedy team episode length (steps until every agent reached the "
        f"goal; lower is better), {r['eval']}. Load average {load['before'][0]:.1f} -> "
        f"{load['after'][0]:.1f}.",
        "",
        f"| arm | final team length (mean, 95% CI) | first eval step <= "
        f"{r['target_team_length']:.0f}, per seed | s/seed |",
        "|---|---|---|---|",
    ]
    for name, arm in r["arms"].items():
        reached = ", ".join(
            "-" if s is None else f"{s:,}" for s in arm["first_eval_step_at_target"]
        )
        lines.append(
            f"| {name} | {fmt(arm['final_team_length'])} | {reached} | "
            f"{arm['seconds_per_seed']:.0f} |"
        )
    lines += [
        "",
        "Team length at each evaluation (mean, 95% CI):",
        "",
        "| step | " + " | ".join(r["arms"]) + " |",
        "|---|" + "---|" * len(r["arms"]),
    ]
    arms = list(r["arms"].values())
    for k, point in enumerate(arms[0]["per_eval"]):
        lines.append(
            f"| {point['step']:,} | " + " | ".join(fmt(a["per_eval"][k]) for a in arms) + " |"
        )
    dyna = next(a for a in arms if a["planning_steps"])
    wrong = [e["next_state_error"] for run in dyna["runs"] for e in run["model_errors"].values()]
    lines += [
        "",
        f"Dyna-Q models, share of next cells predicted wrongly on the final held-out "
        f"episodes (per agent and seed): mean {np.nanmean(wrong):.2f} (slip 1/3 alone "
        "makes a last-outcome model wrong often; the other agent adds to it).",
        "",
    ]
    text = "\n".join(lines) + "\n"
    (RESULTS / "marl_dyna.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--table", action="store_true", help="only rebuild the table")
    args = parser.parse_args()
    if not args.table:
        benchmark(args.seeds, args.steps)
    print(write_table())


if __name__ == "__main__":
    main()
