"""More standard PettingZoo environments (SISL, butterfly, classic card and board games), each
with a zero cost in its infos (the wrappers of `testbed.envs.pettingzoo_std`).

One factory per registered id; each has the main keyword parameters of the PettingZoo env it
builds, with PettingZoo's defaults, and imports that env (pymunk, Box2D, rlcard, ...) only
when called. Spaces, rewards, seeding, rendering and `metadata["name"]` are PettingZoo's own
(https://pettingzoo.farama.org).

| id | api | agents (defaults) | actions |
|---|---|---|---|
| sisl/pursuit_v4 | parallel | pursuer_0..7 | Discrete(5) |
| sisl/waterworld_v4 | parallel | pursuer_0..1 | Box(2,) thrust |
| sisl/multiwalker_v9 | parallel | walker_0..2 | Box(4,) joint torques |
| butterfly/pistonball_v6 | parallel | piston_0..19 | Box(1,) (continuous=False: Discrete(3)) |
| butterfly/cooperative_pong_v5 | parallel | paddle_0, paddle_1 | Discrete(3) |
| classic/leduc_holdem_v4 | aec | player_0, player_1 | Discrete(4), masked |
| classic/texas_holdem_v4 | aec | player_0..num_players-1 | Discrete(4), masked |
| classic/texas_holdem_no_limit_v6 | aec | player_0..num_players-1 | Discrete(5), masked |
| classic/gin_rummy_v4 | aec | player_0, player_1 | Discrete(110), masked |
| classic/go_v5 | aec | black_0, white_0 | Discrete(board_size² + 1), masked |
| classic/hanabi_v5 | aec | player_0..players-1 | Discrete(20 with defaults), masked |

Costs: always 0.0 (`infos[agent]["cost"]`); named costs are added per scenario (`env.costs`:
collision and speed from the agents' positions for pursuit, waterworld, multiwalker and
pistonball: testbed/envs/positions.py).

Version history: v0 of these adapters (PettingZoo 1.24.3 envs, unchanged).
"""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Ge, Le

from testbed.envs.pettingzoo_std import (
    Count,
    Fraction,
    NonNegative,
    RenderMode,
    ZeroCostAEC,
    ZeroCostParallel,
)

AtLeastTwo = Annotated[int, Ge(2)]
Players = Annotated[int, Ge(2), Le(10)]
HanabiSize = Annotated[int, Ge(2), Le(5)]

# ---------------------------------------------------------------------------------------------
# SISL (parallel)


def pursuit_v4(
    x_size: Count = 16,
    y_size: Count = 16,
    max_cycles: Count = 500,
    shared_reward: bool = True,
    n_evaders: Count = 30,
    n_pursuers: Count = 8,
    obs_range: Count = 7,
    n_catch: Count = 2,
    freeze_evaders: bool = False,
    tag_reward: float = 0.01,
    catch_reward: float = 5.0,
    urgency_reward: float = -0.1,
    surround: bool = True,
    render_mode: RenderMode = None,
) -> ZeroCostParallel:
    """Pursuers on a grid surround and catch randomly moving evaders (shared reward)."""
    from pettingzoo.sisl import pursuit_v4 as module

    return ZeroCostParallel(
        module.parallel_env(
            x_size=x_size, y_size=y_size, max_cycles=max_cycles, shared_reward=shared_reward,
            n_evaders=n_evaders, n_pursuers=n_pursuers, obs_range=obs_range, n_catch=n_catch,
            freeze_evaders=freeze_evaders, tag_reward=tag_reward, catch_reward=catch_reward,
            urgency_reward=urgency_reward, surround=surround, render_mode=render_mode,
        )
    )  # fmt: skip


def waterworld_v4(
    n_pursuers: Count = 2,
    n_evaders: NonNegative = 5,
    n_poisons: NonNegative = 10,
    n_coop: Count = 1,
    n_sensors: Count = 30,
    sensor_range: float = 0.2,
    pursuer_max_accel: float = 0.5,
    food_reward: float = 10.0,
    poison_reward: float = -1.0,
    encounter_reward: float = 0.01,
    thrust_penalty: float = -0.5,
    local_ratio: Fraction = 1.0,
    speed_features: bool = True,
    max_cycles: Count = 500,
    render_mode: RenderMode = None,
) -> ZeroCostParallel:
    """Archea (pursuers) eat food and avoid poison in a continuous pool (pymunk)."""
    from pettingzoo.sisl import waterworld_v4 as module

    return ZeroCostParallel(
        module.parallel_env(
            n_pursuers=n_pursuers, n_evaders=n_evaders, n_poisons=n_poisons, n_coop=n_coop,
            n_sensors=n_sensors, sensor_range=sensor_range, pursuer_max_accel=pursuer_max_accel,
            food_reward=food_reward, poison_reward=poison_reward,
            encounter_reward=encounter_reward, thrust_penalty=thrust_penalty,
            local_ratio=local_ratio, speed_features=speed_features, max_cycles=max_cycles,
            render_mode=render_mode,
        )
    )  # fmt: skip


