"""Built-in environments: a flat, explicit `id -> EnvSpec` dict; importing it imports no env."""

from __future__ import annotations

from testbed._stack import gym_id, kaz_name
from testbed.registry.catalog_more import PETTINGZOO_MORE
from testbed.registry.catalog_safety import SAFETY_ENVS
from testbed.registry.specs import EnvSpec


def _mpe(name: str, kind: str, agents: str, description: str, batched: bool = False) -> EnvSpec:
    return EnvSpec(
        entry=f"testbed.envs.pettingzoo_std:{name}",
        kind=kind,
        api="parallel",
        agents=agents,
        actions="discrete | continuous (continuous_actions)",
        description=description,
        vector=f"testbed.envs.mpe_batched:{name}" if batched else None,
    )


ENVS: dict[str, EnvSpec] = {
    # PettingZoo MPE (particle worlds), parallel API.
    "mpe/simple_spread_v3": _mpe(
        "simple_spread_v3",
        "cooperative",
        "N (default 3)",
        "N agents cover N landmarks and avoid collisions; reward mixes the shared coverage "
        "and own collisions (local_ratio). max_agents pads observations to that many agents.",
        batched=True,
    ),
    "mpe/simple_reference_v3": _mpe(
        "simple_reference_v3",
        "cooperative",
        "2",
        "Two agents each guide the other to a target landmark by communicating.",
    ),
    "mpe/simple_tag_v3": _mpe(
        "simple_tag_v3",
        "competitive",
        "num_good + num_adversaries (default 1 + 3)",
        "Slower predators (adversary_*) chase faster prey (agent_*) among obstacles.",
        batched=True,
    ),
    "mpe/simple_adversary_v3": _mpe(
        "simple_adversary_v3",
        "competitive",
        "N + 1 (default 3)",
        "Good agents reach the target landmark while hiding it from one adversary.",
        batched=True,
    ),
    "mpe/simple_push_v3": _mpe(
        "simple_push_v3",
        "competitive",
        "2",
        "An adversary pushes the agent away from its target landmark.",
    ),
    # PettingZoo classic games, AEC API with legal-action masks.
    "classic/tictactoe_v3": EnvSpec(
        "testbed.envs.pettingzoo_std:tictactoe_v3",
        "competitive",
        "aec",
        "2",
        "discrete (masked)",
        "Tic-tac-toe; +1 win, -1 loss, 0 draw.",
    ),
    "classic/connect_four_v3": EnvSpec(
        "testbed.envs.pettingzoo_std:connect_four_v3",
        "competitive",
        "aec",
        "2",
        "discrete (masked)",
        "Connect four on a 6x7 board; +1 win, -1 loss, 0 draw.",
    ),
    "classic/rps_v2": EnvSpec(
        "testbed.envs.pettingzoo_std:rps_v2",
        "competitive",
        "parallel",
        "2",
        "discrete",
        "Repeated rock-paper-scissors (num_actions=5 for lizard-Spock).",
    ),
    "classic/chess_v6": EnvSpec(
        "testbed.envs.pettingzoo_std:chess_v6",
        "competitive",
        "aec",
        "2",
        "discrete (masked)",
        "Chess with AlphaZero-style observation and action planes.",
    ),
    # PettingZoo butterfly, parallel API.
    f"butterfly/{kaz_name()}": EnvSpec(  # v10 or v11, per stack (testbed._stack)
        f"testbed.envs.pettingzoo_std:{kaz_name()}",
        "cooperative",
        "parallel",
        "num_archers + num_knights (default 2 + 2)",
        "discrete",
        "Knights and archers kill advancing zombies (vector observations by default).",
        agents_leave=True,
    ),
    # More PettingZoo (SISL, butterfly, classic cards and boards): testbed/envs/pettingzoo_more.py
    **PETTINGZOO_MORE,
    # Safety-Gymnasium and Safe Multi-Agent MuJoCo: testbed/registry/catalog_safety.py
    **SAFETY_ENVS,
    # >>> custom envs: cooperative + constrained
    "testbed/foraging_v0": EnvSpec(
        "testbed.envs.foraging:parallel_env",
        "cooperative",
        "parallel",
        "N (default 3)",
        "discrete",
        "Grid foraging: items need item_level (default 2) agents loading together; shared reward.",
        vector="testbed.envs.foraging_batched:foraging_batched",
    ),
    "testbed/safe_navigation_v0": EnvSpec(
        "testbed.envs.safe_navigation:parallel_env",
        "constrained",
        "parallel",
        "N (default 3)",
        "discrete | continuous (continuous_actions)",
        "Robots drive to their goals among circular hazards; hazard, collision and speed costs.",
        costs=("hazard", "collision", "speed"),
        vector="testbed.envs.safe_navigation_batched:safe_navigation_batched",
        agents_leave=True,
    ),
    # <<< custom envs: cooperative + constrained
    # >>> custom envs: competitive + mixed
    "testbed/breakthrough_v0": EnvSpec(
        "testbed.envs.breakthrough:breakthrough_v0",
        "competitive",
        "aec",
        "2",
        "discrete (masked)",
        "Breakthrough on a 5x5 board (rows, cols): race a piece to the far row or capture "
        "all; +1 win, -1 loss, never a draw.",
    ),
    "testbed/commons_harvest_v0": EnvSpec(
        "testbed.envs.commons_harvest:commons_harvest_v0",
        "mixed",
        "parallel",
        "n_agents (default 5)",
        "discrete",
        "Shared logistic stock; reward = own harvest; greed pays short-term, "
        "over-harvesting collapses the stock.",
        costs=("depletion",),
        vector="testbed.envs.commons_harvest_batched:commons_harvest_batched",
    ),
    # <<< custom envs: competitive + mixed
    # >>> custom envs: goal-conditioned + hierarchical
    "robotics/FetchReach": EnvSpec(
        "testbed.envs.robotics:fetch_reach",
        "single-agent",
        "parallel",
        "1",
        "continuous",
        "gymnasium-robotics FetchReach (v2 legacy, v4 modern): move the gripper to a 3-D target; "
        "-1 per step until within 5 cm (`dense`: minus the distance); Dict goal observation.",
        extra="safety",
    ),
    "robotics/PointMaze": EnvSpec(
        "testbed.envs.robotics:point_maze",
        "single-agent",
        "parallel",
        "1",
        "continuous",
        "gymnasium-robotics PointMaze (v3; `maze`: UMaze, Open, Medium, Large): push a point to "
        "a goal cell; -1 per step until within 0.45, then ends (`dense`: exp(-distance)); Dict "
        "goal observation.",
        extra="safety",
    ),
    "testbed/bit_flip_v0": EnvSpec(
        "testbed.envs.bit_flip:bit_flip_v0",
        "single-agent",
        "parallel",
        "1",
        "discrete",
        "Goal-conditioned bit flipping (Andrychowicz et al. 2017): flip bits to match a target; "
        "-1 per step until it matches; Dict observation/achieved_goal/desired_goal (for her:).",
    ),
    "testbed/four_rooms_team_v0": EnvSpec(
        "testbed.envs.four_rooms_team:four_rooms_team_v0",
        "cooperative",
        "parallel",
        "n_agents (default 2)",
        "discrete",
        "Four rooms for a team: each agent must reach the goal; agents block each other in the "
        "one-cell doorways; +1 per agent at the goal; tabular (own cell).",
        agents_leave=True,
    ),
    "testbed/four_rooms_v0": EnvSpec(
        "testbed.envs.four_rooms:four_rooms_v0",
        "single-agent",
        "parallel",
        "1",
        "discrete",
        "Sutton-Precup-Singh four rooms: reach the goal cell (+1) through doorways, actions slip "
        "with probability 1/3; the goal moves on request (move_goal, reset options).",
    ),
    "testbed/cartpole_continuous_v0": EnvSpec(
        "testbed.envs.cartpole_continuous:cartpole_continuous_v0",
        "single-agent",
        "parallel",
        "1",
        "continuous",
        "CartPole with a force in [-1, 1] x force_mag (mbrl-lib's PETS task): +1 per step "
        "upright, 200 steps, best return 200.",
    ),
    # <<< custom envs: goal-conditioned + hierarchical
    # >>> custom envs: meta-learning task families
    "testbed/point_nav_v0": EnvSpec(
        "testbed.envs.point_nav:point_nav_v0",
        "single-agent",
        "parallel",
        "1",
        "continuous",
        "2D point navigation to an unobserved goal on a circle (`goal_angle`; Finn et al. "
        "2017): reward minus the distance, 20 steps; a task family for meta-RL.",
    ),
    # <<< custom envs: meta-learning task families
    # >>> custom envs: causal RL
    "testbed/confounded_v0": EnvSpec(
        "testbed.envs.confounded:confounded_v0",
        "single-agent",
        "parallel",
        "1",
        "discrete",
        "Answer with a hidden cause; a confounded spurious feature agrees with the reward in "
        "the train distribution and flips at test; do-interventions for causal discovery.",
    ),
    # <<< custom envs: causal RL
    # >>> custom envs: multimodal
    "testbed/multimodal_reach_v0": EnvSpec(
        "testbed.envs.multimodal_reach:multimodal_reach_v0",
        "single-agent",
        "parallel",
        "1",
        "discrete | continuous (continuous)",
        "Reach the object a text instruction names: Dict observation of an image (where the "
        "objects are), token ids (which one) and the agent's own position and velocity.",
    ),
    # <<< custom envs: multimodal
    # Gymnasium single-agent tasks as one-agent ParallelEnvs (agent "agent_0").
    "gym/CartPole-v1": EnvSpec(
        "testbed.envs.gymnasium_single:cartpole_v1",
        "single-agent",
        "parallel",
        "1",
        "discrete",
        "Balance a pole on a cart; +1 per step, 500 steps max (solved at 475).",
        vector="testbed.envs.cartpole_batched:cartpole_batched",
    ),
    "gym/Acrobot-v1": EnvSpec(
        "testbed.envs.gymnasium_single:acrobot_v1",
        "single-agent",
        "parallel",
        "1",
        "discrete",
        "Swing a two-link arm's tip above a line; -1 per step, 500 steps max.",
    ),
    "gym/MountainCar-v0": EnvSpec(
        "testbed.envs.gymnasium_single:mountain_car_v0",
        "single-agent",
        "parallel",
        "1",
        "discrete",
        "Rock an underpowered car up a hill; -1 per step, 200 steps max.",
    ),
    "gym/MountainCarContinuous-v0": EnvSpec(
        "testbed.envs.gymnasium_single:mountain_car_continuous_v0",
        "single-agent",
        "parallel",
        "1",
        "continuous",
        "Mountain car with a continuous force; +100 at the goal minus energy.",
    ),
    "gym/Pendulum-v1": EnvSpec(
        "testbed.envs.gymnasium_single:pendulum_v1",
        "single-agent",
        "parallel",
        "1",
        "continuous",
        "Swing up and hold an inverted pendulum; 200 steps, best returns near -150.",
    ),
    "gym/FrozenLake-v1": EnvSpec(
        "testbed.envs.gymnasium_single:frozen_lake_v1",
        "single-agent",
        "parallel",
        "1",
        "discrete",
        "Tabular: cross a (slippery) frozen lake to the goal; +1 on reaching it.",
    ),
    f"gym/{gym_id('CliffWalking')}": EnvSpec(
        "testbed.envs.gymnasium_single:cliff_walking",
        "single-agent",
        "parallel",
        "1",
        "discrete",
        "Tabular: walk along a cliff; -1 per step, -100 for a fall; optimum -13.",
    ),
    f"gym/{gym_id('Taxi')}": EnvSpec(
        "testbed.envs.gymnasium_single:taxi",
        "single-agent",
        "parallel",
        "1",
        "discrete",
        "Tabular: pick up and drop off a passenger; optimum about +8.",
    ),
    "gym/InvertedPendulum-v4": EnvSpec(
        "testbed.envs.gymnasium_single:inverted_pendulum_v4",
        "single-agent",
        "parallel",
        "1",
        "continuous",
        "MuJoCo: keep a pole upright; +1 per step, 1000 max.",
    ),
    "gym/HalfCheetah-v4": EnvSpec(
        "testbed.envs.gymnasium_single:half_cheetah_v4",
        "single-agent",
        "parallel",
        "1",
        "continuous",
        "MuJoCo: run forward with a planar cheetah; 1000 steps.",
    ),
    "gym/any": EnvSpec(
        "testbed.envs.gymnasium_single:any_task",
        "single-agent",
        "parallel",
        "1",
        "discrete (default task; any space)",
        "Any Gymnasium id (`task`, `kwargs`) as a one-agent env.",
    ),
}
