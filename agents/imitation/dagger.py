"""DAgger: dataset aggregation (Ross, Gordon & Bagnell 2011, "A Reduction of Imitation
Learning and Structured Prediction to No-Regret Online Learning", AISTATS).

Behaviour cloning learns only the states the expert visits; DAgger also asks the expert what
it would do in the states the *learner* visits. Training runs in rounds of `round_steps` env
steps. In round i the env is driven by the mixture policy

    pi_i = beta_i * expert + (1 - beta_i) * learner,   beta_i = beta * beta_decay^i

(each step's actor drawn at random; round 0 is the expert alone, as no learner exists
yet), the expert labels every visited state, the labelled
states join one growing dataset, and at the round's end the learner (a `bc` classifier or
regressor, agents/imitation/bc.py) trains `gradient_steps` on the whole aggregate. beta = 1
makes round 0 plain behaviour cloning on expert roll-outs.

The expert is a registered agent (`expert`, `expert_params`) or a checkpoint folder
(`expert_checkpoint`, e.g. a trained PPO, or `"@<train stage>/<agent>"` for one trained
earlier in the same scenario); it is queried online, so training needs the env.
`act` is the learner's greedy policy. Checkpoints hold the learner, the round count and the
aggregated data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from testbed.agents.common.spaces import obs_dim, to_vector
from testbed.agents.imitation.bc import BC, BCConfig


@dataclass(frozen=True)
class DAggerConfig:
    """Hyperparameters of DAgger; the learner is BC with `hidden`, `learning_rate`,
    `batch_size`."""

    expert: str = ""
    """Registry id of the expert (or give `expert_checkpoint`)."""
    expert_params: dict[str, Any] = field(default_factory=dict)
    """Parameters of the expert agent."""
    expert_checkpoint: str = ""
    """A checkpoint folder the expert is loaded from (instead of `expert`); in a scenario also
    `@<train stage>/<agent>`."""
    beta: float = 1.0
    """Probability that the expert acts in round 0."""
    beta_decay: float = 0.5
    """beta of round i = beta * beta_decay^i (Ross et al.: beta_i = p^(i-1))."""
    round_steps: int = 1000
    """Env steps per round (labelled states added per round)."""
    gradient_steps: int = 1000
    """Learner gradient steps after each round, on the whole aggregate."""
    hidden: tuple[int, ...] = (64, 64)
    """Widths of the learner's hidden Tanh layers."""
    learning_rate: float = 1e-3
    """The learner's Adam step size."""
    batch_size: int = 64
    """Labelled states per gradient step."""


class DAgger:
    """DAgger for Discrete or 1-D Box actions, with an expert queried online."""

    Config = DAggerConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: DAggerConfig | None = None,
    ):
        from testbed import registry
        from testbed.registry.checkpoint import load_checkpoint

        self.config = c = config or DAggerConfig()
        if bool(c.expert) == bool(c.expert_checkpoint):
            raise ValueError(
                "DAgger needs one expert: `expert` (an agent id) or `expert_checkpoint`"
            )
        if not 0.0 <= c.beta <= 1.0 or not 0.0 <= c.beta_decay <= 1.0:
            raise ValueError("DAgger's beta and beta_decay must lie in [0, 1]")
        self.observation_space, self.action_space = observation_space, action_space
        if c.expert_checkpoint:
            self.expert = load_checkpoint(c.expert_checkpoint, observation_space, action_space)
        else:
            self.expert = registry.make_agent(
                c.expert, observation_space, action_space, **dict(c.expert_params)
            )
        dim = obs_dim(observation_space)
        flat = spaces.Box(-np.inf, np.inf, (dim,), np.float32)
        learner_config = BCConfig(
            hidden=tuple(c.hidden), learning_rate=c.learning_rate, batch_size=c.batch_size
        )
        self.learner = BC(flat, action_space, learner_config)
        self.states: list[np.ndarray] = []
        self.labels: list[Any] = []
        self.rounds = 0
        self.steps = 0
        self.rng = np.random.default_rng(0)

    @property
    def beta(self) -> float:
        """The expert's share of the current round."""
        return self.config.beta * self.config.beta_decay**self.rounds

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)
        self.expert.reset(seed)

    def _vector(self, observation: Any) -> np.ndarray:
        return to_vector(self.observation_space, observation)

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        """The learner's greedy action (untrained before the first round ends)."""
        return self.learner.act(self._vector(observation), action_mask)

    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        """Label the state with the expert's action; act as the expert in round 0 and with
        probability beta_i after, else as the learner."""
        label = self.expert.act(observation, action_mask)
        self.states.append(self._vector(observation))
        self.labels.append(label)
        if self.rounds == 0 or self.rng.random() < self.beta:
            return label
        return self.learner.act(self.states[-1], action_mask)

    def observe(self, transition: dict[str, Any]) -> None:
        self.steps += 1

    def update(self) -> dict[str, float]:
        """At a round's end: train the learner on every labelled state so far."""
        c = self.config
        if self.steps < (self.rounds + 1) * c.round_steps:
            return {}
        n = len(self.states)
        zeros = np.zeros(n, np.float32)
        states = np.asarray(self.states, np.float32)
        self.learner.load_data(
            {
                "observations": states,
                "next_observations": states,
                "actions": np.asarray(self.labels),
                "rewards": zeros,
                "costs": zeros,
                "terminations": zeros.astype(bool),
                "truncations": zeros.astype(bool),
            }
        )
        for _ in range(c.gradient_steps):
            metrics = self.learner.update()
        self.rounds += 1
        return {**metrics, "labelled_states": float(n), "beta": self.beta}

    def state_dict(self) -> dict[str, Any]:
        """The learner, the round count and the aggregate (labelled states as tensors), so
        training can go on from a checkpoint with every label it had."""
        dim = obs_dim(self.observation_space)
        states = np.asarray(self.states, np.float32).reshape(-1, dim)
        return {
            "learner": self.learner.state_dict(),
            "rounds": self.rounds,
            "steps": self.steps,
            "states": torch.from_numpy(states),
            "labels": torch.as_tensor(np.asarray(self.labels)),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.learner.load_state_dict(state["learner"])
        self.rounds = int(state["rounds"])
        self.steps = int(state["steps"])
        if "states" in state:  # checkpoints written before the aggregate was kept have none
            self.states = list(state["states"].numpy())
            self.labels = list(state["labels"].numpy())
