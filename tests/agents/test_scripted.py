"""Scripted agents: their rules on hand-made positions, and that they beat the baselines.

Margins are looser than benchmarks/baselines.py measures (200 games / 100 episodes) so the
small fixed-seed samples here cannot fail by chance, yet a broken rule would fail them.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from gymnasium import spaces
from pz_loops import play_aec, play_parallel

from testbed.agents.scripted.connect_four import ConnectFourConfig, ConnectFourHeuristic
from testbed.agents.scripted.mpe import SpreadNearestLandmark, greedy_assignment, push_action
from testbed.agents.scripted.tictactoe import TicTacToeHeuristic
from testbed.errors import BadInput
from testbed.registry import AGENTS, agent_class, make_agent, make_env


def team(env, choose) -> dict:
    return {
        a: make_agent(choose(a), env.observation_space(a), env.action_space(a))
        for a in env.possible_agents
    }


def outcomes(env_id: str, bot: str, games: int) -> np.ndarray:
    """Sign of `bot`'s result against `random` per game, `bot` moving first in even games."""
    env = make_env(env_id)
    first, second = env.possible_agents
    results = []
    for game in range(games):
        seat = first if game % 2 == 0 else second
        policies = team(env, lambda a, s=seat: bot if a == s else "random")
        results.append(np.sign(play_aec(env, policies, seed=game)[seat]))
    return np.asarray(results)


# ---------------------------------------------------------------------------------------------
# tic-tac-toe (square i = plane cell (i // 3, i % 3))


def tictactoe_obs(mine: set[int], theirs: set[int], legal: set[int] | None = None) -> dict:
    planes = np.zeros((9, 2), dtype=np.int8)
    planes[list(mine), 0] = 1
    planes[list(theirs), 1] = 1
    free = set(range(9)) - mine - theirs if legal is None else legal
    mask = np.array([i in free for i in range(9)], dtype=np.int8)
    return {"observation": planes.reshape(3, 3, 2), "action_mask": mask}


@pytest.fixture
def tictactoe_bot() -> TicTacToeHeuristic:
    env = make_env("classic/tictactoe_v3")
    return TicTacToeHeuristic(env.observation_space("player_1"), env.action_space("player_1"))


@pytest.mark.parametrize(
    ("mine", "theirs", "legal", "expected"),
    [
        ({0, 1}, {3, 4}, None, {2}),  # win beats block
        ({8}, {3, 4}, None, {5}),  # block
        ({0, 1}, {3, 4}, set(range(5, 9)), {5}),  # win masked out: block
        (set(), set(), None, {4}),  # centre
        (set(), {4}, None, {0, 2, 6, 8}),  # corners
        (set(), set(), {1, 3, 5, 7}, {1, 3, 5, 7}),  # edges
    ],
)
def test_tictactoe_rules(tictactoe_bot, mine, theirs, legal, expected) -> None:
    observation = tictactoe_obs(mine, theirs, legal)
    for seed in range(8):
        tictactoe_bot.reset(seed=seed)
        assert int(tictactoe_bot.act(observation, observation["action_mask"])) in expected


def test_tictactoe_tie_breaks_follow_the_seed(tictactoe_bot) -> None:
    observation = tictactoe_obs(set(), {4})
    picks = []
    for seed in range(12):
        tictactoe_bot.reset(seed=seed)
        picks.append(int(tictactoe_bot.act(observation)))
    assert len(set(picks)) > 1
    tictactoe_bot.reset(seed=3)
    assert int(tictactoe_bot.act(observation)) == picks[3]


def test_tictactoe_beats_random() -> None:
    results = outcomes("classic/tictactoe_v3", "scripted/tictactoe", games=40)
    assert np.mean(results > 0) >= 0.75  # measured 0.93 over 200 games
    assert np.mean(results < 0) <= 0.05  # measured 0


# ---------------------------------------------------------------------------------------------
# connect four (row 0 is the top)


def connect_four_obs(mine: list[tuple[int, int]], theirs: list[tuple[int, int]]) -> dict:
    board = np.zeros((6, 7, 2), dtype=np.int8)
    for row, column in mine:
        board[row, column, 0] = 1
    for row, column in theirs:
        board[row, column, 1] = 1
    mask = (board[0].sum(axis=1) == 0).astype(np.int8)
    return {"observation": board, "action_mask": mask}


def connect_four_bot(**params) -> ConnectFourHeuristic:
    env = make_env("classic/connect_four_v3")
    return make_agent(
        "scripted/connect_four",
        env.observation_space("player_0"),
        env.action_space("player_0"),
        **params,
    )


def test_connect_four_wins_then_blocks() -> None:
    bot = connect_four_bot()
    three_in_row = [(5, 0), (5, 1), (5, 2)]
    on_top = [(4, 0), (4, 1), (4, 2)]
    assert bot.act(connect_four_obs(three_in_row, on_top)) == 3
    three_stacked = [(5, 6), (4, 6), (3, 6)]
    assert bot.act(connect_four_obs([(5, 0), (5, 2)], three_stacked)) == 6  # block
    assert bot.act(connect_four_obs(three_in_row, three_stacked)) == 3  # win beats block
    theirs = [(5, 0), (4, 1), (3, 2), (5, 3), (5, 4)]  # diagonal needs (2, 3), playable now
    mine = [(5, 1), (5, 2), (4, 2), (4, 3), (3, 3)]
    assert bot.act(connect_four_obs(mine, theirs)) == 3  # block on the diagonal


