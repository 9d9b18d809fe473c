"""Strength ladder of the Breakthrough negamax agents: depth d+1 against depth d, seats swapped.

    .venv/bin/python benchmarks/search_strength.py [--games 100] [--depths 0 1 2 3] [--seed 0]
                                                   [--rows 5] [--cols 5]

For each pair of neighbouring depths, plays `--games` games of `testbed/breakthrough_v0`
(the deeper agent is `player_0` in even games, `player_1` in odd ones) through the harness's
own rollout, and reports the deeper agent's score (win = 1, draw = 1/2) with a 95 % Wilson
interval, its wins from each seat, the mean game length and how many distinct games were
played (the game has no chance; variety comes from each agent's seeded random tie-breaks).
Also reports the time per move at each depth and the positions searched per move. Prints a
table and writes benchmarks/results/search_strength.json. The ladder holds when every deeper
agent scores above 1/2 with its whole interval.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import gymnasium  # noqa: F401  (before pettingzoo, see docs/STACK.md trap 4)
import numpy as np

from testbed.registry import make_agent, make_env
from testbed.rollout.episode import run_episode
from testbed.rollout.team import PolicyTeam
from testbed.seeding import episode_seeds

ENV_ID = "testbed/breakthrough_v0"
AGENT_ID = "scripted/breakthrough_search"
RESULTS = Path(__file__).parent / "results" / "search_strength.json"


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion (a draw counts as half a success)."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float(centre - half), float(centre + half)


class Timed:
    """A Policy that records how long each `act` of the wrapped policy takes."""

    def __init__(self, policy: Any):
        self.policy = policy
        self.seconds: list[float] = []
        self.nodes: list[int] = []

    def reset(self, seed: int | None = None) -> None:
        self.policy.reset(seed)

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        start = time.perf_counter()
        action = self.policy.act(observation, action_mask)
        self.seconds.append(time.perf_counter() - start)
        self.nodes.append(getattr(self.policy, "nodes", 0))
        return action


def play_pair(
    deeper: int,
    shallower: int,
    games: int,
    seed: int,
    env_params: dict[str, Any],
    move_times: dict[int, list[float]],
    move_nodes: dict[int, list[int]],
) -> dict[str, Any]:
    env = make_env(ENV_ID, **env_params)
    obs_space, act_space = env.observation_space("player_0"), env.action_space("player_0")
    agents = {
        d: Timed(make_agent(AGENT_ID, obs_space, act_space, depth=d)) for d in (deeper, shallower)
    }
    scores, lengths, seat_wins, sequences = [], [], [0, 0], set()
    for game, game_seed in enumerate(episode_seeds(seed, games, stream=f"{deeper}v{shallower}")):
        deep_seat = game % 2
        seats = [agents[shallower], agents[shallower]]
        seats[deep_seat] = agents[deeper]
        moves: list[int] = []
        record = run_episode(
            env,
            PolicyTeam({"player_0": seats[0], "player_1": seats[1]}),
            game_seed,
            on_step=lambda _n, actions, _r, _c, moves=moves: moves.extend(
                map(int, actions.values())
            ),
        )
        deep_return = record.agents[f"player_{deep_seat}"].ret
        scores.append((deep_return + 1) / 2)
        seat_wins[deep_seat] += deep_return > 0
        lengths.append(record.length)
        sequences.add(tuple(moves))
    for d, agent in agents.items():
        move_times[d].extend(agent.seconds)
        move_nodes[d].extend(agent.nodes)
    low, high = wilson_interval(sum(scores), games)
    return {
        "deeper": deeper,
        "shallower": shallower,
        "games": games,
        "deeper_wins": int(sum(s == 1 for s in scores)),
        "draws": int(sum(s == 0.5 for s in scores)),
        "shallower_wins": int(sum(s == 0 for s in scores)),
        "deeper_score": float(np.mean(scores)),
        "deeper_score_ci95": [low, high],
        "deeper_wins_as_player_0": seat_wins[0],
        "deeper_wins_as_player_1": seat_wins[1],
        "mean_plies": float(np.mean(lengths)),
        "distinct_games": len(sequences),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=100, help="games per pair of depths")
    parser.add_argument("--depths", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--seed", type=int, default=0, help="root seed of the game seeds")
    parser.add_argument("--rows", type=int, default=5)
    parser.add_argument("--cols", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    depths = sorted(set(args.depths))
    env_params = {"rows": args.rows, "cols": args.cols}
    move_times: dict[int, list[float]] = {d: [] for d in depths}
    move_nodes: dict[int, list[int]] = {d: [] for d in depths}
    pairs = []
    started = time.perf_counter()
    print(f"{ENV_ID} {env_params}, {args.games} games per pair, seats swapped every game")
    print(f"{'pair':>8} {'score':>6} {'95% CI':>15} {'W-D-L':>10} {'plies':>6} {'distinct':>8}")
    for shallower, deeper in zip(depths[:-1], depths[1:], strict=True):
        pair = play_pair(
            deeper, shallower, args.games, args.seed, env_params, move_times, move_nodes
        )
        pairs.append(pair)
        low, high = pair["deeper_score_ci95"]
        wdl = f"{pair['deeper_wins']}-{pair['draws']}-{pair['shallower_wins']}"
        print(
            f"{deeper:>3} v {shallower:<2} {pair['deeper_score']:6.3f} "
            f"[{low:5.3f}, {high:5.3f}] {wdl:>10} {pair['mean_plies']:6.1f} "
            f"{pair['distinct_games']:>8}"
        )
    timing = {}
    print(f"\n{'depth':>5} {'moves':>6} {'mean ms':>8} {'p95 ms':>7} {'max ms':>7} {'nodes':>7}")
    for d in depths:
        ms = np.array(move_times[d]) * 1e3
        timing[str(d)] = {
            "moves": int(ms.size),
            "mean_ms": float(ms.mean()),
            "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)),
            "max_ms": float(ms.max()),
            "mean_nodes": float(np.mean(move_nodes[d])),
        }
        t = timing[str(d)]
        print(
            f"{d:>5} {t['moves']:>6} {t['mean_ms']:8.2f} {t['p95_ms']:7.2f} {t['max_ms']:7.2f} "
            f"{t['mean_nodes']:7.1f}"
        )
    order_holds = all(p["deeper_score_ci95"][0] > 0.5 for p in pairs)
    print(f"\nstrength order {' < '.join(map(str, depths))} holds: {order_holds}")
    result = {
        "env": ENV_ID,
        "env_params": env_params,
        "agent": AGENT_ID,
        "games_per_pair": args.games,
        "seed": args.seed,
        "pairs": pairs,
        "time_per_move": timing,
        "order_holds": order_holds,
        "wall_seconds": time.perf_counter() - started,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
