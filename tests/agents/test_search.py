"""scripted/breakthrough_search: correct negamax values, sensible tactics, seeded tie-breaks and
the strength order on a small fixed-seed sample."""

from __future__ import annotations

import numpy as np
import pytest

from testbed.agents.scripted.breakthrough_search import WIN, BreakthroughNegamax
from testbed.envs import breakthrough as bt
from testbed.errors import BadInput
from testbed.registry import make_agent, make_env
from testbed.rollout.episode import run_episode
from testbed.rollout.team import PolicyTeam

ENV_ID = "testbed/breakthrough_v0"
AGENT_ID = "scripted/breakthrough_search"


def spaces(**env_params):
    env = make_env(ENV_ID, **env_params)
    return env.observation_space("player_0"), env.action_space("player_0")


def agent(depth: int, **env_params) -> BreakthroughNegamax:
    return make_agent(AGENT_ID, *spaces(**env_params), depth=depth)


def observation(board: np.ndarray) -> dict[str, np.ndarray]:
    planes = np.stack([board == 1, board == -1], axis=-1).astype(np.int8)
    return {"observation": planes, "action_mask": bt.legal_mask(board).astype(np.int8)}


def plain_minimax(searcher: BreakthroughNegamax, board: np.ndarray, depth: int) -> float:
    """The same value without pruning, move ordering or incremental scoring."""
    best = -np.inf
    for action in bt.legal_actions(board):
        after = bt.apply_action(board, action)
        if bt.winner(after) == 1:
            return WIN + depth
        if depth == 1:
            value = searcher.evaluate(after)
        else:
            value = -plain_minimax(searcher, bt.flip(after), depth - 1)
        best = max(best, value)
    return best


def middle_game(seed: int, plies: int) -> np.ndarray:
    """A position after `plies` random moves that nobody has won yet, for the player to move."""
    rng = np.random.default_rng(seed)
    board = bt.initial_board()
    for _ in range(plies):
        after = bt.apply_action(board, rng.choice(bt.legal_actions(board)))
        if bt.winner(after) != 0:
            break
        board = bt.flip(after)
    return board


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_alpha_beta_value_equals_plain_minimax(depth):
    searcher = agent(depth)
    for seed in range(12):
        board = middle_game(seed, plies=2 + 2 * (seed % 3))
        assert searcher.value(board, depth) == pytest.approx(plain_minimax(searcher, board, depth))


@pytest.mark.parametrize("depth", [2, 3])
def test_alpha_beta_bounds_hold_in_narrow_windows(depth):
    # Fail-soft alpha-beta: exact inside (alpha, beta), a bound on the right side outside it.
    searcher = agent(depth)
    for seed in range(12):
        board = middle_game(seed, plies=2 + 2 * (seed % 3))
        true = plain_minimax(searcher, board, depth)
        for low, high in [(-2, 2), (-0.5, 8), (-8, 0.5), (1, 6), (-6, -1)]:
            alpha, beta = true + low, true + high
            result = searcher._negamax(board, depth, alpha, beta)
            if alpha < true < beta:
                assert result == pytest.approx(true)
            elif true <= alpha:
                assert true - 1e-9 <= result <= alpha + 1e-9
            else:
                assert beta - 1e-9 <= result <= true + 1e-9


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_takes_an_immediate_win(depth):
    board = np.zeros((5, 5), np.int8)
    board[1, 4], board[3, 0], board[2, 2], board[0, 0] = 1, 1, -1, -1
    player = agent(depth)
    player.reset(seed=0)
    action = player.act(observation(board), observation(board)["action_mask"])
    assert bt.winner(bt.apply_action(board, action)) == 1


@pytest.mark.parametrize("depth", [2, 3])
def test_captures_a_piece_about_to_win(depth):
    # The enemy piece on (3, 2) reaches the last row next move unless captured from (4, 1) or
    # (4, 3); the own piece on (2, 4) could capture on (1, 3) instead.
    board = np.zeros((5, 5), np.int8)
    board[3, 2], board[0, 0], board[1, 3] = -1, -1, -1
    board[4, 1], board[4, 3], board[2, 4] = 1, 1, 1
    saving = {(4 * 5 + 1) * 3 + 2, (4 * 5 + 3) * 3 + 0}
    player = agent(depth)
    for seed in range(10):
        player.reset(seed=seed)
        assert int(player.act(observation(board))) in saving
    assert player.value(board, depth) > -WIN / 2
    bait = bt.apply_action(board, (2 * 5 + 4) * 3 + 0)
    assert player.value(bt.flip(bait), 1) == WIN + 1  # after the bait the enemy wins at once


def test_depth_zero_is_random_and_legal():
    player = agent(0)
    board = bt.initial_board()
    chosen = set()
    for seed in range(30):
        player.reset(seed=seed)
        mask = bt.legal_mask(board).astype(np.int8)
        action = int(player.act(observation(board), mask))
        assert mask[action] == 1
        chosen.add(action)
    assert len(chosen) > 5


def test_ties_are_broken_by_the_seed():
    first_moves = []
    for seed in range(20):
        player = agent(2)
        player.reset(seed=seed)
        first = int(player.act(observation(bt.initial_board())))
        player.reset(seed=seed)
        assert int(player.act(observation(bt.initial_board()))) == first
        first_moves.append(first)
    assert len(set(first_moves)) > 1


def match(deep: int, shallow: int, games: int, **env_params) -> float:
    """Deeper agent's score over `games` fixed-seed games, seats swapped every game."""
    env = make_env(ENV_ID, **env_params)
    a, b = agent(deep, **env_params), agent(shallow, **env_params)
    score = 0.0
    for game in range(games):
        seats = {"player_0": a, "player_1": b} if game % 2 == 0 else {"player_0": b, "player_1": a}
        record = run_episode(env, PolicyTeam(seats), seed=1000 + game)
        deep_seat = "player_0" if game % 2 == 0 else "player_1"
        score += (record.agents[deep_seat].ret + 1) / 2
    return score / games


def test_depth_two_beats_depth_zero():
    assert match(2, 0, 10) == 1.0


def test_depth_three_beats_depth_one():
    assert match(3, 1, 10) >= 0.8


def test_works_on_other_board_sizes():
    assert match(2, 0, 4, rows=6, cols=4) == 1.0


def test_config_through_the_registry():
    built = make_agent(AGENT_ID, *spaces(), depth=3, seed=5)
    assert built.config == BreakthroughNegamax.Config(depth=3, seed=5)
    assert make_agent(AGENT_ID, *spaces()).config.depth == 2
    with pytest.raises(BadInput, match="parameter 'depth'"):
        make_agent(AGENT_ID, *spaces(), depth="deep")
    with pytest.raises(BadInput, match="has no parameter"):
        make_agent(AGENT_ID, *spaces(), dept=3)


def test_bad_config_and_wrong_env():
    with pytest.raises(BadInput):
        make_agent(AGENT_ID, *spaces(), depth=-1)
    commons = make_env("testbed/commons_harvest_v0")
    with pytest.raises(BadInput):
        make_agent(AGENT_ID, commons.observation_space("agent_0"), commons.action_space("agent_0"))
