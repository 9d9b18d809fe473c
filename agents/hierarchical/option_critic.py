"""Tabular option-critic (Bacon, Harb & Precup 2017, "The Option-Critic Architecture", AAAI),
as in the paper's four-rooms experiment, for Discrete observations and actions.

`n_options` options, each with a softmax intra-option policy pi_w(a|s) = softmax(theta[s, w] /
temperature) and a sigmoid termination beta_w(s) = sigmoid(vartheta[s, w]); the policy over
options is epsilon-greedy on Q_Omega(s, w). After each step (s, w, a, r, s'):

    U(s', w)   = (1 - beta_w(s')) Q_Omega(s', w) + beta_w(s') max_w' Q_Omega(s', w')
    target     = r + gamma (1 - terminated) U(s', w)
    Q_U(s, w, a)   += alpha_critic (target - Q_U(s, w, a))        (intra-option Q-learning)
    Q_Omega(s, w)  += alpha_critic (target - Q_Omega(s, w))
    theta[s, w]    += alpha_theta  (Q_U(s, w, a) - Q_Omega(s, w)) (onehot(a) - pi_w(.|s))
    vartheta[s', w] -= alpha_beta  beta_w(s') (1 - beta_w(s')) (Q_Omega(s', w) - V(s') + xi)

with V(s') = max_w Q_Omega(s', w) and the baseline Q_Omega(s, w) in the policy gradient (the
paper's choice; the log-softmax gradient's 1/temperature factor is left out, as in the
authors' code). Then the option ends at s' with probability beta_w(s'); the next `explore`
picks a new one. Defaults are the paper's four-rooms settings (4 options, temperature 1e-2,
alpha_critic 0.5, alpha_theta = alpha_beta = 0.25, epsilon 0.01, gamma 0.99). With
`option_temperature` > 0 the policy over options is Boltzmann instead, as in the authors'
released code; with `n_options: 1` the learner is a primitive actor-critic (the paper's AC-PG:
Q_U(s, a) critic, baseline V = Q_Omega(s), Boltzmann actor).

Acting: `explore` keeps the training episode's option (ended by its termination or the
episode's end); `act` keeps a separate evaluation option: greedy over Q_Omega, the most likely
action of pi_w, terminations drawn with a generator seeded by `reset(seed)`. The option each
decision used is `option` (training) / `eval_option`; `termination_probabilities()` and
`greedy_options()` show where options end and which one the policy over options picks.
Exploration uses torch's global RNG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from testbed.agents.common.spaces import require_discrete


@dataclass(frozen=True)
class OptionCriticConfig:
    """Hyperparameters of tabular option-critic (defaults: Bacon et al. 2017, four rooms)."""

    n_options: int = 4
    """Number of options."""
    gamma: float = 0.99
    """Discount factor."""
    lr_critic: float = 0.5
    """Step size of Q_Omega and Q_U (intra-option Q-learning)."""
    lr_intra: float = 0.25
    """Step size of the intra-option policies' parameters theta."""
    lr_termination: float = 0.25
    """Step size of the termination parameters vartheta."""
    temperature: float = 1e-2
    """Softmax temperature of the intra-option policies."""
    epsilon: float = 0.01
    """Exploration rate of the epsilon-greedy policy over options."""
    termination_margin: float = 0.0
    """xi: added to the termination advantage; > 0 makes options last longer."""
    option_temperature: float = 0.0
    """0: the policy over options is epsilon-greedy on Q_Omega (the paper's Algorithm 1);
    > 0: Boltzmann on Q_Omega / option_temperature (the authors' released four-rooms code,
    transfer.py, uses 1e-2 and no epsilon)."""


def _sigmoid(x: np.ndarray | float) -> Any:
    return 1.0 / (1.0 + np.exp(-x))


