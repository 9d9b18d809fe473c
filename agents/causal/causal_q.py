"""Causal Q-learning: tabular Q-learning that conditions only on the reward's causal parents,
found by the agent's own interventions.

At the start of training (testbed.train.loop.run_experiments, before the first episode)
the agent spends `discovery_steps` steps of the training env experimenting: before each
context it picks a regime at random (no intervention, or do(variable = random value) on
one of the env's `intervention_variables`) and answers with a uniformly random action.
The PC algorithm (causal-learn) on the intervened rows decides which observed features
are parents of the reward (agents/causal/discovery.py); the rows without intervention are
searched the same way and reported beside, to show what observation alone would have
concluded. Q-learning then sees only the parents (a table over their joint values). The
experiments' steps count in the training budget (at most half of it). With `discover: false`
the agent skips all this and conditions on every feature: plain tabular Q-learning over
the whole observation, the correlational baseline.

Envs that support it expose `intervention_variables` ({name: n_values}),
`observation_variables` (the variable of each observation component) and
`intervene({name: value})`; testbed/confounded_v0 does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from testbed.agents.causal.discovery import Discovery, reward_parents
from testbed.agents.value.q_learning import QLearning, QLearningConfig

TESTS = ("chisq", "gsq")


@dataclass(frozen=True)
class CausalQConfig:
    """Discovery and Q-learning settings of causal Q-learning."""

    discover: bool = True
    """Learn the reward's parents from interventions (false: condition on every feature)."""
    discovery_steps: int = 4_000
    """Env steps spent experimenting before learning (counted in the stage's budget)."""
    alpha: float = 0.01
    """Significance level of PC's conditional-independence tests."""
    indep_test: str = "chisq"
    """PC's test for discrete data: chisq or gsq."""
    learning_rate: float = 0.1
    """Step size of the table update."""
    gamma: float = 0.9
    """Discount factor."""
    epsilon_start: float = 1.0
    """Initial exploration rate (after discovery)."""
    epsilon_end: float = 0.05
    """Final exploration rate."""
    epsilon_decay_steps: int = 5_000
    """Env steps of learning over which epsilon falls linearly."""

    def __post_init__(self) -> None:
        if self.discovery_steps < 100:
            raise ValueError(f"discovery_steps must be >= 100, got {self.discovery_steps}")
        if not 0.0 < self.learning_rate <= 1.0:
            raise ValueError(f"learning_rate must be in (0, 1], got {self.learning_rate}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.indep_test not in TESTS:
            raise ValueError(f"indep_test must be one of {TESTS}, got {self.indep_test!r}")


class CausalQ:
    """Tabular Q-learning over the reward's causal parents (see the module docstring)."""

    Config = CausalQConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: CausalQConfig | None = None,
    ):
        self.config = config or CausalQConfig()
        if isinstance(observation_space, spaces.Discrete):
            self.sizes = np.array([observation_space.n], np.int64)
        elif isinstance(observation_space, spaces.MultiDiscrete):
            self.sizes = np.asarray(observation_space.nvec, np.int64).reshape(-1)
        else:
            raise ValueError(
                f"causal_q needs a Discrete or MultiDiscrete observation space, "
                f"got {observation_space}"
            )
        if not isinstance(action_space, spaces.Discrete):
            raise ValueError(f"causal_q needs a Discrete action space, got {action_space}")
        self.action_space = action_space
        self.names: tuple[str, ...] = tuple(f"x{i}" for i in range(len(self.sizes)))
        self.interventional: Discovery | None = None
        self.observational: Discovery | None = None
        self.kept: list[int] | None = None
        self.steps_experimenting = 0
        self.inner: QLearning | None = None
        if not self.config.discover:
            self._condition_on(list(range(len(self.sizes))))

    # -- discovery -------------------------------------------------------------------------

    def check_lab(self, env: Any) -> None:
        """Raise ValueError unless `env` supports the interventions discovery needs."""
        if not self.config.discover:
            return
        for attribute in ("intervene", "intervention_variables", "observation_variables"):
            if not hasattr(env, attribute):
                raise ValueError(
                    f"causal_q experiments need an env with interventions (no {attribute!r}); "
                    "use testbed/confounded_v0 or set discover: false"
                )

    def experiment(self, env: Any, agent: str, seed: int, budget: int) -> int:
        """Run the discovery experiments in `env` (the training env, reset afterwards) and
        fix the features to condition on; returns the env steps used (0 without discovery): at
        most half of `budget`, so a short budget still leaves steps to learn."""
        if hasattr(env, "observation_variables"):
            self.names = tuple(env.observation_variables)
        if not self.config.discover:
            return 0
        self.check_lab(env)
        variables = dict(env.intervention_variables)
        regimes = [None, *variables]
        rng = np.random.default_rng(seed)
        n_actions = int(self.action_space.n)
        start = int(self.action_space.start)
        rows: list[tuple[Any, int, float]] = []
        regime_of_row: list[str | None] = []

        def choose() -> str | None:
            regime = regimes[int(rng.integers(len(regimes)))]
            if regime is not None:
                env.intervene({regime: int(rng.integers(variables[regime]))})
            return regime

        episode = 0
        limit = min(self.config.discovery_steps, budget // 2)  # half at least is for learning
        while len(rows) < limit:
            regime = choose()
            observations, _ = env.reset(seed=int(seed + episode))
            episode += 1
            while agent in observations and len(rows) < limit:
                action = int(rng.integers(n_actions))
                obs = observations[agent]
                next_regime = choose()
                observations, rewards, terms, truncs, _ = env.step({agent: start + action})
                rows.append((np.asarray(obs).reshape(-1), action, float(rewards[agent])))
                regime_of_row.append(regime)
                regime = next_regime
                if terms[agent] or truncs[agent]:
                    break
        features = np.stack([r[0] for r in rows])
        actions = np.array([r[1] for r in rows])
        rewards = np.array([r[2] for r in rows])
        env.intervene({})  # nothing pending for the training that follows
        self.steps_experimenting = len(rows)
        intervened = np.array([r is not None for r in regime_of_row])
        cfg = self.config
        self.interventional = reward_parents(
            features[intervened], actions[intervened], rewards[intervened], self.names,
            cfg.alpha, cfg.indep_test,
        )  # fmt: skip
        self.observational = reward_parents(
            features[~intervened], actions[~intervened], rewards[~intervened], self.names,
            cfg.alpha, cfg.indep_test,
        )  # fmt: skip
        self._condition_on([self.names.index(p) for p in self.interventional.parents])
        return len(rows)

    def _condition_on(self, kept: list[int]) -> None:
        self.kept = sorted(kept)
        n_states = int(np.prod(self.sizes[self.kept])) if self.kept else 1
        cfg = self.config
        self.inner = QLearning(
            spaces.Discrete(n_states),
            self.action_space,
            QLearningConfig(
                learning_rate=cfg.learning_rate, gamma=cfg.gamma,
                epsilon_start=cfg.epsilon_start, epsilon_end=cfg.epsilon_end,
                epsilon_decay_steps=cfg.epsilon_decay_steps,
            ),
        )  # fmt: skip
        self.radix = np.cumprod([1, *self.sizes[self.kept][:-1]]) if self.kept else np.ones(0)

    @property
    def parents(self) -> tuple[str, ...]:
        """The features the policy conditions on."""
        if self.kept is None:
            return ()
        return tuple(self.names[i] for i in self.kept)

    def summary(self) -> dict[str, Any]:
        """What discovery found (for reports): parents per regime and rows used."""
        found: dict[str, Any] = {
            "steps": self.steps_experimenting,
            "conditions_on": list(self.parents),
        }
        for label, found_by in [("interventional", self.interventional),
                                ("observational", self.observational)]:  # fmt: skip
            if found_by is not None:
                found[label] = {"parents": list(found_by.parents), "rows": found_by.rows}
        return found

    # -- acting and learning ---------------------------------------------------------------

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        """Greedy over the table; before any experiment (an evaluation at step 0) the first
        legal action, which is what an untrained (all-zero) table chooses."""
        if self.inner is None:
            legal = np.ones(int(self.action_space.n)) if action_mask is None else action_mask
            return np.int64(int(self.action_space.start) + int(np.flatnonzero(legal)[0]))
        return self.inner.act(self._state(observation), action_mask)

    def _table(self) -> QLearning:
        if self.inner is None:
            raise RuntimeError(
                "causal_q has not run its discovery experiments: train it in a train stage "
                "(which calls experiment()) or load a checkpoint"
            )
        return self.inner

    def _state(self, observation: Any) -> int:
        values = np.asarray(observation, np.int64).reshape(-1)
        return int(values[self.kept] @ self.radix) if self.kept else 0

    def reset(self, seed: int | None = None) -> None:
        """Greedy evaluation needs no randomness; exploration uses torch's global RNG."""

    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        return self._table().explore(self._state(observation), action_mask)

    def observe(self, transition: dict[str, Any]) -> None:
        inner = self._table()
        inner.observe(
            {**transition, "obs": self._state(transition["obs"]),
             "next_obs": self._state(transition["next_obs"])}
        )  # fmt: skip

    def update(self) -> dict[str, float]:
        metrics = self._table().update()
        return {**metrics, "parents": float(len(self.parents))} if metrics else metrics

    def state_dict(self) -> dict[str, Any]:
        state = {
            "names": ",".join(self.names),
            "kept": torch.tensor(self.kept if self.kept is not None else [], dtype=torch.int64),
            "discovered": int(self.kept is not None),
            "steps_experimenting": self.steps_experimenting,
        }
        if self.inner is not None:
            state["table"] = self.inner.state_dict()
        for label, found_by in [("interventional", self.interventional),
                                ("observational", self.observational)]:  # fmt: skip
            if found_by is not None:
                state[f"{label}_parents"] = ",".join(found_by.parents)
                state[f"{label}_rows"] = found_by.rows
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.names = tuple(str(state["names"]).split(","))
        self.steps_experimenting = int(state.get("steps_experimenting", 0))
        if not int(state["discovered"]):
            return
        self._condition_on([int(i) for i in state["kept"].tolist()])
        self._table().load_state_dict(state["table"])
        for label in ("interventional", "observational"):
            if f"{label}_parents" in state:
                parents = tuple(p for p in str(state[f"{label}_parents"]).split(",") if p)
                found = Discovery(self.names, parents, int(state[f"{label}_rows"]), 0)
                setattr(self, label, found)
