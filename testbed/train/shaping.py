"""Reward shaping on a train stage (`shaping:`): what learners learn from, never what is
evaluated.

- `type: potential` (default): the learner sees r + F with F(s, s') = gamma * Phi(s') - Phi(s)
  and Phi = 0 at a terminal state (Ng, Harada & Russell 1999, "Policy invariance under reward
  transformations"). Any Phi leaves the optimal policy unchanged: Q'(s, a) = Q(s, a) - Phi(s).
- `type: additive`: the learner sees r + scale * b(s') for a bonus b. This is **not**
  policy-invariant: a bonus can make loops or detours optimal.

Phi (or b) comes from one of: a named `function` (`POTENTIALS`), a `goal` (minus the distance of
the observation's `dims` to it), a trained agent's value function (`checkpoint`: V from a
critic, max_a Q from a Q network or table), or a `language_model`'s 0-10 rating of the state
divided by 10 (testbed/agents/llm/rating.py; its calls are reported with the shaping
metrics). Evaluations always use the env's own reward; the training curve's `train_return` is
the env's reward too, and the mean shaping term per training episode is logged separately
(`train_shaping`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from pydantic import model_validator

from testbed.agents.common.spaces import obs_dim, to_vectors
from testbed.envs.four_rooms import DEFAULT_GOAL
from testbed.envs.four_rooms_model import moves_to
from testbed.errors import BadInput
from testbed.scenario.models import Number, Strict

Potential = Callable[[np.ndarray], np.ndarray]
"""(N, obs_dim) float observations -> (N,) values."""


def mountain_car_energy(x: np.ndarray) -> np.ndarray:
    """MountainCar's mechanical energy per unit mass in its own dynamics, scaled to about
    [0, 1]: potential 0.0025 / 3 * sin(3 x) plus kinetic v^2 / 2 (velocity += force * 0.001 -
    0.0025 * cos(3 x)); rocking higher raises it."""
    position, velocity = x[:, 0], x[:, 1]
    energy = 0.0025 / 3.0 * np.sin(3.0 * position) + 0.5 * velocity**2
    return energy / (0.0025 / 3.0 * 2.0) + 0.5


def mountain_car_position(x: np.ndarray) -> np.ndarray:
    """MountainCar's position, rescaled from [-1.2, 0.6] to [0, 1]."""
    return (x[:, 0] + 1.2) / 1.8


def four_rooms_distance(x: np.ndarray) -> np.ndarray:
    """Four rooms (`testbed/four_rooms_v0`, its cells one-hot): minus the fewest moves to the
    default goal (cell 62; not a goal moved by the env's `goal` parameter), divided by the
    largest such number, so in [-1, 0]."""
    moves = moves_to(DEFAULT_GOAL)
    return -moves[x.argmax(axis=1)] / moves.max()


POTENTIALS: dict[str, Potential] = {
    "four_rooms_distance": four_rooms_distance,
    "mountain_car_energy": mountain_car_energy,
    "mountain_car_position": mountain_car_position,
}
POTENTIAL_INPUTS: dict[str, tuple[int, str]] = {
    "four_rooms_distance": (104, "four rooms' 104 cells (testbed/four_rooms_v0)"),
    "mountain_car_energy": (2, "MountainCar's position and velocity"),
    "mountain_car_position": (2, "MountainCar's position and velocity"),
}
"""The observation size each named potential reads, and what it expects there."""


