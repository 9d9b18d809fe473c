"""Standard PettingZoo environments, each with a zero cost in its infos.

One factory per registered id (`testbed.registry.ENVS`, the `mpe/`, `classic/` and
`butterfly/` entries). MPE comes from `pettingzoo.mpe` or `mpe2`, and Knights-Archers-Zombies
is v10 or v11, whichever the installed stack has (`testbed._stack`, docs/STACK.md). Each
factory has the keyword parameters of the PettingZoo env it builds, with the same defaults,
imports that env's module (and so pygame, chess, ...) only when called, and returns the
PettingZoo env (parallel or AEC, as registered) inside a thin wrapper that adds
`infos[agent]["cost"] = 0.0` on reset and on every step: standard envs define no constraint,
but every testbed env reports a float cost (ARCHITECTURE.md, conventions). Everything else
(spaces, rewards, seeding, `render_mode`, `metadata["name"]`) is PettingZoo's
own; see https://pettingzoo.farama.org.

| id | api | agents (defaults) | actions (Box: continuous_actions=True, in [0, 1]) |
|---|---|---|---|
| mpe/simple_spread_v3 | parallel | agent_0..agent_{N-1} (N=3) | Discrete(5) / Box(5,) |
| mpe/simple_reference_v3 | parallel | agent_0, agent_1 | Discrete(50) / Box(15,) |
| mpe/simple_tag_v3 | parallel | adversary_0..2, agent_0 | Discrete(5) / Box(5,) |
| mpe/simple_adversary_v3 | parallel | adversary_0, agent_0, agent_1 | Discrete(5) / Box(5,) |
| mpe/simple_push_v3 | parallel | adversary_0, agent_0 | Discrete(5) / Box(5,) |
| classic/tictactoe_v3 | aec | player_1, player_2 | Discrete(9), masked |
| classic/connect_four_v3 | aec | player_0, player_1 | Discrete(7), masked |
| classic/chess_v6 | aec | player_0, player_1 | Discrete(4672), masked |
| classic/rps_v2 | parallel | player_0, player_1 | Discrete(3) (5 with lizard-Spock) |
| butterfly/knights_archers_zombies_v10 (v11) | parallel | archer_0..1, knight_0..1 | Discrete(6) |

Costs: always 0.0 (`infos[agent]["cost"]`); there is no `costs` dict. simple_spread also
takes `max_agents` (ours): observations padded to that many agents (envs/spread_padding.py).

MPE action encoding (useful for scripted agents): discrete 0 no-op, 1 push -x, 2 +x, 3 -y,
4 +y; continuous `a` in [0, 1]^5 pushes by `(a[2] - a[1], a[4] - a[3])`.

Version history: v0 of these adapters (PettingZoo 1.24.3 envs, unchanged).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from pettingzoo.utils.wrappers import BaseParallelWrapper, BaseWrapper

from testbed._stack import mpe_module
from testbed.envs.spread_padding import PaddedSpread, check_max_agents

# Parameter types the harness checks (`testbed validate` too) before building an env.
Count = Annotated[int, Ge(1)]
NonNegative = Annotated[int, Ge(0)]
Fraction = Annotated[float, Ge(0), Le(1)]
RenderMode = Literal["human", "rgb_array"] | None


class ZeroCostParallel(BaseParallelWrapper):
    """Adds `infos[agent]["cost"] = 0.0` (unless already set) to a ParallelEnv's infos."""

    def reset(self, seed: int | None = None, options: dict | None = None):
        observations, infos = self.env.reset(seed=seed, options=options)
        for info in infos.values():
            info.setdefault("cost", 0.0)
        return observations, infos

    def step(self, actions: dict[str, Any]):
        observations, rewards, terminations, truncations, infos = self.env.step(actions)
        for info in infos.values():
            info.setdefault("cost", 0.0)
        return observations, rewards, terminations, truncations, infos


