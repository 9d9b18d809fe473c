"""Meta-learning: the MAML code meta-learns sine regression (Finn et al. 2017, sec. 5.1);
second order differs from first order; MAML, Reptile and the joint baseline train and adapt
on 2D navigation; `kind: meta_train` + `adapt:` are seeded and refuse bad input."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn
from torch.func import functional_call

import testbed
from testbed.agents.common.nets import deterministic_torch, mlp
from testbed.agents.meta.common import adapt
from testbed.errors import BadInput
from testbed.meta.tasks import Range, TaskSpec, draw_tasks
from testbed.registry import make_agent, make_env

INNER_LR = 0.05


def _sine_batch(rng: np.random.Generator, amplitude: float, phase: float, k: int):
    x = rng.uniform(-5, 5, (k, 1))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(
        amplitude * np.sin(x - phase), dtype=torch.float32
    )


def _adapted_mse(net: nn.Module, rng: np.random.Generator, tasks: int = 50) -> tuple[float, float]:
    """Mean MSE on 100 test points of held-out sine tasks before and after one step on 10."""

    def mse(p: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((functional_call(net, p, (x,)) - y) ** 2).mean()

    pre, post = [], []
    for _ in range(tasks):
        a, ph = rng.uniform(0.1, 5), rng.uniform(0, np.pi)
        (x, y), (xt, yt) = _sine_batch(rng, a, ph, 10), _sine_batch(rng, a, ph, 100)
        theta = dict(net.named_parameters())
        adapted = adapt(theta, lambda p, x=x, y=y: mse(p, x, y), 1, INNER_LR, True)
        pre.append(float(mse(theta, xt, yt).detach()))
        post.append(float(mse(adapted, xt, yt).detach()))
    return float(np.mean(pre)), float(np.mean(post))


def test_maml_meta_learns_sine_regression() -> None:
    deterministic_torch(0)
    net = mlp(1, 1, (40, 40), nn.ReLU)
    random_init = copy.deepcopy(net)
    optimizer = torch.optim.Adam(net.parameters(), 3e-3)
    rng = np.random.default_rng(0)

    def mse(p: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((functional_call(net, p, (x,)) - y) ** 2).mean()

    for _ in range(300):  # second-order MAML, 5 tasks per meta-batch, K = 10
        losses = []
        for _ in range(5):
            a, ph = rng.uniform(0.1, 5), rng.uniform(0, np.pi)
            (x, y), (x2, y2) = _sine_batch(rng, a, ph, 10), _sine_batch(rng, a, ph, 10)
            adapted = adapt(
                dict(net.named_parameters()), lambda p, x=x, y=y: mse(p, x, y), 1, INNER_LR, False
            )
            losses.append(mse(adapted, x2, y2))
        optimizer.zero_grad()
        torch.stack(losses).mean().backward()
        optimizer.step()
    pre, post = _adapted_mse(net, np.random.default_rng(1))
    _, random_post = _adapted_mse(random_init, np.random.default_rng(1))
    assert post < 0.75 * pre  # one step on 10 points helps the meta-learned init a lot
    assert post < random_post - 1.0  # and far more than it helps a random init


def test_second_order_differs_from_first_order() -> None:
    deterministic_torch(0)
    net = mlp(1, 1, (8,), nn.Tanh)
    x, y = torch.randn(10, 1), torch.randn(10, 1)

    def loss(p: dict) -> torch.Tensor:
        return ((functional_call(net, p, (x,)) - y) ** 2).mean()

    grads = []
    for first_order in (True, False):
        theta = dict(net.named_parameters())
        outer = loss(adapt(theta, loss, 1, 0.5, first_order))
        grads.append(torch.autograd.grad(outer, list(theta.values())))
    assert not all(torch.allclose(a, b) for a, b in zip(*grads, strict=True))


@pytest.mark.parametrize(
    ("agent_id", "extra", "env_id", "param"),
    [
        ("maml", {}, "testbed/point_nav_v0", "goal_angle"),
        ("maml", {"first_order": False}, "testbed/point_nav_v0", "goal_angle"),
        ("reptile", {}, "testbed/point_nav_v0", "goal_angle"),
        ("multitask", {}, "testbed/point_nav_v0", "goal_angle"),
        ("maml", {}, "gym/CartPole-v1", "length"),  # Discrete; episodes of unequal length
    ],
)
def test_meta_learners_train_adapt_and_round_trip(
    agent_id: str, extra: dict, env_id: str, param: str
) -> None:
    deterministic_torch(0)
    env = make_env(env_id)
    spaces = env.observation_space("agent_0"), env.action_space("agent_0")
    params = {"hidden": [16], "episodes": 4, "meta_batch": 2, **extra}
    agent = make_agent(agent_id, *spaces, **params)
    tasks = [lambda v=v: make_env(env_id, **{param: v}) for v in (0.5, 1.0)]
    before = {k: v.clone() for k, v in agent.net.state_dict().items()}
    metrics = agent.meta_step(tasks, seed=1)
    assert metrics and agent.iterations == 1
    assert any(not torch.equal(before[k], v) for k, v in agent.net.state_dict().items())
    copy_ = make_agent(agent_id, *spaces, **params)
    copy_.load_state_dict(agent.state_dict())
    obs = env.observation_space("agent_0").sample()
    assert np.array_equal(agent.act(obs), copy_.act(obs))
    returns = copy_.adapt(tasks[0], steps=2, episodes=4, seed=3)
    assert len(returns) == 3 and all((r < 0) == (env_id == "testbed/point_nav_v0") for r in returns)


def _write(tmp_path: Path, adapt_stage: dict) -> Path:
    tasks = {"params": {"goal_angle": {"low": 0.0, "high": 6.283}}, "count": 3}
    data = {
        "name": "meta",
        "seed": 4,
        "stages": [
            {"kind": "meta_train", "name": "meta", "env": "testbed/point_nav_v0",
             "tasks": tasks, "iterations": 2,
             "agents": {"agent_0": {"id": "maml", "params": {"hidden": [16], "episodes": 4,
                                                             "meta_batch": 2}}}},
            {"kind": "evaluate", "name": "adapted", "env": "testbed/point_nav_v0",
             "tasks": tasks, "adapt": {"steps": 1, "episodes": 4},
             "agents": {"agent_0": {"checkpoint": "@meta/agent_0"}}, **adapt_stage},
        ],
    }  # fmt: skip
    path = tmp_path / "meta.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_meta_train_then_adapt_is_seeded(tmp_path: Path) -> None:
    path = _write(tmp_path, {})
    runs = [
        testbed.run(testbed.load_scenario(str(path)), out=tmp_path / f"run{k}", show=False)
        for k in range(2)
    ]
    adapted = [r.stages[1].metrics for r in runs]
    assert adapted[0]["per_task_returns"] == adapted[1]["per_task_returns"]
    assert len(adapted[0]["tasks"]) == 3 and len(adapted[0]["adaptation"]["return"]) == 2
    assert (tmp_path / "run0" / "meta" / "meta_curve.csv").is_file()


def test_tasks_are_drawn_per_stream_and_index() -> None:
    spec = TaskSpec(params={"goal_angle": Range(low=0.0, high=6.0), "length": [0.5, 1.0]})
    one = draw_tasks(spec, 7, "meta-train", 0, 5)
    assert one == draw_tasks(spec, 7, "meta-train", 0, 5)
    assert one != draw_tasks(spec, 7, "meta-train", 1, 5)
    held_out = draw_tasks(spec, 7, "held-out", 0, 5)
    assert not {t["goal_angle"] for t in one} & {t["goal_angle"] for t in held_out}
    assert all(0.0 <= t["goal_angle"] <= 6.0 and t["length"] in (0.5, 1.0) for t in held_out)


def test_adapt_input_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, {"tasks": None})
    with pytest.raises(BadInput, match="`adapt` and `tasks` go together"):
        testbed.load_scenario(str(path))
    path = _write(tmp_path, {"agents": {"agent_0": "random"}})
    with pytest.raises(BadInput, match="cannot adapt"):
        testbed.run(testbed.load_scenario(str(path)), out=tmp_path / "bad", show=False)
    path = _write(tmp_path, {"tasks": {"params": {"goal_angle": {"low": 1.0, "high": 0.0}}}})
    with pytest.raises(BadInput, match="below low"):
        testbed.load_scenario(str(path))
