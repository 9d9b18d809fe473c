"""How much the scripted agents beat the random (and no-op) baselines, on fixed seeds.

    .venv/bin/python benchmarks/baselines.py [--games 200] [--episodes 100]

Prints a markdown table and writes benchmarks/results/baselines.json. Uses plain PettingZoo
loops (not the testbed harness) so it measures the agents alone. Figures:

- board games: the scripted player's win / draw / loss rate against `random`, half of the games
  as first player; `random` against `random` for reference;
- spread: mean team return per episode (sum over agents and steps; higher is better);
- tag: tags per episode (steps with a predator touching a prey, counted per predator-prey
  pair: the adversaries' shared reward / 10) for chasers and for random predators, against
  random prey and against fleeing prey.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from testbed.registry import make_agent, make_env

RESULTS = Path(__file__).parent / "results" / "baselines.json"


def play_aec(env: Any, policies: dict[str, Any], seed: int) -> dict[str, float]:
    """One game of an AEC env; returns each agent's total reward."""
    env.reset(seed=seed)
    for i, agent in enumerate(env.possible_agents):
        policies[agent].reset(seed=seed * 100 + i)
    totals = dict.fromkeys(env.possible_agents, 0.0)
    for agent in env.agent_iter():
        observation, reward, termination, truncation, _ = env.last()
        totals[agent] += float(reward)
        if termination or truncation:
            action = None
        else:
            action = policies[agent].act(observation, observation["action_mask"])
        env.step(action)
    return totals


def play_parallel(env: Any, policies: dict[str, Any], seed: int) -> dict[str, float]:
    """One episode of a parallel env; returns each agent's total reward."""
    observations, _ = env.reset(seed=seed)
    for i, agent in enumerate(env.possible_agents):
        policies[agent].reset(seed=seed * 100 + i)
    totals = dict.fromkeys(env.possible_agents, 0.0)
    while env.agents:
        actions = {agent: policies[agent].act(observations[agent]) for agent in env.agents}
        observations, rewards, _, _, _ = env.step(actions)
        for agent, reward in rewards.items():
            totals[agent] += float(reward)
    return totals


def policies_for(env: Any, choose: Callable[[str], str], **params: Any) -> dict[str, Any]:
    """Build `choose(agent)`'s registered agent for every agent of `env`."""
    return {
        agent: make_agent(
            choose(agent), env.observation_space(agent), env.action_space(agent), **params
        )
        for agent in env.possible_agents
    }


def board_game(env_id: str, bot: str, opponent: str, games: int) -> dict[str, float]:
    """Win / draw / loss rates of `bot` against `opponent`; `bot` moves first in even games."""
    env = make_env(env_id)
    first, second = env.possible_agents
    outcomes = []
    for game in range(games):
        bot_seat = first if game % 2 == 0 else second
        policies = policies_for(env, lambda a, s=bot_seat: bot if a == s else opponent)
        outcomes.append(np.sign(play_aec(env, policies, seed=game)[bot_seat]))
    outcomes = np.asarray(outcomes)
    return {
        "win": float(np.mean(outcomes > 0)),
        "draw": float(np.mean(outcomes == 0)),
        "loss": float(np.mean(outcomes < 0)),
    }


def spread(agent: str, episodes: int, continuous: bool = False) -> float:
    """Mean team return (sum over agents and steps) of `agent` on every simple_spread seat."""
    env = make_env("mpe/simple_spread_v3", continuous_actions=continuous)
    policies = policies_for(env, lambda _: agent)
    returns = [sum(play_parallel(env, policies, seed=e).values()) for e in range(episodes)]
    return float(np.mean(returns))


def tag(predator: str, prey: str, episodes: int) -> dict[str, float]:
    """Tags per episode and the prey's mean return on simple_tag (3 predators, 1 prey)."""
    env = make_env("mpe/simple_tag_v3")
    policies = policies_for(env, lambda a: predator if a.startswith("adversary") else prey)
    results = [play_parallel(env, policies, seed=e) for e in range(episodes)]
    return {
        "tags_per_episode": float(np.mean([r["adversary_0"] / 10 for r in results])),
        "prey_return": float(np.mean([r["agent_0"] for r in results])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=200, help="games per board-game pairing")
    parser.add_argument("--episodes", type=int, default=100, help="episodes per MPE pairing")
    args = parser.parse_args()
    start = time.perf_counter()
    results: dict[str, Any] = {"games": args.games, "episodes": args.episodes}
    for env_id, bot in (
        ("classic/connect_four_v3", "scripted/connect_four"),
        ("classic/tictactoe_v3", "scripted/tictactoe"),
    ):
        results[env_id] = {
            f"{bot} vs random": board_game(env_id, bot, "random", args.games),
            "random vs random": board_game(env_id, "random", "random", args.games),
        }
    results["mpe/simple_spread_v3"] = {
        name: spread(agent, args.episodes, continuous)
        for name, agent, continuous in (
            ("scripted/spread_nearest (discrete)", "scripted/spread_nearest", False),
            ("scripted/spread_nearest (continuous)", "scripted/spread_nearest", True),
            ("random (discrete)", "random", False),
            ("random (continuous)", "random", True),
            ("noop (discrete)", "noop", False),
        )
    }
    results["mpe/simple_tag_v3"] = {
        f"{predator} vs {prey}": tag(predator, prey, args.episodes)
        for predator, prey in (
            ("scripted/tag_chaser", "random"),
            ("random", "random"),
            ("scripted/tag_chaser", "scripted/tag_fleer"),
            ("random", "scripted/tag_fleer"),
        )
    }
    results["seconds"] = round(time.perf_counter() - start, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(to_markdown(results))
    print(f"\nwritten to {RESULTS} in {results['seconds']} s")


def to_markdown(results: dict[str, Any]) -> str:
    lines = ["| env | pairing | result |", "|---|---|---|"]
    for env_id, rows in results.items():
        if not isinstance(rows, dict):
            continue
        for pairing, value in rows.items():
            if isinstance(value, dict):
                text = ", ".join(f"{k} {v:.3g}" for k, v in value.items())
            else:
                text = f"team return {value:.2f}"
            lines.append(f"| {env_id} | {pairing} | {text} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
