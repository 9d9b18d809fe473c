"""Offline RL benchmark: BC, CQL, IQL (`implicit_q`) and TD3+BC on locally generated datasets
of three qualities, CartPole-v1 (discrete) and Pendulum-v1 (continuous), 3 seeds each.

    .venv/bin/python benchmarks/offline.py --env cartpole      # or pendulum
    .venv/bin/python benchmarks/offline.py --table             # only rebuild the table

Data (one PPO training run per env, seed 0, the settings of benchmarks/learning_specs.py):
- expert: the final policy (`act`), `episodes` episodes;
- medium: the saved checkpoint (every tenth of the run) whose return is closest to halfway
  between random play and the expert, playing its behaviour policy (`explore`, sampling);
- mixed: every transition PPO observed during its whole training run (a replay of the run,
  recorded from the learner's `observe_batch`).
Datasets are built in memory as the transition arrays `load_data` takes (the same as
testbed/datasets/transitions.py gives from a Minari dataset). Each algorithm then trains
`--steps` gradient steps from the data alone (seeds 0..2; torch deterministic, 1 thread) and
its `act` policy is evaluated on `--eval-episodes` held-out episodes. Networks are smaller
than the papers' (64-64, batch 256; CQL's 10 action samples kept) to fit a shared 2-core
machine; the load average is recorded. Writes benchmarks/results/offline/<env>.json and the
table benchmarks/results/offline.md (mean return and 95 % t-interval over the 3 seeds).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see docs/STACK.md trap 4)
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from learning_specs import SPECS  # noqa: E402

from testbed.agents.common.nets import deterministic_torch  # noqa: E402
from testbed.datasets.collect import play_and_record  # noqa: E402
from testbed.datasets.transitions import to_transitions  # noqa: E402
from testbed.evaluate.stats import summarize  # noqa: E402
from testbed.registry import make_agent, make_env  # noqa: E402
from testbed.rollout.make_vec import make_vec_env  # noqa: E402
from testbed.rollout.team import PolicyTeam  # noqa: E402
from testbed.seeding import stream_seed  # noqa: E402
from testbed.train.loop import evaluate  # noqa: E402
from testbed.train.vector_loop import train_vectorized  # noqa: E402

RESULTS = Path(__file__).parent / "results"
ENVS = {
    "cartpole": {"spec": "ppo", "episodes": 20, "random": 22.0,
                 "algos": ["bc", "cql", "implicit_q"]},
    "pendulum": {"spec": "ppo_pendulum", "episodes": 50, "random": -1230.0,
                 "algos": ["bc", "cql", "implicit_q", "td3_bc"],
                 "params": {"cql": {"n_action_samples": 4}}},
}  # fmt: skip
SMALL = {"hidden": [64, 64], "batch_size": 256}


class Recorder:
    """Wraps a batch learner: every TransitionBatch it observes is kept (the mixed data)."""

    def __init__(self, learner: Any):
        self.learner = learner
        self.rows: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.learner, name)

    def observe_batch(self, batch: Any) -> None:
        self.rows.append(copy.deepcopy(batch))
        self.learner.observe_batch(batch)

    def data(self) -> dict[str, Any]:
        cat = lambda f: np.concatenate([getattr(b, f) for b in self.rows])  # noqa: E731
        return {
            "observations": cat("obs"),
            "next_observations": cat("next_obs"),
            "actions": cat("action"),
            "rewards": cat("reward").astype(np.float32),
            "costs": cat("cost").astype(np.float32),
            "terminations": cat("terminated").astype(bool),
            "truncations": cat("truncated").astype(bool),
        }


def play(env: Any, policy: Any, episodes: int, seed: int, mode: str) -> dict[str, Any]:
    agent = env.possible_agents[0]
    team = PolicyTeam({agent: policy})
    played = [
        play_and_record(env, team, stream_seed(seed, "data", k), policy=mode)[agent]
        for k in range(episodes)
    ]
    return to_transitions(played, env.observation_space(agent), env.action_space(agent))


def returns_of(data: dict[str, Any]) -> float:
    """Mean episode return in a dataset (episodes end at terminations or truncations)."""
    ends = data["terminations"] | data["truncations"]
    total, episodes, ret = 0.0, 0, 0.0
    for r, end in zip(data["rewards"], ends, strict=True):
        ret += float(r)
        if end:
            total, episodes, ret = total + ret, episodes + 1, 0.0
    return total / max(episodes, 1)


def make_datasets(name: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    setup = ENVS[name]
    spec = SPECS[setup["spec"]]
    deterministic_torch(0)
    env = make_env(spec.env, **spec.env_params)
    agent = env.possible_agents[0]
    obs_space, act_space = env.observation_space(agent), env.action_space(agent)
    learner = make_agent(spec.agent, obs_space, act_space, **spec.params)
    recorder = Recorder(learner)
    snapshots: list[tuple[int, dict[str, Any]]] = []
    every = spec.steps // 10

    def on_step(state: Any) -> None:
        if state.step // every > len(snapshots):
            snapshots.append((state.step, copy.deepcopy(learner.state_dict())))

    started = time.perf_counter()
    copies = make_vec_env(spec.env, spec.num_envs, **spec.env_params)
    train_vectorized(copies, {agent: recorder}, spec.steps, 0, on_step=on_step)
    copies.close()
    scores = []
    for step, state in snapshots:
        policy = make_agent(spec.agent, obs_space, act_space, **spec.params)
        policy.load_state_dict(state)
        ret, _ = evaluate(env, {agent: policy}, 123, 5)
        scores.append((step, ret, policy))
    expert_return = scores[-1][1]
    halfway = (setup["random"] + expert_return) / 2
    medium_step, medium_return, medium = min(scores, key=lambda s: abs(s[1] - halfway))
    n = setup["episodes"]
    datasets = {
        "expert": play(env, learner, n, 1, "act"),
        "medium": play(env, medium, n, 2, "explore"),
        "mixed": recorder.data(),
    }
    info = {
        "expert_training_seconds": time.perf_counter() - started,
        "checkpoint_returns": {int(s): float(r) for s, r, _ in scores},
        "medium_checkpoint": int(medium_step),
        "medium_checkpoint_return": float(medium_return),
        "datasets": {
            k: {"transitions": len(d["rewards"]), "mean_episode_return": returns_of(d)}
            for k, d in datasets.items()
        },
    }
    env.close()
    return datasets, info


def train_offline(env_name: str, algo: str, data: dict[str, Any], seed: int, steps: int,
                  episodes: int) -> dict[str, float]:  # fmt: skip
    spec = SPECS[ENVS[env_name]["spec"]]
    deterministic_torch(seed)
    env = make_env(spec.env, **spec.env_params)
    agent = env.possible_agents[0]
    params = {**SMALL, **ENVS[env_name].get("params", {}).get(algo, {})}
    learner = make_agent(algo, env.observation_space(agent), env.action_space(agent), **params)
    learner.load_data(data)
    started = time.perf_counter()
    for _ in range(steps):
        learner.update()
    seconds = time.perf_counter() - started
    ret, _ = evaluate(env, {agent: learner}, 10_000 + seed, episodes)
    env.close()
    return {"seed": seed, "return": ret, "seconds": seconds}


def run_env(name: str, steps: int, seeds: int, episodes: int, cache: Path | None) -> dict[str, Any]:
    load_before = os.getloadavg()
    if cache is not None and cache.exists():
        datasets, info = pickle.loads(cache.read_bytes())
    else:
        datasets, info = make_datasets(name)
        if cache is not None:
            cache.write_bytes(pickle.dumps((datasets, info)))
    print(json.dumps(info, indent=1), flush=True)
    results: dict[str, Any] = {}
    out = {
        "env": SPECS[ENVS[name]["spec"]].env,
        "gradient_steps": steps,
        "seeds": seeds,
        "eval_episodes": episodes,
        "network": SMALL,
        "params": ENVS[name].get("params", {}),
        "load_average_before": load_before,
        **info,
        "results": results,
        "complete": False,
    }
    path = RESULTS / "offline" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    for quality, data in datasets.items():
        for algo in ENVS[name]["algos"]:
            runs = [train_offline(name, algo, data, s, steps, episodes) for s in range(seeds)]
            s = summarize([r["return"] for r in runs])
            results.setdefault(quality, {})[algo] = {
                "mean": s.mean, "ci": [s.ci_low, s.ci_high], "runs": runs,
            }  # fmt: skip
            print(f"{name} {quality:>6} {algo:>10}: {s.mean:8.1f} [{s.ci_low:.1f}, "
                  f"{s.ci_high:.1f}]  load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
            out["load_average_after"] = os.getloadavg()
            path.write_text(json.dumps(out, indent=2) + "\n")  # partial results survive
    out["complete"] = True
    path.write_text(json.dumps(out, indent=2) + "\n")
    return out


def write_table() -> str:
    lines = []
    for name in ENVS:
        path = RESULTS / "offline" / f"{name}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        algos = ENVS[name]["algos"]
        lines += [
            f"### {r['env']}: {r['gradient_steps']:,} gradient steps, {r['seeds']} seeds, "
            f"{r['eval_episodes']} eval episodes each; load average "
            f"{r['load_average_before'][0]:.1f} -> {r['load_average_after'][0]:.1f}; "
            f"64-64 networks, batch 256; overrides {r.get('params') or 'none'}"
            + ("" if r.get("complete", True) else " (**incomplete run**)"),
            "",
            "| data | transitions | data return | " + " | ".join(algos) + " |",
            "|---|---|---|" + "---|" * len(algos),
        ]
        for quality, row in r["results"].items():
            d = r["datasets"][quality]
            best = max(row[a]["mean"] for a in algos if a in row)
            cells = []
            for a in algos:
                if a not in row:
                    cells.append("not run")
                    continue
                m, (lo, hi) = row[a]["mean"], row[a]["ci"]
                cell = f"{m:.1f} [{lo:.1f}, {hi:.1f}]"
                cells.append(f"**{cell}**" if m == best else cell)
            lines.append(
                f"| {quality} | {d['transitions']:,} | {d['mean_episode_return']:.1f} | "
                + " | ".join(cells) + " |"
            )  # fmt: skip
        lines.append("")
    table = "\n".join(lines)
    (RESULTS / "offline.md").write_text(table)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", choices=sorted(ENVS))
    parser.add_argument("--steps", type=int, default=5000, help="gradient steps per run")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--cache", type=Path, help="pickle of the datasets (made if missing)")
    parser.add_argument("--table", action="store_true")
    args = parser.parse_args()
    if not args.table:
        if args.env is None:
            parser.error("--env is required (or --table)")
        run_env(args.env, args.steps, args.seeds, args.eval_episodes, args.cache)
    print(write_table())


if __name__ == "__main__":
    main()
