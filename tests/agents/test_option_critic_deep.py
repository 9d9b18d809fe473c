"""Neural option-critic: head shapes, terminations in [0, 1], options that switch, a short
vectorized run that moves every head, a checkpoint round trip, bad parameters exit 2."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from testbed.agents.hierarchical.option_critic_deep import OptionCriticDeep
from testbed.cli import main
from testbed.registry import make_agent, make_env
from testbed.rollout.make_vec import make_vec_env
from testbed.train.vector_loop import train_vectorized

SMALL = {"n_options": 3, "hidden": [16], "rollout_steps": 8, "epsilon_decay_steps": 100}


def cartpole_learner(**params) -> tuple[object, OptionCriticDeep]:
    env = make_env("gym/CartPole-v1")
    learner = make_agent("option_critic_deep", env.observation_space("agent_0"),
                         env.action_space("agent_0"), **{**SMALL, **params})  # fmt: skip
    return env, learner


def test_heads_have_the_right_shapes_and_terminations_are_probabilities() -> None:
    torch.manual_seed(0)
    _, oc = cartpole_learner()
    obs = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    q, beta, logits = oc.net(torch.from_numpy(obs))
    assert q.shape == (5, 3) and beta.shape == (5, 3) and logits.shape == (5, 3, 2)
    probs = oc.termination_probabilities(obs * 100)  # far outside the usual range too
    assert probs.shape == (5, 3) and np.all((probs >= 0) & (probs <= 1))
    assert oc.option_values(obs).shape == (5, 3)
    actions = oc.explore_batch(obs)
    assert actions.shape == (5,) and set(actions) <= {0, 1} and set(oc.options) <= {0, 1, 2}


def test_short_run_moves_every_head_and_switches_options() -> None:
    torch.manual_seed(0)
    _, oc = cartpole_learner()
    before = {name: p.detach().clone() for name, p in oc.net.named_parameters()}
    copies = make_vec_env("gym/CartPole-v1", 4)
    train_vectorized(copies, {"agent_0": oc}, 480, seed=0)
    copies.close()
    assert oc.updates >= 10
    for name, p in oc.net.named_parameters():  # torso, Q_Omega, termination, policy heads
        assert not torch.equal(before[name], p.detach()), f"{name} did not move"
    history = oc.take_option_history()
    assert history.shape[1] == 4 and len(np.unique(history)) > 1
    changes = (history[1:] != history[:-1]).sum()
    assert changes > 0  # options end and others take over within the run
    assert oc.take_option_history().shape[0] == 0  # taken: cleared


def test_evaluation_keeps_an_option_until_it_terminates() -> None:
    torch.manual_seed(0)
    env, oc = cartpole_learner()
    obs, _ = env.reset(seed=0)
    oc.reset(0)
    used = []
    for _ in range(30):
        obs, *_ = env.step({"agent_0": oc.act(obs["agent_0"])})
        used.append(oc.eval_option)
        if not env.agents:
            break
    assert set(used) <= {0, 1, 2}


def test_checkpoint_round_trip_gives_the_same_policy() -> None:
    torch.manual_seed(0)
    _, oc = cartpole_learner(target_update_interval=5)
    copies = make_vec_env("gym/CartPole-v1", 2)
    train_vectorized(copies, {"agent_0": oc}, 200, seed=1)
    copies.close()
    state = oc.state_dict()
    _, again = cartpole_learner(target_update_interval=5)
    again.load_state_dict(state)
    obs = np.random.default_rng(1).normal(size=(8, 4)).astype(np.float32)
    assert np.allclose(again.option_values(obs), oc.option_values(obs))
    assert np.allclose(again.termination_probabilities(obs), oc.termination_probabilities(obs))
    assert again.steps == oc.steps == 200 and again.updates == oc.updates
    for key, value in again.target.state_dict().items():
        assert torch.equal(value, oc.target.state_dict()[key])


@pytest.mark.parametrize(
    "field, value, expected",
    [("n_options", 0, "n_options"), ("temperature", 0.0, "temperature"),
     ("rollout_steps", "many", "rollout_steps")],
)  # fmt: skip
def test_bad_parameter_in_a_scenario_exits_2(tmp_path, capsys, field, value, expected) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "kind: train\nenv: gym/CartPole-v1\nsteps: 100\nagents:\n"
        f"  agent_0:\n    id: option_critic_deep\n    params:\n      {field}: {value}\n"
    )
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert expected in err and "bad.yaml" in err and "Traceback" not in err
