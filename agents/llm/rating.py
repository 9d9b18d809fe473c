"""A language model's rating of states as a shaping potential (`shaping: {language_model:
{...}}` on a train stage; testbed/train/shaping.py adds F = gamma Phi(s') - Phi(s)).

Phi(s) = rating / 10, where the rating is the first number in [0, 10] in the model's answer to
"how close is this state to the task's goal, 0 (far) to 10 (reached)?", asked with the env's
documentation and the state rendered as text, as for the `llm` agent. An answer without such a
number (or a failed call) gives Phi = 0 and counts as a fallback. Because the term is
potential-based (Ng, Harada & Russell 1999), *any* rating, however wrong, leaves the optimal
policy unchanged; a good one speeds learning. Ratings are kept in memory per state (and on disk
in the call cache), so each state costs one call per run at most.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from gymnasium import spaces

from testbed.agents.llm.agent import LanguageModelConfig, cached_client
from testbed.agents.llm.calls import Sampling, Usage
from testbed.agents.llm.prompting import env_documentation, renderer_for

NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)")
QUESTION = (
    "How close is this state to achieving the task's goal? Rate it from 0 (far from it) to "
    "10 (goal reached). Reply with one number and nothing else."
)


def parse_rating(text: str) -> float | None:
    """The first number in [0, 10] in `text`, or None."""
    for match in NUMBER.finditer(text):
        value = float(match.group(1))
        if 0.0 <= value <= 10.0:
            return value
    return None


class LanguageModelPotential:
    """Phi over stacked observation vectors (N, obs_dim) -> (N,), from a model's ratings."""

    def __init__(self, observation_space: spaces.Space, config: LanguageModelConfig):
        if not isinstance(observation_space, spaces.Discrete | spaces.Box):
            raise ValueError(
                "a language-model potential needs a Discrete or Box observation space, "
                f"got {observation_space}"
            )
        self.space, self.config = observation_space, config
        self.documentation = env_documentation(config.env, config.doc_chars)
        self.render = renderer_for(config.env, config.render)
        self.client = cached_client(config)
        self.sampling = Sampling(config.max_tokens, config.temperature, config.seed)
        self.memo: dict[bytes, float] = {}

    @property
    def usage(self) -> Usage:
        return self.client.usage

    def _observation(self, row: np.ndarray) -> Any:
        if isinstance(self.space, spaces.Discrete):
            return int(np.argmax(row)) + int(self.space.start)
        return row.reshape(self.space.shape)

    def rate(self, observation: Any) -> float:
        """Phi of one observation, in [0, 1] (0 when the answer has no rating)."""
        system = "You judge states of a reinforcement-learning environment."
        if self.documentation:
            system += f"\n\nThe environment's documentation:\n{self.documentation}"
        user = f"{self.render(observation, self.space)}\n\n{QUESTION}"
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        answer = self.client.complete(messages, self.sampling)
        rating = None if answer is None else parse_rating(answer)
        if rating is None:
            self.client.usage.fallbacks += 1
            return 0.0
        return rating / 10.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        values = np.empty(len(x))
        for i, row in enumerate(np.asarray(x)):
            key = row.tobytes()
            if key not in self.memo:  # repeats are not counted as queries
                self.memo[key] = self.rate(self._observation(row))
            values[i] = self.memo[key]
        return values
