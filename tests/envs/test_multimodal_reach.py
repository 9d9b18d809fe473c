"""testbed/multimodal_reach_v0: spaces, seeding, and that each modality is needed.

"Needed" is checked by counterfactual layouts: two situations that differ in one hidden factor
(which object is the target, where the objects are, where the agent is) give observations that
differ in exactly one modality, and the best move differs between them; so a policy that does
not read that modality must get one of the two wrong.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from gymnasium import spaces

from testbed.envs.multimodal_reach import COLOURS, TEXT_LENGTH, VOCAB, decode, encode
from testbed.errors import BadInput
from testbed.registry import make_env

ENV = "testbed/multimodal_reach_v0"
A = "agent_0"
MOVES = ((0, -1), (0, 1), (-1, 0), (1, 0))


def best_moves(env) -> set[int]:
    """The first moves of all shortest paths to the target that touch no other object."""
    goal = tuple(env.objects[env.target])
    blocked = {tuple(o) for i, o in enumerate(env.objects) if i != env.target}

    def distances(start):
        dist, queue = {start: 0}, deque([start])
        while queue:
            x, y = queue.popleft()
            for dx, dy in MOVES:
                n = (x + dx, y + dy)
                if n in dist or n in blocked or not all(0 <= v < env.size for v in n):
                    continue
                dist[n] = dist[(x, y)] + 1
                queue.append(n)
        return dist

    to_goal = distances(goal)
    here = to_goal[tuple(env._pos)]
    result = set()
    for move, (dx, dy) in enumerate(MOVES):
        n = (env._pos[0] + dx, env._pos[1] + dy)
        if to_goal.get(n, 10**9) == here - 1:
            result.add(move)
    return result


def observe(layout: dict) -> tuple[dict, set[int]]:
    env = make_env(ENV)
    obs, _ = env.reset(seed=0, options={"layout": layout})
    return obs[A], best_moves(env)


BASE = {
    "agent": (1, 1),
    "objects": [(6, 1), (1, 6), (6, 6)],
    "colours": ["red", "green", "blue"],
    "target": 0,
    "template": 0,
}


def same(a: dict, b: dict) -> dict[str, bool]:
    return {k: bool(np.array_equal(a[k], b[k])) for k in ("image", "text", "vector")}


def test_spaces_and_observations():
    env = make_env(ENV)
    space = env.observation_space(A)
    assert isinstance(space, spaces.Dict) and set(space.spaces) == {"image", "text", "vector"}
    assert space["image"].shape == (16, 16, 3) and space["image"].dtype == np.uint8
    assert space["text"].shape == (TEXT_LENGTH,) and set(space["text"].nvec) == {len(VOCAB)}
    assert space["vector"].shape == (4,)
    assert env.action_space(A) == spaces.Discrete(4)
    small = make_env(ENV, size=5, cell_px=3, continuous=True)
    assert small.observation_space(A)["image"].shape == (15, 15, 3)
    assert isinstance(small.action_space(A), spaces.Box)
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        assert space.contains(obs[A])
        words = decode(obs[A]["text"]).split()
        colour = next(w for w in words if w in COLOURS)
        assert colour == env.colours[env.target]  # the instruction names the target's colour
        assert np.array_equal(encode(decode(obs[A]["text"])), obs[A]["text"])
        # every object is drawn in its colour; nothing else is drawn (the agent is not)
        lit = np.argwhere(obs[A]["image"].any(axis=2))
        assert len(lit) == env.n_objects * env.cell_px**2


def test_same_seed_same_episode_and_seeds_differ():
    def episode(seed: int) -> list[np.ndarray]:
        env = make_env(ENV)
        obs, _ = env.reset(seed=seed)
        arrays, rng = [], np.random.default_rng(seed)
        while env.agents:
            arrays += [obs[A][k] for k in ("image", "text", "vector")] + [env.state()]
            obs, rewards, *_ = env.step({A: int(rng.integers(4))})
            arrays.append(np.array([rewards[A]]))
        return arrays

    first, again = episode(3), episode(3)
    assert len(first) == len(again)
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))
    layouts = {episode(s)[0].tobytes() for s in range(10)}
    assert len(layouts) == 10


def test_reaching_target_and_wrong_object():
    env = make_env(ENV, progress=0.0)
    env.reset(seed=0, options={"layout": {**BASE, "agent": (5, 1)}})
    _, rewards, terms, _, infos = env.step({A: 3})  # right, onto the red target
    assert terms[A] and infos[A]["success"] and rewards[A] == pytest.approx(1 - 0.9 / 24)
    env.reset(seed=0, options={"layout": {**BASE, "agent": (1, 5)}})
    _, rewards, terms, _, infos = env.step({A: 1})  # down, onto green: not the target
    assert terms[A] and not infos[A]["success"] and rewards[A] == 0.0
    shaped = make_env(ENV, progress=0.1)
    shaped.reset(seed=0, options={"layout": BASE})
    assert shaped.step({A: 3})[1][A] == pytest.approx(0.1)  # one cell closer to red
    assert shaped.step({A: 2})[1][A] == pytest.approx(-0.1)


def test_text_is_needed():
    """Same objects, same agent, another target: only the text changes, and the best move."""
    a, moves_a = observe(BASE)
    b, moves_b = observe({**BASE, "target": 1})
    assert same(a, b) == {"image": True, "text": False, "vector": True}
    assert moves_a == {3} and moves_b == {1} and not moves_a & moves_b


def test_image_is_needed():
    """Same instruction, same agent, the objects elsewhere: only the image changes."""
    a, moves_a = observe(BASE)
    b, moves_b = observe({**BASE, "objects": [(1, 6), (6, 1), (6, 6)]})  # red and green swap
    assert same(a, b) == {"image": False, "text": True, "vector": True}
    assert not moves_a & moves_b


def test_vector_is_needed():
    """Same objects and instruction, the agent elsewhere: only the vector changes; the image
    never shows the agent, so it stays the same through an episode."""
    a, moves_a = observe({**BASE, "agent": (3, 1)})
    b, moves_b = observe({**BASE, "agent": (6, 3)})
    assert same(a, b) == {"image": True, "text": True, "vector": False}
    assert moves_a == {3} and moves_b == {0} and not moves_a & moves_b
    env = make_env(ENV)
    obs, _ = env.reset(seed=1)
    image = obs[A]["image"]
    while env.agents:
        obs, *_ = env.step({A: env.action_space(A).sample()})
        assert np.array_equal(obs[A]["image"], image)


def test_bad_parameters_and_layouts():
    for params in ({"size": 2}, {"n_objects": 5}, {"cell_px": 0}, {"progress": -1.0}):
        with pytest.raises(BadInput, match="rejected its parameters"):
            make_env(ENV, **params)
    env = make_env(ENV)
    for layout in ({"agent": (6, 1)}, {"colours": ["red", "red", "blue"]}, {"target": 3},
                   {"objects": [(0, 0)]}, {"oops": 1}):  # fmt: skip
        with pytest.raises(ValueError):
            env.reset(seed=0, options={"layout": {**BASE, **layout}})


def test_continuous_actions_move_along_the_larger_axis():
    env = make_env(ENV, continuous=True, progress=0.0)
    env.reset(seed=0, options={"layout": BASE})
    obs, *_ = env.step({A: np.array([0.9, -0.2], np.float32)})
    assert tuple(env._pos) == (2, 1) and obs[A]["vector"][2:].tolist() == [1.0, 0.0]
    env.step({A: np.array([0.1, 0.5], np.float32)})
    assert tuple(env._pos) == (2, 2)
    frame = make_env(ENV, render_mode="rgb_array")
    frame.reset(seed=0)
    assert frame.render().shape == (128, 128, 3)
