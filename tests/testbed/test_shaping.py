"""Reward shaping: potential-based shaping keeps the optimal policy (exact, by value
iteration on four rooms), an additive bonus changes it; the train stage learns from shaped
rewards while its curve and evaluations keep the env's."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces

import testbed
from testbed.envs import four_rooms as rooms
from testbed.envs.four_rooms_model import moves_to, policy_value, transition_model, value_iteration
from testbed.errors import BadInput
from testbed.scenario.yamlsrc import Source
from testbed.stages import parse_scenario
from testbed.train.shaping import Shaper, ShapingSpec, four_rooms_distance, potential_term

GAMMA = 0.95


def test_potential_shaping_keeps_the_optimal_policy_and_a_bonus_changes_it() -> None:
    goal = rooms.DEFAULT_GOAL
    P, R = transition_model(goal)
    n = P.shape[0]
    terminal = np.zeros(n, bool)
    terminal[goal] = True
    Q = value_iteration(P, R, GAMMA)
    live = [s for s in range(n) if s != goal]
    phi = np.random.default_rng(0).normal(0, 5, n)  # any potential, large against R
    F = potential_term(phi[:, None, None], phi[None, None, :], GAMMA, terminal[None, None, :])
    Q_shaped = value_iteration(P, R + F, GAMMA)
    # Ng et al. 1999: Q'(s, a) = Q(s, a) - Phi(s), so every greedy choice is the same
    assert np.abs(Q_shaped[live] - (Q[live] - phi[live, None])).max() < 1e-9
    assert (Q_shaped[live].argmax(1) == Q[live].argmax(1)).all()
    # an additive bonus for entering one cell far from the goal is not policy-invariant
    corner = rooms.cell_of(1, 1)
    bonus = np.zeros((n, 4, n))
    bonus[:, :, corner] = 0.2
    Q_bonus = value_iteration(P, R + bonus, GAMMA)
    changed = [s for s in live if Q_bonus[s].argmax() != Q[s].argmax()]
    assert len(changed) >= 10
    # from the corner the bonus policy stays near the corner instead of heading to the goal
    assert Q_bonus[corner].max() > Q[corner].max() + 1.0


def test_the_four_rooms_model_matches_its_moves_and_values() -> None:
    goal = rooms.DEFAULT_GOAL
    moves = moves_to(goal)
    assert moves[goal] == 0 and (moves[np.arange(len(moves)) != goal] >= 1).all()
    # without slip the optimal value is gamma ** (moves - 1): the last move pays 1
    P, R = transition_model(goal, slip=0.0)
    Q = value_iteration(P, R, GAMMA)
    live = np.arange(len(moves)) != goal
    assert np.allclose(Q.max(axis=1)[live], GAMMA ** (moves[live] - 1.0), atol=1e-10)
    # the greedy policy's exact value is the optimum; a policy that always moves up is worse
    greedy = policy_value(P, R, GAMMA, Q.argmax(axis=1))
    assert np.allclose(greedy, Q.max(axis=1), atol=1e-10)
    assert (
        policy_value(P, R, GAMMA, np.zeros(len(moves), np.int64))[live].mean()
        < 0.5 * greedy[live].mean()
    )
    # the named potential reads one-hot cells: 0 at the goal, -1 at the farthest cell
    one_hot = np.eye(len(moves))
    phi = four_rooms_distance(one_hot)
    assert phi[goal] == 0.0 and phi.min() == -1.0
    assert np.allclose(phi, -moves / moves.max())


def test_the_shaper_adds_gamma_phi_next_minus_phi_and_zero_at_terminals() -> None:
    space = spaces.Box(-10, 10, (2,), np.float32)
    spec = ShapingSpec(goal=[1.0, 0.0])
    shaper = Shaper(spec, lambda x: -np.linalg.norm(x - [1.0, 0.0], axis=1), {"a": space}, 0.9)
    obs = np.array([[0.0, 0.0], [3.0, 0.0]], np.float32)
    nxt = np.array([[1.0, 0.0], [2.0, 0.0]], np.float32)
    shaped = shaper.batch("a", obs, nxt, np.array([1.0, 1.0]), np.array([True, False]),
                          np.array([True, False]))  # fmt: skip
    assert shaped == pytest.approx([1.0 + 0.0 - (-1.0), 1.0 + 0.9 * -1.0 - (-2.0)])
    assert shaper.recent_episode_mean() == pytest.approx(1.0)  # the copy whose episode ended
    additive = Shaper(ShapingSpec(type="additive", goal=[1.0, 0.0]), shaper.potential,
                      {"a": space}, 0.9)  # fmt: skip
    plus = additive.batch("a", obs, nxt, np.zeros(2), np.zeros(2, bool), np.zeros(2, bool))
    assert plus == pytest.approx([0.0, -1.0])


def _scenario(tmp_path: Path, shaping: dict, num_envs: int = 1) -> Path:
    import yaml

    data = {
        "name": "shaped",
        "seed": 3,
        "kind": "train",
        "env": "gym/MountainCar-v0",
        "agents": {"agent_0": {"id": "dqn", "params": {"hidden": [16], "learning_starts": 50}}},
        "steps": 800,
        "eval_every": 400,
        "eval_episodes": 1,
        "num_envs": num_envs,
        "shaping": shaping,
    }
    path = tmp_path / "shaped.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("num_envs", [1, 4])
def test_a_shaped_train_stage_logs_shaping_apart_from_the_env_reward(
    tmp_path: Path, num_envs: int
) -> None:
    path = _scenario(tmp_path, {"function": "mountain_car_energy", "scale": 10}, num_envs)
    result = testbed.run(testbed.load_scenario(str(path)), out=tmp_path / "run", show=False)
    stage = result.stages[0]
    rows = list(csv.DictReader((Path(stage.folder) / "curve.csv").open()))
    assert "train_shaping" in rows[0]
    assert [r["eval_return"] for r in stage.curve] == [-200.0, -200.0]  # env reward: -1 a step
    shaped = [r["train_shaping"] for r in stage.curve if r["train_shaping"] is not None]
    assert shaped and all(s != 0.0 for s in shaped)
    assert stage.curve[-1]["train_return"] == -200.0  # training returns are the env's too


def test_shaping_input_errors_name_the_field(tmp_path: Path) -> None:
    path = _scenario(tmp_path, {"function": "mountain_car_energy", "goal": [0.5]})
    with pytest.raises(BadInput, match="exactly one source of Phi") as info:
        testbed.load_scenario(str(path))
    assert "shaped.yaml" in str(info.value)
    path = _scenario(tmp_path, {"goal": [0.5, 0.0, 1.0]})
    with pytest.raises(BadInput, match="no entries"):
        testbed.run(testbed.load_scenario(str(path)), out=tmp_path / "bad", show=False)
    path = _scenario(tmp_path, {"function": "four_rooms_distance"})  # on MountainCar
    with pytest.raises(BadInput, match="four rooms' 104 cells"):
        testbed.run(testbed.load_scenario(str(path)), out=tmp_path / "bad2", show=False)
    with pytest.raises(BadInput, match="unknown potential"):
        parse_scenario(
            {"kind": "train", "env": "gym/MountainCar-v0", "agents": {"agent_0": "dqn"},
             "steps": 10, "shaping": {"function": "nope"}},
            Source("inline.yaml"),
        )  # fmt: skip


def test_value_function_potentials_read_critics_q_networks_and_tables() -> None:
    import torch

    from testbed.registry import make_agent
    from testbed.train.shaping import value_function

    box, two = spaces.Box(-1, 1, (3,), np.float32), spaces.Discrete(2)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 3))
    ppo = make_agent("ppo", box, two, hidden=[8])
    with torch.no_grad():
        expected = ppo.critic(torch.as_tensor(x, dtype=torch.float32))[:, 0].numpy()
    assert value_function(ppo)(x) == pytest.approx(expected, abs=1e-6)
    dqn = make_agent("dqn", box, two, hidden=[8])
    with torch.no_grad():
        q = dqn.q(torch.as_tensor(x, dtype=torch.float32)).max(1).values.numpy()
    assert value_function(dqn)(x) == pytest.approx(q, abs=1e-6)
    table = make_agent("q_learning", spaces.Discrete(3), two)
    table.table.copy_(torch.tensor([[1.0, 2.0], [0.0, -1.0], [5.0, 3.0]]))
    assert value_function(table)(np.eye(3)) == pytest.approx([2.0, 0.0, 5.0])
    with pytest.raises(ValueError, match="no value function"):
        value_function(make_agent("random", box, two))
