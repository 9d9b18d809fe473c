"""A safety shield around any registered policy: post-posed or pre-emptive.

Alshiekh, Bloem, Ehlers, Koenighofer, Niekum, Topcu (2018), "Safe Reinforcement Learning via
Shielding" (AAAI), Sec. 4, name two placements: a *post-posed* shield (`mode: post_posed`, the
default) checks the agent's chosen action before it reaches the env and replaces an unsafe
one by a safe one; a *pre-emptive* shield (`mode: pre_emptive`, Discrete actions) gives the
agent only the safe actions to choose from, as an action mask.
The learned option follows Dalal, Dvijotham, Vecerik, Hester, Paduraru, Tassa (2018), "Safe
Exploration in Continuous Action Spaces" (a safety layer on a learned one-step cost model),
simplified to a classifier of P(cost > 0 | obs, action) used as a predicate.

Each step (post-posed):
    a = wrapped policy's action (`explore` while training a wrapped Learner, `act` otherwise)
    if safe(obs, a): execute a
    else: execute argmin_{c in candidates, safe(obs, c)} distance(c, a)  (ties: candidate order)
          (no safe candidate: the zero / no-op candidate), and count one intervention
Pre-emptive: the wrapped policy chooses under mask = legal AND safe (when no legal action is
safe, under the legal mask alone); a step whose menu the shield narrowed counts as one
intervention. Candidates: every legal action (Discrete); for Box, the zero action, then
`candidates` points drawn once, uniformly in the bounds, from `candidate_seed`. `safe` = the
`predicate` ("module:function" `f(observation, action, action_space) -> bool`, True = safe; see
`testbed.agents.safe.predicates`) AND, with `learned`, P_model(cost > 0) < `threshold`.
`distance` ("module:function" `d(a, b, action_space)`; default Euclidean for Box, for Discrete
0 for the same action and 1 otherwise, so the first safe action in index order).

The learned cost model (an MLP on [observation, one-hot or raw action]) trains online from
the transitions the shield observes (binary cross-entropy on cost > 0, one Adam step on a
random minibatch every `model_every` transitions after `model_warmup`), and is trusted only
after warm-up: before that it accepts everything. It learns only when the shield is trained
through `testbed.train.loop.train` (which calls `observe`).

`interventions` counts overrides (post-posed) or narrowed menus (pre-emptive) in the current
episode (reset in `reset`), which rollouts and audits read (`max_intervention_rate`). A
wrapped Learner keeps learning through the shield: `explore` / `observe` / `update` /
`state_dict` are forwarded, and it learns from the executed (shielded) action.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from testbed.agents.common.nets import mlp
from testbed.agents.common.spaces import obs_dim, to_vector


@dataclass(frozen=True)
class ShieldConfig:
    """The wrapped policy, the safety test and the fallback search."""

    policy: str = "random"
    """Registry id (or module:Class) of the wrapped policy."""
    policy_params: dict[str, Any] = field(default_factory=dict)
    """Parameters of the wrapped policy (its Config fields)."""
    checkpoint: str = ""
    """Load the wrapped policy from this checkpoint folder instead of `policy`."""
    predicate: str = "testbed.agents.safe.predicates:safe_navigation"
    """module:function f(observation, action, action_space) -> bool, True = safe ("" = none)."""
    distance: str = ""
    """module:function d(a, b, action_space) -> float for the fallback ("" = default)."""
    candidates: int = 64
    """Random candidate actions for Box spaces (plus the zero action)."""
    candidate_seed: int = 0
    """Seed of the fixed Box candidate set."""
    mode: str = "post_posed"
    """"post_posed" (replace an unsafe chosen action) or "pre_emptive" (offer safe actions only;
    Discrete action spaces)."""
    learned: bool = False
    """Also require the learned one-step cost model to predict P(cost > 0) < threshold."""
    threshold: float = 0.5
    """Largest accepted predicted probability of a cost."""
    model_hidden: tuple[int, ...] = (64, 64)
    """Hidden widths of the cost model."""
    model_lr: float = 1e-3
    """Adam step size of the cost model."""
    model_warmup: int = 500
    """Observed transitions before the cost model is trained and trusted."""
    model_every: int = 4
    """Transitions between cost-model gradient steps."""
    model_batch: int = 128
    """Cost-model minibatch size."""
    model_capacity: int = 50_000
    """Most recent transitions kept for the cost model."""


def _default_distance(a: Any, b: Any, action_space: spaces.Space) -> float:
    if isinstance(action_space, spaces.Discrete):
        return 0.0 if int(a) == int(b) else 1.0
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


class Shield:
    """Replaces the wrapped policy's unsafe actions by the closest safe candidate."""

    Config = ShieldConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: ShieldConfig | None = None,
    ):
        from testbed import registry
        from testbed.registry.checkpoint import load_checkpoint

        self.config = c = config or ShieldConfig()
        if not c.predicate and not c.learned:
            raise ValueError("the shield needs a predicate, learned=True, or both")
        if c.mode not in ("post_posed", "pre_emptive"):
            raise ValueError(f"shield mode must be 'post_posed' or 'pre_emptive', got {c.mode!r}")
        if c.mode == "pre_emptive" and not isinstance(action_space, spaces.Discrete):
            raise ValueError("a pre-emptive shield needs a Discrete action space (a safe menu)")
        self.observation_space, self.action_space = observation_space, action_space
        if c.checkpoint:
            self.policy = load_checkpoint(c.checkpoint, observation_space, action_space)
        else:
            self.policy = registry.make_agent(
                c.policy, observation_space, action_space, **dict(c.policy_params)
            )
        self.predicate = registry.load_reference(c.predicate) if c.predicate else None
        self.distance = registry.load_reference(c.distance) if c.distance else _default_distance
        self.inner_learns = all(
            callable(getattr(self.policy, m, None)) for m in ("explore", "observe", "update")
        )
        if isinstance(action_space, spaces.Discrete):
            start = int(action_space.start)
            self._candidates = [np.int64(start + i) for i in range(int(action_space.n))]
            self._zero = 0
            self._action_width = int(action_space.n)
        elif isinstance(action_space, spaces.Box):
            low = np.where(np.isfinite(action_space.low), action_space.low, -1.0)
            high = np.where(np.isfinite(action_space.high), action_space.high, 1.0)
            zero = np.clip(np.zeros(action_space.shape), low, high).astype(action_space.dtype)
            rng = np.random.default_rng(c.candidate_seed)
            drawn = rng.uniform(low, high, size=(c.candidates, *action_space.shape))
            self._candidates = [zero, *drawn.astype(action_space.dtype)]
            self._zero = 0
            self._action_width = int(np.prod(action_space.shape))
        else:
            raise ValueError(f"the shield needs a Discrete or Box action space, got {action_space}")
        self.interventions = 0
        self.model: torch.nn.Module | None = None
        if c.learned:
            width = obs_dim(observation_space) + self._action_width
            self.model = mlp(width, 1, c.model_hidden, activation=torch.nn.ReLU)
            self.model_optimizer = torch.optim.Adam(self.model.parameters(), lr=c.model_lr)
            self._inputs = torch.zeros((c.model_capacity, width))
            self._labels = torch.zeros(c.model_capacity)
            self._stored = 0  # transitions seen in all (saved: the model is trusted after warm-up)
            self._filled = 0  # transitions written to the buffer since it was built (not saved)
            self._model_loss: float | None = None

    # -- the filter ---------------------------------------------------------------------------

    def _encode(self, observation: Any, actions: list[Any]) -> torch.Tensor:
        x = torch.from_numpy(to_vector(self.observation_space, observation)).float()
        if isinstance(self.action_space, spaces.Discrete):
            codes = torch.zeros((len(actions), self._action_width))
            index = [int(a) - int(self.action_space.start) for a in actions]
            codes[torch.arange(len(actions)), index] = 1.0
        else:
            codes = torch.as_tensor(
                np.stack([np.asarray(a, np.float32).reshape(-1) for a in actions])
            )
        return torch.cat([x.expand(len(actions), -1), codes], dim=1)

    def _model_safe(self, observation: Any, actions: list[Any]) -> np.ndarray:
        if self.model is None or self._stored < self.config.model_warmup:
            return np.ones(len(actions), bool)
        with torch.no_grad():
            p = torch.sigmoid(self.model(self._encode(observation, actions)).squeeze(-1))
        return (p < self.config.threshold).numpy()

    def _safe(self, observation: Any, actions: list[Any]) -> np.ndarray:
        ok = self._model_safe(observation, actions)
        if self.predicate is not None:
            for i, action in enumerate(actions):
                if ok[i]:
                    ok[i] = bool(self.predicate(observation, action, self.action_space))
        return ok

    def filter(self, observation: Any, action: Any, action_mask: np.ndarray | None) -> Any:
        """The action to execute instead of `action` (itself when it is safe)."""
        if self._safe(observation, [action])[0]:
            return action
        self.interventions += 1
        candidates = self._candidates
        if action_mask is not None and isinstance(self.action_space, spaces.Discrete):
            start = int(self.action_space.start)
            candidates = [a for a in candidates if action_mask[int(a) - start]]
        safe = np.flatnonzero(self._safe(observation, candidates))
        if not len(safe):
            zero = self._candidates[self._zero]
            legal = action_mask is None or not isinstance(self.action_space, spaces.Discrete)
            if legal or action_mask[int(zero) - int(self.action_space.start)]:
                return zero
            return candidates[0]
        gaps = [self.distance(candidates[i], action, self.action_space) for i in safe]
        return candidates[int(safe[int(np.argmin(gaps))])]

    def menu(self, observation: Any, action_mask: np.ndarray | None) -> np.ndarray | None:
        """Pre-emptive: the mask of legal and safe actions (legal only if none is safe)."""
        legal = np.ones(len(self._candidates), bool) if action_mask is None else action_mask > 0
        safe = legal & self._safe(observation, self._candidates)
        if not safe.any() or safe.sum() == legal.sum():
            return action_mask
        self.interventions += 1
        return safe.astype(np.int8)

    def _shielded(self, choose: Any, observation: Any, action_mask: np.ndarray | None) -> Any:
        if self.config.mode == "pre_emptive":
            return choose(observation, self.menu(observation, action_mask))
        return self.filter(observation, choose(observation, action_mask), action_mask)

    # -- Policy -------------------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> None:
        self.interventions = 0
        self.policy.reset(seed)

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        return self._shielded(self.policy.act, observation, action_mask)

    # -- Learner (forwarded to the wrapped policy when it learns) -------------------------------

    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> Any:
        inner = self.policy.explore if self.inner_learns else self.policy.act
        return self._shielded(inner, observation, action_mask)

    def observe(self, transition: dict[str, Any]) -> None:
        if self.model is not None:
            slot = self._filled % self.config.model_capacity
            self._inputs[slot] = self._encode(transition["obs"], [transition["action"]])[0]
            self._labels[slot] = float(float(transition.get("cost", 0.0)) > 0.0)
            self._stored += 1
            self._filled += 1
            self._train_model()
        if self.inner_learns:
            self.policy.observe(transition)

    def _train_model(self) -> None:
        c = self.config
        if self._filled < c.model_warmup or self._filled % c.model_every:
            return
        idx = torch.randint(min(self._filled, c.model_capacity), (c.model_batch,))
        logits = self.model(self._inputs[idx]).squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, self._labels[idx])
        self.model_optimizer.zero_grad()
        loss.backward()
        self.model_optimizer.step()
        self._model_loss = float(loss.detach())

    def update(self) -> dict[str, float]:
        metrics = dict(self.policy.update()) if self.inner_learns else {}
        if metrics and self.model is not None and self._model_loss is not None:
            metrics["cost_model_loss"] = self._model_loss
        if metrics:
            metrics["interventions"] = float(self.interventions)
        return metrics

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        if callable(getattr(self.policy, "state_dict", None)):
            state["policy"] = self.policy.state_dict()
        if self.model is not None:
            state["cost_model"] = self.model.state_dict()
            state["cost_optimizer"] = self.model_optimizer.state_dict()
            state["model_stored"] = self._stored
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "policy" in state:
            self.policy.load_state_dict(state["policy"])
        if self.model is not None:
            self.model.load_state_dict(state["cost_model"])
            self.model_optimizer.load_state_dict(state["cost_optimizer"])
            self._stored = int(state["model_stored"])  # trusted again; its buffer refills
            self._filled = 0
