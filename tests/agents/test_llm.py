"""The language-model plumbing on both backends, for real: a tiny random-weight GPT-2 built
here (tokenizer from a small vocabulary, nothing downloaded) loaded through `transformers`,
and the same model, or a scripted text policy, served over HTTP on 127.0.0.1 to the
OpenAI-compatible backend: answers, token counts, the disk cache (a second run makes no
calls), the timeout, the rate limit, the API key, and unparsable answers falling back
(counted)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces

from testbed.agents.llm.agent import LanguageModelAgent, LanguageModelConfig
from testbed.agents.llm.calls import CachedModel, RateLimiter, cache_key
from testbed.agents.llm.model import LocalCausalLM, OpenAIChat, Sampling
from testbed.agents.llm.prompting import env_documentation, parse_action
from testbed.agents.llm.scripted import fixed, four_rooms_advisor, four_rooms_best_actions
from testbed.agents.llm.serve import ChatServer
from testbed.envs.four_rooms import AGENT, four_rooms_v0

pytest.importorskip("transformers")
MESSAGES = [{"role": "system", "content": "You play."}, {"role": "user", "content": "Go: up?"}]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from testbed.agents.llm.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(scope="module")
def local(tiny) -> LocalCausalLM:
    return LocalCausalLM(str(tiny))


def play(agent, steps: int = 6, seed: int = 0) -> list[int]:
    """Actions of one short four-rooms episode (slip 0)."""
    env = four_rooms_v0(slip=0.0, max_steps=steps)
    obs, _ = env.reset(seed=seed)
    agent.reset(seed)
    actions = []
    while env.agents:
        action = int(agent.act(obs[AGENT]))
        actions.append(action)
        obs, *_ = env.step({AGENT: action})
    return actions


def agent_for(**params) -> LanguageModelAgent:
    config = LanguageModelConfig(**{"env": "testbed/four_rooms_v0", "doc_chars": 300, **params})
    return LanguageModelAgent(spaces.Discrete(104), spaces.Discrete(4), config)


def test_the_local_transformers_model_answers_and_counts_tokens(local):
    first = local.complete(MESSAGES, Sampling(max_tokens=6), timeout_s=60)
    again = local.complete(MESSAGES, Sampling(max_tokens=6), timeout_s=60)
    assert first.text == again.text  # greedy: deterministic
    assert first.prompt_tokens > 5 and 1 <= first.completion_tokens <= 6
    sampled = [local.complete(MESSAGES, Sampling(6, 1.0, seed), 60).text for seed in (1, 1, 2)]
    assert sampled[0] == sampled[1]  # the seed fixes a sampled answer


def test_a_missing_model_folder_says_how_to_build_one(tmp_path):
    with pytest.raises(ValueError, match="testbed llm tiny-model"):
        LocalCausalLM(str(tmp_path / "nothing"))


def test_the_llm_agent_acts_on_the_tiny_model_with_cache_and_counted_fallbacks(tiny, tmp_path):
    agent = agent_for(model=str(tiny), max_tokens=6, cache_dir=str(tmp_path / "cache"))
    actions = play(agent)
    usage = agent.episode_usage()
    assert len(actions) == 6 and all(0 <= a < 4 for a in actions)
    assert usage["llm_queries"] == 6
    assert usage["llm_calls"] + usage["llm_cache_hits"] == 6 and usage["llm_calls"] >= 1
    assert usage["llm_tokens"] > 0 and usage["llm_latency_s"] > 0
    # a random model's answers mostly name no action: those steps are counted fallbacks
    assert 0 <= usage["llm_fallbacks"] <= 6
    replay = agent_for(model=str(tiny), max_tokens=6, cache_dir=str(tmp_path / "cache"))
    assert play(replay) == actions  # same seed, answers from the cache
    assert replay.episode_usage()["llm_calls"] == 0
    assert replay.episode_usage()["llm_cache_hits"] == 6


def test_the_http_backend_against_the_tiny_model_served_on_localhost(local, tmp_path):
    answer = lambda messages: local.complete(messages, Sampling(max_tokens=6), 60).text  # noqa: E731
    with ChatServer(answer) as server:
        remote = OpenAIChat(server.base_url, "tiny")
        reply = remote.complete(MESSAGES, Sampling(max_tokens=6), timeout_s=30)
        assert reply.text == local.complete(MESSAGES, Sampling(max_tokens=6), 60).text
        assert reply.prompt_tokens > 0 and reply.latency_s > 0
        agent = agent_for(backend="openai", model="tiny", base_url=server.base_url,
                          cache_dir=str(tmp_path / "c"))  # fmt: skip
        actions = play(agent)
        calls = agent.episode_usage()["llm_calls"]
        assert server.requests == 1 + calls and calls >= 1
        again = agent_for(backend="openai", model="tiny", base_url=server.base_url,
                          cache_dir=str(tmp_path / "c"))  # fmt: skip
        assert play(again) == actions
        assert server.requests == 1 + calls  # the second run made no call


def test_a_scripted_policy_over_http_is_parsed_into_actions(tmp_path):
    advisor = four_rooms_advisor(quality=1.0)
    with ChatServer(advisor) as server:
        agent = agent_for(backend="openai", model="x", base_url=server.base_url, cache_dir="")
        env = four_rooms_v0(slip=0.0, max_steps=30)
        obs, _ = env.reset(seed=3)
        agent.reset(3)
        while env.agents:  # a perfect advisor walks a shortest path to the goal
            action = int(agent.act(obs[AGENT]))
            assert action in four_rooms_best_actions(int(obs[AGENT]))
            obs, rewards, *_ = env.step({AGENT: action})
        assert rewards[AGENT] == 1.0
        assert agent.episode_usage()["llm_fallbacks"] == 0
        assert server.requests == agent.episode_usage()["llm_calls"] > 0


def test_unparsable_answers_fall_back_counted_and_logged(caplog):
    with ChatServer(fixed("I would rather not say.")) as server:
        agent = agent_for(backend="openai", model="x", base_url=server.base_url, cache_dir="",
                          fallback="first")  # fmt: skip
        with caplog.at_level(logging.INFO, logger="testbed.llm"):
            actions = play(agent, steps=4)
    assert actions == [0, 0, 0, 0]  # `first`: the first legal action
    assert agent.episode_usage()["llm_fallbacks"] == 4
    assert "unparsable answer" in caplog.text


def test_a_slow_server_times_out_and_the_agent_falls_back():
    with ChatServer(fixed("up"), delay_s=1.5) as server:
        agent = agent_for(backend="openai", model="x", base_url=server.base_url, cache_dir="",
                          timeout_s=0.2)  # fmt: skip
        started = time.perf_counter()
        action = agent.act(5)
        assert time.perf_counter() - started < 1.2
    usage = agent.episode_usage()
    assert 0 <= int(action) < 4
    assert usage["llm_failures"] == 1 and usage["llm_fallbacks"] == 1 and usage["llm_calls"] == 0


def test_the_rate_limit_spaces_real_calls_and_not_cache_hits(tmp_path):
    with ChatServer(fixed("down")) as server:
        client = CachedModel(OpenAIChat(server.base_url, "rate"), tmp_path, calls_per_s=10.0)
        prompts = [[{"role": "user", "content": f"state {i}"}] for i in range(4)]
        for messages in prompts:
            assert client.complete(messages, Sampling()) == "down"
        gaps = np.diff(server.times)
        assert gaps.min() >= 0.08  # 10 calls/s: starts at least ~0.1 s apart
        started = time.perf_counter()
        for messages in prompts:  # cached: no waiting, no request
            client.complete(messages, Sampling())
        assert time.perf_counter() - started < 0.08 and server.requests == 4
    assert client.usage.calls == 4 and client.usage.cache_hits == 4


def test_the_rate_limiter_on_a_fake_clock():
    now, slept = [0.0], []
    limiter = RateLimiter(4.0, clock=lambda: now[0], sleep=slept.append)
    assert [limiter.wait() for _ in range(3)] == [0.0, 0.25, 0.5]
    now[0] = 5.0
    assert limiter.wait() == 0.0 and slept == [0.25, 0.5]


def test_the_api_key_comes_from_the_named_environment_variable(monkeypatch):
    with ChatServer(fixed("left"), api_key="s3cret") as server:
        monkeypatch.setenv("TESTBED_TEST_KEY", "s3cret")
        assert (
            OpenAIChat(server.base_url, "m", "TESTBED_TEST_KEY")
            .complete(MESSAGES, Sampling(), 5)
            .text
            == "left"
        )
        monkeypatch.setenv("TESTBED_TEST_KEY", "wrong")
        client = CachedModel(OpenAIChat(server.base_url, "m", "TESTBED_TEST_KEY"), None)
        assert client.complete(MESSAGES, Sampling()) is None and client.usage.failures == 1
        monkeypatch.delenv("TESTBED_TEST_KEY")
        with pytest.raises(ValueError, match="TESTBED_TEST_KEY"):
            OpenAIChat(server.base_url, "m", "TESTBED_TEST_KEY")


def test_the_cache_key_covers_model_prompt_and_sampling():
    a = OpenAIChat("http://127.0.0.1:1/v1", "m")
    b = OpenAIChat("http://127.0.0.1:1/v1", "n")
    keys = {
        cache_key(a, MESSAGES, Sampling()),
        cache_key(b, MESSAGES, Sampling()),
        cache_key(a, MESSAGES[:1], Sampling()),
        cache_key(a, MESSAGES, Sampling(temperature=0.5)),
        cache_key(a, MESSAGES, Sampling(seed=1)),
    }
    assert len(keys) == 5 and cache_key(a, MESSAGES, Sampling()) in keys


def test_another_endpoint_or_new_weights_never_hit_old_cache_entries(tiny, tmp_path):
    with ChatServer(fixed("up")) as one, ChatServer(fixed("down")) as two:
        first = CachedModel(OpenAIChat(one.base_url, "m"), tmp_path / "cache")
        second = CachedModel(OpenAIChat(two.base_url, "m"), tmp_path / "cache")
        assert first.complete(MESSAGES, Sampling()) == "up"
        assert second.complete(MESSAGES, Sampling()) == "down" and two.requests == 1
    before = LocalCausalLM(str(tiny)).identity
    weights = next(p for p in tiny.iterdir() if p.suffix == ".safetensors")
    weights.touch()  # a new modification time stands for new weights
    assert LocalCausalLM(str(tiny)).identity != before


def test_a_redirect_is_refused_and_the_key_not_sent_on(monkeypatch):
    """urllib would follow a 302 with the Authorization header to the new host (as a GET)."""
    import http.server
    import threading

    with ChatServer(fixed("left")) as target:

        class Redirect(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(302)
                self.send_header("Location", target.base_url + "/chat/completions")
                self.end_headers()

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            monkeypatch.setenv("TESTBED_TEST_KEY", "s3cret")
            url = f"http://127.0.0.1:{server.server_address[1]}/v1"
            client = CachedModel(OpenAIChat(url, "m", "TESTBED_TEST_KEY"), None)
            assert client.complete(MESSAGES, Sampling()) is None
            assert client.usage.failures == 1 and target.requests == 0
        finally:
            server.shutdown()
            server.server_close()


def test_prompts_quote_the_env_documentation():
    assert "four rooms" in env_documentation("testbed/four_rooms_v0").lower()
    assert "frozen lake" in env_documentation("gym/FrozenLake-v1").lower()
    agent = agent_for(backend="scripted", model="testbed.agents.llm.scripted:fixed",
                      scripted_params={"text": "up"}, cache_dir="", doc_chars=3000)  # fmt: skip
    system, user = agent.advisor.messages(5, None)
    assert "Discrete(4): 0 up" in system["content"] and "row 1, column 7" in user["content"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Move right.", 3), ("up, or maybe down", None), ("2", 2), (" 3. ", 3), ("I pick 2", None),
     ("3 or left", 2), ("upwards! 7", None), ("", None), ("DOWN", 1),
     ("From row 1, column 2 the best move is up.", 0), ("not up, it is down", None)],
)  # fmt: skip
def test_answers_parse_to_the_one_legal_action_they_name(text, expected):
    assert parse_action(text, ["up", "down", "left", "right"], [0, 1, 2, 3]) == expected


def test_numbered_actions_parse_when_one_number_is_named():
    numbers = ["0", "1", "2"]
    assert parse_action("I pick 2", numbers, [0, 1, 2]) == 2
    assert parse_action("1 or 2", numbers, [0, 1, 2]) is None
    assert parse_action("take 2.5", numbers, [0, 1, 2]) is None


def test_illegal_actions_are_not_parsed():
    assert parse_action("up", ["up", "down"], [1]) is None


def test_frozen_lake_is_drawn_at_its_size_and_other_sizes_get_the_generic_text():
    from testbed.agents.llm.prompting import frozen_lake_text

    assert "row 7, column 7 of the 8x8 lake" in frozen_lake_text(63, spaces.Discrete(64))
    assert "row 1, column 1 of the 4x4 lake" in frozen_lake_text(5, spaces.Discrete(16))
    assert frozen_lake_text(3, spaces.Discrete(9)) == "observation 3 (one of 0..8)"