def multiwalker_v9(
    n_walkers: AtLeastTwo = 3,
    position_noise: float = 0.001,
    angle_noise: float = 0.001,
    forward_reward: float = 1.0,
    terminate_reward: float = -100.0,
    fall_reward: float = -10.0,
    shared_reward: bool = True,
    terminate_on_fall: bool = True,
    remove_on_fall: bool = True,
    terrain_length: Count = 200,
    max_cycles: Count = 500,
    render_mode: RenderMode = None,
) -> ZeroCostParallel:
    """Bipedal walkers carry a package to the right together (Box2D)."""
    from pettingzoo.sisl import multiwalker_v9 as module

    return ZeroCostParallel(
        module.parallel_env(
            n_walkers=n_walkers, position_noise=position_noise, angle_noise=angle_noise,
            forward_reward=forward_reward, terminate_reward=terminate_reward,
            fall_reward=fall_reward, shared_reward=shared_reward,
            terminate_on_fall=terminate_on_fall, remove_on_fall=remove_on_fall,
            terrain_length=terrain_length, max_cycles=max_cycles, render_mode=render_mode,
        )
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Butterfly (parallel)


def pistonball_v6(
    n_pistons: AtLeastTwo = 20,
    time_penalty: float = -0.1,
    continuous: bool = True,
    random_drop: bool = True,
    random_rotate: bool = True,
    ball_mass: float = 0.75,
    ball_friction: float = 0.3,
    ball_elasticity: float = 1.5,
    max_cycles: Count = 125,
    render_mode: RenderMode = None,
) -> ZeroCostParallel:
    """Pistons move a ball to the left wall together (pymunk); image observations."""
    from pettingzoo.butterfly import pistonball_v6 as module

    return ZeroCostParallel(
        module.parallel_env(
            n_pistons=n_pistons, time_penalty=time_penalty, continuous=continuous,
            random_drop=random_drop, random_rotate=random_rotate, ball_mass=ball_mass,
            ball_friction=ball_friction, ball_elasticity=ball_elasticity,
            max_cycles=max_cycles, render_mode=render_mode,
        )
    )  # fmt: skip


def cooperative_pong_v5(
    ball_speed: Count = 9,
    left_paddle_speed: Count = 12,
    right_paddle_speed: Count = 12,
    cake_paddle: bool = True,
    max_cycles: Count = 900,
    bounce_randomness: bool = False,
    max_reward: float = 100.0,
    off_screen_penalty: float = -10.0,
    render_mode: RenderMode = None,
) -> ZeroCostParallel:
    """Two paddles keep a ball in play as long as they can; image observations."""
    from pettingzoo.butterfly import cooperative_pong_v5 as module

    return ZeroCostParallel(
        module.parallel_env(
            ball_speed=ball_speed, left_paddle_speed=left_paddle_speed,
            right_paddle_speed=right_paddle_speed, cake_paddle=cake_paddle,
            max_cycles=max_cycles, bounce_randomness=bounce_randomness, max_reward=max_reward,
            off_screen_penalty=off_screen_penalty, render_mode=render_mode,
        )
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Classic card and board games (AEC, masked)


def leduc_holdem_v4(render_mode: RenderMode = None) -> ZeroCostAEC:
    """Leduc hold'em (RLCard): a six-card poker with two betting rounds; chips won or lost."""
    from pettingzoo.classic import leduc_holdem_v4 as module

    return ZeroCostAEC(module.env(render_mode=render_mode))


def texas_holdem_v4(num_players: Players = 2, render_mode: RenderMode = None) -> ZeroCostAEC:
    """Limit Texas hold'em (RLCard)."""
    from pettingzoo.classic import texas_holdem_v4 as module

    return ZeroCostAEC(module.env(num_players=num_players, render_mode=render_mode))


def texas_holdem_no_limit_v6(
    num_players: Players = 2, render_mode: RenderMode = None
) -> ZeroCostAEC:
    """No-limit Texas hold'em (RLCard)."""
    from pettingzoo.classic import texas_holdem_no_limit_v6 as module

    return ZeroCostAEC(module.env(num_players=num_players, render_mode=render_mode))


def gin_rummy_v4(
    knock_reward: float = 0.5,
    gin_reward: float = 1.0,
    opponents_hand_visible: bool = False,
    render_mode: RenderMode = None,
) -> ZeroCostAEC:
    """Gin rummy (RLCard): form melds, knock or go gin."""
    from pettingzoo.classic import gin_rummy_v4 as module

    return ZeroCostAEC(
        module.env(
            knock_reward=knock_reward,
            gin_reward=gin_reward,
            opponents_hand_visible=opponents_hand_visible,
            render_mode=render_mode,
        )
    )


def go_v5(
    board_size: Literal[5, 7, 9, 13, 19] = 19, komi: float = 7.5, render_mode: RenderMode = None
) -> ZeroCostAEC:
    """Go (AlphaZero-style planes); +1 win, -1 loss by area score with komi."""
    from pettingzoo.classic import go_v5 as module

    return ZeroCostAEC(module.env(board_size=board_size, komi=komi, render_mode=render_mode))


def hanabi_v5(
    colors: HanabiSize = 5,
    ranks: HanabiSize = 5,
    players: HanabiSize = 2,
    hand_size: HanabiSize = 5,
    max_information_tokens: Count = 8,
    max_life_tokens: Count = 3,
    observation_type: Literal["minimal", "card_knowledge", "seer"] = "card_knowledge",
    random_start_player: bool = False,
    render_mode: Literal["human"] | None = None,
) -> ZeroCostAEC:
    """Hanabi (DeepMind's Hanabi Learning Environment): cooperative card game with hidden own
    hands; shared reward = fireworks score gained."""
    from pettingzoo.classic import hanabi_v5 as module

    return ZeroCostAEC(
        module.env(
            colors=colors, ranks=ranks, players=players, hand_size=hand_size,
            max_information_tokens=max_information_tokens, max_life_tokens=max_life_tokens,
            observation_type=observation_type, random_start_player=random_start_player,
            render_mode=render_mode,
        )
    )  # fmt: skip