def test_connect_four_avoids_handing_over_a_win() -> None:
    # The opponent has row 4, columns 0-2; dropping into column 3 lets it complete row 4.
    observation = connect_four_obs([(5, 0), (5, 2)], [(5, 1), (4, 0), (4, 1), (4, 2)])
    careful, careless = connect_four_bot(), connect_four_bot(avoid_traps=False)
    for seed in range(6):
        careful.reset(seed=seed)
        careless.reset(seed=seed)
        assert careful.act(observation) in (2, 4)
        assert careless.act(observation) == 3


def test_connect_four_honours_the_mask() -> None:
    observation = connect_four_obs([(5, 0), (5, 1), (5, 2)], [(4, 0), (4, 1), (4, 2)])
    mask = np.array([1, 1, 1, 0, 1, 1, 1], dtype=np.int8)  # the winning column is forbidden
    assert connect_four_bot().act(observation, mask) != 3


def test_connect_four_beats_random() -> None:
    results = outcomes("classic/connect_four_v3", "scripted/connect_four", games=30)
    assert np.mean(results > 0) >= 0.9  # measured 1.0 over 200 games


# ---------------------------------------------------------------------------------------------
# MPE


@pytest.mark.parametrize(
    ("direction", "discrete", "continuous"),
    [
        ((1.0, 0.2), 2, [0, 0, 1, 0, 0.2]),
        ((-0.5, 0.1), 1, [0, 0.5, 0, 0, 0.1]),
        ((0.3, 2.0), 4, [0, 0, 0.3, 0, 1]),
        ((0.0, -0.7), 3, [0, 0, 0, 0.7, 0]),
        ((0.01, 0.0), 0, [0, 0, 0.01, 0, 0]),
    ],
)
def test_push_action_encoding(direction, discrete, continuous) -> None:
    direction = np.array(direction)
    assert push_action(direction, spaces.Discrete(5), dead_zone=0.05) == discrete
    box = spaces.Box(0.0, 1.0, (5,), np.float32)
    action = push_action(direction, box, dead_zone=0.05)
    assert box.contains(action)
    np.testing.assert_allclose(action, continuous, atol=1e-6)


def test_greedy_assignment_serves_the_closest_pairs_first() -> None:
    distances = np.array([[0.5, 1.0, 2.0], [0.1, 1.5, 2.0], [2.0, 2.0, 0.1]])
    assert greedy_assignment(distances) == {1: 0, 2: 2, 0: 1}


@pytest.mark.parametrize("continuous", [False, True])
def test_spread_skips_a_landmark_a_closer_agent_claims(continuous: bool) -> None:
    env = make_env("mpe/simple_spread_v3", continuous_actions=continuous)
    bot = SpreadNearestLandmark(env.observation_space("agent_0"), env.action_space("agent_0"))
    landmarks = [0.5, 0.0, -1.0, 0.0, 0.0, 2.0]
    others = [0.6, 0.0, 0.0, 2.1]  # agent 1 sits next to landmark 0, agent 2 next to landmark 2
    observation = np.array([0, 0, 0, 0, *landmarks, *others, 0, 0, 0, 0], dtype=np.float32)
    action = bot.act(observation)
    if continuous:
        assert action[1] > 0.5 and action[2] == 0  # pushes -x, toward landmark 1
    else:
        assert action == 1


def spread_return(agent: str, continuous: bool, episodes: int = 8) -> float:
    env = make_env("mpe/simple_spread_v3", continuous_actions=continuous)
    policies = team(env, lambda _: agent)
    return float(
        np.mean([sum(play_parallel(env, policies, seed).values()) for seed in range(episodes)])
    )


@pytest.mark.parametrize("continuous", [False, True])
def test_spread_beats_random_and_noop(continuous: bool) -> None:
    scripted = spread_return("scripted/spread_nearest", continuous)
    # measured over 100 episodes: scripted -26.6 (discrete) / -21.3 (continuous), random
    # -82.7 / -80.6, noop -76.0 (team return: sum over the 3 agents and 25 steps)
    assert scripted > spread_return("random", continuous) + 25
    assert scripted > spread_return("noop", continuous) + 25


def tag_stats(predator: str, prey: str, continuous: bool = False, episodes: int = 10):
    """(tags per episode, prey's mean return) on default simple_tag (3 predators, 1 prey)."""
    env = make_env("mpe/simple_tag_v3", continuous_actions=continuous)
    policies = team(env, lambda a: predator if a.startswith("adversary") else prey)
    results = [play_parallel(env, policies, seed) for seed in range(episodes)]
    tags = np.mean([r["adversary_0"] / 10 for r in results])  # +10 per predator-prey contact
    return float(tags), float(np.mean([r["agent_0"] for r in results]))


