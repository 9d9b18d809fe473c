"""`llm`: an agent whose actions a language model chooses, from the env's documentation and a
text rendering of each observation (testbed/agents/llm/prompting.py).

Each step: messages = [system: role + the env's docstring, user: the observation as text + the
legal actions]; the answer's first action name or number is the action. An answer that names
no legal action, or a call that fails (timeout, connection, HTTP error), is a *fallback*: the
`fallback` action (`random`: uniform over legal actions from the agent's seeded generator;
`first`: the first legal one) acts instead, and it is counted and logged; `max_failures`
failed calls in a row stop the run (exit 3). Calls go through a
disk cache, a rate limit and a timeout (testbed/agents/llm/calls.py); each episode's usage
(queries, calls, cache hits, failures, fallbacks, tokens, seconds) is reported by
`episode_usage()`, which evaluations summarise per agent.

Backends (testbed/agents/llm/model.py): `openai` (any OpenAI-compatible endpoint: Ollama,
vLLM, llama.cpp's server), `transformers` (a causal LM from a local folder), `scripted` (a
Python text policy, for tests). With a real model this is zero-shot prompting, e.g. as in
"Do As I Can, Not As I Say" (Ahn et al. 2022) without its value function; nothing is learned.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from gymnasium import spaces
from pydantic import AfterValidator, Field

from testbed.agents.llm.calls import CachedModel, Sampling, Usage
from testbed.agents.llm.model import LanguageModel, LocalCausalLM, OpenAIChat, ScriptedText
from testbed.agents.llm.prompting import (
    action_names,
    build_messages,
    env_documentation,
    parse_action,
    renderer_for,
)

log = logging.getLogger("testbed.llm")
Positive = Annotated[float, Field(gt=0)]


def _http(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"must start with http:// or https://, got {url!r}")
    return url


@dataclass(frozen=True)
class LanguageModelConfig:
    """Which language model answers, how it is asked, and what happens when it cannot."""

    backend: Literal["openai", "transformers", "scripted"] = "transformers"
    """`openai` (an OpenAI-compatible endpoint), `transformers` (a local model folder) or
    `scripted` (a Python text policy, not a language model)."""
    model: str = "runs/tiny-llm"
    """openai: the model name at the endpoint; transformers: the model folder (relative to the
    working directory); scripted: `module:factory`, called with `scripted_params`, returning a
    text policy (messages -> text)."""
    base_url: Annotated[str, AfterValidator(_http)] = "http://127.0.0.1:11434/v1"
    """openai: the endpoint's base URL (default: Ollama on this machine)."""
    api_key_env: str = ""
    """openai: the environment variable holding the API key ("" = send none)."""
    scripted_params: dict[str, Any] = field(default_factory=dict)
    """scripted: keyword arguments of the factory `model` names."""
    env: str = ""
    """The env id whose documentation goes into the prompt (and picks its renderer and
    action names), e.g. testbed/four_rooms_v0."""
    render: str = ""
    """`module:function(observation, space) -> str`: your own observation text."""
    action_names: tuple[str, ...] = ()
    """Names of the Discrete actions, in order (default: the env's, else 0..n-1)."""
    instructions: str = ""
    """Extra text for the system message."""
    doc_chars: Annotated[int, Field(ge=0)] = 3000
    """At most this many characters of documentation in the prompt."""
    max_tokens: Annotated[int, Field(ge=1)] = 16
    """Tokens the model may answer with."""
    temperature: Annotated[float, Field(ge=0)] = 0.0
    """0: greedy; above: sampled (seeded by `seed`)."""
    seed: int = 0
    """Sampling seed sent with every call (part of the cache key)."""
    timeout_s: Positive = 30.0
    """Seconds a call may take before it counts as failed."""
    calls_per_s: Annotated[float, Field(ge=0)] = 0.0
    """Rate limit of real calls per second in this process (0 = none; cache hits are free)."""
    cache_dir: str = "runs/llm-cache"
    """Folder of the disk cache ("" = no cache)."""
    fallback: Literal["random", "first"] = "random"
    """Action when the answer does not parse or the call fails."""
    max_failures: Annotated[int, Field(ge=0)] = 5
    """Stop the run (exit 3) after this many failed calls in a row (0 = never: keep falling
    back), so an unreachable endpoint does not silently act at random."""


