"""Transfer benchmark (issue 21): Taylor & Stone's (2009) four measures on three pairs.

    nice -n 10 .venv/bin/python benchmarks/transfer.py [--seeds 3] [--pairs cartpole four_rooms mpe]

Each pair trains a source, then the target task once per arm on the same seed through
`kind: train` stages: from scratch, and from the source checkpoint (`init_from:`) with
variants; every arm evaluates at step 0 (`eval_at_start`), then every `eval_every` steps on
held-out episodes (greedy, the target env's reward).

- cartpole: PPO (rl-baselines3-zoo CartPole set, 8 copies) on CartPole-v1, then on a
  variant with a pole twice as long (`length: 1.0`) and a weaker motor (`force_mag: 6`).
  Threshold 475. Arms: full copy; fresh policy head (`reset_head: [actor]`); fresh value head
  (`reset_head: [critic]`); first actor layer frozen; full copy fine-tuned at lr 1e-4 instead
  of 1e-3. Before fine-tuning, the source policy is diagnosed on both envs (`diagnose_ppo`):
  its entropy, greedy return, and its critic's V(s_0) against the return that followed.
- four_rooms: tabular Q-learning (Bacon et al.'s flat baseline settings) on four rooms with
  the goal in the east doorway (cell 62), then with the goal in the south-west room; episodes
  end after 200 steps, so the return is the fraction of evaluation episodes that reach the
  goal. Threshold 0.9.
- mpe: a shared MAPPO (Yu et al.'s settings, 800-step rollouts, 16 batched copies) on
  simple_spread with 3 agents, then with 4 (team return, threshold -105). Arms: `init_from`
  of the plain 3-agent MAPPO (its input layers stay fresh: observations grow from 18 to 24
  values); and, with simple_spread's and MAPPO's `max_agents: 4` (padded observations and
  agent slots, envs/spread_padding.py), a source trained so on 3 agents whose every layer is
  copied, compared with a padded run from scratch.

Reported per arm over seeds (mean and 95 % t-interval): jumpstart, time to threshold
(scratch, transfer), asymptotic performance (mean of the last 3 evaluations), area ratio;
budgets, wall time and machine load. Results: benchmarks/results/transfer.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see STACK.md trap 4)

import testbed
from testbed.envs.four_rooms import cell_of
from testbed.evaluate.stats import summarize
from testbed.scenario.yamlsrc import Source
from testbed.stages import parse_scenario
from testbed.train.transfer import transfer_metrics

RESULTS = Path(__file__).parent / "results"
PPO = {
    "rollout_steps": 256,
    "minibatch_size": 256,
    "epochs": 20,
    "gamma": 0.98,
    "gae_lambda": 0.8,
    "learning_rate": 1e-3,
}
MAPPO = {"rollout_steps": 800}  # Yu et al.'s MPE settings, 32-episode rollouts (marl_spread.py)
MPE_THRESHOLD = -105.0  # 4-agent team return: a pilot scratch run (seed 0) passed it at ~150k
SCRATCH = {"label": "from scratch"}
SOURCE = "@source/agent_0"
PAIRS: dict[str, dict[str, Any]] = {
    "cartpole": {
        "agent": {"id": "ppo", "params": PPO},
        "source_env": {"id": "gym/CartPole-v1"},
        "target_env": {"id": "gym/CartPole-v1", "params": {"length": 1.0, "force_mag": 6.0}},
        "source_steps": 50_000,
        "target_steps": 40_000,
        "eval_every": 4_000,
        "eval_episodes": 10,
        "num_envs": 8,
        "threshold": 475.0,
        "arms": {
            "scratch": SCRATCH,
            "transfer": {"label": "init_from", "init_from": SOURCE},
            "transfer-reset-head": {
                "label": "init_from, reset_head: [actor]",
                "init_from": {"checkpoint": SOURCE, "reset_head": ["actor"]},
            },
            "transfer-reset-critic": {
                "label": "init_from, reset_head: [critic]",
                "init_from": {"checkpoint": SOURCE, "reset_head": ["critic"]},
            },
            "transfer-freeze": {
                "label": "init_from, freeze: [actor.net.0]",
                "init_from": {"checkpoint": SOURCE, "freeze": ["actor.net.0"]},
            },
            "transfer-low-lr": {
                "label": "init_from, learning_rate 1e-4",
                "init_from": SOURCE,
                "params": {"learning_rate": 1e-4},
            },
        },
        "diagnose": True,
    },
    "four_rooms": {
        "agent": {
            "id": "q_learning",
            "params": {"learning_rate": 0.5, "epsilon_start": 0.1, "epsilon_end": 0.1},
        },
        "source_env": {"id": "testbed/four_rooms_v0", "params": {"max_steps": 200}},
        "target_env": {
            "id": "testbed/four_rooms_v0",
            "params": {"max_steps": 200, "goal": cell_of(10, 2)},
        },
        "source_steps": 30_000,
        "target_steps": 30_000,
        "eval_every": 1_500,
        "eval_episodes": 20,
        "num_envs": 1,
        "threshold": 0.9,
        "arms": {"scratch": SCRATCH, "transfer": {"label": "init_from", "init_from": SOURCE}},
    },
    "mpe": {
        "agent": {"id": "mappo", "params": MAPPO},
        "agent_name": "*",
        "source_env": {"id": "mpe/simple_spread_v3", "params": {"N": 3}},
        "target_env": {"id": "mpe/simple_spread_v3", "params": {"N": 4}},
        "source_steps": 300_000,
        "target_steps": 200_000,
        "eval_every": 20_000,
        "eval_episodes": 20,
        "num_envs": 16,
        "threshold": MPE_THRESHOLD,
        "padded": {"env": {"max_agents": 4}, "agent": {"max_agents": 4}},
        "arms": {
            "scratch": SCRATCH,
            "transfer": {"label": "init_from (input layers fresh)", "init_from": "@source/*"},
            "scratch-padded": {"label": "from scratch, max_agents 4", "padded": True},
            "transfer-padded": {
                "label": "init_from, max_agents 4 (every layer)",
                "init_from": "@source-padded/*",
                "padded": True,
                "baseline": "scratch-padded",
            },
        },
    },
}


def _stages(pair: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """The source stage(s) and one target stage per arm."""
    name = pair.get("agent_name", "agent_0")
    common = {"kind": "train", "eval_every": pair["eval_every"],
              "eval_episodes": pair["eval_episodes"], "num_envs": pair["num_envs"]}  # fmt: skip

    def agents(padded: bool, params: dict[str, Any] | None = None) -> dict[str, Any]:
        extra = pair["padded"]["agent"] if padded else {}
        agent = pair["agent"]
        return {name: {"id": agent["id"], "params": {**agent["params"], **extra, **(params or {})}}}

    def env(which: str, padded: bool) -> dict[str, Any]:
        extra = pair["padded"]["env"] if padded else {}
        return {"id": pair[which]["id"], "params": {**pair[which].get("params", {}), **extra}}

    padded_arms = any(arm.get("padded") for arm in pair["arms"].values())
    stages = [{**common, "name": "source", "env": env("source_env", False),
               "agents": agents(False), "steps": pair["source_steps"]}]  # fmt: skip
    if padded_arms:
        stages.append({**stages[0], "name": "source-padded", "env": env("source_env", True),
                       "agents": agents(True)})  # fmt: skip
    for arm_name, arm in pair["arms"].items():
        padded = bool(arm.get("padded"))
        stage = {**common, "name": arm_name, "env": env("target_env", padded),
                 "agents": agents(padded, arm.get("params")), "steps": pair["target_steps"],
                 "eval_at_start": True, "seed": seed + 1000}  # fmt: skip
        if arm.get("init_from"):
            stage["init_from"] = arm["init_from"]
        stages.append(stage)
    return stages


def run_pair(name: str, seed: int, out: Path) -> dict[str, Any]:
    pair = PAIRS[name]
    data = {"name": f"transfer-{name}-{seed}", "seed": seed, "stages": _stages(pair, seed)}
    started = time.perf_counter()
    load = os.getloadavg()[0]
    scenario = parse_scenario(data, Source("benchmarks/transfer.py"))
    result = testbed.run(scenario, out=out / f"{name}-{seed}", show=False)
    by_name = {s.name: s for s in result.stages}
    curves = {
        arm: [(r["step"], r["eval_return"]) for r in by_name[arm].curve] for arm in pair["arms"]
    }
    arms = {
        arm: transfer_metrics(
            curves[spec.get("baseline", "scratch")], curves[arm], pair["threshold"]
        )
        for arm, spec in pair["arms"].items()
        if spec.get("init_from")
    }
    run = {
        "pair": name,
        "seed": seed,
        "source_final": by_name["source"].curve[-1]["eval_return"],
        "curves": curves,
        "arms": arms,
        "seconds": time.perf_counter() - started,
        "load_at_start": load,
        "load_at_end": os.getloadavg()[0],
    }
    if "source-padded" in by_name:
        run["source_padded_final"] = by_name["source-padded"].curve[-1]["eval_return"]
    if pair.get("diagnose"):
        run["diagnosis"] = diagnose_ppo(by_name["source"].checkpoints["agent_0"], pair)
    return run


def diagnose_ppo(folder: str, pair: dict[str, Any], episodes: int = 10) -> dict[str, Any]:
    """The source PPO on the source and on the target env, before any fine-tuning: its policy's
    entropy over the states it visits (sampled actions), the greedy return, and its critic's
    V(s_0) against the discounted return G_0 that followed (gamma of the agent)."""
    import numpy as np
    import torch

    from testbed.registry.checkpoint import load_checkpoint

    out = {}
    for which in ("source_env", "target_env"):
        env = testbed.make_env(pair[which]["id"], **pair[which].get("params", {}))
        agent = load_checkpoint(
            folder, env.observation_space("agent_0"), env.action_space("agent_0")
        )
        gamma = agent.config.gamma
        entropies, v0, g0, greedy = [], [], [], []
        for k in range(episodes):
            torch.manual_seed(k)
            obs, _ = env.reset(seed=50_000 + k)
            rewards, first = [], None
            while env.agents:
                x = torch.as_tensor(np.asarray(obs["agent_0"], np.float32)[None])
                with torch.no_grad():
                    dist = agent.actor.distribution(x, None)
                    if first is None:
                        first = float(agent.critic(x).squeeze())
                    entropies.append(float(dist.entropy().mean()))
                    action = int(dist.sample()[0])
                obs, reward, *_ = env.step({"agent_0": action})
                rewards.append(reward["agent_0"])
            v0.append(first)
            g0.append(float(sum(r * gamma**t for t, r in enumerate(rewards))))
            obs, _ = env.reset(seed=60_000 + k)
            total = 0.0
            while env.agents:
                obs, reward, *_ = env.step({"agent_0": agent.act(obs["agent_0"])})
                total += reward["agent_0"]
            greedy.append(total)
        env.close()
        out[which] = {
            "entropy": float(np.mean(entropies)),
            "value_s0": float(np.mean(v0)),
            "return_g0": float(np.mean(g0)),
            "greedy_return": float(np.mean(greedy)),
            "sampled_length": len(entropies) / episodes,
        }
    return out


def _stat(values: list[Any], digits: int = 1) -> str:
    got = [float(v) for v in values if v is not None]
    if not got:
        return "never"
    never = f" ({len(values) - len(got)} never)" if len(got) < len(values) else ""
    s = summarize(got)
    if len(got) < 2:
        return f"{s.mean:.{digits}f}{never}"
    return f"{s.mean:.{digits}f} [{s.ci_low:.{digits}f}, {s.ci_high:.{digits}f}]{never}"


def table(runs: list[dict[str, Any]]) -> str:
    lines = [
        "# Transfer: Taylor & Stone (2009) measures, init_from vs from scratch (same seeds)",
        "",
        "Mean and 95 % t-interval over seeds. Time to threshold in env steps (the first "
        "evaluation at or above it; `never` counted apart); asymptotic = mean of the last 3 "
        "evaluations; area ratio = (area under transfer - area under scratch) / |area under "
        "scratch| (positive: transfer did better, also for MPE's negative returns). Each "
        "arm is compared with the from-scratch run on the same seed (for MPE's "
        "padded arm: from scratch with the same padding). Per seed: the transfer arm's "
        "asymptotic value of each seed, so no seed hides in a mean. Wall time: the whole pair "
        "(sources and all arms) per seed, on a 2-core machine shared with other runs; load: "
        "1-minute load average at the start and end of each seed. The arms of a seed share "
        "its root seed, but each stage's training and evaluation episodes derive from its "
        "own name, so arms do not play identical episodes (no common random numbers): a "
        "jumpstart compares two 10- or 20-episode evaluations of different episodes.",
        "",
        "| pair: arm | seeds | source final | jumpstart | time to threshold: scratch | transfer "
        "| asymptotic: scratch | transfer | per seed | area ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, pair in PAIRS.items():
        rs = [r for r in runs if r["pair"] == name]
        for arm in rs[0]["arms"] if rs else []:
            lines.append(_row(name, pair, arm, rs, [r["arms"][arm] for r in rs]))
    lines += ["", "| pair | budget (env steps) | wall time per seed (s) | load |",
              "|---|---|---:|---|"]  # fmt: skip
    for name, pair in PAIRS.items():
        rs = [r for r in runs if r["pair"] == name]
        if rs:
            loads = ", ".join(f"{r['load_at_start']:.1f}-{r['load_at_end']:.1f}" for r in rs)
            lines.append(
                f"| {name} | source {pair['source_steps']:,}, each target arm "
                f"{pair['target_steps']:,} ({len(pair['arms'])} arms), eval every "
                f"{pair['eval_every']:,} ({pair['eval_episodes']} episodes) | "
                f"{_stat([r['seconds'] for r in rs], 0)} | {loads} |"
            )
    lines += ["", "## Evaluation curves per seed", ""]
    for r in runs:
        for arm, curve in r["curves"].items():
            values = " ".join(f"{v:.0f}" if abs(v) > 5 else f"{v:.2f}" for _, v in curve)
            lines.append(f"- {r['pair']} seed {r['seed']} {arm}: {values}")
    diagnosed = [r for r in runs if "diagnosis" in r]
    if diagnosed:
        lines += _diagnosis(diagnosed)
    lines.append("")
    return "\n".join(lines)


def _diagnosis(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "",
        "## CartPole: the source policy before fine-tuning (10 sampled and 10 greedy episodes)",
        "",
        "| seed | env | policy entropy (nats; max 0.69) | greedy return | critic V(s_0) | "
        "discounted return G_0 | sampled episode length |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        for which, d in r["diagnosis"].items():
            lines.append(
                f"| {r['seed']} | {which.split('_')[0]} | {d['entropy']:.3f} | "
                f"{d['greedy_return']:.0f} | {d['value_s0']:.1f} | {d['return_g0']:.1f} | "
                f"{d['sampled_length']:.0f} |"
            )
    return lines


def _row(name: str, pair: dict, arm: str, rs: list[dict], m: list[dict]) -> str:
    d = 0 if name in ("cartpole", "mpe") else 2
    spec = pair["arms"][arm]
    final = "source_padded_final" if spec.get("padded") else "source_final"
    per_seed = ", ".join(f"{x['asymptotic_transfer']:.{d}f}" for x in m)
    return (
        f"| {name}: {spec['label']} (threshold {pair['threshold']:g}) | "
        f"{len(rs)} | {_stat([r[final] for r in rs], d)} | "
        f"{_stat([x['jumpstart'] for x in m], d)} | "
        f"{_stat([x['time_to_threshold_scratch'] for x in m], 0)} | "
        f"{_stat([x['time_to_threshold_transfer'] for x in m], 0)} | "
        f"{_stat([x['asymptotic_scratch'] for x in m], d)} | "
        f"{_stat([x['asymptotic_transfer'] for x in m], d)} | {per_seed} | "
        f"{_stat([x['area_ratio'] for x in m], 2)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pairs", nargs="+", choices=list(PAIRS), default=list(PAIRS))
    parser.add_argument(
        "--render", action="store_true", help="recompute the measures and the table from the json"
    )
    parser.add_argument(
        "--results",
        default="transfer",
        help="results file stem (for a run "
        "beside another; merge their `runs` into transfer.json, then --render)",
    )
    args = parser.parse_args()
    stem = args.results
    if args.render:
        saved = json.loads((RESULTS / "transfer.json").read_text())
        for run in saved["runs"]:
            pair = PAIRS[run["pair"]]
            run["arms"] = {
                arm: transfer_metrics(run["curves"][spec.get("baseline", "scratch")],
                                      run["curves"][arm], pair["threshold"])
                for arm, spec in pair["arms"].items() if spec.get("init_from")
            }  # fmt: skip
        (RESULTS / "transfer.json").write_text(json.dumps(saved, indent=1) + "\n")
        (RESULTS / "transfer.md").write_text(table(saved["runs"]))
        return
    old = RESULTS / f"{stem}.json"  # other pairs' runs are kept
    runs: list[dict[str, Any]] = [
        r for r in (json.loads(old.read_text())["runs"] if old.is_file() else [])
        if r["pair"] not in args.pairs
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.pairs:
            for seed in range(args.seeds):
                runs.append(run_pair(name, seed, Path(tmp)))
                r = runs[-1]
                print(f"{name} seed {seed}: {r['arms']} ({r['seconds']:.0f} s)", flush=True)
                RESULTS.mkdir(exist_ok=True)
                (RESULTS / f"{stem}.json").write_text(json.dumps({
                    "pairs": PAIRS, "machine": platform.platform(), "runs": runs,
                    "complete": len(runs) == args.seeds * len(PAIRS),
                }, indent=1) + "\n")  # fmt: skip
                (RESULTS / f"{stem}.md").write_text(table(runs))


if __name__ == "__main__":
    main()
