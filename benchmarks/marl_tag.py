"""MADDPG on MPE simple_tag_v3 against the scripted side, then a real testbed tournament.

    .venv/bin/python benchmarks/marl_tag.py [--seeds 1] [--steps 300000] [--prey-steps 150000]
                                            [--episodes 50] [--no-tournament]

For each seed: train the predators (adversary_0..2, one MADDPG group: decentralized actors,
centralized critics) against `scripted/tag_fleer` prey, then (with --prey-steps > 0) the prey
(agent_0, a one-agent MADDPG group) against `scripted/tag_chaser` predators; evaluate each on
held-out seeds against the scripted side and against random play, next to the scripted and
random baselines measured the same way (`testbed.train.loop.evaluate`). The first seed's team
is saved as joint checkpoints (benchmarks/results/marl/tag_checkpoints/) and enters a real
tournament (`testbed.runner.run` on benchmarks/results/marl/tag_tournament.yaml: sides
predators/prey, duplicate `scoring: match`) with the scripted team, a random team and a
mixed team (trained predators + scripted prey). Writes benchmarks/results/marl/tag.json.

Scores: predators are each paid +10 per predator-prey contact (a team score adds the three),
the prey -10 per contact and a penalty for leaving the arena. Episodes last `max_cycles` = 50
steps, as in scenarios/tournament_tag.yaml.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see docs/STACK.md trap 4)

from testbed import load_scenario
from testbed.agents.common.nets import deterministic_torch
from testbed.agents.marl.maddpg import MADDPG, MADDPGConfig
from testbed.evaluate.stats import summarize
from testbed.joint import members
from testbed.registry import make_agent, make_env
from testbed.registry.checkpoint import save_checkpoint
from testbed.runner import run
from testbed.train.loop import evaluate, train

ENV_ID = "mpe/simple_tag_v3"
ENV_PARAMS = {"max_cycles": 50}
PREDATORS = ["adversary_0", "adversary_1", "adversary_2"]
PREY = ["agent_0"]
CHASER, FLEER = "scripted/tag_chaser", "scripted/tag_fleer"
# The paper's settings (lr 1e-2, gamma 0.95, batch 1024, 2x64 ReLU, tau 0.01, clip 0.5), with
# updates every 50 instead of 100 steps and a 10k- instead of 25.6k-step random warm-up, for a
# budget about 5x smaller than the paper's 60k episodes.
CONFIG = MADDPGConfig(train_freq=50, learning_starts=10_000)
RESULTS = Path(__file__).parent / "results" / "marl"
EVAL_SEED = 10_007


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fixed(env: Any, agent_id: str, agents: list[str]) -> dict[str, Any]:
    return {a: make_agent(agent_id, env.observation_space(a), env.action_space(a)) for a in agents}


def group_for(env: Any, agents: list[str], config: MADDPGConfig) -> MADDPG:
    return MADDPG(
        {a: env.observation_space(a) for a in agents},
        {a: env.action_space(a) for a in agents},
        config,
    )


def score(env: Any, policies: dict[str, Any], agents: list[str], episodes: int) -> float:
    return evaluate(env, policies, EVAL_SEED, episodes, agents=agents)[0]


def train_side(
    env: Any, side: list[str], opponent: dict[str, Any], steps: int, seed: int, cfg: MADDPGConfig
) -> tuple[MADDPG, list[list[float]]]:
    """Train one side as a MADDPG group against fixed opponents; return it and its curve."""
    deterministic_torch(seed)
    group = group_for(env, side, cfg)
    curve: list[list[float]] = []
    window: list[float] = []

    def on_episode(stats: Any, state: Any) -> None:
        window.append(sum(stats.returns[a] for a in side))
        if len(window) == 200:
            curve.append([state.step, round(sum(window) / len(window), 2)])
            print(f"  step {state.step:>7}  mean return (200 ep) {curve[-1][1]:8.2f}", flush=True)
            window.clear()

    train(env, {**members(group), **opponent}, steps, seed, on_episode=on_episode)
    return group, curve


def baselines(env: Any, episodes: int) -> dict[str, float]:
    """Scripted and random sides measured like the trained ones."""
    return {
        "chaser_vs_fleer": score(
            env, {**fixed(env, CHASER, PREDATORS), **fixed(env, FLEER, PREY)}, PREDATORS, episodes
        ),
        "random_predators_vs_fleer": score(
            env, {**fixed(env, "random", PREDATORS), **fixed(env, FLEER, PREY)}, PREDATORS, episodes
        ),
        "chaser_vs_random_prey": score(
            env,
            {**fixed(env, CHASER, PREDATORS), **fixed(env, "random", PREY)},
            PREDATORS,
            episodes,
        ),
        "fleer_vs_chaser": score(
            env, {**fixed(env, CHASER, PREDATORS), **fixed(env, FLEER, PREY)}, PREY, episodes
        ),
        "random_prey_vs_chaser": score(
            env, {**fixed(env, CHASER, PREDATORS), **fixed(env, "random", PREY)}, PREY, episodes
        ),
    }


def run_seed(seed: int, args: argparse.Namespace, cfg: MADDPGConfig) -> dict[str, Any]:
    env = make_env(ENV_ID, **ENV_PARAMS)
    out: dict[str, Any] = {"seed": seed}
    started = time.perf_counter()
    cpu = cpu_seconds()
    print(f"seed {seed}: predators vs {FLEER}, {args.steps} steps", flush=True)
    predators, curve = train_side(env, PREDATORS, fixed(env, FLEER, PREY), args.steps, seed, cfg)
    out["predators"] = {
        "curve": curve,
        "vs_fleer": score(
            env, {**members(predators), **fixed(env, FLEER, PREY)}, PREDATORS, args.episodes
        ),
        "vs_random_prey": score(
            env, {**members(predators), **fixed(env, "random", PREY)}, PREDATORS, args.episodes
        ),
    }
    prey = None
    if args.prey_steps > 0:
        print(f"seed {seed}: prey vs {CHASER}, {args.prey_steps} steps", flush=True)
        prey, curve = train_side(
            env, PREY, fixed(env, CHASER, PREDATORS), args.prey_steps, seed + 1000, cfg
        )
        out["prey"] = {
            "curve": curve,
            "vs_chaser": score(
                env, {**fixed(env, CHASER, PREDATORS), **members(prey)}, PREY, args.episodes
            ),
            "vs_random_predators": score(
                env, {**fixed(env, "random", PREDATORS), **members(prey)}, PREY, args.episodes
            ),
        }
    out["wall_seconds"] = round(time.perf_counter() - started, 1)
    out["cpu_seconds"] = round(cpu_seconds() - cpu, 1)
    out["groups"] = (predators, prey)
    print(f"seed {seed}: {json.dumps({k: v for k, v in out.items() if k != 'groups'})[:400]}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=300_000, help="predator training steps")
    parser.add_argument("--prey-steps", type=int, default=150_000, help="0 = scripted prey")
    parser.add_argument("--episodes", type=int, default=50, help="evaluation episodes")
    parser.add_argument("--rounds", type=int, default=10, help="tournament rounds")
    parser.add_argument("--no-tournament", action="store_true")
    parser.add_argument("--set", nargs="*", default=[], help="config overrides key=value")
    args = parser.parse_args()
    overrides = {k: type(getattr(CONFIG, k))(v) for k, v in (s.split("=") for s in args.set)}
    cfg = replace(CONFIG, **overrides)
    started, cpu = time.perf_counter(), cpu_seconds()
    env = make_env(ENV_ID, **ENV_PARAMS)
    base = baselines(env, args.episodes)
    print("baselines:", base, flush=True)
    runs = [run_seed(seed, args, cfg) for seed in range(args.seeds)]
    result = summarize_runs(runs, base, args, cfg)
    if not args.no_tournament:
        predators, prey = runs[0]["groups"]
        result["tournament"] = tournament(env, predators, prey, cfg, args.rounds)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["cpu_seconds"] = round(cpu_seconds() - cpu, 1)
    result["verdict"] = verdict(result)
    result["rows"] = rows(result, runs)
    result["budget"] = (
        f"{args.steps} predator + {args.prey_steps} prey training steps per seed, "
        f"{args.seeds} seed(s), {result['cpu_seconds']:.0f} CPU s "
        f"({result['wall_seconds']:.0f} s wall on a shared 2-core box)"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "tag.json").write_text(json.dumps(result, indent=2) + "\n")
    print(result["verdict"])


def summarize_runs(
    runs: list[dict[str, Any]], base: dict[str, float], args: argparse.Namespace, cfg: MADDPGConfig
) -> dict[str, Any]:
    predators = [r["predators"]["vs_fleer"] for r in runs]
    result: dict[str, Any] = {
        "title": "MADDPG on MPE simple_tag: predators vs the scripted fleer, prey vs the "
        "scripted chasers, and a tournament of whole teams",
        "env": ENV_ID,
        "env_params": ENV_PARAMS,
        "algorithm": "maddpg",
        "params": asdict(cfg),
        "steps": {"predators": args.steps, "prey": args.prey_steps},
        "seeds": args.seeds,
        "eval_episodes": args.episodes,
        "per_seed": [{k: v for k, v in r.items() if k != "groups"} for r in runs],
        "predators_vs_fleer": summarize(predators).to_dict(),
        "baselines": base,
    }
    if args.prey_steps > 0:
        result["prey_vs_chaser"] = summarize([r["prey"]["vs_chaser"] for r in runs]).to_dict()
    return result


TOURNAMENT = """\
# Written by benchmarks/marl_tag.py: MADDPG teams (joint checkpoints) against the scripted and
# random teams on simple_tag, duplicate-scored as scenarios/tournament_tag.yaml.
name: tag-maddpg
seed: 0
kind: tournament
env: {{id: mpe/simple_tag_v3, params: {{max_cycles: 50}}}}
sides:
  predators: "adversary_*"
  prey: "agent_*"
