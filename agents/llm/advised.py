"""`llm_advised`: any off-policy learner whose exploration a language model advises.

An action prior in the style of epsilon-greedy exploration with an advisor (advice-guided
exploration: Maclin & Shavlik 1996; "probabilistic policy reuse", Fernandez & Veloso 2006):
while training, each step follows the model's suggested action with probability

    p(t) = prior_start + (prior_end - prior_start) * min(1, t / prior_decay_steps)

(t = env steps observed), and otherwise the wrapped learner's own `explore`. An answer that
does not parse, or a failed call, falls back to the learner's own action (counted). The
learner learns from every executed action. Because only the *behaviour* policy changes and
the learner is off-policy (Q-learning, DQN, ...: their targets use max_a' Q(s', a'), not the
behaviour), the fixed point of learning is the same optimal Q whatever the advice, and with
p -> prior_end = 0 the advice stops: a wrong advisor can cost samples, not the optimum.
On-policy learners (PPO, A2C, REINFORCE) are refused: their updates assume the actions came
from their own policy. `act` (evaluation) is the learner's alone; it never asks the model.

The model's usage (queries, calls, cache hits, fallbacks, tokens, seconds; totals and per
training episode) is part of `update()`'s metrics, hence of the train stage's results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
import torch
from gymnasium import spaces
from pydantic import Field

from testbed.agents.llm.agent import Advisor, LanguageModelConfig
from testbed.errors import BadInput

ON_POLICY = ("ppo", "a2c", "reinforce", "ppo_lagrangian", "cpo", "mappo")
Probability = Annotated[float, Field(ge=0, le=1)]


@dataclass(frozen=True)
class AdvisedConfig(LanguageModelConfig):
    """The wrapped learner, the advice schedule, and the language model (as for `llm`)."""

    learner: str = "q_learning"
    """Registry id (or module:Class) of the off-policy learner that learns."""
    learner_params: dict[str, Any] = field(default_factory=dict)
    """Parameters of the learner (its Config fields)."""
    prior_start: Probability = 0.5
    """Probability of following the advice at the first step."""
    prior_end: Probability = 0.0
    """Probability after `prior_decay_steps` (0: the advice stops)."""
    prior_decay_steps: Annotated[int, Field(ge=1)] = 5000
    """Env steps over which the probability moves linearly from start to end."""


class LanguageModelAdvised:
    """Wraps a learner: its exploration follows a language model's advice, decaying."""

    Config = AdvisedConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: AdvisedConfig | None = None,
    ):
        from testbed import registry

        self.config = c = config or AdvisedConfig()
        try:  # raised as ValueError, the agent's params get the scenario's place
            learner_class = registry.agent_class(c.learner)
        except BadInput as exc:
            raise ValueError(f"learner: {exc.message}") from None
        if c.learner in ON_POLICY or getattr(learner_class, "on_policy", False):
            raise ValueError(
                f"llm_advised needs an off-policy learner; {c.learner!r} learns on-policy, and "
                "advised actions would bias its updates (use q_learning, dqn, ...)"
            )
        try:
            self.learner = registry.make_agent(
                c.learner, observation_space, action_space, **dict(c.learner_params)
            )
        except BadInput as exc:
            raise ValueError(f"learner {c.learner!r}: {exc.message}") from None
        if not all(callable(getattr(self.learner, m, None)) for m in ("explore", "observe")):
            raise ValueError(f"{c.learner!r} does not learn (no explore/observe)")
        self.advisor = Advisor(observation_space, action_space, c)
        self.start = int(action_space.start)
        self.steps = 0
        self.advised = 0
        self.episodes = 0
        self.default_num_envs = int(getattr(self.learner, "default_num_envs", 1))
        if not callable(getattr(self.learner, "explore_batch", None)):
            self.explore_batch = None  # type: ignore[assignment]  # not a batch learner
            self.observe_batch = None  # type: ignore[assignment]

    @property
    def advice_probability(self) -> float:
        c = self.config
        return c.prior_start + (c.prior_end - c.prior_start) * min(
            1.0, self.steps / c.prior_decay_steps
        )

    def _advice(self, observation: Any, mask: np.ndarray | None) -> int | None:
        """The advised action (with the env's start) with probability p(t), else None."""
        if float(torch.rand(())) >= self.advice_probability:
            return None
        choice = self.advisor.suggest(observation, mask)
        if choice is None:
            return None
        self.advised += 1
        return self.start + choice

    # -- acting -------------------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> None:
        self.learner.reset(seed)

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        return self.learner.act(observation, action_mask)

    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        advised = self._advice(observation, action_mask)
        if advised is not None:
            self.learner.explore(observation, action_mask)  # keeps the learner's RNG stream
            return np.int64(advised)
        return self.learner.explore(observation, action_mask)

    def explore_batch(self, observations: Any, action_masks: np.ndarray | None = None) -> Any:
        actions = np.array(self.learner.explore_batch(observations, action_masks), copy=True)
        rows = observations["observation"] if isinstance(observations, dict) else observations
        for i in range(len(actions)):
            mask = None if action_masks is None else action_masks[i]
            advised = self._advice(rows[i], mask)
            if advised is not None:
                actions[i] = advised
        return actions

    # -- learning -----------------------------------------------------------------------------

    def observe(self, transition: dict[str, Any]) -> None:
        self.steps += 1
        self.episodes += int(bool(transition["terminated"] or transition["truncated"]))
        self.learner.observe(transition)

    def observe_batch(self, batch: Any) -> None:
        self.steps += len(batch)
        ended = np.asarray(batch.terminated, bool) | np.asarray(batch.truncated, bool)
        self.episodes += int(ended.sum())
        self.learner.observe_batch(batch)

    def update(self) -> dict[str, float]:
        metrics = dict(self.learner.update() or {})
        usage = self.advisor.client.usage
        episodes = max(1, self.episodes)
        metrics.update(usage.as_dict())
        metrics.update(
            advice_probability=self.advice_probability,
            advised_steps=float(self.advised),
            llm_tokens_per_episode=(usage.prompt_tokens + usage.completion_tokens) / episodes,
            llm_calls_per_episode=usage.calls / episodes,
            llm_latency_s_per_episode=usage.latency_s / episodes,
        )
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return {"learner": self.learner.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.learner.load_state_dict(state["learner"])
        self.steps = int(state["steps"])
