"""The `network:` option (agents/common/encoders.py): layout, shapes, ablations, errors, and that
training moves every branch of the multimodal encoder (and the text's gate on the image) in
PPO, DQN and SAC."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces

from testbed.agents.common.encoders import (
    MultimodalEncoder,
    NetworkConfig,
    feature_extractor,
    layout,
)
from testbed.agents.common.nets import deterministic_torch
from testbed.agents.common.spaces import to_vectors
from testbed.cli import main
from testbed.errors import BadInput
from testbed.registry import make_agent, make_env
from testbed.rollout.make_vec import make_vec_env
from testbed.train.vector_loop import train_vectorized

ENV = "testbed/multimodal_reach_v0"
A = "agent_0"


def env_space(**params):
    env = make_env(ENV, **params)
    return env.observation_space(A), env.action_space(A), env


def test_layout_follows_gymnasium_flatten():
    space, _, env = env_space()
    parts = layout(space)
    assert [(p.key, p.kind) for p in parts] == [
        ("image", "image"), ("text", "tokens"), ("vector", "vector"),
    ]  # fmt: skip
    assert parts[-1].stop == spaces.flatdim(space)
    obs, _ = env.reset(seed=4)
    flat = spaces.flatten(space, obs[A])
    image = parts[0]
    assert np.array_equal(flat[image.start : image.stop].reshape(16, 16, 3), obs[A]["image"])
    tokens = flat[parts[1].start : parts[1].stop].reshape(parts[1].shape).argmax(axis=1)
    assert np.array_equal(tokens, obs[A]["text"])


@pytest.mark.parametrize(("text", "fusion"), [("mean", "concat"), ("gru", "gated")])
def test_encoder_shapes(text, fusion):
    space, _, env = env_space()
    config = NetworkConfig(type="multimodal", features=24, text=text, fusion=fusion)
    encoder = MultimodalEncoder(space, config)
    assert list(encoder.gates) == ([] if fusion == "concat" else ["image"])
    rows = [env.reset(seed=s)[0][A] for s in range(5)]
    x = torch.from_numpy(to_vectors(space, np.array(rows, dtype=object)))
    assert encoder(x).shape == (5, 24) and encoder(x[0]).shape == (24,)
    assert torch.allclose(encoder(x)[2], encoder(x[2]), atol=1e-6)
    channels_first = spaces.Dict(
        {"cam": spaces.Box(0, 1, (3, 12, 12), np.float32),
         "ids": spaces.MultiDiscrete([7] * 4), "pos": spaces.Box(-1, 1, (2,))}
    )  # fmt: skip
    enc = MultimodalEncoder(channels_first, NetworkConfig(type="multimodal", features=8))
    assert {p.key: p.kind for p in enc.parts} == {"cam": "image", "ids": "tokens", "pos": "vector"}
    assert enc(torch.zeros(3, spaces.flatdim(channels_first))).shape == (3, 8)


def test_dropped_modalities_do_not_reach_the_features():
    space, _, env = env_space()
    x = torch.from_numpy(spaces.flatten(space, env.reset(seed=0)[0][A]).astype(np.float32))
    image = layout(space)[0]
    changed = x.clone()
    changed[image.start : image.stop] = 255.0 - changed[image.start : image.stop]
    torch.manual_seed(0)
    fused = MultimodalEncoder(space, NetworkConfig(type="multimodal"))
    no_image = MultimodalEncoder(
        space, NetworkConfig(type="multimodal", drop_modalities=("image",))
    )
    assert "image" not in no_image.branches and set(no_image.branches) == {"text", "vector"}
    assert torch.equal(no_image(x), no_image(changed))
    assert not torch.equal(fused(x), fused(changed))
    gated = NetworkConfig(type="multimodal", fusion="gated", drop_modalities=("text",))
    assert not MultimodalEncoder(space, gated).gated  # no text: nothing to gate with


def test_default_networks_are_unchanged():
    space, actions, _ = env_space()
    torch.manual_seed(0)
    plain = make_agent("ppo", space, actions)
    torch.manual_seed(0)
    mlp = make_agent("ppo", space, actions, network={"type": "mlp"})
    assert feature_extractor(None, space)[0] is None
    for a, b in zip(plain.actor.parameters(), mlp.actor.parameters(), strict=True):
        assert torch.equal(a, b)
    first = plain.actor.state_dict()["net.0.weight"]  # the usual MLP, on the flat observation
    assert first.shape[1] == spaces.flatdim(space)
    multi = make_agent("ppo", space, actions, network={"type": "multimodal"})
    assert any(k.startswith("net.0.branches.image") for k in multi.actor.state_dict())


@pytest.mark.parametrize(
    ("network", "needle"),
    [
        ({"type": "transformer"}, "network type must be one of"),
        ({"type": "multimodal", "drop_modalities": ["audio"]}, "are not observation keys"),
        ({"type": "multimodal", "drop_modalities": ["image", "text", "vector"]}, "drops every"),
        ({"drop_modalities": ["image"]}, "needs type: multimodal"),
        ({"type": "multimodal", "text": "lstm"}, "network text must be one of"),
        ({"type": "multimodal", "fusion": "sum"}, "network fusion must be one of"),
        ({"type": "multimodal", "channels": []}, "channels must be positive"),
        ({"type": "multimodal", "widht": 3}, "widht"),
    ],
)
def test_bad_network_options_are_clear_errors(network, needle):
    space, actions, _ = env_space()
    for agent in ("ppo", "dqn"):
        with pytest.raises(BadInput, match=needle):
            make_agent(agent, space, actions, network=network)


def test_sac_refuses_normalized_observations_before_an_encoder():
    env = make_env("testbed/multimodal_reach_v0", continuous=True)
    with pytest.raises(BadInput, match="normalize_obs"):
        make_agent("sac", env.observation_space("agent_0"), env.action_space("agent_0"),
                   network={"type": "multimodal"}, normalize_obs=True)  # fmt: skip


def test_ppo_and_its_family_refuse_what_would_corrupt_or_skip_the_encoder():
    space, actions, _ = env_space()
    with pytest.raises(BadInput, match="normalize_observations"):
        make_agent("ppo", space, actions, network={"type": "multimodal"},
                   normalize_observations=True)  # fmt: skip
    for agent in ("ppo_lagrangian", "cvar_ppo"):
        with pytest.raises(BadInput, match="does not take network"):
            make_agent(agent, space, actions, network={"type": "multimodal"})


def test_small_images_are_read_channels_last():
    from testbed.agents.common.encoders import ImageCNN

    for shape in ((3, 3, 3), (4, 4, 3), (16, 16, 3)):
        assert ImageCNN(shape, (8,), 0.0, 255.0).channels_last, shape
    assert not ImageCNN((3, 16, 16), (8,), 0.0, 255.0).channels_last


def test_multimodal_needs_a_dict_space():
    with pytest.raises(BadInput, match="needs a Dict observation space"):
        make_agent("ppo", spaces.Box(-1, 1, (3,)), spaces.Discrete(2),
                   network={"type": "multimodal"})  # fmt: skip


def test_bad_network_in_a_scenario_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "kind: train\nenv: testbed/multimodal_reach_v0\nsteps: 100\nagents:\n"
        "  agent_0:\n    id: ppo\n    params:\n"
        "      network: {type: multimodal, drop_modalities: [sound]}\n"
    )
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "sound" in err and "bad.yaml" in err and "Traceback" not in err


def branch_parameters(encoder) -> dict[str, list[torch.Tensor]]:
    return {
        key: [p.detach().clone() for p in b.parameters()] for key, b in encoder.branches.items()
    }


@pytest.mark.parametrize(
    ("agent", "params", "env_params"),
    [
        ("ppo", {"rollout_steps": 64, "minibatch_size": 32, "epochs": 1}, {}),
        ("dqn", {"learning_starts": 64, "train_freq": 4, "batch_size": 16}, {}),
        ("sac", {"learning_starts": 200, "batch_size": 16, "hidden": [16]}, {"continuous": True}),
    ],
)
def test_training_moves_every_branch(agent, params, env_params):
    """A short training run changes the weights of the image CNN, the token embedding and the
    vector layer (gradients flow through each), and a checkpoint round-trips."""
    deterministic_torch(0)
    space, actions, env = env_space(cell_px=1, **env_params)
    network = {"type": "multimodal", "features": 16, "channels": [4, 8], "fusion": "gated"}
    learner = make_agent(agent, space, actions, **params, network=network)
    encoders = [m for m in learner_modules(learner) if isinstance(m, MultimodalEncoder)]
    assert len(encoders) == {"ppo": 2, "dqn": 2, "sac": 5}[agent]  # targets copy theirs
    online = encoders[0]
    before = branch_parameters(online)
    gate_before = [g.weight.detach().clone() for g in online.gates["image"]]
    copies = make_vec_env(ENV, 4, cell_px=1, **env_params)
    train_vectorized(copies, {A: learner}, 256, seed=0)
    after = branch_parameters(online)
    for key in ("image", "text", "vector"):
        assert any(not torch.equal(a, b) for a, b in zip(before[key], after[key], strict=True)), key
    gates = zip(gate_before, online.gates["image"], strict=True)
    assert all(not torch.equal(b, g.weight) for b, g in gates)
    clone = make_agent(agent, space, actions, **params, network=network)
    clone.load_state_dict(learner.state_dict())
    obs = env.reset(seed=9)[0][A]
    assert np.array_equal(np.asarray(clone.act(obs)), np.asarray(learner.act(obs)))


def learner_modules(learner) -> list[torch.nn.Module]:
    nets = [v for v in vars(learner).values() if isinstance(v, torch.nn.Module)]
    return [m for net in nets for m in net.modules()]