def make_model(config: LanguageModelConfig) -> LanguageModel:
    """The configured backend."""
    if config.backend == "openai":
        return OpenAIChat(config.base_url, config.model, config.api_key_env)
    if config.backend == "transformers":
        return LocalCausalLM(config.model)
    return ScriptedText(config.model, dict(config.scripted_params))


def cached_client(config: LanguageModelConfig) -> CachedModel:
    """The configured backend behind its cache, rate limit, timeout and failure limit; an
    unknown `env` id (whose documentation the prompt quotes) is an error."""
    from testbed.registry import ENVS  # plain data

    if config.env and config.env not in ENVS:
        raise ValueError(
            f"env {config.env!r} is not a registered env id (`testbed list envs`); it "
            "names the env whose documentation the prompt quotes"
        )
    return CachedModel(
        make_model(config),
        config.cache_dir or None,
        config.calls_per_s,
        config.timeout_s,
        config.max_failures,
    )


class Advisor:
    """Asks a language model for an action: prompt, call (cached, limited), parse."""

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: LanguageModelConfig,
    ):
        self.config = config
        self.observation_space, self.action_space = observation_space, action_space
        self.names = action_names(config.env, action_space, config.action_names)
        self.start = int(action_space.start)
        self.documentation = env_documentation(config.env, config.doc_chars)
        self.render = renderer_for(config.env, config.render)
        self.client = cached_client(config)
        self.sampling = Sampling(config.max_tokens, config.temperature, config.seed)
        self.episode = Usage()

    def messages(self, observation: Any, mask: np.ndarray | None) -> list[dict[str, str]]:
        legal = list(range(len(self.names))) if mask is None else np.flatnonzero(mask).tolist()
        text = self.render(observation, self.observation_space)
        return build_messages(self.documentation, text, self.names, legal, self.config.instructions)

    def suggest(self, observation: Any, mask: np.ndarray | None = None) -> int | None:
        """The model's action (an index from 0), or None (counted as a fallback)."""
        if isinstance(observation, dict) and "action_mask" in observation and mask is None:
            mask = np.asarray(observation["action_mask"], bool)
            observation = observation.get("observation", observation)
        legal = list(range(len(self.names))) if mask is None else np.flatnonzero(mask).tolist()
        before = Usage(**asdict(self.client.usage))
        answer = self.client.complete(self.messages(observation, mask), self.sampling)
        choice = None if answer is None else parse_action(answer, self.names, legal)
        if choice is None:
            self.client.usage.fallbacks += 1
            if answer is not None:
                log.info("unparsable answer %r: fallback action", answer[:80])
        self._count(before)
        return choice

    def _count(self, before: Usage) -> None:
        now = self.client.usage
        delta = Usage(**{k: getattr(now, k) - v for k, v in asdict(before).items()})
        self.episode.add(delta)


class LanguageModelAgent:
    """Acts on a language model's answers; falls back (counted) when there is none."""

    Config = LanguageModelConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: LanguageModelConfig | None = None,
    ):
        self.config = config or LanguageModelConfig()
        self.advisor = Advisor(observation_space, action_space, self.config)
        self.rng = np.random.default_rng(self.config.seed)

    def reset(self, seed: int | None = None) -> None:
        """A new episode: fresh usage counts; the fallback generator reseeded."""
        self.advisor.episode = Usage()
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def _fallback(self, mask: np.ndarray | None) -> int:
        legal = np.arange(len(self.advisor.names)) if mask is None else np.flatnonzero(mask)
        if self.config.fallback == "first" or len(legal) == 0:
            return int(legal[0]) if len(legal) else 0
        return int(self.rng.choice(legal))

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        choice = self.advisor.suggest(observation, action_mask)
        if choice is None:
            choice = self._fallback(action_mask)
        return np.int64(self.advisor.start + choice)

    def episode_usage(self) -> dict[str, float]:
        """This episode's language-model usage (queries, calls, tokens, seconds, ...)."""
        return self.advisor.episode.as_dict()

    def total_usage(self) -> dict[str, float]:
        """Usage since the agent was built."""
        return self.advisor.client.usage.as_dict()