class ShapingSpec(Strict):
    """`shaping:` on a train stage: potential-based (policy-invariant) or additive."""

    type: Literal["potential", "additive"] = "potential"
    """`potential`: F = gamma Phi(s') - Phi(s) (Ng et al. 1999); `additive`: + b(s'), not
    policy-invariant."""
    function: str | None = None
    """A named potential (testbed.train.shaping.POTENTIALS), e.g. mountain_car_energy."""
    goal: list[float] | None = None
    """Phi(s) = -||s[dims] - goal||: the distance of part of a Box observation to a goal."""
    dims: list[int] | None = None
    """Which observation entries `goal` is compared with (default: the first len(goal))."""
    checkpoint: str | None = None
    """A trained agent whose value function is Phi (a critic's V, or max_a Q)."""
    language_model: dict[str, Any] | None = None
    """Phi(s) = a language model's 0-10 rating of s / 10; the parameters of the `llm` agent
    (backend, model, base_url, env, cache_dir, ...)."""
    scale: Number = 1.0
    """Multiplies Phi (or the bonus)."""
    gamma: Number | None = None
    """The discount in F; default: the learner's own `gamma` (needed for exact invariance),
    else 0.99."""

    @model_validator(mode="after")
    def _one_source(self) -> ShapingSpec:
        sources = ("function", "goal", "checkpoint", "language_model")
        given = [k for k in sources if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one source of Phi: `function` (a named potential), `goal` (a "
                "distance), `checkpoint` (a trained value function) or `language_model` (its "
                f"ratings); got {given or 'none'}"
            )
        if self.function is not None and self.function not in POTENTIALS:
            raise ValueError(
                f"unknown potential {self.function!r}; known: {', '.join(sorted(POTENTIALS))}"
            )
        if self.dims is not None and (self.goal is None or len(self.dims) != len(self.goal)):
            raise ValueError("`dims` goes with `goal`, one entry per goal coordinate")
        return self


def potential_term(
    phi: np.ndarray, phi_next: np.ndarray, gamma: float, terminated: np.ndarray
) -> np.ndarray:
    """F = gamma * Phi(s') - Phi(s), with Phi(s') = 0 where s' is terminal."""
    return gamma * np.where(terminated, 0.0, phi_next) - phi


def goal_distance(goal: list[float], dims: list[int] | None) -> Potential:
    """Phi(s) = -||s[dims] - goal||."""
    target = np.asarray(goal, np.float64)
    index = np.asarray(dims if dims is not None else range(len(goal)))

    def phi(x: np.ndarray) -> np.ndarray:
        return -np.linalg.norm(x[:, index] - target, axis=1)

    return phi


def value_function(agent: Any) -> Potential:
    """V(s) of a trained agent: its critic, the max of its Q network, or of its Q table."""
    import torch  # the agent's own library

    inner = getattr(agent, "ppo", agent)
    critic = getattr(inner, "critic", None)
    q = getattr(inner, "q", None)
    table = getattr(inner, "table", None)
    normalize = getattr(inner, "obs_norm", None)

    def phi(x: np.ndarray) -> np.ndarray:
        if normalize is not None:
            x = normalize(x)
        with torch.no_grad():
            t = torch.as_tensor(np.asarray(x, np.float32))
            if isinstance(critic, torch.nn.Module):
                return critic(t)[:, 0].double().numpy()
            if isinstance(q, torch.nn.Module):
                return q(t).max(dim=1).values.double().numpy()
            return (t @ table.float()).max(dim=1).values.double().numpy()  # one-hot rows

    if not any(isinstance(m, torch.nn.Module) for m in (critic, q)) and not isinstance(
        table, torch.Tensor
    ):
        raise ValueError(
            f"{type(agent).__name__} has no value function (a critic, a Q network or a Q table)"
        )
    return phi


class Shaper:
    """Adds the shaping term to learners' rewards and keeps it apart: per agent's space, on
    single transitions or batches (one row per env copy)."""

    def __init__(
        self,
        spec: ShapingSpec,
        potential: Potential,
        spaces: dict[str, Any],
        gamma: float,
        recent: int = 20,
    ):
        self.spec, self.potential, self.spaces, self.gamma = spec, potential, spaces, gamma
        self.running: dict[str, np.ndarray] = {}
        self.finished: deque[float] = deque(maxlen=recent)
        self.total = 0.0
        self.count = 0

    def _phi(self, agent: str, observations: Any) -> np.ndarray:
        x = to_vectors(self.spaces[agent], observations).astype(np.float64)
        return self.spec.scale * np.asarray(self.potential(x), np.float64).reshape(-1)

    def term(self, agent: str, obs: Any, next_obs: Any, terminated: np.ndarray) -> np.ndarray:
        """The shaping term of a batch of transitions (rows: env copies)."""
        phi_next = self._phi(agent, next_obs)
        if self.spec.type == "additive":
            return phi_next
        return potential_term(self._phi(agent, obs), phi_next, self.gamma, terminated)

    def batch(
        self, agent: str, obs: Any, next_obs: Any, reward: np.ndarray, terminated: np.ndarray,
        ended: np.ndarray,
    ) -> np.ndarray:  # fmt: skip
        """Shaped rewards (float32) of a batch; episodes that `ended` close their tally."""
        extra = self.term(agent, obs, next_obs, np.asarray(terminated, bool))
        tally = self.running.setdefault(agent, np.zeros(len(extra)))
        if len(tally) < len(extra):
            tally = self.running[agent] = np.resize(tally, len(extra))
        tally[: len(extra)] += extra
        for c in np.flatnonzero(np.asarray(ended, bool)):
            self.finished.append(float(tally[c]))
            tally[c] = 0.0
        self.total += float(extra.sum())
        self.count += len(extra)
        return (np.asarray(reward, np.float64) + extra).astype(np.float32)

    def one(self, agent: str, transition: dict[str, Any]) -> dict[str, Any]:
        """A single-env transition with its reward shaped."""
        ended = transition["terminated"] or transition["truncated"]
        reward = self.batch(
            agent, [transition["obs"]], [transition["next_obs"]],
            np.array([transition["reward"]]), np.array([transition["terminated"]]),
            np.array([ended]),
        )  # fmt: skip
        return {**transition, "reward": float(reward[0])}

    def metrics(self) -> dict[str, float]:
        """Mean shaping term per step so far, and per recent finished episode (and a language
        model potential's calls, tokens and seconds)."""
        per_episode = float(np.mean(self.finished)) if self.finished else float("nan")
        usage = getattr(self.potential, "usage", None)
        return {
            "per_step": self.total / max(1, self.count),
            "per_episode": per_episode,
            **(usage.as_dict() if usage is not None else {}),
        }

    def recent_episode_mean(self) -> float | None:
        return float(np.mean(self.finished)) if self.finished else None


def language_model_potential(
    params: dict[str, Any], spaces: dict[str, Any], where: str | None
) -> Potential:
    """Phi from a language model's ratings (parameters checked as the `llm` agent's)."""
    from testbed.agents.llm.agent import LanguageModelAgent
    from testbed.agents.llm.rating import LanguageModelPotential
    from testbed.registry import agent_config

    if len({str(s) for s in spaces.values()}) != 1:
        raise BadInput("shaping.language_model: the learners observe different spaces", where=where)
    config = agent_config(LanguageModelAgent, params, name="shaping.language_model", where=where)
    try:
        return LanguageModelPotential(next(iter(spaces.values())), config)
    except ValueError as exc:
        raise BadInput(f"shaping.language_model: {exc}", where=where) from None


def build_shaper(
    spec: ShapingSpec,
    learners: dict[str, Any],
    env: Any,
    load: Callable[[str, Any, Any], Any],
    *,
    where: str | None = None,
) -> Shaper:
    """The stage's Shaper; `load(checkpoint, obs space, action space)` rebuilds a trained
    agent (for `checkpoint:`). Bad input is one BadInput naming `where`."""
    spaces = {a: env.observation_space(a) for a in learners}
    if spec.function is not None:
        potential = POTENTIALS[spec.function]
        size, expected = POTENTIAL_INPUTS[spec.function]
        for agent, space in spaces.items():
            if obs_dim(space) != size:
                raise BadInput(
                    f"shaping.function: {spec.function!r} reads {expected}, but {agent!r} "
                    f"observes {space}",
                    where=where,
                )
    elif spec.goal is not None:
        for agent, space in spaces.items():
            shape = getattr(space, "shape", None)
            size = int(np.prod(shape)) if shape else 0
            dims = spec.dims or list(range(len(spec.goal)))
            if not shape or max(dims) >= size or min(dims) < 0:
                raise BadInput(
                    f"shaping.goal: {agent!r} observes {space}, which has no entries {dims}",
                    where=where,
                )
        potential = goal_distance(spec.goal, spec.dims)
    elif spec.language_model is not None:
        potential = language_model_potential(spec.language_model, spaces, where)
    else:
        assert spec.checkpoint is not None
        first = next(iter(learners))
        agent = load(spec.checkpoint, env.observation_space(first), env.action_space(first))
        try:
            potential = value_function(agent)
        except ValueError as exc:
            raise BadInput(f"shaping.checkpoint: {exc}", where=where) from None
    gammas = {float(getattr(getattr(p, "config", None), "gamma", 0.99)) for p in learners.values()}
    gamma = spec.gamma if spec.gamma is not None else (gammas.pop() if len(gammas) == 1 else 0.99)
    return Shaper(spec, potential, spaces, gamma)
