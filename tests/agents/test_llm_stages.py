"""`llm_advised` around a real learner, the language-model agents in scenario stages (usage in
results and summaries), and bad scenario input: one message naming file, line and field,
exit 2. The text policies here are scripted (no model): the plumbing around them is real."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from gymnasium import spaces

from testbed import load_scenario, run
from testbed.agents.llm.scripted import four_rooms_advice, four_rooms_best_actions
from testbed.cli import main
from testbed.errors import BadInput
from testbed.registry import make_agent

ADVISOR = "testbed.agents.llm.scripted:four_rooms_advisor"
ROOMS = (spaces.Discrete(104), spaces.Discrete(4))


def advised(**params):
    base = {"backend": "scripted", "model": ADVISOR, "env": "testbed/four_rooms_v0",
            "cache_dir": ""}  # fmt: skip
    return make_agent("llm_advised", *ROOMS, **{**base, **params})


def test_advice_is_followed_with_the_prior_and_the_learner_learns_from_it():
    torch.manual_seed(0)
    agent = advised(prior_start=1.0, prior_end=1.0, scripted_params={"quality": 1.0})
    for cell in (5, 40, 90):
        action = int(agent.explore(cell))
        assert action in four_rooms_best_actions(cell)
        agent.observe({"obs": cell, "action": action, "reward": 1.0, "next_obs": cell,
                       "terminated": True, "truncated": False})  # fmt: skip
        metrics = agent.update()
        assert agent.learner.q[cell, action] == pytest.approx(0.5)  # alpha * reward
    assert metrics["llm_queries"] == 3 and metrics["advised_steps"] == 3
    assert metrics["advice_probability"] == 1.0


def test_advice_decays_to_nothing_and_evaluation_never_asks():
    torch.manual_seed(0)
    agent = advised(prior_start=0.5, prior_decay_steps=10, scripted_params={"quality": 0.0})
    for step in range(40):
        action = agent.explore(step % 100)
        agent.observe({"obs": step % 100, "action": action, "reward": 0.0,
                       "next_obs": (step + 1) % 100, "terminated": False,
                       "truncated": False})  # fmt: skip
        metrics = agent.update()
        if step == 12:
            asked = metrics["llm_queries"]
    assert metrics["advice_probability"] == 0.0 and metrics["llm_queries"] == asked
    before = metrics["llm_queries"]
    agent.act(3)
    assert agent.update().get("llm_queries", before) == before


def test_controlled_quality_advice_is_right_in_that_share_of_states():
    cells = [c for c in range(104) if four_rooms_best_actions(c)]  # all but the goal
    right = [
        np.mean([four_rooms_advice(q, 1)[c] in four_rooms_best_actions(c) for c in cells])
        for q in (0.0, 0.5, 1.0)
    ]
    assert right[0] == 0.0 and 0.35 < right[1] < 0.65 and right[2] == 1.0


def test_on_policy_learners_are_refused():
    with pytest.raises(BadInput, match="off-policy"):
        advised(learner="ppo")


def scenario_text(agent: str, kind: str = "evaluate", extra: str = "episodes: 2") -> str:
    return f"""
        name: llm-test
        description: test
        seed: 0
        kind: {kind}
        env: {{id: testbed/four_rooms_v0, params: {{slip: 0.0}}}}
        max_steps: 12
        agents:
          agent_0:
            {agent}
        {extra}
    """


LLM = """id: llm
            params: {backend: scripted, model: "testbed.agents.llm.scripted:fixed",
                     scripted_params: {text: "left"}, env: testbed/four_rooms_v0, cache_dir: ""}"""


def test_an_evaluation_reports_language_model_use_per_episode(write_yaml, tmp_path):
    result = run(load_scenario(write_yaml(scenario_text(LLM))), tmp_path / "run", show=False)
    usage = result.stages[0]["metrics"]["agents"]["agent_0"]["usage"]
    assert usage["llm_queries"]["mean"] == 12 and usage["llm_fallbacks"]["mean"] == 0
    assert usage["llm_calls"]["mean"] == 12 and usage["llm_tokens"]["mean"] > 0
    episodes = (tmp_path / "run" / "episodes.jsonl").read_text().splitlines()
    assert json.loads(episodes[0])["agents"]["agent_0"]["usage"]["llm_queries"] == 12
    assert "Language model, per episode" in (tmp_path / "run" / "summary.md").read_text()


@pytest.mark.parametrize("num_envs", [1, 3])
def test_a_train_stage_with_an_advised_learner_reports_its_usage(write_yaml, tmp_path, num_envs):
    agent = f"""id: llm_advised
            params: {{backend: scripted, model: "{ADVISOR}", env: testbed/four_rooms_v0,
                     cache_dir: "{tmp_path / "cache"}", prior_decay_steps: 200}}"""
    extra = f"steps: 300\n        eval_every: 150\n        num_envs: {num_envs}"
    path = write_yaml(scenario_text(agent, "train", extra))
    result = run(load_scenario(path), tmp_path / "run", show=False)
    metrics = result.stages[0]["metrics"]["agent_0"]
    assert metrics["llm_queries"] > 0 and metrics["llm_calls"] <= 103
    assert metrics["llm_calls"] + metrics["llm_cache_hits"] == metrics["llm_queries"]
    assert "language model (advising agent_0)" in (tmp_path / "run" / "summary.md").read_text()


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ("{backend: nope}", "'backend'"),
        ("{backend: openai, base_url: ftp://x}", "must start with http"),
        ("{temperature: -1}", "'temperature'"),
        ("{backend: transformers, model: no/such/folder}", "testbed llm tiny-model"),
        ("{backend: openai, model: m, api_key_env: TESTBED_NO_SUCH_KEY}", "TESTBED_NO_SUCH_KEY"),
        ("{backend: scripted, model: 'no_such_module:f'}", "no_such_module"),
        ("{env: testbed/four_rooms_v0, action_names: [a, b]}", "2 names for 4 actions"),
        ("{env: testbed/nope_v0}", "not a registered env id"),
    ],
)
def test_bad_language_model_fields_are_one_clear_error(write_yaml, capsys, params, needle):
    agent = f"id: llm\n            params: {params}"
    path = write_yaml(scenario_text(agent))
    assert main(["validate", str(path)]) == 2
    err = "".join(capsys.readouterr()).replace("\n", "")
    assert needle in err and "Traceback" not in err
    lines = path.read_text().splitlines()
    agent_line = next(i for i, x in enumerate(lines, 1) if x.strip() == "agent_0:")
    found = re.search(rf"{path.name}:(\d+)", err)  # the agent's line, or its parameters'
    assert found and int(found.group(1)) in (agent_line, agent_line + 2)


def test_bad_advice_fields_are_one_clear_error(write_yaml, capsys):
    agent = "id: llm_advised\n            params: {prior_start: 2, backend: scripted}"
    path = write_yaml(scenario_text(agent))
    assert main(["validate", str(path)]) == 2
    err = "".join(capsys.readouterr()).replace("\n", "")
    assert "'prior_start'" in err and "less than or equal to 1" in err
    for params, needle in [("{learner_params: {bogus: 1}}", "'bogus'"),
                           ("{learner: nope}", "'nope'")]:  # fmt: skip
        agent = f"id: llm_advised\n            params: {params}"
        path = write_yaml(scenario_text(agent))
        assert main(["validate", str(path)]) == 2
        err = "".join(capsys.readouterr()).replace("\n", "")
        assert needle in err and f"{path.name}:" in err, err


RATER = "testbed.agents.llm.scripted:four_rooms_rater"


def test_a_language_model_rating_is_a_shaping_potential(write_yaml, tmp_path):
    from testbed.agents.llm.rating import parse_rating

    assert [parse_rating(t) for t in ("7.5", "I'd say 11, no, 3", "none", "10/10")] == [
        7.5, 3.0, None, 10.0]  # fmt: skip
    shaping = f"""shaping: {{language_model: {{backend: scripted, model: "{RATER}",
                  env: testbed/four_rooms_v0, cache_dir: ""}}}}"""
    extra = f"steps: 300\n        eval_every: 150\n        num_envs: 1\n        {shaping}"
    path = write_yaml(scenario_text("q_learning", "train", extra))
    result = run(load_scenario(path), tmp_path / "run", show=False)
    shaping_metrics = result.stages[0]["metrics"]["shaping"]
    assert 0 < shaping_metrics["llm_calls"] <= 104  # one call per state, then remembered
    assert shaping_metrics["llm_fallbacks"] == 0
    assert "language model (shaping)" in (tmp_path / "run" / "summary.md").read_text()


def test_the_rating_potential_follows_the_rater():
    from testbed.agents.llm.agent import LanguageModelConfig
    from testbed.agents.llm.rating import LanguageModelPotential
    from testbed.agents.llm.scripted import four_rooms_distances

    config = LanguageModelConfig(backend="scripted", model=RATER, env="testbed/four_rooms_v0",
                                 cache_dir="")  # fmt: skip
    phi = LanguageModelPotential(spaces.Discrete(104), config)
    distance = four_rooms_distances()
    near, far = int(np.flatnonzero(distance == 1)[0]), int(np.argmax(distance))
    values = phi(np.eye(104, dtype=np.float32)[[near, far, 62]])
    assert values[2] == 1.0 and values[0] > 0.9 and values[1] == 0.0


def test_a_bad_language_model_potential_is_one_clear_error(write_yaml, capsys):
    extra = "steps: 300\n        shaping: {language_model: {backend: nope}}"
    path = write_yaml(scenario_text("q_learning", "train", extra))
    assert main(["validate", str(path)]) == 2
    err = "".join(capsys.readouterr()).replace("\n", "")
    assert "'backend'" in err and f"{path.name}:" in err and "Traceback" not in err


def test_an_unreachable_endpoint_stops_the_run_after_max_failures(write_yaml, capsys):
    import socket

    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    agent = f"""id: llm
            params: {{backend: openai, model: m, base_url: "http://127.0.0.1:{port}/v1",
                     cache_dir: "", max_failures: 3, timeout_s: 2}}"""
    path = write_yaml(scenario_text(agent))
    assert main(["run", str(path), "--out", str(path.parent / "run")]) == 3
    err = "".join(capsys.readouterr()).replace("\n", "")
    assert "3 language-model calls failed in a row" in err and "Traceback" not in err


def test_tiny_model_never_overwrites_a_folder_of_other_files(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{}")  # someone's own model
    assert main(["llm", "tiny-model", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "holds other files" in err and "--force" in err
    assert (tmp_path / "config.json").read_text() == "{}"