class OptionCritic:
    """Tabular option-critic: Q_Omega, Q_U, softmax intra-option policies, sigmoid terminations."""

    Config = OptionCriticConfig

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        config: OptionCriticConfig | None = None,
    ):
        self.config = c = config or OptionCriticConfig()
        self.n_actions = require_discrete(action_space, "option-critic")
        if not isinstance(observation_space, spaces.Discrete):
            raise ValueError(
                f"tabular option-critic needs a Discrete observation space, got {observation_space}"
            )
        if c.n_options < 1 or c.temperature <= 0 or c.option_temperature < 0:
            raise ValueError("n_options must be >= 1, temperature > 0 and option_temperature >= 0")
        self.obs_start = int(observation_space.start)
        self.action_start = int(action_space.start)
        n_states, n = int(observation_space.n), c.n_options
        # numpy views of torch tensors: fast indexing, saved as tensors
        self.tables = {
            "q_omega": torch.zeros((n_states, n), dtype=torch.float64),
            "q_u": torch.zeros((n_states, n, self.n_actions), dtype=torch.float64),
            "theta": torch.zeros((n_states, n, self.n_actions), dtype=torch.float64),
            "vartheta": torch.zeros((n_states, n), dtype=torch.float64),
        }
        self.q_omega = self.tables["q_omega"].numpy()
        self.q_u = self.tables["q_u"].numpy()
        self.theta = self.tables["theta"].numpy()
        self.vartheta = self.tables["vartheta"].numpy()
        self.steps = 0
        self.option: int | None = None  # the training episode's option
        self.eval_option: int | None = None
        self._eval_rng = np.random.default_rng(0)
        self._pending: list[tuple[int, int, float, int, bool, bool]] = []

    # -- the parts ------------------------------------------------------------------------
    def _state(self, observation: Any) -> int:
        return int(observation) - self.obs_start

    def policy(self, s: int, w: int) -> np.ndarray:
        """pi_w(.|s), the softmax of theta[s, w] / temperature."""
        logits = self.theta[s, w] / self.config.temperature
        z = np.exp(logits - logits.max())
        return z / z.sum()

    def termination_probabilities(self) -> np.ndarray:
        """beta_w(s) for every state and option: (states, options)."""
        return _sigmoid(self.vartheta)

    def greedy_options(self) -> np.ndarray:
        """The option the policy over options prefers in each state (first argmax)."""
        return self.q_omega.argmax(axis=1)

    def _pick_option(self, s: int) -> int:
        """Epsilon-greedy over Q_Omega(s, .), ties broken at random, or Boltzmann when
        `option_temperature` > 0 (torch's RNG)."""
        n, c = self.config.n_options, self.config
        if c.option_temperature > 0:
            logits = self.q_omega[s] / c.option_temperature
            probs = np.exp(logits - logits.max())
            draw = float(torch.rand(())) * probs.sum()
            return min(int(np.searchsorted(np.cumsum(probs), draw, side="right")), n - 1)
        if float(torch.rand(())) < self.config.epsilon:
            return int(torch.randint(n, (1,)))
        values = self.q_omega[s]
        ties = np.flatnonzero(values == values.max())
        return int(ties[int(torch.randint(ties.size, (1,)))])

    # -- acting ---------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """A new evaluation episode: no option yet; terminations drawn from `seed`."""
        self.eval_option = None
        self._eval_rng = np.random.default_rng(seed)

    def act(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        s = self._state(observation)
        w = self.eval_option
        if w is not None and self._eval_rng.random() < _sigmoid(self.vartheta[s, w]):
            w = None
        if w is None:
            w = int(self.q_omega[s].argmax())
        self.eval_option = w
        return np.int64(self.action_start + _masked_first_argmax(self.policy(s, w), action_mask))

    def explore(self, observation: Any, action_mask: np.ndarray | None = None) -> np.int64:
        s = self._state(observation)
        if self.option is None:
            self.option = self._pick_option(s)
        probs = self.policy(s, self.option)
        if action_mask is not None and np.any(action_mask):
            probs = np.where(np.asarray(action_mask, bool), probs, 0.0)
            probs = probs / probs.sum()
        draw = float(torch.rand(()))
        action = min(int(np.searchsorted(np.cumsum(probs), draw, side="right")),
                     self.n_actions - 1)  # fmt: skip
        return np.int64(self.action_start + action)

    # -- learning -------------------------------------------------------------------------
    def observe(self, transition: dict[str, Any]) -> None:
        self.steps += 1
        option = self.option if self.option is not None else self._pick_option(
            self._state(transition["obs"]))  # fmt: skip
        self.option = option
        self._pending.append(
            (
                self._state(transition["obs"]),
                int(transition["action"]) - self.action_start,
                float(transition["reward"]),
                self._state(transition["next_obs"]),
                bool(transition["terminated"]),
                bool(transition["terminated"] or transition["truncated"]),
            )
        )

    def update(self) -> dict[str, float]:
        """The option-critic updates of the steps observed since the last call, then the
        option's termination draw at the last next state; mean |TD error|."""
        pending, self._pending = self._pending, []
        if not pending or self.option is None:
            return {}
        errors = []
        for s, a, reward, s_next, terminated, ended in pending:
            errors.append(self._learn(self.option, s, a, reward, s_next, terminated))
            if ended:
                self.option = None
            elif float(torch.rand(())) < _sigmoid(self.vartheta[s_next, self.option]):
                self.option = None
            if self.option is None and not ended:
                self.option = self._pick_option(s_next)
        return {"td_error": float(np.mean(errors)),
                "termination": float(_sigmoid(self.vartheta).mean())}  # fmt: skip

    def _learn(self, w: int, s: int, a: int, reward: float, s_next: int, terminated: bool) -> float:
        c = self.config
        target = reward
        if not terminated:
            beta = _sigmoid(self.vartheta[s_next, w])
            best = self.q_omega[s_next].max()
            target += c.gamma * ((1.0 - beta) * self.q_omega[s_next, w] + beta * best)
        td = target - self.q_u[s, w, a]
        self.q_u[s, w, a] += c.lr_critic * td
        self.q_omega[s, w] += c.lr_critic * (target - self.q_omega[s, w])
        # intra-option policy gradient with the Q_Omega baseline
        grad = -self.policy(s, w)
        grad[a] += 1.0
        advantage = self.q_u[s, w, a] - self.q_omega[s, w]
        self.theta[s, w] += c.lr_intra * advantage * grad
        # termination gradient at the next state
        if not terminated:
            beta = _sigmoid(self.vartheta[s_next, w])
            term_adv = self.q_omega[s_next, w] - self.q_omega[s_next].max() + c.termination_margin
            self.vartheta[s_next, w] -= c.lr_termination * beta * (1.0 - beta) * term_adv
        return abs(float(td))

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {**{k: v.clone() for k, v in self.tables.items()}, "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, table in self.tables.items():
            if tuple(state[name].shape) != tuple(table.shape):
                raise ValueError(f"{name} shape {tuple(state[name].shape)} != {tuple(table.shape)}")
            table.copy_(state[name])
        self.steps = int(state["steps"])


def _masked_first_argmax(values: np.ndarray, mask: np.ndarray | None) -> int:
    if mask is None or not np.any(mask):
        return int(np.argmax(values))
    return int(np.argmax(np.where(np.asarray(mask, bool), values, -np.inf)))