scoring: match
rounds: {rounds}
leaderboard: tag-maddpg
entrants:
{maddpg}  maddpg_predators:
    agents:
      "adversary_*": {{checkpoint: tag_checkpoints/predators}}
      "agent_*": scripted/tag_fleer
  scripted:
    agents:
      "adversary_*": scripted/tag_chaser
      "agent_*": scripted/tag_fleer
  random:
    agents:
      "*": random
"""
FULL_TEAM = """\
  maddpg:
    agents:
      "adversary_*": {checkpoint: tag_checkpoints/predators}
      "agent_*": {checkpoint: tag_checkpoints/prey}
"""


def save_group(folder: Path, group: MADDPG, cfg: MADDPGConfig, env: Any, note: str) -> None:
    save_checkpoint(
        folder,
        group,
        agent_id="maddpg",
        params=asdict(cfg),
        observation_space={a: env.observation_space(a) for a in group.agents},
        action_space={a: env.action_space(a) for a in group.agents},
        meta={"agents": list(group.agents), "trained": note},
    )


def tournament(
    env: Any, predators: MADDPG, prey: MADDPG | None, cfg: MADDPGConfig, rounds: int
) -> dict[str, Any]:
    """Save the team as joint checkpoints and run a real testbed tournament on them."""
    folder = RESULTS / "tag_checkpoints"
    shutil.rmtree(folder, ignore_errors=True)
    save_group(folder / "predators", predators, cfg, env, f"vs {FLEER}")
    if prey is not None:
        save_group(folder / "prey", prey, cfg, env, f"vs {CHASER}")
    path = RESULTS / "tag_tournament.yaml"
    path.write_text(TOURNAMENT.format(rounds=rounds, maddpg=FULL_TEAM if prey else ""))
    with tempfile.TemporaryDirectory() as tmp:
        result = run(load_scenario(path), Path(tmp) / "out", show=False, db=Path(tmp) / "db")
    stage = result.stages[0]
    keep = (
        "entrant",
        "rank",
        "rating",
        "ci_low",
        "ci_high",
        "wins",
        "draws",
        "losses",
        "forfeits",
        "games",
    )
    board = [{k: row.get(k) for k in keep} for row in stage["leaderboard_table"]]
    print("leaderboard:", [(r["entrant"], r["rank"], r["wins"], r["losses"]) for r in board])
    return {
        "scenario": str(path.relative_to(RESULTS.parent.parent)),
        "status": result.status,
        "matches": stage["matches"],
        "games": len(stage["games"]),
        "leaderboard": board,
        "cross_play": stage["cross_play"],
        "forfeits": stage["forfeits"],
    }


def rows(result: dict[str, Any], runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The collated table: one row per method and metric."""
    base, n = result["baselines"], result["seeds"]
    seconds = sum(r["cpu_seconds"] for r in runs) / len(runs)

    def row(method: str, metric: str, value: Any, seeds: int = 0, steps: int = 0) -> dict:
        if isinstance(value, dict):
            mean, low, high = value["mean"], value["ci_low"], value["ci_high"]
        else:
            mean, low, high = value, None, None
        return {
            "method": method,
            "metric": metric,
            "mean": mean,
            "ci_low": low,
            "ci_high": high,
            "seeds": seeds,
            "steps": steps,
            "seconds_per_seed": round(seconds, 1) if seeds else None,
        }

    pred = "predator team return per episode vs scripted/tag_fleer"
    table = [
        row("maddpg", pred, result["predators_vs_fleer"], n, result["steps"]["predators"]),
        row("scripted/tag_chaser", pred, base["chaser_vs_fleer"]),
        row("random", pred, base["random_predators_vs_fleer"]),
    ]
    if "prey_vs_chaser" in result:
        prey = "prey return per episode vs scripted/tag_chaser"
        table += [
            row("maddpg", prey, result["prey_vs_chaser"], n, result["steps"]["prey"]),
            row("scripted/tag_fleer", prey, base["fleer_vs_chaser"]),
            row("random", prey, base["random_prey_vs_chaser"]),
        ]
    for entry in result.get("tournament", {}).get("leaderboard", []):
        metric = "Bradley-Terry rating in the team tournament (rank in method name)"
        method = f"team {entry['entrant']} (rank {entry['rank']})"
        table.append(
            {
                **row(method, metric, entry["rating"]),
                "ci_low": entry["ci_low"],
                "ci_high": entry["ci_high"],
            }
        )
    return table


