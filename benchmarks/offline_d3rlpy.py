"""Our offline learners next to an independent implementation, d3rlpy 2.6.1, on the same data:
CQL, IQL and TD3+BC on the Pendulum-v1 mixed dataset of benchmarks/offline.py (every
transition of a whole PPO run), same gradient steps, networks, batch, seeds and held-out
evaluation episodes.

d3rlpy is installed only for this benchmark (2.6.1 is its last release without a gymnasium>=1.0
pin; it pulls the old `gym` package)::

    .venv/bin/pip install --no-deps d3rlpy==2.6.1
    .venv/bin/pip install -c constraints.txt tqdm structlog colorama dataclasses-json gym==0.26.2
    .venv/bin/python benchmarks/offline.py --env pendulum --cache /tmp/pendulum.pkl  # the data
    .venv/bin/python benchmarks/offline_d3rlpy.py --cache /tmp/pendulum.pkl

The mixed data holds the 4 env copies' transitions interleaved step by step (row t is copy
t mod 4); d3rlpy reads episodes as consecutive rows, so each copy's stream is put back in
order first (checked: every row's next observation is the next row's observation inside an
episode). Both sides standardise nothing but what their defaults do: our learners standardise
observations (`normalize_obs`), d3rlpy's get d3rlpy's StandardObservationScaler to match.
Writes benchmarks/results/offline/d3rlpy_pendulum.json and appends nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, docs/STACK.md trap 4)
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from offline import SMALL, train_offline  # noqa: E402

from testbed.evaluate.stats import summarize  # noqa: E402
from testbed.registry import make_env  # noqa: E402
from testbed.train.loop import evaluate  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "offline" / "d3rlpy_pendulum.json"
OURS = {"cql": "cql", "iql": "implicit_q", "td3_bc": "td3_bc"}
COPIES = 4  # ppo_pendulum's num_envs in benchmarks/learning_specs.py


def in_episode_order(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each copy's rows together, in time order; checked contiguous inside episodes."""
    order = np.concatenate([np.arange(c, len(data["rewards"]), COPIES) for c in range(COPIES)])
    ordered = {k: v[order] for k, v in data.items()}
    ends = np.logical_or(ordered["terminations"], ordered["truncations"])
    inside = ~ends[:-1]
    chained = np.all(np.isclose(ordered["next_observations"][:-1], ordered["observations"][1:]), 1)
    assert chained[inside].all() and ends[-1], "the mixed data is not 4 interleaved streams"
    return ordered


class D3rlpyPolicy:
    """A d3rlpy algorithm as a testbed policy (its greedy action)."""

    def __init__(self, algo: Any):
        self.algo = algo

    def reset(self, seed: int | None = None) -> None:
        return None

    def act(self, observation: Any, action_mask: Any = None) -> Any:
        batch = np.asarray(observation, dtype=np.float32)[None]
        return np.asarray(self.algo.predict(batch)[0], dtype=np.float32)


def d3rlpy_algo(name: str, seed: int) -> Any:
    import d3rlpy

    d3rlpy.seed(seed)
    encoder = d3rlpy.models.VectorEncoderFactory(hidden_units=list(SMALL["hidden"]))
    common = {
        "batch_size": SMALL["batch_size"],
        "observation_scaler": d3rlpy.preprocessing.StandardObservationScaler(),
        "actor_encoder_factory": encoder,
        "critic_encoder_factory": encoder,
    }
    if name == "cql":
        config = d3rlpy.algos.CQLConfig(n_action_samples=4, **common)
    elif name == "iql":
        config = d3rlpy.algos.IQLConfig(value_encoder_factory=encoder, **common)
    else:
        config = d3rlpy.algos.TD3PlusBCConfig(**common)
    return config.create(device="cpu:0")


def run_d3rlpy(name: str, data: dict[str, np.ndarray], seed: int, steps: int, episodes: int):
    import d3rlpy
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    dataset = d3rlpy.dataset.MDPDataset(
        observations=data["observations"].astype(np.float32),
        actions=data["actions"].astype(np.float32),
        rewards=data["rewards"].astype(np.float32),
        terminals=data["terminations"].astype(np.float32),
        timeouts=data["truncations"].astype(np.float32),
        action_space=d3rlpy.ActionSpace.CONTINUOUS,
    )
    algo = d3rlpy_algo(name, seed)
    started = time.perf_counter()
    algo.fit(dataset, n_steps=steps, n_steps_per_epoch=steps, show_progress=False,
             save_interval=10**9, experiment_name=f"bench-{name}-{seed}", with_timestamp=False,
             logger_adapter=d3rlpy.logging.NoopAdapterFactory())  # fmt: skip
    seconds = time.perf_counter() - started
    env = make_env("gym/Pendulum-v1")
    agent = env.possible_agents[0]
    ret, _ = evaluate(env, {agent: D3rlpyPolicy(algo)}, 10_000 + seed, episodes)
    env.close()
    return {"seed": seed, "return": ret, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True, help="benchmarks/offline.py's pickle")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--eval-episodes", type=int, default=10)
    args = parser.parse_args()
    datasets, _ = pickle.loads(args.cache.read_bytes())
    mixed = in_episode_order(datasets["mixed"])
    load = os.getloadavg()
    results: dict[str, Any] = {}
    for name, ours in OURS.items():
        row = {}
        for side in ("testbed", "d3rlpy"):
            runs = [
                train_offline("pendulum", ours, mixed, s, args.steps, args.eval_episodes)
                if side == "testbed"
                else run_d3rlpy(name, mixed, s, args.steps, args.eval_episodes)
                for s in range(args.seeds)
            ]
            s = summarize([r["return"] for r in runs])
            row[side] = {"mean": s.mean, "ci": [s.ci_low, s.ci_high], "runs": runs}
            print(f"{name:>6} {side:>7}: {s.mean:8.1f} [{s.ci_low:.1f}, {s.ci_high:.1f}]",
                  flush=True)  # fmt: skip
        results[name] = row
    RESULTS.write_text(json.dumps({
        "data": "Pendulum-v1 mixed (benchmarks/offline.py), copies put back in episode order",
        "gradient_steps": args.steps, "seeds": args.seeds, "eval_episodes": args.eval_episodes,
        "network": SMALL, "cql_action_samples": 4, "d3rlpy": "2.6.1",
        "load_average_before": load, "load_average_after": os.getloadavg(), "results": results,
    }, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
