"""Model-based benchmark: PETS on continuous CartPole, MBPO vs SAC on Pendulum (issue 20).

    .venv/bin/python benchmarks/model_based.py pets [--seeds 3] [--trials 5]
    .venv/bin/python benchmarks/model_based.py mbpo [--seeds 3] [--steps 3000]
    .venv/bin/python benchmarks/model_based.py sac [--seeds 3] [--steps 4000]
    .venv/bin/python benchmarks/model_based.py --table

pets: `pets` with the known CartPole reward (`reward_fn: cartpole`, as mbrl-lib's example
and the paper) on `testbed/cartpole_continuous_v0` (200-step trials), trained with the
harness's loop: 200 random steps (finishing the episode under way), then `--trials` trials of
planning, the model refit after each. Reported per trial: its return, and the model's
held-out errors on it (MSE of the predicted next state one step ahead and open loop 5, 10 and
20 steps ahead, measured before the model is refit on that trial). The model of each seed is
saved (benchmarks/results/model_based/pets_seed<k>.pt, loaded with weights_only=True).

The planner is lighter than mbrl-lib's example (population 500, 20 particles, 3 x 200
hidden) so that a seed runs in minutes on 2 shared CPU cores: population 200, 5 particles
(one per member), 3 x 200 hidden; horizon 15, 5 CEM iterations, elite ratio 0.1, alpha 0.1,
50 epochs per refit, as there. Reference (mbrl-lib's PETS example notebook): returns about 41,
55, 116, 186, then 200 from the 5th trial.

mbpo / sac: `mbpo` (learned reward, MBPO_PARAMS: 10 SAC steps per env step on 95 % model
data from one-step rollouts, SAC's nets and learning rate as the plain arm's) and plain `sac`
(rl-baselines3-zoo's Pendulum settings, [256, 256] nets, one gradient step per env step, as
benchmarks/learning.py's 20k-step row) on gym/Pendulum-v1 for `--steps` env steps, both
evaluated every EVAL_EVERY steps with the deterministic policy over EVAL_EPISODES held-out
episodes (the same seeds for both). Reported: the first evaluated step at which each seed
reaches >= -200, the return at each evaluation, the model's held-out errors (mbpo: one-step
and open-loop 5/10/20-step MSE at each refit, on the real data collected since the previous
refit) and wall time. Each seed's MBPO model is saved
(benchmarks/results/model_based/mbpo_seed<k>.pt).
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
import torch

from testbed.agents.common.nets import deterministic_torch
from testbed.evaluate.stats import summarize
from testbed.registry import make_agent, make_env
from testbed.train.loop import evaluate, train

RESULTS = Path(__file__).parent / "results"
PETS_PARAMS: dict[str, Any] = {
    "reward_fn": "cartpole",
    "hidden": [200, 200, 200],
    "population": 200,
    "particles": 5,
    "horizon": 15,
    "iterations": 5,
    "epochs": 50,
    "random_steps": 200,
}


class Done(Exception):
    """Raised by the episode hook after the last trial."""


def run_pets_seed(seed: int, trials: int) -> dict[str, Any]:
    deterministic_torch(seed)
    env = make_env("testbed/cartpole_continuous_v0")
    agent = make_agent("pets", env.observation_space("agent_0"), env.action_space("agent_0"),
                       **PETS_PARAMS)  # fmt: skip
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    was_planning = [False]

    def on_episode(stats: Any, state: Any) -> None:
        if was_planning[0]:  # a trial: the episode was played by the planner
            metrics = state.metrics.get("agent_0", {})
            rows.append({"trial": len(rows) + 1, "return": stats.returns["agent_0"],
                         "length": stats.length, "env_steps": stats.end_step,
                         "seconds": time.perf_counter() - started,
                         **{k: v for k, v in metrics.items() if k.startswith("mse_")}})  # fmt: skip
            print(f"  pets seed {seed} trial {len(rows)}: return {stats.returns['agent_0']:.0f}"
                  f" ({rows[-1]['seconds']:.0f} s)", flush=True)  # fmt: skip
            if len(rows) == trials:
                raise Done
        was_planning[0] = agent.planning

    try:
        train(env, {"agent_0": agent}, 10**7, seed, on_episode=on_episode)
    except Done:
        pass
    path = RESULTS / "model_based" / f"pets_seed{seed}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(agent.model.state_dict(), path)
    return {"seed": seed, "trials": rows, "seconds": time.perf_counter() - started,
            "model_checkpoint": str(path.relative_to(RESULTS))}  # fmt: skip


def pets(seeds: int, trials: int) -> dict[str, Any]:
    load_before = os.getloadavg()
    runs = [run_pets_seed(seed, trials) for seed in range(seeds)]
    per_trial = []
    for k in range(trials):
        entry: dict[str, Any] = {"trial": k + 1}
        for key in ("return", "mse_1_step", "mse_5_step", "mse_10_step", "mse_20_step"):
            values = [r["trials"][k][key] for r in runs if key in r["trials"][k]]
            if values:
                s = summarize(values)
                entry[key] = {"mean": s.mean, "ci": [s.ci_low, s.ci_high], "n": s.n}
        per_trial.append(entry)
    result = {
        "part": "pets",
        "env": "testbed/cartpole_continuous_v0",
        "params": PETS_PARAMS,
        "seeds": seeds,
        "per_trial": per_trial,
        "seeds_reaching_200_by_trial_5": sum(
            any(t["return"] >= 200 for t in r["trials"][:5]) for r in runs
        ),
        "seconds_per_seed": float(np.mean([r["seconds"] for r in runs])),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "machine": f"{platform.processor() or platform.machine()}, torch CPU",
        "reference": "mbrl-lib PETS example: ~41, 55, 116, 186, 200 (trials 1-5)",
        "runs": runs,
    }
    (RESULTS / "model_based").mkdir(parents=True, exist_ok=True)
    (RESULTS / "model_based" / "pets.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


EVAL_EVERY, EVAL_EPISODES, FINAL_EPISODES, TARGET = 250, 5, 20, -200.0
DEFAULT_STEPS = {"mbpo": 3000, "sac": 4000}
MBPO_PARAMS: dict[str, Any] = {
    "members": 5,
    "hidden_model": [200, 200, 200],
    "model_epochs": 20,
    "model_train_freq": 250,
    "random_steps": 500,
    "rollout_batch": 50_000,
    "rollout_length": 1,
    "updates_per_step": 10,
    "learning_rate": 1e-3,
}
SAC_PARAMS: dict[str, Any] = {"learning_rate": 1e-3}


def run_pendulum_seed(algo: str, seed: int, steps: int, until_target: bool) -> dict[str, Any]:
    deterministic_torch(seed)
    env, eval_env = make_env("gym/Pendulum-v1"), make_env("gym/Pendulum-v1")
    params = MBPO_PARAMS if algo == "mbpo" else SAC_PARAMS
    agent = make_agent(algo, env.observation_space("agent_0"), env.action_space("agent_0"),
                       **params)  # fmt: skip
    curve: list[dict[str, Any]] = []
    errors: list[dict[str, float]] = []
    started = time.perf_counter()

    def on_step(state: Any) -> None:
        metrics = state.metrics.get("agent_0", {})
        if "mse_1_step" in metrics and (not errors or errors[-1]["step"] != state.step):
            errors.append({"step": state.step, **{k: v for k, v in metrics.items()
                                                   if k.startswith("mse_")}})  # fmt: skip
        if state.step % EVAL_EVERY == 0:
            ret, _ = evaluate(eval_env, {"agent_0": agent}, 1000 + seed, EVAL_EPISODES)
            curve.append({"step": state.step, "return": ret,
                          "seconds": time.perf_counter() - started})  # fmt: skip
            print(f"  {algo} seed {seed} step {state.step}: return {ret:.0f} "
                  f"({curve[-1]['seconds']:.0f} s)", flush=True)  # fmt: skip
            if until_target and ret >= TARGET:
                raise Done

    try:
        train(env, {"agent_0": agent}, steps, seed, on_step=on_step)
    except Done:
        pass
    seconds = time.perf_counter() - started
    reached = next((p["step"] for p in curve if p["return"] >= TARGET), None)
    final, _ = evaluate(eval_env, {"agent_0": agent}, 10_000 + seed, FINAL_EPISODES)
    run = {"seed": seed, "steps_to_target": reached, "steps_trained": curve[-1]["step"],
           "final_return": final, "curve": curve, "model_errors": errors,
           "seconds": seconds}  # fmt: skip
    if algo == "mbpo":
        path = RESULTS / "model_based" / f"mbpo_seed{seed}.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(agent.model.state_dict(), path)
        run["model_checkpoint"] = str(path.relative_to(RESULTS))
    return run


def pendulum(algo: str, seeds: int, steps: int, until_target: bool) -> dict[str, Any]:
    load_before = os.getloadavg()
    runs = [run_pendulum_seed(algo, seed, steps, until_target) for seed in range(seeds)]
    per_eval = []
    for k in range(max(len(r["curve"]) for r in runs)):
        values = [r["curve"][k]["return"] for r in runs if len(r["curve"]) > k]
        s = summarize(values)
        step = next(r["curve"][k]["step"] for r in runs if len(r["curve"]) > k)
        per_eval.append({"step": step, "mean": s.mean, "ci": [s.ci_low, s.ci_high], "n": s.n})
    reached = [r["steps_to_target"] for r in runs]
    result: dict[str, Any] = {
        "part": algo,
        "env": "gym/Pendulum-v1",
        "params": MBPO_PARAMS if algo == "mbpo" else SAC_PARAMS,
        "steps": steps,
        "seeds": seeds,
        "eval": f"every {EVAL_EVERY} steps, {EVAL_EPISODES} episodes, deterministic policy",
        "until_target": until_target,
        "steps_to_target": reached,
        "all_reached": all(r is not None for r in reached),
        "final_return": ci_entry([r["final_return"] for r in runs]),
        "per_eval": per_eval,
        "seconds_per_seed": float(np.mean([r["seconds"] for r in runs])),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "machine": f"{platform.processor() or platform.machine()}, torch CPU",
        "runs": runs,
    }
    if algo == "mbpo":
        result["model_errors_last_refit"] = {
            key: ci_entry([r["model_errors"][-1][key] for r in runs if r["model_errors"]])
            for key in ("mse_1_step", "mse_5_step", "mse_10_step", "mse_20_step")
        }
    (RESULTS / "model_based").mkdir(parents=True, exist_ok=True)
    (RESULTS / "model_based" / f"{algo}_pendulum.json").write_text(
        json.dumps(result, indent=1) + "\n")  # fmt: skip
    return result


def ci_entry(values: list[float]) -> dict[str, Any]:
    s = summarize(values)
    return {"mean": s.mean, "ci": [s.ci_low, s.ci_high], "n": s.n}


def pendulum_table() -> list[str]:
    runs = {a: RESULTS / "model_based" / f"{a}_pendulum.json" for a in ("mbpo", "sac")}
    found = {a: json.loads(p.read_text()) for a, p in runs.items() if p.exists()}
    if not found:
        return []
    lines = [
        "## MBPO vs SAC on Pendulum-v1 (reach >= -200)",
        "",
        "| algo | env steps | seeds | first eval step >= -200, per seed | final return "
        f"({FINAL_EPISODES} episodes; mean, 95% CI) | s/seed | load avg |",
        "|---|---|---|---|---|---|---|",
    ]
    for algo, r in found.items():
        reached = ", ".join("-" if s is None else f"{s:,}" for s in r["steps_to_target"])
        budget = f"{r['steps']:,}" + (" (a seed stops at its first >= -200)"
                                       if r.get("until_target") else "")  # fmt: skip
        final = ci(r["final_return"], ".0f") if "final_return" in r else "-"
        load = r["load_average"]
        lines.append(f"| {algo} | {budget} | {r['seeds']} | {reached} | {final} | "
                     f"{r['seconds_per_seed']:.0f} | {load['before'][0]:.1f} -> "
                     f"{load['after'][0]:.1f} |")  # fmt: skip
    lines += ["", f"Return at each evaluation ({EVAL_EPISODES} episodes; mean, 95% CI over the "
              "seeds still training):", ""]  # fmt: skip
    for algo, r in found.items():
        lines.append(f"- {algo}: " + "; ".join(f"{e['step']}: {ci(e, '.0f')}"
                                                for e in r["per_eval"]))  # fmt: skip
    if "mbpo" in found:
        errs = found["mbpo"]["model_errors_last_refit"]
        lines += ["", "MBPO model, held-out MSE of the next state at the last refit (mean, "
                  "95% CI over seeds): " + ", ".join(
                      f"{k.split('_')[1]} step{'s' if k.split('_')[1] != '1' else ''} "
                      f"{ci(v, '.2e')}" for k, v in errs.items() if v["n"])]  # fmt: skip
    return [*lines, ""]


def ci(entry: dict[str, Any] | None, fmt: str) -> str:
    if entry is None:
        return "-"
    low, high = entry["ci"]
    if any(v is None or np.isnan(v) for v in (low, high)):
        return format(entry["mean"], fmt)
    return f"{format(entry['mean'], fmt)} [{format(low, fmt)}, {format(high, fmt)}]"


def write_table() -> str:
    lines = ["# Model-based benchmark (benchmarks/model_based.py)", ""]
    path = RESULTS / "model_based" / "pets.json"
    if path.exists():
        r = json.loads(path.read_text())
        load = r["load_average"]
        lines += [
            f"## PETS on continuous CartPole ({r['seeds']} seeds, {r['seconds_per_seed']:.0f} "
            f"s/seed; load average {load['before'][0]:.2f} -> {load['after'][0]:.2f})",
            "",
            f"Seeds reaching 200 by trial 5: {r['seeds_reaching_200_by_trial_5']}/{r['seeds']}."
            f" Reference: {r['reference']}.",
            "",
            "| trial | return (mean, 95% CI) | held-out MSE 1 step | 5 steps | 10 steps "
            "| 20 steps |",
            "|---|---|---|---|---|---|",
        ]
        for e in r["per_trial"]:
            lines.append(
                f"| {e['trial']} | {ci(e.get('return'), '.0f')} | "
                + " | ".join(ci(e.get(f"mse_{k}_step"), ".2e") for k in (1, 5, 10, 20))
                + " |"
            )
        lines.append("")
    lines += pendulum_table()
    text = "\n".join(lines) + "\n"
    (RESULTS / "model_based.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", nargs="?", choices=["pets", "mbpo", "sac"])
    parser.add_argument("--steps", type=int, help="mbpo/sac env steps (3000 / 4000)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--until-target", action="store_true",
                        help="mbpo/sac: stop a seed at its first evaluation >= -200")  # fmt: skip
    parser.add_argument("--table", action="store_true", help="only rebuild the table")
    args = parser.parse_args()
    if args.part == "pets":
        pets(args.seeds, args.trials)
    elif args.part in ("mbpo", "sac"):
        steps = args.steps or DEFAULT_STEPS[args.part]
        pendulum(args.part, args.seeds, steps, args.until_target)
    print(write_table())


if __name__ == "__main__":
    main()