@pytest.mark.parametrize("continuous", [False, True])
def test_tag_chaser_tags_far_more_than_random(continuous: bool) -> None:
    chasers, _ = tag_stats("scripted/tag_chaser", "random", continuous)
    random_predators, _ = tag_stats("random", "random", continuous)
    assert chasers >= 3.0  # measured 7.1 tags per episode (discrete)
    assert chasers > 4 * max(random_predators, 0.25)  # measured 0.3


def test_tag_fleer_escapes_chasers_better_than_random() -> None:
    random_tags, random_return = tag_stats("scripted/tag_chaser", "random")
    fleer_tags, fleer_return = tag_stats("scripted/tag_chaser", "scripted/tag_fleer")
    assert fleer_tags < 0.6 * random_tags  # measured 3.0 vs 7.1 tags per episode
    assert fleer_return > random_return + 20  # measured -31 vs -84


# ---------------------------------------------------------------------------------------------
# spaces and parameters through the registry


def spaces_of(env_id: str, agent: str) -> tuple[spaces.Space, spaces.Space]:
    env = make_env(env_id)
    return env.observation_space(agent), env.action_space(agent)


SCRIPTED = {
    "scripted/connect_four": (
        "classic/connect_four_v3",
        "player_0",
        {"seed": 3, "avoid_traps": False},
    ),
    "scripted/tictactoe": ("classic/tictactoe_v3", "player_2", {"seed": 1}),
    "scripted/spread_nearest": (
        "mpe/simple_spread_v3",
        "agent_1",
        {"brake": 0.3, "dead_zone": 0.1, "gain": 2.0},
    ),
    "scripted/tag_chaser": ("mpe/simple_tag_v3", "adversary_2", {"lead": 0.5}),
    "scripted/tag_fleer": ("mpe/simple_tag_v3", "agent_0", {"centre_pull": 1.0}),
}


@pytest.mark.parametrize("agent_id", sorted(SCRIPTED))
def test_config_round_trips_through_the_registry(agent_id: str) -> None:
    env_id, agent, params = SCRIPTED[agent_id]
    assert AGENTS[agent_id].envs == (env_id,)
    observation_space, action_space = spaces_of(env_id, agent)
    built = make_agent(agent_id, observation_space, action_space, **params)
    assert built.config == agent_class(agent_id).Config(**params)
    assert dataclasses.replace(built.config) == built.config  # frozen dataclass
    assert make_agent(agent_id, observation_space, action_space).config == type(built.config)()
    with pytest.raises(BadInput, match="has no parameter 'sede'"):
        make_agent(agent_id, observation_space, action_space, sede=1)
    key, value = next(iter(params.items()))
    with pytest.raises(BadInput, match=f"parameter '{key}'"):
        make_agent(agent_id, observation_space, action_space, **{key: "plenty"})


@pytest.mark.parametrize(
    ("agent_id", "env_id", "agent", "params"),
    [
        ("scripted/tag_chaser", "mpe/simple_tag_v3", "agent_0", {}),  # prey seat
        ("scripted/tag_fleer", "mpe/simple_tag_v3", "adversary_0", {}),  # predator seat
        ("scripted/tag_fleer", "mpe/simple_tag_v3", "agent_0", {"num_adversaries": 2}),
        ("scripted/tag_chaser", "mpe/simple_tag_v3", "adversary_0", {"num_good": 0}),
        ("scripted/spread_nearest", "mpe/simple_tag_v3", "agent_0", {}),
        ("scripted/spread_nearest", "mpe/simple_reference_v3", "agent_0", {}),
        ("scripted/tictactoe", "classic/connect_four_v3", "player_0", {}),
        ("scripted/connect_four", "classic/tictactoe_v3", "player_1", {}),
        ("scripted/connect_four", "mpe/simple_spread_v3", "agent_0", {}),
    ],
)
def test_wrong_env_is_bad_input(agent_id: str, env_id: str, agent: str, params: dict) -> None:
    with pytest.raises(BadInput, match="cannot act in this env"):
        make_agent(agent_id, *spaces_of(env_id, agent), **params)


def test_tag_agents_fit_other_tag_shapes() -> None:
    env = make_env("mpe/simple_tag_v3", num_good=2, num_adversaries=2, num_obstacles=1)
    shape = {"num_good": 2, "num_adversaries": 2, "num_obstacles": 1}
    policies = {
        a: make_agent(
            "scripted/tag_chaser" if a.startswith("adversary") else "scripted/tag_fleer",
            env.observation_space(a),
            env.action_space(a),
            **shape,
        )
        for a in env.possible_agents
    }
    totals = [play_parallel(env, policies, seed) for seed in range(4)]
    assert np.mean([t["adversary_0"] for t in totals]) > 0  # the chasers tag someone


def test_connect_four_config_defaults() -> None:
    assert ConnectFourConfig() == ConnectFourConfig(seed=None, avoid_traps=True)
