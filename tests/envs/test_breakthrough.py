"""testbed/breakthrough_v0: PettingZoo conformance, the rules as functions, and the env's play."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pettingzoo.test import api_test, seed_test

from testbed.envs import breakthrough as bt
from testbed.errors import BadInput
from testbed.registry import make_env

ENV_ID = "testbed/breakthrough_v0"


def naive_legal(board: np.ndarray) -> set[int]:
    """Legal actions by the rules read literally, one square at a time."""
    rows, cols = board.shape
    legal = set()
    for r, c in itertools.product(range(rows), range(cols)):
        if board[r, c] != 1 or r == 0:
            continue
        for d, dc in enumerate((-1, 0, 1)):
            tc = c + dc
            if not 0 <= tc < cols:
                continue
            target = board[r - 1, tc]
            if (dc == 0 and target == 0) or (dc != 0 and target != 1):
                legal.add((r * cols + c) * 3 + d)
    return legal


def random_position(rng: np.random.Generator, rows: int = 5, cols: int = 5) -> np.ndarray:
    """A random board with no piece already on its goal row."""
    board = rng.choice(np.array([-1, 0, 0, 1], dtype=np.int8), size=(rows, cols))
    board[0][board[0] == 1] = 0
    board[-1][board[-1] == -1] = 0
    return board


@pytest.mark.filterwarnings("ignore:Observation")  # Dict observations, as in PettingZoo classic
@pytest.mark.parametrize("params", [{}, {"rows": 6, "cols": 4, "max_moves": 12}])
def test_api(params):
    api_test(make_env(ENV_ID, **params), num_cycles=300)


def test_seed():
    seed_test(lambda: make_env(ENV_ID), num_cycles=100)


def test_initial_position_and_moves():
    board = bt.initial_board(5, 5, 2)
    assert (board[:2] == -1).all() and (board[3:] == 1).all() and (board[2] == 0).all()
    legal = bt.legal_actions(board)
    # Only the front row moves: 5 straight + 4 left + 4 right diagonals; back rows are blocked.
    assert legal.size == 13
    assert {bt.decode(a, 5)[:2] for a in legal} == {(3, c) for c in range(5)}


@pytest.mark.parametrize("shape", [(5, 5), (6, 4), (7, 2)])
def test_legal_moves_match_the_rules(shape):
    rng = np.random.default_rng(0)
    for _ in range(200):
        board = random_position(rng, *shape)
        expected = naive_legal(board)
        assert set(bt.legal_actions(board)) == expected
        assert {a for a in range(board.size * 3) if bt.is_legal(board, a)} == expected


def test_captures_only_diagonally():
    board = np.zeros((5, 5), np.int8)
    board[2, 2], board[1, 1], board[1, 2], board[1, 3] = 1, -1, -1, -1
    assert set(bt.legal_actions(board)) == {(2 * 5 + 2) * 3 + 0, (2 * 5 + 2) * 3 + 2}
    after = bt.apply_action(board, (2 * 5 + 2) * 3 + 0)
    assert after[1, 1] == 1 and after[2, 2] == 0 and (after == -1).sum() == 2
    with pytest.raises(ValueError):
        bt.apply_action(board, (2 * 5 + 2) * 3 + 1)  # straight into an enemy piece


def test_frames_are_rotations():
    board = random_position(np.random.default_rng(1))
    assert (bt.to_frame(bt.to_frame(board, 1), 1) == board).all()
    assert (bt.to_frame(board, 1) == -np.rot90(board, 2)).all()
    assert (bt.to_frame(board, 0) == board).all()


@pytest.mark.parametrize("direction", [0, 1, 2])
@pytest.mark.parametrize("player", [0, 1])
def test_reaching_the_far_row_wins_in_every_direction(player, direction):
    env = make_env(ENV_ID)
    env.reset(seed=0)
    raw = env.unwrapped
    frame = np.zeros((5, 5), np.int8)  # in the mover's frame
    frame[1, 2] = 1
    frame[2, 0] = -1
    frame[0, 4] = -1
    if direction != 1:
        frame[0, 2 + direction - 1] = -1  # a diagonal step onto the goal row captures
    raw.board = bt.to_frame(frame, player)
    raw.agent_selection = env.possible_agents[player]
    mover, other = env.possible_agents[player], env.possible_agents[1 - player]
    assert env.observe(mover)["action_mask"][(1 * 5 + 2) * 3 + direction] == 1
    env.step((1 * 5 + 2) * 3 + direction)
    assert all(env.terminations.values())
    assert env.rewards == {mover: 1.0, other: -1.0}
    assert bt.winner(bt.to_frame(raw.board, player)) == 1
    assert bt.winner(bt.to_frame(raw.board, 1 - player)) == -1


@pytest.mark.parametrize("player", [0, 1])
def test_capturing_every_enemy_piece_wins(player):
    env = make_env(ENV_ID)
    env.reset(seed=0)
    frame = np.zeros((5, 5), np.int8)
    frame[3, 1], frame[2, 2], frame[4, 4] = 1, -1, 1
    env.unwrapped.board = bt.to_frame(frame, player)
    env.unwrapped.agent_selection = env.possible_agents[player]
    env.step((3 * 5 + 1) * 3 + 2)
    assert all(env.terminations.values())
    assert env.rewards[env.possible_agents[player]] == 1.0


def test_observation_is_in_the_agents_own_frame():
    env = make_env(ENV_ID)
    env.reset(seed=0)
    start = env.observe("player_0")
    assert (start["observation"] == env.observe("player_1")["observation"]).all()
    assert start["action_mask"].sum() == 13 and env.observe("player_1")["action_mask"].sum() == 0
    env.step((3 * 5 + 0) * 3 + 1)  # player_0: (3, 0) straight to (2, 0)
    seen_by_1 = env.observe("player_1")["observation"]
    assert seen_by_1[2, 4, 1] == 1 and seen_by_1[1, 4, 1] == 0  # enemy piece, rotated 180
    assert env.observe("player_1")["action_mask"].sum() > 0


def test_illegal_move_loses_the_game():
    env = make_env(ENV_ID)
    env.reset(seed=0)
    env.step(0)  # no piece of player_0 on (0, 0)
    assert all(env.terminations.values())
    assert env.rewards == {"player_0": -1.0, "player_1": 0.0}
    assert all(info["cost"] == 0.0 for info in env.infos.values())
    raw = bt.raw_env()
    raw.reset(seed=0)
    with pytest.raises(ValueError, match="illegal"):
        raw.step(0)


def test_random_games_end_with_a_winner_within_the_bound():
    env = make_env(ENV_ID)
    bound = 2 * (2 * 5 * (5 - 2) + 1)
    for seed in range(30):
        env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        plies, returns = 0, {}
        for agent in env.agent_iter():
            obs, reward, termination, truncation, info = env.last()
            assert info["cost"] == 0.0
            if termination or truncation:
                returns[agent] = reward
                env.step(None)
                continue
            env.step(rng.choice(np.flatnonzero(obs["action_mask"])))
            plies += 1
        assert plies <= bound
        assert sorted(returns.values()) == [-1.0, 1.0]


def test_max_moves_is_a_draw():
    env = make_env(ENV_ID, max_moves=3)
    env.reset(seed=0)
    for _ in range(3):
        assert not any(env.truncations.values())
        env.step(np.flatnonzero(env.observe(env.agent_selection)["action_mask"])[0])
    assert all(env.truncations.values()) and not any(env.terminations.values())
    assert env.rewards == {"player_0": 0.0, "player_1": 0.0}


def test_render():
    env = make_env(ENV_ID, rows=6, cols=4, render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert text.splitlines()[:2] == ["B B B B"] * 2 and "W (player_0) to play" in text
    env = make_env(ENV_ID, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (160, 160, 3) and frame.dtype == np.uint8
    assert (frame[16, 16] == [30, 30, 30]).all() and (frame[144, 144] == [250, 250, 250]).all()


@pytest.mark.parametrize("params", [{"rows": 4}, {"cols": 1}, {"piece_rows": 0}, {"max_moves": 0}])
def test_bad_params(params):
    with pytest.raises(BadInput):
        make_env(ENV_ID, **params)
