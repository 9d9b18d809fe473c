"""More PettingZoo envs (SISL, butterfly, classic cards and boards): `id -> EnvSpec`, imports
nothing (factories: testbed/envs/pettingzoo_more.py)."""

from __future__ import annotations

from testbed._stack import MODERN, stack
from testbed.registry.specs import EnvSpec

# PettingZoo 1.25+ (the modern stack) removed or replaced these: they run on the legacy stack.
LEGACY_ONLY = {
    "sisl/pursuit_v4": "PettingZoo 1.25+ replaced it with pursuit_v5",
    "sisl/waterworld_v4": "PettingZoo 1.25+ removed waterworld",
    "butterfly/cooperative_pong_v5": "PettingZoo 1.25+ replaced it with cooperative_pong_v6",
    "classic/gin_rummy_v4": "PettingZoo 1.25+ removed gin_rummy",
}


def missing_here() -> dict[str, str]:
    """{id: why} of the envs of this module that the installed stack cannot run."""
    return LEGACY_ONLY if stack() == MODERN else {}


def _spec(name: str, kind: str, api: str, agents: str, actions: str, text: str, **kw) -> EnvSpec:
    return EnvSpec(f"testbed.envs.pettingzoo_more:{name}", kind, api, agents, actions, text, **kw)


PETTINGZOO_MORE: dict[str, EnvSpec] = {
    "sisl/pursuit_v4": _spec(
        "pursuit_v4", "cooperative", "parallel", "n_pursuers (default 8)", "discrete",
        "Pursuers on a 16x16 grid surround and catch random evaders; shared reward.",
    ),
    "sisl/waterworld_v4": _spec(
        "waterworld_v4", "cooperative", "parallel", "n_pursuers (default 2)", "continuous",
        "Archea eat food and avoid poison in a continuous pool (pymunk); thrust actions.",
    ),
    "sisl/multiwalker_v9": _spec(
        "multiwalker_v9", "cooperative", "parallel", "n_walkers (default 3)", "continuous",
        "Bipedal walkers carry a package to the right together (Box2D); joint torques.",
        agents_leave=True,
    ),
    "butterfly/pistonball_v6": _spec(
        "pistonball_v6", "cooperative", "parallel", "n_pistons (default 20)", "continuous",
        "Pistons push a ball to the left wall (pymunk); image observations; "
        "continuous=False gives Discrete(3) actions.",
    ),
    "butterfly/cooperative_pong_v5": _spec(
        "cooperative_pong_v5", "cooperative", "parallel", "2", "discrete",
        "Two paddles keep a ball in play as long as they can; image observations.",
    ),
    "classic/leduc_holdem_v4": _spec(
        "leduc_holdem_v4", "competitive", "aec", "2", "discrete (masked)",
        "Leduc hold'em (RLCard): six-card poker, two betting rounds; chips won or lost.",
    ),
    "classic/texas_holdem_v4": _spec(
        "texas_holdem_v4", "competitive", "aec", "num_players (default 2)", "discrete (masked)",
        "Limit Texas hold'em (RLCard).",
    ),
    "classic/texas_holdem_no_limit_v6": _spec(
        "texas_holdem_no_limit_v6", "competitive", "aec", "num_players (default 2)",
        "discrete (masked)", "No-limit Texas hold'em (RLCard).",
    ),
    "classic/gin_rummy_v4": _spec(
        "gin_rummy_v4", "competitive", "aec", "2", "discrete (masked)",
        "Gin rummy (RLCard): form melds, knock or go gin.",
    ),
    "classic/go_v5": _spec(
        "go_v5", "competitive", "aec", "2", "discrete (masked)",
        "Go on a board_size board (default 19, komi 7.5); +1 win, -1 loss.",
    ),
    "classic/hanabi_v5": _spec(
        "hanabi_v5", "cooperative", "aec", "players (default 2)", "discrete (masked)",
        "Hanabi: build fireworks together while seeing everyone's cards but your own.",
    ),
}  # fmt: skip

for _gone in missing_here():
    del PETTINGZOO_MORE[_gone]