class ZeroCostAEC(BaseWrapper):
    """Adds `infos[agent]["cost"] = 0.0` (unless already set) to an AECEnv's `infos`.

    The info dicts are the wrapped env's own, so `env.infos` and `env.last()` both carry it.
    """

    def _add_cost(self) -> None:
        for info in self.env.infos.values():
            info.setdefault("cost", 0.0)

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        self.env.reset(seed=seed, options=options)
        self._add_cost()

    def step(self, action: Any) -> None:
        self.env.step(action)
        self._add_cost()


def _parallel(env: Any) -> ZeroCostParallel:
    return ZeroCostParallel(env)


# ---------------------------------------------------------------------------------------------
# MPE (parallel)


def simple_spread_v3(
    N: Count = 3,  # noqa: N803 (PettingZoo's parameter name)
    local_ratio: Fraction = 0.5,
    max_cycles: Count = 25,
    continuous_actions: bool = False,
    render_mode: RenderMode = None,
    max_agents: Count | None = None,
) -> ZeroCostParallel:
    """N agents cover N landmarks; reward mixes the team's coverage and own collisions.
    `max_agents` (ours, not PettingZoo's): observations padded to that many agents' slots
    with presence bits, one length for every N (`envs/spread_padding.py`)."""
    check_max_agents(N, max_agents)
    module = mpe_module("simple_spread_v3")
    env = module.parallel_env(
        N=N,
        local_ratio=local_ratio,
        max_cycles=max_cycles,
        continuous_actions=continuous_actions,
        render_mode=render_mode,
    )
    return _parallel(env if max_agents is None else PaddedSpread(env, N, max_agents))


def simple_reference_v3(
    local_ratio: Fraction = 0.5,
    max_cycles: Count = 25,
    continuous_actions: bool = False,
    render_mode: RenderMode = None,
) -> ZeroCostParallel:
    """Two agents each guide the other to its target landmark by communicating."""
    module = mpe_module("simple_reference_v3")

    return _parallel(
        module.parallel_env(
            local_ratio=local_ratio,
            max_cycles=max_cycles,
            continuous_actions=continuous_actions,
            render_mode=render_mode,
        )
    )


def simple_tag_v3(
    num_good: Count = 1,
    num_adversaries: Count = 3,
    num_obstacles: NonNegative = 2,
    max_cycles: Count = 25,
    continuous_actions: bool = False,
    render_mode: RenderMode = None,
) -> ZeroCostParallel:
    """Slower predators (adversary_*) chase faster prey (agent_*) among obstacles."""
    module = mpe_module("simple_tag_v3")

    return _parallel(
        module.parallel_env(
            num_good=num_good,
            num_adversaries=num_adversaries,
            num_obstacles=num_obstacles,
            max_cycles=max_cycles,
            continuous_actions=continuous_actions,
            render_mode=render_mode,
        )
    )


def simple_adversary_v3(
    N: Count = 2,  # noqa: N803 (PettingZoo's parameter name)
    max_cycles: Count = 25,
    continuous_actions: bool = False,
    render_mode: RenderMode = None,
) -> ZeroCostParallel:
    """N good agents reach the target landmark while hiding it from one adversary."""
    module = mpe_module("simple_adversary_v3")

    return _parallel(
        module.parallel_env(
            N=N,
            max_cycles=max_cycles,
            continuous_actions=continuous_actions,
            render_mode=render_mode,
        )
    )


def simple_push_v3(
    max_cycles: Count = 25,
    continuous_actions: bool = False,
    render_mode: RenderMode = None,
) -> ZeroCostParallel:
    """An adversary pushes the agent away from its target landmark."""
    module = mpe_module("simple_push_v3")

    return _parallel(
        module.parallel_env(
            max_cycles=max_cycles,
            continuous_actions=continuous_actions,
            render_mode=render_mode,
        )
    )


# ---------------------------------------------------------------------------------------------
# Classic games


def tictactoe_v3(render_mode: RenderMode = None) -> ZeroCostAEC:
    """Tic-tac-toe (AEC, masked); +1 win, -1 loss, 0 draw."""
    from pettingzoo.classic import tictactoe_v3 as module

    return ZeroCostAEC(module.env(render_mode=render_mode))