def verdict(result: dict[str, Any]) -> str:
    base = result["baselines"]
    pred = result["predators_vs_fleer"]["mean"]
    text = (
        f"MADDPG predators score {pred:.1f} per episode against the scripted fleer, vs "
        f"{base['random_predators_vs_fleer']:.1f} for random predators and "
        f"{base['chaser_vs_fleer']:.1f} for the scripted chaser"
    )
    if "prey_vs_chaser" in result:
        text += (
            f"; the MADDPG prey scores {result['prey_vs_chaser']['mean']:.1f} against the "
            f"chasers, vs {base['fleer_vs_chaser']:.1f} for the scripted fleer and "
            f"{base['random_prey_vs_chaser']:.1f} for random prey"
        )
    text += "."
    curve = result["per_seed"][0]["predators"]["curve"]
    if len(curve) >= 3:
        points = ", ".join(f"{r:g} at {step // 1000}k" for step, r in curve[-3:])
        text += (
            f" Predator training returns (200-episode means) at the end of the "
            f"{result['steps']['predators'] // 1000}k-step budget: {points}."
        )
    board = result.get("tournament", {}).get("leaderboard")
    if board:
        order = [row["entrant"] for row in board]
        text += f" Tournament (Bradley-Terry order): {', '.join(order)}."
        for team in ("maddpg", "maddpg_predators"):
            if team not in order:
                continue
            beaten = [o for o in ("scripted", "random") if order.index(team) < order.index(o)]
            above = " and ".join(beaten) if beaten else "neither scripted nor random"
            below = [o for o in ("scripted", "random") if o not in beaten]
            text += f" Trained team {team} ranks above {above}"
            text += f", below {' and '.join(below)}." if below else "."
        if not all(
            order.index(t) < order.index(o)
            for t in order
            if t.startswith("maddpg")
            for o in ("scripted", "random")
        ):
            text += " The brief's target (trained team above scripted and random) is NOT met."
    return text


if __name__ == "__main__":
    main()