def connect_four_v3(render_mode: RenderMode = None, screen_scaling: Count = 9) -> ZeroCostAEC:
    """Connect four on a 6x7 board (AEC, masked); +1 win, -1 loss, 0 draw."""
    from pettingzoo.classic import connect_four_v3 as module

    return ZeroCostAEC(module.env(render_mode=render_mode, screen_scaling=screen_scaling))


def chess_v6(render_mode: RenderMode = None, screen_height: Count | None = 800) -> ZeroCostAEC:
    """Chess with AlphaZero-style observation and action planes (AEC, masked)."""
    from pettingzoo.classic import chess_v6 as module

    return ZeroCostAEC(module.env(render_mode=render_mode, screen_height=screen_height))


def rps_v2(
    num_actions: Literal[3, 5] = 3,
    max_cycles: Count = 15,
    render_mode: RenderMode = None,
    screen_height: Count | None = 800,
) -> ZeroCostParallel:
    """Repeated rock-paper-scissors; num_actions=5 adds lizard and Spock."""
    from pettingzoo.classic import rps_v2 as module

    return _parallel(
        module.parallel_env(
            num_actions=num_actions,
            max_cycles=max_cycles,
            render_mode=render_mode,
            screen_height=screen_height,
        )
    )


# ---------------------------------------------------------------------------------------------
# Butterfly (parallel)


def knights_archers_zombies_v10(
    spawn_rate: Count = 20,
    num_archers: NonNegative = 2,
    num_knights: NonNegative = 2,
    max_zombies: NonNegative = 10,
    max_arrows: NonNegative = 10,
    killable_knights: bool = True,
    killable_archers: bool = True,
    pad_observation: bool = True,
    line_death: bool = False,
    max_cycles: Count = 900,
    vector_state: bool = True,
    use_typemasks: bool = False,
    sequence_space: bool = False,
    render_mode: RenderMode = None,
) -> ZeroCostParallel:
    """Knights and archers kill advancing zombies; vector observations by default."""
    from pettingzoo.butterfly import knights_archers_zombies_v10 as module

    return _parallel(
        module.parallel_env(
            spawn_rate=spawn_rate,
            num_archers=num_archers,
            num_knights=num_knights,
            max_zombies=max_zombies,
            max_arrows=max_arrows,
            killable_knights=killable_knights,
            killable_archers=killable_archers,
            pad_observation=pad_observation,
            line_death=line_death,
            max_cycles=max_cycles,
            vector_state=vector_state,
            use_typemasks=use_typemasks,
            sequence_space=sequence_space,
            render_mode=render_mode,
        )
    )


def knights_archers_zombies_v11(
    spawn_delay: Count = 20,
    num_archers: NonNegative = 2,
    num_knights: NonNegative = 2,
    max_zombies: NonNegative = 10,
    max_arrows: NonNegative = 10,
    killable_knights: bool = True,
    killable_archers: bool = True,
    line_death: bool = False,
    max_cycles: Count = 900,
    obs_method: Literal["vector", "image", "vector-sequence", "vector-masked"] = "vector",
    render_mode: RenderMode = None,
) -> ZeroCostParallel:
    """v10 for pettingzoo >= 1.25: `spawn_delay` replaces `spawn_rate`, `obs_method` replaces
    `vector_state`, `use_typemasks` and `sequence_space`; `pad_observation` is gone."""
    from pettingzoo.butterfly import knights_archers_zombies_v11 as module

    return _parallel(
        module.parallel_env(
            spawn_delay=spawn_delay,
            num_archers=num_archers,
            num_knights=num_knights,
            max_zombies=max_zombies,
            max_arrows=max_arrows,
            killable_knights=killable_knights,
            killable_archers=killable_archers,
            line_death=line_death,
            max_cycles=max_cycles,
            obs_method=obs_method,
            render_mode=render_mode,
        )
    )
